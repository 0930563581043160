"""Flights: search, book and cancel flights between ten airports (out-of-domain only).

Searches are paginated (limit/offset, five per page by default) and some flights are sold out, so the
tasks on this service need page walking and recovery from 409 answers.
"""

from __future__ import annotations

import datetime as dt
import random
from functools import cache
from typing import Any

from tooluse_envs.rest.service import ApiError, Call, Reply, Service, Tables
from tooluse_envs.rest.services._spec import DATE, body, document, obj, page_params, param, responses

AIRPORTS = {
    "OSL": "Oslo",
    "ARN": "Stockholm",
    "CPH": "Copenhagen",
    "BER": "Berlin",
    "CDG": "Paris",
    "AMS": "Amsterdam",
    "MAD": "Madrid",
    "FCO": "Rome",
    "LIS": "Lisbon",
    "VIE": "Vienna",
}
CARRIERS = {"NA": "Nordair", "SL": "SkyLink", "EJ": "EuroJet", "AB": "Aerobright"}
DATES = tuple((dt.date(2025, 6, 5) + dt.timedelta(days=i)).isoformat() for i in range(7))
CODE = {"type": "string", "pattern": "^[A-Za-z]{3}$", "description": "IATA airport code, e.g. OSL."}
PASSENGERS = (
    "Ana Silva",
    "Ben Carter",
    "Clara Jensen",
    "David Okafor",
    "Eva Horvat",
    "Felix Braun",
    "Grace Kim",
    "Hugo Martin",
    "Isla Murray",
    "Jakub Nowak",
    "Kira Ivanova",
    "Leo Moretti",
)
FLIGHT_ID = param("flight_id", "path", {"type": "string"}, "Flight id, e.g. FL-00042.")
BOOKING_ID = param("booking_id", "path", {"type": "string"}, "Booking id, e.g. BK-3001.")

SPEC = document(
    "Flights API",
    f"Flights between {len(AIRPORTS)} airports, {DATES[0]} to {DATES[-1]}. Searches return one page: flights, "
    "total, limit, offset and next_offset (null on the last page).",
    {
        "/flights": {
            "get": {
                "operationId": "search_flights",
                "summary": "Flights on a route and day, ordered by departure time, one page at a time.",
                "parameters": [
                    param("origin", "query", CODE, "Departure airport code.", required=True),
                    param("destination", "query", CODE, "Arrival airport code.", required=True),
                    param("date", "query", DATE, "Departure day.", required=True),
                    *page_params(5, 10),
                ],
                "responses": responses(200, None, 404),
            }
        },
        "/flights/{flight_id}": {
            "get": {
                "operationId": "get_flight",
                "summary": "One flight with its price and free seats.",
                "parameters": [FLIGHT_ID],
                "responses": responses(200, None, 404),
            }
        },
        "/airports": {
            "get": {
                "operationId": "list_airports",
                "summary": "Airport codes and their cities.",
                "responses": responses(200),
            }
        },
        "/bookings": {
            "post": {
                "operationId": "book_flight",
                "summary": "Book one seat. 409 when the flight is sold out.",
                "requestBody": body(
                    obj(
                        {
                            "flight_id": {"type": "string"},
                            "passenger": {"type": "string", "minLength": 1, "maxLength": 80},
                        },
                        ["flight_id", "passenger"],
                    )
                ),
                "responses": responses(201, None, 404, 409),
            },
            "get": {
                "operationId": "list_bookings",
                "summary": "Active bookings, optionally of one passenger.",
                "parameters": [param("passenger", "query", {"type": "string"}, "Passenger full name.")],
                "responses": responses(200),
            },
        },
        "/bookings/{booking_id}": {
            "get": {
                "operationId": "get_booking",
                "summary": "One booking.",
                "parameters": [BOOKING_ID],
                "responses": responses(200, None, 404),
            },
            "delete": {
                "operationId": "cancel_booking",
                "summary": "Cancel a booking; its seat is released.",
                "parameters": [BOOKING_ID],
                "responses": responses(200, None, 404),
            },
        },
    },
)


def _hhmm(total: int) -> str:
    return f"{total // 60 % 24:02d}:{total % 60:02d}"


@cache
def seed() -> Tables:
    """Thirty routes, 4-9 flights per route and day, a few sold out, a few existing bookings."""
    rng = random.Random(6060)
    codes = sorted(AIRPORTS)
    pairs = [(a, b) for a in codes for b in codes if a != b]
    flights: dict[str, dict[str, Any]] = {}
    for origin, destination in sorted(rng.sample(pairs, 30)):
        duration, base = rng.randint(70, 240), rng.randint(60, 180)
        for day in DATES:
            departures = sorted(rng.sample(range(6 * 60, 22 * 60, 5), rng.randint(4, 9)))
            for depart in departures:
                carrier = rng.choice(sorted(CARRIERS))
                fid = f"FL-{len(flights) + 1:05d}"
                flights[fid] = {
                    "id": fid,
                    "flight_number": f"{carrier}{rng.randint(100, 999)}",
                    "carrier": CARRIERS[carrier],
                    "origin": origin,
                    "destination": destination,
                    "date": day,
                    "depart": _hhmm(depart),
                    "arrive": _hhmm(depart + duration),
                    "price": float(base + rng.randint(-30, 160)),
                    "seats_left": 0 if rng.random() < 0.2 else rng.randint(1, 9),
                }
    bookings = {}
    for n, fid in enumerate(rng.sample(sorted(f for f in flights if flights[f]["seats_left"]), 40)):
        bid = f"BK-{1001 + n}"
        bookings[bid] = {"id": bid, "flight_id": fid, "passenger": rng.choice(PASSENGERS), "status": "confirmed"}
    return {
        "airports": {c: {"code": c, "city": city} for c, city in AIRPORTS.items()},
        "flights": flights,
        "bookings": bookings,
    }


def _get(call: Call, table: str, key: str) -> dict[str, Any]:
    row = call.tables[table].get(call.params[key])
    if row is None or row.get("status") == "cancelled":
        raise ApiError(404, "not_found", f"no {table[:-1]} {call.params[key]!r}")
    return row


def search_flights(call: Call) -> dict[str, Any]:
    origin, destination = call.params["origin"].upper(), call.params["destination"].upper()
    for code in (origin, destination):
        if code not in call.tables["airports"]:
            raise ApiError(404, "not_found", f"no airport {code!r}; list_airports shows the codes")
    rows = [
        f
        for f in call.tables["flights"].values()
        if f["origin"] == origin and f["destination"] == destination and f["date"] == call.params["date"]
    ]
    rows.sort(key=lambda f: (f["depart"], f["id"]))
    limit, offset = call.params.get("limit", 5), call.params.get("offset", 0)
    following = offset + limit if offset + limit < len(rows) else None
    return {
        "flights": rows[offset : offset + limit],
        "total": len(rows),
        "limit": limit,
        "offset": offset,
        "next_offset": following,
    }


def get_flight(call: Call) -> dict[str, Any]:
    return _get(call, "flights", "flight_id")


def list_airports(call: Call) -> dict[str, Any]:
    return {"airports": list(call.tables["airports"].values())}


def book_flight(call: Call) -> Reply:
    flight = call.tables["flights"].get(call.body["flight_id"])
    if flight is None:
        raise ApiError(404, "not_found", f"no flight {call.body['flight_id']!r}")
    if flight["seats_left"] < 1:
        raise ApiError(409, "sold_out", f"{flight['id']} ({flight['flight_number']}) has no seats left")
    call.tables["flights"][flight["id"]] = {**flight, "seats_left": flight["seats_left"] - 1}
    bid = f"BK-{call.episode.next_id('booking', 1001 + len(seed()['bookings']))}"
    booking = call.tables["bookings"][bid] = {
        "id": bid,
        "flight_id": flight["id"],
        "passenger": call.body["passenger"],
        "status": "confirmed",
    }
    return Reply(201, {**booking, "flight": call.tables["flights"][flight["id"]]})


def list_bookings(call: Call) -> dict[str, Any]:
    who = call.params.get("passenger", "").lower()
    rows = [
        b
        for b in call.tables["bookings"].values()
        if b["status"] == "confirmed" and (not who or b["passenger"].lower() == who)
    ]
    return {"bookings": rows, "count": len(rows)}


def get_booking(call: Call) -> dict[str, Any]:
    return _get(call, "bookings", "booking_id")


def cancel_booking(call: Call) -> dict[str, Any]:
    booking = _get(call, "bookings", "booking_id")
    flight = call.tables["flights"][booking["flight_id"]]
    call.tables["flights"][flight["id"]] = {**flight, "seats_left": flight["seats_left"] + 1}
    booking = call.tables["bookings"][booking["id"]] = {**booking, "status": "cancelled"}
    return booking


SERVICE = Service(
    name="flights",
    spec=SPEC,
    handlers={
        "search_flights": search_flights,
        "get_flight": get_flight,
        "list_airports": list_airports,
        "book_flight": book_flight,
        "list_bookings": list_bookings,
        "get_booking": get_booking,
        "cancel_booking": cancel_booking,
    },
    seed=seed,
)

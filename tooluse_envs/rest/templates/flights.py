"""Flights tasks (an out-of-domain service): page walking, bookings, sold-out recovery, cancellations.

Strategies: a route's flights are walked in default pages of five or in pages of ten; a flight's arrival
is read off the search or the flight is opened (``get_flight``).
"""

from __future__ import annotations

import random
from typing import Any

from tooluse_envs.rest.services.flights import PASSENGERS, seed
from tooluse_envs.rest.templates import DIRECT, Api, Draft, Params, Template, number, state, text, where

S = ("flights",)
BIG_PAGES, SEARCH_THEN_GET = "big_pages", "search_then_get"


def _flights() -> list[dict[str, Any]]:
    return sorted(seed()["flights"].values(), key=lambda f: f["id"])


def _route_day(rng: random.Random) -> Params:
    flight = rng.choice(_flights())
    return {"origin": flight["origin"], "destination": flight["destination"], "date": flight["date"]}


def _search(api: Api, p: Params) -> tuple[list[dict[str, Any]], int]:
    """All flights of a route and day, page by page (default page size, or the largest); rows and pages."""
    found, offset, pages = [], 0, 0
    size = {"limit": 10} if api.strategy == BIG_PAGES else {}
    while offset is not None:
        body = api.ok(
            "search_flights",
            origin=p["origin"],
            destination=p["destination"],
            date=p["date"],
            **size,
            **({"offset": offset} if offset else {}),
        )
        found += body["flights"]
        offset, pages = body["next_offset"], pages + 1
    return found, pages


def _booked(flight_id: str, passenger: str) -> int:
    return sum(b["flight_id"] == flight_id and b["passenger"] == passenger for b in seed()["bookings"].values())


def _route(p: Params) -> str:
    return f"from {p['origin']} to {p['destination']} on {p['date']}"


def cheapest_fare(api: Api, p: Params, rng: random.Random) -> Draft:
    found, pages = _search(api, p)
    return number(
        f"What is the lowest fare (in EUR) of any flight {_route(p)}?",
        min(f["price"] for f in found),
        *(("pagination",) if pages > 1 else ()),
        decimals=2,
    )


def seats_left(api: Api, p: Params, rng: random.Random) -> Draft:
    found, pages = _search(api, p)
    return number(
        f"How many seats are left in total across all flights {_route(p)}?",
        sum(f["seats_left"] for f in found),
        *(("pagination",) if pages > 1 else ()),
        decimals=0,
    )


def arrival_time(api: Api, p: Params, rng: random.Random) -> Draft | None:
    found, pages = _search(api, p)
    match = [f for f in found if f["flight_number"] == p["flight_number"]]
    if len(match) != 1:
        return None
    flight = api.ok("get_flight", flight_id=match[0]["id"]) if api.strategy == SEARCH_THEN_GET else match[0]
    return text(
        f"At what time does flight {p['flight_number']} {_route(p)} arrive? Answer as HH:MM.",
        flight["arrive"],
        *(("pagination",) if pages > 1 else ()),
    )


def book_earliest(api: Api, p: Params, rng: random.Random) -> Draft | None:
    first = api.ok("search_flights", origin=p["origin"], destination=p["destination"], date=p["date"])["flights"]
    bookable = [f for f in first if f["seats_left"] > 0]
    if not bookable:
        return None
    api.ok("book_flight", flight_id=bookable[0]["id"], passenger=p["passenger"])
    return state(
        f"Book {p['passenger']} on the earliest flight {_route(p)} that still has seats.",
        [
            where(
                "flights",
                "bookings",
                {"flight_id": bookable[0]["id"], "passenger": p["passenger"], "status": "confirmed"},
                count=_booked(bookable[0]["id"], p["passenger"]) + 1,
            ),
            where("flights", "bookings", {}, count=len(seed()["bookings"]) + 1),
        ],
    )


def book_or_next(api: Api, p: Params, rng: random.Random) -> Draft | None:
    found = api.ok("search_flights", origin=p["origin"], destination=p["destination"], date=p["date"], limit=10)
    flights = found["flights"]
    sold = [i for i, f in enumerate(flights[:-1]) if f["seats_left"] == 0 and flights[i + 1]["seats_left"] > 0]
    if not sold or found["next_offset"] is not None:
        return None
    wanted, following = flights[sold[0]], flights[sold[0] + 1]
    api.fails("book_flight", 409, flight_id=wanted["id"], passenger=p["passenger"])
    api.ok("book_flight", flight_id=following["id"], passenger=p["passenger"])
    return state(
        f"Book {p['passenger']} on flight {wanted['flight_number']} {_route(p)}. If it is sold out, book the "
        "next departure on the same route and day instead.",
        [
            where(
                "flights",
                "bookings",
                {"flight_id": following["id"], "passenger": p["passenger"], "status": "confirmed"},
                count=_booked(following["id"], p["passenger"]) + 1,
            ),
            where("flights", "bookings", {}, count=len(seed()["bookings"]) + 1),
        ],
        "error",
    )


def cancel_all(api: Api, p: Params, rng: random.Random) -> Draft | None:
    bookings = api.ok("list_bookings", passenger=p["passenger"])["bookings"]
    if not 1 <= len(bookings) <= 5:
        return None
    for booking in bookings:
        api.ok("cancel_booking", booking_id=booking["id"])
    return state(
        f"Cancel every booking of the passenger {p['passenger']}.",
        [
            where("flights", "bookings", {"passenger": p["passenger"], "status": "confirmed"}, count=0),
            where("flights", "bookings", {"status": "cancelled"}, count=len(bookings)),
        ],
    )


PAGING = (DIRECT, BIG_PAGES)


def _paging_teacher(p: Params, rng: random.Random) -> str:
    """Busy routes (many flights a day) are walked in the largest pages; others in the default ones."""
    daily = sum(
        f["origin"] == p["origin"] and f["destination"] == p["destination"] and f["date"] == p["date"]
        for f in _flights()
    )
    return BIG_PAGES if daily > 5 else DIRECT


def _open_teacher(p: Params, rng: random.Random) -> str:
    return SEARCH_THEN_GET if rng.random() < 0.5 else DIRECT


def _numbered(rng: random.Random) -> Params:
    flight = rng.choice(_flights())
    return {
        "origin": flight["origin"],
        "destination": flight["destination"],
        "date": flight["date"],
        "flight_number": flight["flight_number"],
    }


OOD = [
    Template("cheapest_fare", S, _route_day, cheapest_fare, PAGING, _paging_teacher),
    Template("seats_left", S, _route_day, seats_left, PAGING, _paging_teacher),
    Template("arrival_time", S, _numbered, arrival_time, (DIRECT, SEARCH_THEN_GET), _open_teacher),
    Template("book_earliest", S, lambda rng: {**_route_day(rng), "passenger": rng.choice(PASSENGERS)}, book_earliest),
    Template("book_or_next", S, lambda rng: {**_route_day(rng), "passenger": rng.choice(PASSENGERS)}, book_or_next),
    Template("cancel_all_bookings", S, lambda rng: {"passenger": rng.choice(PASSENGERS)}, cancel_all),
]
ID: list[Template] = []

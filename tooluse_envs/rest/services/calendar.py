"""Calendar: a work calendar over two weeks (in-domain). Overlapping bookings answer 409 Conflict."""

from __future__ import annotations

import datetime as dt
import random
from functools import cache
from typing import Any

from tooluse_envs.rest.service import ApiError, Call, Reply, Service, Tables
from tooluse_envs.rest.services._spec import DATE, TIME, body, document, obj, param, responses

WORKDAYS = tuple(
    day.isoformat() for day in (dt.date(2025, 6, 2) + dt.timedelta(days=i) for i in range(12)) if day.weekday() < 5
)
DAY_START, DAY_END = "08:00", "18:00"
TITLES = (
    "Team standup",
    "Design review",
    "Budget sync",
    "1:1 with Priya",
    "1:1 with Marco",
    "Customer call: Acme",
    "Customer call: Globex",
    "Sprint planning",
    "Retrospective",
    "Hiring panel",
    "Lunch and learn",
    "Product demo",
    "Security training",
    "Board prep",
    "Vendor meeting",
    "Roadmap workshop",
    "Marketing sync",
    "Incident review",
    "Architecture forum",
    "Coffee with Lena",
    "Quarterly review",
    "Onboarding session",
    "Legal check-in",
    "Release go/no-go",
    "Data council",
    "Ops handover",
    "Partner call: Initech",
    "Town hall",
)
LOCATIONS = ("Room A", "Room B", "Orion", "Lyra", "Video call", "Cafeteria")
EVENT_ID = {"type": "string", "description": "Event id, e.g. evt_0012."}

EVENT_FIELDS = {
    "title": {"type": "string", "minLength": 1, "maxLength": 120},
    "date": DATE,
    "start": TIME,
    "end": TIME,
    "location": {"type": "string", "maxLength": 60},
}
SPEC = document(
    "Calendar API",
    f"A work calendar for {WORKDAYS[0]} to {WORKDAYS[-1]} (working hours {DAY_START}-{DAY_END}).",
    {
        "/events/{event_id}": {
            "parameters": [param("event_id", "path", EVENT_ID, "Event id.")],
            "get": {"operationId": "get_event", "summary": "One event by id.", "responses": responses(200, None, 404)},
            "patch": {
                "operationId": "update_event",
                "summary": "Change an event's title, date, times or location (only the fields given).",
                "requestBody": body(obj(EVENT_FIELDS)),
                "responses": responses(200, None, 404, 409),
            },
            "delete": {
                "operationId": "delete_event",
                "summary": "Delete an event.",
                "responses": responses(204, None, 404),
            },
        },
        "/events": {
            "get": {
                "operationId": "list_events",
                "summary": "Events ordered by date and start time, filtered by day and/or a title search.",
                "parameters": [
                    param("date", "query", DATE, "Only events on this day."),
                    param("q", "query", {"type": "string"}, "Case-insensitive text the title contains."),
                ],
                "responses": responses(200, None),
            },
            "post": {
                "operationId": "create_event",
                "summary": "Create an event. 409 if it overlaps an existing event.",
                "requestBody": body(obj(EVENT_FIELDS, ["title", "date", "start", "end"])),
                "responses": responses(201, None, 409),
            },
        },
        "/free-slots": {
            "get": {
                "operationId": "find_free_slots",
                "summary": f"Free intervals of a day within {DAY_START}-{DAY_END}, at least as long as asked.",
                "parameters": [
                    param("date", "query", DATE, "The day.", required=True),
                    param(
                        "minutes",
                        "query",
                        {"type": "integer", "minimum": 5, "maximum": 600},
                        "Shortest interval to report (default 30).",
                    ),
                ],
                "responses": responses(200, None),
            }
        },
    },
)


def minutes(hhmm: str) -> int:
    return int(hhmm[:2]) * 60 + int(hhmm[3:])


def hhmm(total: int) -> str:
    return f"{total // 60:02d}:{total % 60:02d}"


@cache
def seed() -> Tables:
    """Five to seven events per working day, never overlapping, titles unique per day."""
    rng = random.Random(7117)
    events: dict[str, dict[str, Any]] = {}
    for day in WORKDAYS:
        titles = rng.sample(TITLES, rng.randint(5, 7))
        clock = minutes(DAY_START) + 30 * rng.randint(0, 2)
        for title in titles:
            length = rng.choice((30, 45, 60, 60, 90))
            if clock + length > minutes(DAY_END):
                break
            event_id = f"evt_{len(events) + 1:04d}"
            events[event_id] = {
                "id": event_id,
                "title": title,
                "date": day,
                "start": hhmm(clock),
                "end": hhmm(clock + length),
                "location": rng.choice(LOCATIONS),
            }
            clock += length + 15 * rng.randint(0, 6)
            clock = (clock + 14) // 15 * 15
    return {"events": events}


def _ordered(rows: Any) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda e: (e["date"], e["start"], e["id"]))


def _event(call: Call) -> dict[str, Any]:
    event = call.tables["events"].get(call.params["event_id"])
    if event is None:
        raise ApiError(404, "not_found", f"no event {call.params['event_id']!r}")
    return event


def _check_slot(call: Call, event: dict[str, Any], ignore: str | None = None) -> None:
    if minutes(event["end"]) <= minutes(event["start"]):
        raise ApiError(422, "invalid_time_range", f"end {event['end']} must be after start {event['start']}")
    for other in _ordered(call.tables["events"].values()):
        if (
            other["id"] != ignore
            and other["date"] == event["date"]
            and minutes(other["start"]) < minutes(event["end"])
            and minutes(event["start"]) < minutes(other["end"])
        ):
            raise ApiError(
                409,
                "conflict",
                f"overlaps {other['id']} {other['title']!r} {other['start']}-{other['end']}",
                conflicting_event=dict(other),
            )


def get_event(call: Call) -> dict[str, Any]:
    return _event(call)


def list_events(call: Call) -> dict[str, Any]:
    day, text = call.params.get("date"), call.params.get("q", "").lower()
    rows = [
        e
        for e in _ordered(call.tables["events"].values())
        if (day is None or e["date"] == day) and text in e["title"].lower()
    ]
    return {"events": rows, "count": len(rows)}


def create_event(call: Call) -> Reply:
    _check_slot(call, {"location": "", **call.body})
    event_id = f"evt_{call.episode.next_id('event', len(seed()['events']) + 1):04d}"  # ids only for successes
    event = call.tables["events"][event_id] = {"id": event_id, "location": "", **call.body}
    return Reply(201, event)


def update_event(call: Call) -> dict[str, Any]:
    current = _event(call)
    updated = {**current, **call.body}
    _check_slot(call, updated, ignore=current["id"])
    call.tables["events"][current["id"]] = updated
    return updated


def delete_event(call: Call) -> Reply:
    del call.tables["events"][_event(call)["id"]]
    return Reply(204)


def find_free_slots(call: Call) -> dict[str, Any]:
    day, shortest = call.params["date"], call.params.get("minutes", 30)
    busy = [
        (minutes(e["start"]), minutes(e["end"])) for e in _ordered(call.tables["events"].values()) if e["date"] == day
    ]
    slots, clock = [], minutes(DAY_START)
    for start, end in busy + [(minutes(DAY_END), minutes(DAY_END))]:
        if start - clock >= shortest:
            slots.append({"start": hhmm(clock), "end": hhmm(start)})
        clock = max(clock, end)
    return {"date": day, "slots": slots}


SERVICE = Service(
    name="calendar",
    spec=SPEC,
    handlers={
        "get_event": get_event,
        "update_event": update_event,
        "delete_event": delete_event,
        "list_events": list_events,
        "create_event": create_event,
        "find_free_slots": find_free_slots,
    },
    seed=seed,
)

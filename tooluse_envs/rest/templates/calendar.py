"""Calendar tasks: lookups (in-domain); creating, moving, cancelling and conflict recovery (out-of-domain)."""

from __future__ import annotations

import random
from typing import Any

from tooluse_envs.rest.services.calendar import DAY_END, DAY_START, LOCATIONS, WORKDAYS, hhmm, minutes, seed
from tooluse_envs.rest.templates import Api, Draft, Params, Template, number, rows, state, text, where

S = ("calendar",)
NEW_TITLES = (
    "Focus time",
    "Dentist appointment",
    "Call with the bank",
    "Interview: data analyst",
    "Yoga class",
    "Team lunch",
    "Planning poker",
    "Mentoring session",
    "Expense reports",
    "Site visit",
)


def _events() -> list[dict[str, Any]]:
    return sorted(seed()["events"].values(), key=lambda e: e["id"])


def _event(rng: random.Random) -> Params:
    event = rng.choice(_events())
    return {"title": event["title"], "date": event["date"]}


def _find(api: Api, p: Params) -> dict[str, Any]:
    listed = api.ok("list_events", date=p["date"])["events"]
    return next(e for e in listed if e["title"] == p["title"])


def event_start(api: Api, p: Params, rng: random.Random) -> Draft:
    return text(f"What time does '{p['title']}' start on {p['date']}? Answer as HH:MM.", _find(api, p)["start"])


def event_location(api: Api, p: Params, rng: random.Random) -> Draft:
    return text(f"Where does '{p['title']}' on {p['date']} take place?", _find(api, p)["location"])


def event_length(api: Api, p: Params, rng: random.Random) -> Draft:
    event = _find(api, p)
    return number(
        f"How many minutes long is '{p['title']}' on {p['date']}?", minutes(event["end"]) - minutes(event["start"])
    )


def events_on_day(api: Api, p: Params, rng: random.Random) -> Draft:
    body = api.ok("list_events", date=p["date"])
    return number(f"How many events are on the calendar on {p['date']}?", body["count"])


def first_event(api: Api, p: Params, rng: random.Random) -> Draft:
    events = api.ok("list_events", date=p["date"])["events"]
    return text(f"What is the title of the first event on {p['date']}?", events[0]["title"])


def titles_on_day(api: Api, p: Params, rng: random.Random) -> Draft:
    events = api.ok("list_events", date=p["date"])["events"]
    return rows(
        f"List the titles of all events on {p['date']}, separated by semicolons.", [e["title"] for e in events], "list"
    )


def event_title_by_id(api: Api, p: Params, rng: random.Random) -> Draft:
    return text(f"What is the title of calendar event {p['event_id']}?", api.ok("get_event", **p)["title"])


def first_free_slot(api: Api, p: Params, rng: random.Random) -> Draft | None:
    slots = api.ok("find_free_slots", date=p["date"], minutes=p["minutes"])["slots"]
    if not slots:
        return None
    return text(
        f"When does the first free slot of at least {p['minutes']} minutes start on {p['date']}? Answer as HH:MM.",
        slots[0]["start"],
    )


def _free_slot(rng: random.Random) -> Params:
    """A day and an interval inside working hours that no seed event overlaps."""
    date, length = rng.choice(WORKDAYS), rng.choice((30, 45, 60))
    start = rng.randrange(minutes(DAY_START), minutes(DAY_END) - length + 1, 15)
    return {
        "date": date,
        "start": hhmm(start),
        "end": hhmm(start + length),
        "title": rng.choice(NEW_TITLES),
        "location": rng.choice(LOCATIONS),
    }


def _overlaps(date: str, start: str, end: str, ignore: str | None = None) -> bool:
    return any(
        e["date"] == date
        and e["id"] != ignore
        and minutes(e["start"]) < minutes(end)
        and minutes(start) < minutes(e["end"])
        for e in _events()
    )


def create_event(api: Api, p: Params, rng: random.Random) -> Draft | None:
    if _overlaps(p["date"], p["start"], p["end"]):
        return None
    api.ok("create_event", **p)
    fields = {"title": p["title"], "date": p["date"], "start": p["start"], "end": p["end"], "location": p["location"]}
    return state(
        f"Add '{p['title']}' to my calendar on {p['date']} from {p['start']} to {p['end']} in {p['location']}.",
        [where("calendar", "events", fields, count=1), where("calendar", "events", {}, count=len(_events()) + 1)],
    )


def create_after_conflict(api: Api, p: Params, rng: random.Random) -> Draft | None:
    length = minutes(p["end"]) - minutes(p["start"])
    if not _overlaps(p["date"], p["start"], p["end"]):
        return None
    blocker = api.fails("create_event", 409, title=p["title"], date=p["date"], start=p["start"], end=p["end"])
    start = minutes(blocker["conflicting_event"]["end"])
    later = {"title": p["title"], "date": p["date"], "start": hhmm(start), "end": hhmm(start + length)}
    if start + length > minutes(DAY_END) or _overlaps(p["date"], later["start"], later["end"]):
        return None
    api.ok("create_event", **later)
    return state(
        f"Book '{p['title']}' on {p['date']} from {p['start']} to {p['end']}. If that time is taken, "
        "book it for the same length starting right when the conflicting event ends.",
        [where("calendar", "events", later, count=1), where("calendar", "events", {}, count=len(_events()) + 1)],
        "error",
        "conflict",
    )


def delete_event(api: Api, p: Params, rng: random.Random) -> Draft:
    event = _find(api, p)
    api.ok("delete_event", event_id=event["id"])
    return state(
        f"Cancel '{p['title']}' on {p['date']}: remove it from the calendar.",
        [
            where("calendar", "events", {"id": event["id"]}, count=0),
            where("calendar", "events", {}, count=len(_events()) - 1),
        ],
    )


def move_event(api: Api, p: Params, rng: random.Random) -> Draft | None:
    event = _find(api, p)
    length = minutes(event["end"]) - minutes(event["start"])
    start = minutes(DAY_START) + 15 * p["slot"]
    new = {"start": hhmm(start), "end": hhmm(start + length)}
    if (
        start + length > minutes(DAY_END)
        or new["start"] == event["start"]
        or _overlaps(p["date"], new["start"], new["end"], ignore=event["id"])
    ):
        return None
    api.ok("update_event", event_id=event["id"], **new)
    return state(
        f"Move '{p['title']}' on {p['date']} so that it starts at {new['start']}, keeping its length.",
        [
            where("calendar", "events", {"id": event["id"]}, fields={**new, "date": p["date"]}),
            where("calendar", "events", {}, count=len(_events())),
        ],
    )


ID = [
    Template("event_start", S, _event, event_start),
    Template("event_location", S, _event, event_location),
    Template("event_length", S, _event, event_length),
    Template("events_on_day", S, lambda rng: {"date": rng.choice(WORKDAYS)}, events_on_day),
    Template("first_event", S, lambda rng: {"date": rng.choice(WORKDAYS)}, first_event),
    Template("titles_on_day", S, lambda rng: {"date": rng.choice(WORKDAYS)}, titles_on_day),
    Template("event_title_by_id", S, lambda rng: {"event_id": rng.choice(_events())["id"]}, event_title_by_id),
    Template(
        "first_free_slot",
        S,
        lambda rng: {"date": rng.choice(WORKDAYS), "minutes": rng.choice((30, 45, 60, 90))},
        first_free_slot,
    ),
]
OOD = [
    Template("create_event", S, _free_slot, create_event),
    Template("create_after_conflict", S, _free_slot, create_after_conflict),
    Template("delete_event", S, _event, delete_event),
    Template("move_event", S, lambda rng: {**_event(rng), "slot": rng.randrange(0, 36)}, move_event),
]

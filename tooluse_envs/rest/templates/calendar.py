"""Calendar tasks: lookups (in-domain); creating, moving, cancelling and conflict recovery (out-of-domain).

Strategies: an event is found in its day's listing, or by searching its title and opening the match
(``get_event``) — the teacher lists the day for a recurring meeting (the title alone is ambiguous) and
searches a one-off title; a free slot comes from ``find_free_slots`` or is read off the day's events.
"""

from __future__ import annotations

import random
from typing import Any

from tooluse_envs.rest.services.calendar import DAY_END, DAY_START, LOCATIONS, WORKDAYS, hhmm, minutes, seed
from tooluse_envs.rest.templates import DIRECT, Api, Draft, Params, Template, ask, number, rows, state, text, where

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


DAY_LISTING, SEARCH_THEN_GET, FROM_EVENTS = "day_listing", "search_then_get", "from_events"
FIND = (DAY_LISTING, SEARCH_THEN_GET)


def _recurring(title: str) -> bool:
    return sum(e["title"] == title for e in _events()) > 1


def _find_teacher(p: Params, rng: random.Random) -> str:
    """A meeting that recurs is found in its day's listing; a one-off title is searched and opened."""
    return DAY_LISTING if _recurring(p["title"]) else SEARCH_THEN_GET


def _event(rng: random.Random) -> Params:
    event = rng.choice(_events())
    return {"title": event["title"], "date": event["date"]}


def _find(api: Api, p: Params) -> dict[str, Any]:
    """The event titled ``p['title']`` on ``p['date']``: from the day's listing, or searched and opened."""
    if api.strategy == SEARCH_THEN_GET:
        found = api.ok("list_events", q=p["title"])["events"]
        match = next(e for e in found if e["title"] == p["title"] and e["date"] == p["date"])
        return api.ok("get_event", event_id=match["id"])
    listed = api.ok("list_events", date=p["date"])["events"]
    return next(e for e in listed if e["title"] == p["title"])


def event_start(api: Api, p: Params, rng: random.Random) -> Draft:
    question = ask(
        p,
        f"What time does '{p['title']}' start on {p['date']}? Answer as HH:MM.",
        f"On {p['date']}, when does '{p['title']}' begin? Reply with the start time as HH:MM.",
    )
    return text(question, _find(api, p)["start"])


def event_location(api: Api, p: Params, rng: random.Random) -> Draft:
    question = ask(
        p,
        f"Where does '{p['title']}' on {p['date']} take place?",
        f"Which room or place is booked for '{p['title']}' on {p['date']}?",
    )
    return text(question, _find(api, p)["location"])


def event_length(api: Api, p: Params, rng: random.Random) -> Draft:
    event = _find(api, p)
    question = ask(
        p,
        f"How many minutes long is '{p['title']}' on {p['date']}?",
        f"What is the duration of '{p['title']}' on {p['date']}, in minutes?",
    )
    return number(question, minutes(event["end"]) - minutes(event["start"]), decimals=0)


def events_on_day(api: Api, p: Params, rng: random.Random) -> Draft:
    body = api.ok("list_events", date=p["date"])
    question = ask(
        p,
        f"How many events are on the calendar on {p['date']}?",
        f"How busy am I on {p['date']}? Give the number of calendar entries that day.",
    )
    return number(question, body["count"], decimals=0)


def first_event(api: Api, p: Params, rng: random.Random) -> Draft:
    events = api.ok("list_events", date=p["date"])["events"]
    question = ask(
        p,
        f"What is the title of the first event on {p['date']}?",
        f"Which meeting opens my day on {p['date']}? Give its title.",
    )
    return text(question, events[0]["title"])


def titles_on_day(api: Api, p: Params, rng: random.Random) -> Draft:
    events = api.ok("list_events", date=p["date"])["events"]
    question = ask(
        p,
        f"List the titles of all events on {p['date']}, separated by semicolons.",
        f"Give me every meeting title on my calendar for {p['date']}, separated by semicolons.",
    )
    return rows(question, [e["title"] for e in events], "list")


def event_title_by_id(api: Api, p: Params, rng: random.Random) -> Draft:
    question = ask(
        p,
        f"What is the title of calendar event {p['event_id']}?",
        f"What is the calendar entry with id {p['event_id']} called?",
    )
    return text(question, api.ok("get_event", event_id=p["event_id"])["title"])


def _gaps(events: list[dict[str, Any]], shortest: int) -> list[str]:
    """Starts of the free intervals of at least ``shortest`` minutes within working hours."""
    starts, clock = [], minutes(DAY_START)
    for event in sorted(events, key=lambda e: e["start"]) + [{"start": DAY_END, "end": DAY_END}]:
        if minutes(event["start"]) - clock >= shortest:
            starts.append(hhmm(clock))
        clock = max(clock, minutes(event["end"]))
    return starts


def first_free_slot(api: Api, p: Params, rng: random.Random) -> Draft | None:
    if api.strategy == FROM_EVENTS:
        starts = _gaps(api.ok("list_events", date=p["date"])["events"], p["minutes"])
    else:
        starts = [slot["start"] for slot in api.ok("find_free_slots", date=p["date"], minutes=p["minutes"])["slots"]]
    if not starts:
        return None
    question = ask(
        p,
        f"When does the first free slot of at least {p['minutes']} minutes start on {p['date']}? Answer as HH:MM.",
        f"I need {p['minutes']} uninterrupted minutes on {p['date']}. What is the earliest time (HH:MM) a free "
        "gap that long begins?",
    )
    return text(question, starts[0])


def _slot_teacher(p: Params, rng: random.Random) -> str:
    """Long slots are asked of the free-slot finder; short ones are often read off the day's events."""
    return DIRECT if p["minutes"] >= 60 or rng.random() < 0.5 else FROM_EVENTS


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
    Template("event_start", S, _event, event_start, FIND, _find_teacher),
    Template("event_location", S, _event, event_location, FIND, _find_teacher),
    Template("event_length", S, _event, event_length, FIND, _find_teacher),
    Template("events_on_day", S, lambda rng: {"date": rng.choice(WORKDAYS)}, events_on_day),
    Template("first_event", S, lambda rng: {"date": rng.choice(WORKDAYS)}, first_event),
    Template("titles_on_day", S, lambda rng: {"date": rng.choice(WORKDAYS)}, titles_on_day),
    Template("event_title_by_id", S, lambda rng: {"event_id": rng.choice(_events())["id"]}, event_title_by_id),
    Template(
        "first_free_slot",
        S,
        lambda rng: {"date": rng.choice(WORKDAYS), "minutes": rng.choice((30, 45, 60, 90))},
        first_free_slot,
        (DIRECT, FROM_EVENTS),
        _slot_teacher,
    ),
]
OOD = [
    Template("create_event", S, _free_slot, create_event),
    Template("create_after_conflict", S, _free_slot, create_after_conflict),
    Template("delete_event", S, _event, delete_event, FIND, _find_teacher),
    Template(
        "move_event", S, lambda rng: {**_event(rng), "slot": rng.randrange(0, 36)}, move_event, FIND, _find_teacher
    ),
]

"""Library tasks (an out-of-domain service): cursor page walking, loans, holds and loan-limit recovery.

Strategies: a book named by its title is taken from the search result, or searched and then opened
(``get_book``) to confirm the ISBN.
"""

from __future__ import annotations

import random
from typing import Any

from tooluse_envs.rest.services.library import AUTHORS, GENRES, LOAN_LIMIT, seed
from tooluse_envs.rest.templates import DIRECT, Api, Draft, Params, Template, number, rows, state, text, where

S = ("library",)
SEARCH_THEN_GET = "search_then_get"
FIND = (DIRECT, SEARCH_THEN_GET)


def _find_teacher(p: Params, rng: random.Random) -> str:
    """Titles that other books share words with are opened to be sure of the ISBN; distinctive ones not."""
    title = seed()["books"][p["isbn"]]["title"]
    others = sum(title.split()[-1] in b["title"] for b in seed()["books"].values())
    return SEARCH_THEN_GET if others > 1 else DIRECT


def _books() -> list[dict[str, Any]]:
    return sorted(seed()["books"].values(), key=lambda b: b["isbn"])


def _active(member: str) -> list[dict[str, Any]]:
    return [x for x in seed()["loans"].values() if x["member_id"] == member and not x["returned"]]


def _walk(api: Api, **query: Any) -> tuple[list[dict[str, Any]], int]:
    """Every page of a catalogue search (cursor pagination); rows and pages read."""
    found, cursor, pages = [], None, 0
    while pages == 0 or cursor:
        body = api.ok("search_books", **query, **({"cursor": cursor} if cursor else {}))
        found += body["books"]
        cursor, pages = body["next_cursor"], pages + 1
    return found, pages


def _find(api: Api, title: str) -> dict[str, Any]:
    found = next(b for b in api.ok("search_books", q=title)["books"] if b["title"] == title)
    return api.ok("get_book", isbn=found["isbn"]) if api.strategy == SEARCH_THEN_GET else found


def author_titles(api: Api, p: Params, rng: random.Random) -> Draft | None:
    found, pages = _walk(api, author=p["author"])
    if pages < 2:
        return None
    return rows(
        f"List every title by {p['author']} in the library catalogue, separated by semicolons.",
        [b["title"] for b in found],
        "pagination",
        "list",
    )


def oldest_by_author(api: Api, p: Params, rng: random.Random) -> Draft | None:
    found, pages = _walk(api, author=p["author"])
    years = sorted(b["year"] for b in found)
    if pages < 2 or (len(years) > 1 and years[0] == years[1]):
        return None
    return text(
        f"What is the title of the oldest book by {p['author']} in the catalogue?",
        min(found, key=lambda b: b["year"])["title"],
        "pagination",
    )


def genre_available(api: Api, p: Params, rng: random.Random) -> Draft:
    found, _ = _walk(api, genre=p["genre"], limit=10)
    return number(
        f"How many {p['genre']} titles have at least one copy available right now?",
        sum(b["available"] > 0 for b in found),
        "pagination",
        decimals=0,
    )


def borrow(api: Api, p: Params, rng: random.Random) -> Draft | None:
    book = seed()["books"][p["isbn"]]
    if len(_active(p["member"])) >= LOAN_LIMIT or book["available"] < 1:
        return None
    found = _find(api, book["title"])
    api.ok("borrow_book", member_id=p["member"], isbn=found["isbn"])
    return state(
        f"Member {p['member']} would like to borrow '{book['title']}'. Lend it to them.",
        [
            where(
                "library",
                "loans",
                {"member_id": p["member"], "isbn": book["isbn"], "returned": False},
                count=1 + sum(x["isbn"] == book["isbn"] for x in _active(p["member"])),
            ),
            where("library", "books", {"isbn": book["isbn"]}, fields={"available": book["available"] - 1}),
        ],
    )


def borrow_or_hold(api: Api, p: Params, rng: random.Random) -> Draft | None:
    book = seed()["books"][p["isbn"]]
    if len(_active(p["member"])) >= LOAN_LIMIT or book["available"] > 0:
        return None
    found = _find(api, book["title"])
    api.fails("borrow_book", 409, member_id=p["member"], isbn=found["isbn"])
    api.ok("place_hold", member_id=p["member"], isbn=found["isbn"])
    return state(
        f"Member {p['member']} wants '{book['title']}'. Lend it to them, or if no copy is free, place a "
        "hold for them instead.",
        [
            where("library", "holds", {"member_id": p["member"], "isbn": book["isbn"]}, count=1),
            where(
                "library", "loans", {"returned": False}, count=sum(not x["returned"] for x in seed()["loans"].values())
            ),
        ],
        "error",
    )


def return_all(api: Api, p: Params, rng: random.Random) -> Draft | None:
    if not _active(p["member"]):
        return None
    for loan in api.ok("list_member_loans", member_id=p["member"])["loans"]:
        api.ok("return_book", loan_id=loan["id"])
    return state(
        f"Member {p['member']} is bringing back every book they have on loan. Record the returns.",
        [
            where("library", "loans", {"member_id": p["member"], "returned": False}, count=0),
            where("library", "loans", {"returned": True}, count=len(_active(p["member"]))),
        ],
    )


def make_room(api: Api, p: Params, rng: random.Random) -> Draft | None:
    book = seed()["books"][p["isbn"]]
    held = _active(p["member"])
    if len(held) < LOAN_LIMIT or book["available"] < 1 or any(x["isbn"] == book["isbn"] for x in held):
        return None
    found = _find(api, book["title"])
    api.fails("borrow_book", 409, member_id=p["member"], isbn=found["isbn"])
    oldest = api.ok("list_member_loans", member_id=p["member"])["loans"][0]
    api.ok("return_book", loan_id=oldest["id"])
    api.ok("borrow_book", member_id=p["member"], isbn=found["isbn"])
    return state(
        f"Member {p['member']} wants to borrow '{book['title']}'. If they are at their loan limit, return "
        "their oldest loan first, then lend them the book.",
        [
            where("library", "loans", {"id": oldest["id"]}, fields={"returned": True}),
            where("library", "loans", {"member_id": p["member"], "isbn": book["isbn"], "returned": False}, count=1),
            where("library", "loans", {"member_id": p["member"], "returned": False}, count=LOAN_LIMIT),
        ],
        "error",
    )


def _member_book(rng: random.Random) -> Params:
    return {"member": f"M-{rng.randint(101, 130)}", "isbn": rng.choice(_books())["isbn"]}


def _busy_member_book(rng: random.Random) -> Params:
    full = sorted({x["member_id"] for x in seed()["loans"].values() if len(_active(x["member_id"])) >= LOAN_LIMIT})
    return {"member": rng.choice(full), "isbn": rng.choice(_books())["isbn"]}


def _unavailable_book(rng: random.Random) -> Params:
    return {
        "member": f"M-{rng.randint(101, 130)}",
        "isbn": rng.choice([b for b in _books() if not b["available"]])["isbn"],
    }


OOD = [
    Template("author_titles", S, lambda rng: {"author": rng.choice(AUTHORS)}, author_titles),
    Template("oldest_by_author", S, lambda rng: {"author": rng.choice(AUTHORS)}, oldest_by_author),
    Template("genre_available", S, lambda rng: {"genre": rng.choice(GENRES)}, genre_available),
    Template("borrow", S, _member_book, borrow, FIND, _find_teacher),
    Template("borrow_or_hold", S, _unavailable_book, borrow_or_hold, FIND, _find_teacher),
    Template("return_all", S, lambda rng: {"member": f"M-{rng.randint(101, 130)}"}, return_all),
    Template("make_room", S, _busy_member_book, make_room, FIND, _find_teacher),
]
ID: list[Template] = []

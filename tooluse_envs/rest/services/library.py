"""Library: a catalogue, members, loans and holds (out-of-domain only).

The catalogue search is cursor-paginated (``next_cursor``), borrowing answers 409 when no copy is free
or the member is at their loan limit, and a hold can only be placed when no copy is free.
"""

from __future__ import annotations

import random
from functools import cache
from typing import Any

from tooluse_envs.rest.service import ApiError, Call, Reply, Service, Tables
from tooluse_envs.rest.services._spec import body, cursor_params, document, obj, param, responses

AUTHORS = (
    "Ada Lindqvist",
    "Tomas Berg",
    "Mirela Costa",
    "Jonah Pike",
    "Saoirse Doyle",
    "Kenji Mori",
    "Lucia Ferrer",
    "Amara Obi",
    "Henrik Dahl",
    "Yara Haddad",
    "Pieter de Wit",
    "Nadia Rahman",
    "Oscar Vance",
    "Ines Duarte",
    "Felix Novak",
    "Mei Tanaka",
    "Rafael Soto",
    "Greta Holm",
)
FIRST = (
    "The Silent",
    "A Winter",
    "The Last",
    "Beneath the",
    "The Paper",
    "Letters from the",
    "The Glass",
    "Echoes of the",
    "The Hidden",
    "North of the",
    "The Salt",
    "Songs of the",
)
SECOND = (
    "Harbor",
    "Orchard",
    "Lighthouse",
    "Archive",
    "River",
    "Garden",
    "Observatory",
    "Island",
    "Mountain",
    "Station",
    "Cartographer",
    "Meadow",
    "Library",
    "Tide",
)
GENRES = ("mystery", "fantasy", "history", "science", "poetry", "romance", "biography")
LOAN_LIMIT = 3
ISBN = param("isbn", "path", {"type": "string"}, "ISBN-13 without dashes.")
MEMBER = {"type": "string", "pattern": "^M-\\d{3}$", "description": "Member id, e.g. M-104."}

SPEC = document(
    "Library API",
    f"Catalogue search is paginated with next_cursor. Members may hold at most {LOAN_LIMIT} loans.",
    {
        "/books": {
            "get": {
                "operationId": "search_books",
                "summary": "Search the catalogue (ordered by title), one page at a time; pass next_cursor as cursor "
                "to continue (null on the last page).",
                "parameters": [
                    param("author", "query", {"type": "string"}, "Author's full name."),
                    param("q", "query", {"type": "string"}, "Text the title contains."),
                    param("genre", "query", {"type": "string", "enum": list(GENRES)}, "Genre."),
                    *cursor_params(5, 10),
                ],
                "responses": responses(200),
            }
        },
        "/books/{isbn}": {
            "get": {
                "operationId": "get_book",
                "summary": "One book with its copies available.",
                "parameters": [ISBN],
                "responses": responses(200, None, 404),
            }
        },
        "/members/{member_id}/loans": {
            "get": {
                "operationId": "list_member_loans",
                "summary": "A member's current loans, oldest first.",
                "parameters": [param("member_id", "path", MEMBER, "Member id.")],
                "responses": responses(200, None, 404),
            }
        },
        "/loans": {
            "post": {
                "operationId": "borrow_book",
                "summary": "Lend a copy to a member. 409 when no copy is free or the member is at the loan limit.",
                "requestBody": body(obj({"member_id": MEMBER, "isbn": {"type": "string"}}, ["member_id", "isbn"])),
                "responses": responses(201, None, 404, 409),
            }
        },
        "/loans/{loan_id}/return": {
            "post": {
                "operationId": "return_book",
                "summary": "Return a loan's copy. 409 when it was already returned.",
                "parameters": [param("loan_id", "path", {"type": "string"}, "Loan id, e.g. L-2001.")],
                "responses": responses(200, None, 404, 409),
            }
        },
        "/holds": {
            "post": {
                "operationId": "place_hold",
                "summary": "Reserve a book for a member; only allowed when no copy is free (409 otherwise).",
                "requestBody": body(obj({"member_id": MEMBER, "isbn": {"type": "string"}}, ["member_id", "isbn"])),
                "responses": responses(201, None, 404, 409),
            }
        },
    },
)


@cache
def seed() -> Tables:
    """160 books by 18 authors, 30 members, 45 loans (some members at their limit)."""
    rng = random.Random(9191)
    titles = rng.sample([f"{a} {b}" for a in FIRST for b in SECOND], 160)
    books: dict[str, dict[str, Any]] = {}
    for title in titles:
        isbn = f"978{rng.randint(10**9, 10**10 - 1)}"
        copies = rng.randint(1, 4)
        books[isbn] = {
            "isbn": isbn,
            "title": title,
            "author": rng.choice(AUTHORS),
            "year": rng.randint(1952, 2024),
            "genre": rng.choice(GENRES),
            "copies": copies,
            "available": copies,
        }
    members = {f"M-{101 + n}": {"id": f"M-{101 + n}", "name": f"Member {101 + n}"} for n in range(30)}
    loans: dict[str, dict[str, Any]] = {}
    for n in range(45):
        member = rng.choice(sorted(members))
        free = [b for b in sorted(books) if books[b]["available"] > 0]
        if sum(x["member_id"] == member for x in loans.values()) >= LOAN_LIMIT or not free:
            continue
        isbn = rng.choice(free)
        books[isbn]["available"] -= 1
        lid = f"L-{2001 + n}"
        loans[lid] = {
            "id": lid,
            "member_id": member,
            "isbn": isbn,
            "title": books[isbn]["title"],
            "borrowed_on": f"2025-05-{1 + n % 28:02d}",
            "returned": False,
        }
    return {"books": books, "members": members, "loans": loans, "holds": {}}


def _book(call: Call, isbn: str) -> dict[str, Any]:
    book = call.tables["books"].get(isbn.replace("-", ""))
    if book is None:
        raise ApiError(404, "not_found", f"no book with ISBN {isbn!r}")
    return book


def _member(call: Call, member_id: str) -> dict[str, Any]:
    member = call.tables["members"].get(member_id)
    if member is None:
        raise ApiError(404, "not_found", f"no member {member_id!r}")
    return member


def _active_loans(call: Call, member_id: str) -> list[dict[str, Any]]:
    loans = [x for x in call.tables["loans"].values() if x["member_id"] == member_id and not x["returned"]]
    return sorted(loans, key=lambda x: (x["borrowed_on"], x["id"]))


def search_books(call: Call) -> dict[str, Any]:
    author, text, genre = (
        call.params.get("author", "").lower(),
        call.params.get("q", "").lower(),
        call.params.get("genre"),
    )
    rows = sorted(
        (
            b
            for b in call.tables["books"].values()
            if (not author or b["author"].lower() == author)
            and text in b["title"].lower()
            and (genre is None or b["genre"] == genre)
        ),
        key=lambda b: (b["title"], b["isbn"]),
    )
    start = 0
    cursor = call.params.get("cursor")
    if cursor is not None:  # the cursor names the last title seen, as keyset pagination does
        start = next((i + 1 for i, b in enumerate(rows) if b["isbn"] == cursor.removeprefix("after:")), -1)
        if start < 0 or not cursor.startswith("after:"):
            raise ApiError(422, "invalid_cursor", "cursor is not a next_cursor of this search")
    page = rows[start : start + call.params.get("limit", 5)]
    more = start + len(page) < len(rows)
    return {"books": page, "next_cursor": f"after:{page[-1]['isbn']}" if more and page else None}


def get_book(call: Call) -> dict[str, Any]:
    return _book(call, call.params["isbn"])


def list_member_loans(call: Call) -> dict[str, Any]:
    member = _member(call, call.params["member_id"])
    return {"member_id": member["id"], "loans": _active_loans(call, member["id"]), "limit": LOAN_LIMIT}


def borrow_book(call: Call) -> Reply:
    member, book = _member(call, call.body["member_id"]), _book(call, call.body["isbn"])
    if len(_active_loans(call, member["id"])) >= LOAN_LIMIT:
        raise ApiError(409, "loan_limit_reached", f"{member['id']} already has {LOAN_LIMIT} loans; return one first")
    if book["available"] < 1:
        raise ApiError(
            409,
            "no_copies_available",
            f"all {book['copies']} copies of {book['isbn']} are on loan; place a hold instead",
        )
    call.tables["books"][book["isbn"]] = {**book, "available": book["available"] - 1}
    lid = f"L-{call.episode.next_id('loan', 3001)}"
    loan = call.tables["loans"][lid] = {
        "id": lid,
        "member_id": member["id"],
        "isbn": book["isbn"],
        "title": book["title"],
        "borrowed_on": "2025-06-01",
        "returned": False,
    }
    return Reply(201, loan)


def return_book(call: Call) -> dict[str, Any]:
    loan = call.tables["loans"].get(call.params["loan_id"])
    if loan is None:
        raise ApiError(404, "not_found", f"no loan {call.params['loan_id']!r}")
    if loan["returned"]:
        raise ApiError(409, "already_returned", f"loan {loan['id']} was already returned")
    book = call.tables["books"][loan["isbn"]]
    call.tables["books"][book["isbn"]] = {**book, "available": book["available"] + 1}
    loan = call.tables["loans"][loan["id"]] = {**loan, "returned": True}
    return loan


def place_hold(call: Call) -> Reply:
    member, book = _member(call, call.body["member_id"]), _book(call, call.body["isbn"])
    if book["available"] > 0:
        raise ApiError(409, "copies_available", f"{book['available']} copies are free; borrow the book instead")
    hid = f"H-{call.episode.next_id('hold', 4001)}"
    hold = call.tables["holds"][hid] = {"id": hid, "member_id": member["id"], "isbn": book["isbn"]}
    return Reply(201, hold)


SERVICE = Service(
    name="library",
    spec=SPEC,
    handlers={
        "search_books": search_books,
        "get_book": get_book,
        "list_member_loans": list_member_loans,
        "borrow_book": borrow_book,
        "return_book": return_book,
        "place_hold": place_hold,
    },
    seed=seed,
)

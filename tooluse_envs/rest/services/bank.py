"""Bank: accounts, transactions and transfers behind a bearer-token login (in-domain).

Auth flow: ``create_token(username, password)`` (POST /auth/token) returns an ``access_token``; every
other operation needs it (the tools take it as their ``access_token`` argument and send it as
``Authorization: Bearer ...``). Tokens are per episode and deterministic, so a reference trajectory that
carries one replays exactly. Transactions are paginated with an opaque cursor.
"""

from __future__ import annotations

import base64
import hashlib
import random
from functools import cache
from typing import Any

from tooluse_envs.rest.service import ApiError, Call, Reply, Service, Tables
from tooluse_envs.rest.services._spec import body, cursor_params, document, obj, param, responses

USERS = ("maria", "jonas", "aiko", "pablo", "noor", "lukas", "sofia", "kwame", "ingrid", "ravi", "elena", "tomas")
WORDS = ("blue", "otter", "maple", "river", "copper", "falcon", "velvet", "cedar", "harbor", "lunar")
MERCHANTS = (
    "Grocery Hub",
    "City Transit",
    "Coffee Corner",
    "Book Nook",
    "Streamflix",
    "Power and Light Co",
    "Pharmacy Plus",
    "Fuel Stop",
    "Gym Central",
    "Pizza Piazza",
)
ACCOUNT_TYPES = ("checking", "savings", "holiday")
SECURED: list[dict[str, list[str]]] = [{"bearer": []}]
ACCOUNT_ID = param("account_id", "path", {"type": "string"}, "Account id, e.g. ACC-41234.")
MONEY = {"type": "number", "exclusiveMinimum": 0, "maximum": 1_000_000, "description": "Amount in EUR."}

SPEC = document(
    "Bank API",
    "Log in with POST /auth/token, then send the access token as a bearer token. Amounts are in EUR.",
    {
        "/auth/token": {
            "post": {
                "operationId": "create_token",
                "summary": "Log in: exchange a username and password for an access token (valid for this session).",
                "requestBody": body(
                    obj(
                        {
                            "username": {"type": "string", "minLength": 1},
                            "password": {"type": "string", "minLength": 1},
                        },
                        ["username", "password"],
                    )
                ),
                "responses": responses(200, None, 401),
            }
        },
        "/accounts": {
            "get": {
                "operationId": "list_accounts",
                "summary": "The logged-in user's accounts with their balances.",
                "security": SECURED,
                "responses": responses(200, None, 401),
            }
        },
        "/accounts/{account_id}": {
            "get": {
                "operationId": "get_account",
                "summary": "One of the user's accounts.",
                "security": SECURED,
                "parameters": [ACCOUNT_ID],
                "responses": responses(200, None, 401, 404),
            }
        },
        "/accounts/{account_id}/transactions": {
            "get": {
                "operationId": "list_transactions",
                "summary": "An account's transactions, newest first, one page at a time. Pass next_cursor from the "
                "previous page as cursor to get the next one (null on the last page).",
                "security": SECURED,
                "parameters": [
                    ACCOUNT_ID,
                    *cursor_params(5, 10),
                ],
                "responses": responses(200, None, 401, 404),
            }
        },
        "/transfers": {
            "post": {
                "operationId": "create_transfer",
                "summary": "Move money from one of the user's accounts to any account (409: insufficient funds).",
                "security": SECURED,
                "requestBody": body(
                    obj(
                        {
                            "from_account": {"type": "string"},
                            "to_account": {"type": "string"},
                            "amount": MONEY,
                            "memo": {"type": "string", "maxLength": 140},
                        },
                        ["from_account", "to_account", "amount"],
                    )
                ),
                "responses": responses(201, None, 401, 404, 409),
            }
        },
    },
    bearer=True,
)


@cache
def seed() -> Tables:
    """Twelve users with two or three accounts each and a month of transactions."""
    rng = random.Random(8080)
    users: dict[str, dict[str, Any]] = {}
    accounts: dict[str, dict[str, Any]] = {}
    transactions: dict[str, dict[str, Any]] = {}
    for name in USERS:
        users[name] = {"username": name, "password": f"{rng.choice(WORDS)}-{rng.choice(WORDS)}-{rng.randint(10, 99)}"}
        for kind in ACCOUNT_TYPES[: rng.choice((2, 3))]:
            aid = f"ACC-{rng.randint(10000, 99999)}"
            while aid in accounts:
                aid = f"ACC-{rng.randint(10000, 99999)}"
            balance = round(rng.uniform(300, 6000) if kind == "checking" else rng.uniform(500, 25000), 2)
            accounts[aid] = {"id": aid, "owner": name, "type": kind, "balance": balance, "currency": "EUR"}
            count = rng.randint(12, 24) if kind == "checking" else rng.randint(2, 6)
            days = sorted((rng.randint(1, 31) for _ in range(count)), reverse=True)
            for day in days:
                if kind == "checking":
                    merchant = rng.choice(MERCHANTS)
                    amount = -round(rng.uniform(2.5, 180), 2)
                else:
                    merchant, amount = "Interest", round(rng.uniform(0.5, 40), 2)
                tid = f"TX-{len(transactions) + 100001}"
                transactions[tid] = {
                    "id": tid,
                    "account_id": aid,
                    "date": f"2025-05-{day:02d}",
                    "description": merchant,
                    "amount": amount,
                }
    return {"users": users, "accounts": accounts, "transactions": transactions, "transfers": {}}


def create_token(call: Call) -> dict[str, Any]:
    user = call.tables["users"].get(call.body["username"])
    if user is None or user["password"] != call.body["password"]:
        raise ApiError(401, "invalid_credentials", "unknown username or wrong password")
    n = call.episode.next_id("token", 1)
    token = "tok_" + hashlib.sha256(f"{user['username']}:{n}".encode()).hexdigest()[:24]
    call.episode.tokens[token] = user["username"]
    return {"access_token": token, "token_type": "bearer", "expires_in": 3600}


def _public(account: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in account.items() if k != "owner"}


def _own_account(call: Call, account_id: str) -> dict[str, Any]:
    account = call.tables["accounts"].get(account_id)
    if account is None or account["owner"] != call.user:  # never reveal that someone else's account exists
        raise ApiError(404, "not_found", f"no account {account_id!r} for this user")
    return account


def list_accounts(call: Call) -> dict[str, Any]:
    return {"accounts": [_public(a) for a in call.tables["accounts"].values() if a["owner"] == call.user]}


def get_account(call: Call) -> dict[str, Any]:
    return _public(_own_account(call, call.params["account_id"]))


def _cursor(account_id: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{account_id}:{offset}".encode()).decode().rstrip("=")


def _offset(account_id: str, cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        owner, offset = decoded.rsplit(":", 1)
        if owner == account_id:
            return int(offset)
    except ValueError:
        pass
    raise ApiError(422, "invalid_cursor", "cursor is not a next_cursor of this account's transactions")


def list_transactions(call: Call) -> dict[str, Any]:
    account = _own_account(call, call.params["account_id"])
    rows = [t for t in call.tables["transactions"].values() if t["account_id"] == account["id"]]
    rows.sort(key=lambda t: (t["date"], t["id"]), reverse=True)
    start, limit = _offset(account["id"], call.params.get("cursor")), call.params.get("limit", 5)
    more = start + limit < len(rows)
    return {
        "transactions": rows[start : start + limit],
        "next_cursor": _cursor(account["id"], start + limit) if more else None,
    }


def create_transfer(call: Call) -> Reply:
    source = _own_account(call, call.body["from_account"])
    target = call.tables["accounts"].get(call.body["to_account"])
    if target is None:
        raise ApiError(404, "not_found", f"no account {call.body['to_account']!r}")
    if target["id"] == source["id"]:
        raise ApiError(422, "same_account", "from_account and to_account must differ")
    amount = round(call.body["amount"], 2)
    if amount > source["balance"]:
        raise ApiError(
            409, "insufficient_funds", f"{source['id']} holds {source['balance']:.2f} EUR", available=source["balance"]
        )
    accounts = call.tables["accounts"]
    accounts[source["id"]] = {**source, "balance": round(source["balance"] - amount, 2)}
    accounts[target["id"]] = {**target, "balance": round(target["balance"] + amount, 2)}
    tid = f"TR-{call.episode.next_id('transfer', 5001)}"
    transfer = {
        "id": tid,
        "from_account": source["id"],
        "to_account": target["id"],
        "amount": amount,
        "memo": call.body.get("memo", ""),
        "date": "2025-06-01",
    }
    call.tables["transfers"][tid] = transfer
    for account, sign in ((source, -1), (target, 1)):
        xid = f"TX-{call.episode.next_id('transaction', 900001)}"
        call.tables["transactions"][xid] = {
            "id": xid,
            "account_id": account["id"],
            "date": "2025-06-01",
            "description": f"Transfer {tid}",
            "amount": sign * amount,
        }
    return Reply(201, {"transfer": transfer, "from_balance": accounts[source["id"]]["balance"]})


SERVICE = Service(
    name="bank",
    spec=SPEC,
    handlers={
        "create_token": create_token,
        "list_accounts": list_accounts,
        "get_account": get_account,
        "list_transactions": list_transactions,
        "create_transfer": create_transfer,
    },
    seed=seed,
)

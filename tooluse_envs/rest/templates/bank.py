"""Bank tasks: every one starts with the token flow. Balances and recent transactions (in-domain);
cursor page walking, transfers and insufficient-funds recovery (out-of-domain).

Strategies: a balance is read off the account listing, or the listing gives the id and the account is
opened (``get_account``); recent transactions come from one page of the requested size or from the
default page (five) when that already covers them.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from tooluse_envs.rest.services.bank import MERCHANTS, USERS, seed
from tooluse_envs.rest.templates import (
    DIRECT,
    Api,
    Draft,
    NotApplicable,
    Params,
    Template,
    ask,
    exact,
    number,
    state,
    text,
    total,
    where,
)

S = ("bank",)
DEFAULT_LIMIT = 5  # list_transactions' default page size
LIST_THEN_GET, DEFAULT_PAGE = "list_then_get", "default_page"
ORDINALS = ("", "most recent", "second most recent", "third most recent", "fourth most recent", "fifth most recent")


def _login(api: Api, user: str) -> str:
    password = seed()["users"][user]["password"]
    return api.ok("create_token", username=user, password=password)["access_token"]


def _who(user: str) -> str:
    return f"I am the bank user '{user}' (password '{seed()['users'][user]['password']}'). "


def _accounts(api: Api, token: str) -> dict[str, dict[str, Any]]:
    return {a["type"]: a for a in api.ok("list_accounts", access_token=token)["accounts"]}


def _types(user: str) -> list[str]:
    return sorted(a["type"] for a in seed()["accounts"].values() if a["owner"] == user)


def balance(api: Api, p: Params, rng: random.Random) -> Draft | None:
    if p["type"] not in _types(p["user"]):
        return None
    token = _login(api, p["user"])
    account = _accounts(api, token)[p["type"]]
    if api.strategy == LIST_THEN_GET:
        account = api.ok("get_account", access_token=token, account_id=account["id"])
    question = ask(
        p,
        f"What is the balance of my {p['type']} account, in EUR?",
        f"How much money is sitting in my {p['type']} account right now (EUR)?",
    )
    return number(_who(p["user"]) + question, account["balance"], "auth", decimals=2)


def _balance_teacher(p: Params, rng: random.Random) -> str:
    """The listing already shows balances; the teacher sometimes opens the account to be sure of it."""
    return LIST_THEN_GET if rng.random() < 0.35 else DIRECT


def total_balance(api: Api, p: Params, rng: random.Random) -> Draft:
    accounts = _accounts(api, _login(api, p["user"]))
    question = ask(
        p,
        "What is the combined balance of all my accounts, in EUR?",
        "If you add up every account I hold, how many EUR do I have in total?",
    )
    return number(_who(p["user"]) + question, total((a["balance"] for a in accounts.values()), 2), "auth", decimals=2)


def account_count(api: Api, p: Params, rng: random.Random) -> Draft:
    accounts = _accounts(api, _login(api, p["user"]))
    question = ask(p, "How many bank accounts do I have?", "What is the number of accounts held in my name?")
    return number(_who(p["user"]) + question, len(accounts), "auth", decimals=0)


def _recent(api: Api, p: Params) -> list[dict[str, Any]]:
    """The newest ``p['n']`` checking transactions: one page of exactly that size, or the default page."""
    token = _login(api, p["user"])
    checking = _accounts(api, token)["checking"]
    if api.strategy == DEFAULT_PAGE:
        if p["n"] > DEFAULT_LIMIT:
            raise NotApplicable("the default page is shorter than the transactions asked about")
        listed = api.ok("list_transactions", access_token=token, account_id=checking["id"])
    else:
        listed = api.ok("list_transactions", access_token=token, account_id=checking["id"], limit=p["n"])
    return listed["transactions"][: p["n"]]


RECENT = (DIRECT, DEFAULT_PAGE)


def nth_merchant(api: Api, p: Params, rng: random.Random) -> Draft:
    picked = _recent(api, p)[p["n"] - 1]
    question = ask(
        p,
        f"What is the description of the {ORDINALS[p['n']]} transaction on my checking account?",
        f"Looking at my checking account, what does the {ORDINALS[p['n']]} transaction say it was for?",
    )
    return text(_who(p["user"]) + question, picked["description"], "auth")


def recent_spend(api: Api, p: Params, rng: random.Random) -> Draft:
    spent = total((-t["amount"] for t in _recent(api, p)), 2)
    question = ask(
        p,
        f"How much money in EUR went out in the last {p['n']} transactions on my checking account, in total?",
        f"Sum up what left my checking account over its {p['n']} latest transactions. How many EUR?",
    )
    return number(_who(p["user"]) + question, spent, "auth", decimals=2)


def transaction_amount(api: Api, p: Params, rng: random.Random) -> Draft:
    picked = _recent(api, p)[p["n"] - 1]
    question = ask(
        p,
        f"What was the amount in EUR of the {ORDINALS[p['n']]} transaction on my checking account? "
        "Payments are negative.",
        f"How many EUR was the {ORDINALS[p['n']]} checking-account transaction for? Give payments as negative numbers.",
    )
    return number(_who(p["user"]) + question, picked["amount"], "auth", decimals=2)


def largest_payment(api: Api, p: Params, rng: random.Random) -> Draft:
    biggest = max(-t["amount"] for t in _recent(api, p))
    question = ask(
        p,
        f"What was the largest single payment (in EUR, as a positive number) among the last {p['n']} "
        "transactions on my checking account?",
        f"Of my {p['n']} most recent checking-account transactions, which payment was biggest? Give its size "
        "in EUR as a positive number.",
    )
    return number(_who(p["user"]) + question, biggest, "auth", decimals=2)


def merchant_spend(api: Api, p: Params, rng: random.Random) -> Draft | None:
    token = _login(api, p["user"])
    checking = _accounts(api, token)["checking"]
    spent, cursor, pages = Decimal(0), None, 0
    while pages == 0 or cursor:
        page = api.ok(
            "list_transactions",
            access_token=token,
            account_id=checking["id"],
            limit=10,
            **({"cursor": cursor} if cursor else {}),
        )
        spent += sum(-Decimal(str(t["amount"])) for t in page["transactions"] if t["description"] == p["merchant"])
        cursor, pages = page["next_cursor"], pages + 1
    if spent == 0 or pages < 2:
        return None
    return number(
        _who(p["user"]) + f"How much have I spent at {p['merchant']} in total, going by the whole "
        "transaction history of my checking account (EUR)?",
        exact(spent, 2),
        "auth",
        "pagination",
        decimals=2,
    )


def transfer(api: Api, p: Params, rng: random.Random) -> Draft | None:
    if "savings" not in _types(p["user"]):
        return None
    token = _login(api, p["user"])
    accounts = _accounts(api, token)
    source, target = accounts["checking"], accounts["savings"]
    if source["balance"] < p["amount"]:
        return None
    done = api.ok(
        "create_transfer", access_token=token, from_account=source["id"], to_account=target["id"], amount=p["amount"]
    )
    return state(
        _who(p["user"]) + f"Move {p['amount']} EUR from my checking account to my savings account.",
        [
            where("bank", "accounts", {"id": source["id"]}, fields={"balance": done["from_balance"]}),
            where(
                "bank", "accounts", {"id": target["id"]}, fields={"balance": round(target["balance"] + p["amount"], 2)}
            ),
            where("bank", "transfers", {}, count=1),
        ],
        "auth",
    )


def transfer_what_you_can(api: Api, p: Params, rng: random.Random) -> Draft | None:
    if p["payee"] == p["user"]:
        return None
    token = _login(api, p["user"])
    source = _accounts(api, token)["checking"]
    payee = next(a for a in sorted(seed()["accounts"].values(), key=lambda a: a["id"]) if a["owner"] == p["payee"])
    amount = round(source["balance"] + p["extra"], 2)
    refused = api.fails(
        "create_transfer", 409, access_token=token, from_account=source["id"], to_account=payee["id"], amount=amount
    )
    api.ok(
        "create_transfer",
        access_token=token,
        from_account=source["id"],
        to_account=payee["id"],
        amount=refused["available"],
    )
    return state(
        _who(p["user"]) + f"Send {amount} EUR from my checking account to account {payee['id']}. If the "
        "bank refuses because the balance is too low, send the entire checking balance instead.",
        [
            where("bank", "accounts", {"id": source["id"]}, fields={"balance": 0}),
            where(
                "bank",
                "accounts",
                {"id": payee["id"]},
                fields={"balance": round(payee["balance"] + refused["available"], 2)},
            ),
            where("bank", "transfers", {}, count=1),
        ],
        "auth",
        "error",
    )


def _recent_teacher(p: Params, rng: random.Random) -> str:
    """A page sized to the question when it asks for more than a couple; the default page otherwise."""
    return DEFAULT_PAGE if p["n"] <= 2 or (p["n"] <= DEFAULT_LIMIT and rng.random() < 0.3) else DIRECT


def _user(rng: random.Random) -> Params:
    return {"user": rng.choice(USERS)}


ID = [
    Template(
        "balance",
        S,
        lambda rng: {**_user(rng), "type": rng.choice(("checking", "savings", "holiday"))},
        balance,
        (DIRECT, LIST_THEN_GET),
        _balance_teacher,
    ),
    Template("total_balance", S, _user, total_balance),
    Template("account_count", S, _user, account_count),
    Template(
        "nth_merchant", S, lambda rng: {**_user(rng), "n": rng.randint(1, 5)}, nth_merchant, RECENT, _recent_teacher
    ),
    Template(
        "recent_spend", S, lambda rng: {**_user(rng), "n": rng.randint(2, 5)}, recent_spend, RECENT, _recent_teacher
    ),
    Template(
        "transaction_amount",
        S,
        lambda rng: {**_user(rng), "n": rng.randint(1, 5)},
        transaction_amount,
        RECENT,
        _recent_teacher,
    ),
    Template(
        "largest_payment",
        S,
        lambda rng: {**_user(rng), "n": rng.randint(3, 10)},
        largest_payment,
        RECENT,
        _recent_teacher,
    ),
]
OOD = [
    Template("merchant_spend", S, lambda rng: {**_user(rng), "merchant": rng.choice(MERCHANTS)}, merchant_spend),
    Template("transfer", S, lambda rng: {**_user(rng), "amount": rng.randrange(20, 500, 5)}, transfer),
    Template(
        "transfer_what_you_can",
        S,
        lambda rng: {**_user(rng), "payee": rng.choice(USERS), "extra": rng.randrange(50, 900, 25)},
        transfer_what_you_can,
    ),
]

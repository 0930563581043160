"""Bank tasks: every one starts with the token flow. Balances and recent transactions (in-domain);
cursor page walking, transfers and insufficient-funds recovery (out-of-domain)."""

from __future__ import annotations

import random
from typing import Any

from tooluse_envs.rest.services.bank import MERCHANTS, USERS, seed
from tooluse_envs.rest.templates import Api, Draft, Params, Template, number, state, text, where

S = ("bank",)
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
    accounts = _accounts(api, _login(api, p["user"]))
    return number(
        _who(p["user"]) + f"What is the balance of my {p['type']} account, in EUR?",
        accounts[p["type"]]["balance"],
        "auth",
    )


def total_balance(api: Api, p: Params, rng: random.Random) -> Draft:
    accounts = _accounts(api, _login(api, p["user"]))
    return number(
        _who(p["user"]) + "What is the combined balance of all my accounts, in EUR?",
        round(sum(a["balance"] for a in accounts.values()), 2),
        "auth",
    )


def account_count(api: Api, p: Params, rng: random.Random) -> Draft:
    accounts = _accounts(api, _login(api, p["user"]))
    return number(_who(p["user"]) + "How many bank accounts do I have?", len(accounts), "auth")


def nth_merchant(api: Api, p: Params, rng: random.Random) -> Draft:
    token = _login(api, p["user"])
    checking = _accounts(api, token)["checking"]
    listed = api.ok("list_transactions", access_token=token, account_id=checking["id"], limit=p["n"])
    return text(
        _who(p["user"]) + f"What is the description of the {ORDINALS[p['n']]} transaction on my checking account?",
        listed["transactions"][p["n"] - 1]["description"],
        "auth",
    )


def recent_spend(api: Api, p: Params, rng: random.Random) -> Draft:
    token = _login(api, p["user"])
    checking = _accounts(api, token)["checking"]
    listed = api.ok("list_transactions", access_token=token, account_id=checking["id"], limit=p["n"])
    spent = round(-sum(t["amount"] for t in listed["transactions"]), 2)
    return number(
        _who(p["user"]) + f"How much money in EUR went out in the last {p['n']} transactions on my "
        "checking account, in total?",
        spent,
        "auth",
    )


def transaction_amount(api: Api, p: Params, rng: random.Random) -> Draft:
    token = _login(api, p["user"])
    checking = _accounts(api, token)["checking"]
    listed = api.ok("list_transactions", access_token=token, account_id=checking["id"], limit=p["n"])
    return number(
        _who(p["user"]) + f"What was the amount in EUR of the {ORDINALS[p['n']]} transaction on my "
        "checking account? Payments are negative.",
        listed["transactions"][p["n"] - 1]["amount"],
        "auth",
    )


def largest_payment(api: Api, p: Params, rng: random.Random) -> Draft:
    token = _login(api, p["user"])
    checking = _accounts(api, token)["checking"]
    listed = api.ok("list_transactions", access_token=token, account_id=checking["id"], limit=p["n"])
    biggest = max(-t["amount"] for t in listed["transactions"])
    return number(
        _who(p["user"]) + f"What was the largest single payment (in EUR, as a positive number) among the "
        f"last {p['n']} transactions on my checking account?",
        biggest,
        "auth",
    )


def merchant_spend(api: Api, p: Params, rng: random.Random) -> Draft | None:
    token = _login(api, p["user"])
    checking = _accounts(api, token)["checking"]
    spent, cursor, pages = 0.0, None, 0
    while pages == 0 or cursor:
        page = api.ok(
            "list_transactions",
            access_token=token,
            account_id=checking["id"],
            limit=10,
            **({"cursor": cursor} if cursor else {}),
        )
        spent += sum(-t["amount"] for t in page["transactions"] if t["description"] == p["merchant"])
        cursor, pages = page["next_cursor"], pages + 1
    if spent == 0 or pages < 2:
        return None
    return number(
        _who(p["user"]) + f"How much have I spent at {p['merchant']} in total, going by the whole "
        "transaction history of my checking account (EUR)?",
        round(spent, 2),
        "auth",
        "pagination",
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


def _user(rng: random.Random) -> Params:
    return {"user": rng.choice(USERS)}


ID = [
    Template("balance", S, lambda rng: {**_user(rng), "type": rng.choice(("checking", "savings", "holiday"))}, balance),
    Template("total_balance", S, _user, total_balance),
    Template("account_count", S, _user, account_count),
    Template("nth_merchant", S, lambda rng: {**_user(rng), "n": rng.randint(1, 5)}, nth_merchant),
    Template("recent_spend", S, lambda rng: {**_user(rng), "n": rng.randint(2, 5)}, recent_spend),
    Template("transaction_amount", S, lambda rng: {**_user(rng), "n": rng.randint(1, 5)}, transaction_amount),
    Template("largest_payment", S, lambda rng: {**_user(rng), "n": rng.randint(3, 10)}, largest_payment),
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

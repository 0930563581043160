"""Shop tasks: lookups (in-domain); page walking, ordering, cancelling and 409 recovery (out-of-domain)."""

from __future__ import annotations

import random
from typing import Any

from tooluse_envs.rest.services.shop import CATALOGUE, CUSTOMERS, STATUSES, seed
from tooluse_envs.rest.templates import Api, Draft, Params, Template, number, state, text, where

S = ("shop",)


def _products() -> list[dict[str, Any]]:
    return sorted(seed()["products"].values(), key=lambda p: p["id"])


def _orders() -> list[dict[str, Any]]:
    return sorted(seed()["orders"].values(), key=lambda o: o["id"])


def _product(api: Api, name: str) -> dict[str, Any]:
    items = api.ok("search_products", q=name)["items"]
    return next(p for p in items if p["name"] == name)


def _walk(api: Api, **query: Any) -> tuple[list[dict[str, Any]], int]:
    """Every page of a product search; the rows and the number of pages read."""
    rows, offset, pages = [], 0, 0
    while offset is not None:
        body = api.ok("search_products", **query, limit=10, **({"offset": offset} if offset else {}))
        rows += body["items"]
        offset, pages = body["next_offset"], pages + 1
    return rows, pages


def _name(rng: random.Random) -> Params:
    return {"name": rng.choice(_products())["name"]}


def _order(rng: random.Random) -> Params:
    return {"order_id": rng.choice(_orders())["id"]}


def product_price(api: Api, p: Params, rng: random.Random) -> Draft:
    return number(f"How much does the {p['name']} cost, in dollars?", _product(api, p["name"])["price"])


def product_stock(api: Api, p: Params, rng: random.Random) -> Draft:
    return number(f"How many units of the {p['name']} are in stock?", _product(api, p["name"])["stock"])


def quantity_cost(api: Api, p: Params, rng: random.Random) -> Draft:
    price = _product(api, p["name"])["price"]
    return number(
        f"What would {p['quantity']} units of the {p['name']} cost in total, in dollars?",
        round(price * p["quantity"], 2),
        "arithmetic",
    )


def cheaper_product(api: Api, p: Params, rng: random.Random) -> Draft | None:
    a, b = rng.sample(p["names"], 2)
    prices = {name: _product(api, name)["price"] for name in (a, b)}
    if prices[a] == prices[b]:
        return None
    return text(
        f"Which is cheaper: the {a} or the {b}? Answer with the product name.", min(prices, key=prices.get), "compare"
    )


def order_status(api: Api, p: Params, rng: random.Random) -> Draft:
    return text(f"What is the status of order {p['order_id']}?", api.ok("get_order", **p)["status"])


def order_total(api: Api, p: Params, rng: random.Random) -> Draft:
    return number(f"What is the total of order {p['order_id']}, in dollars?", api.ok("get_order", **p)["total"])


def order_units(api: Api, p: Params, rng: random.Random) -> Draft:
    items = api.ok("get_order", **p)["items"]
    return number(
        f"How many units in total (all items, counting quantities) does order {p['order_id']} contain?",
        sum(item["quantity"] for item in items),
    )


def customer_orders(api: Api, p: Params, rng: random.Random) -> Draft:
    query = {"customer": p["customer"], **({"status": p["status"]} if p["status"] else {})}
    total = api.ok("list_orders", **query)["total"]
    kind = f"{p['status']} " if p["status"] else ""
    return number(f"How many {kind}orders does {p['customer']} have?", total)


def category_under(api: Api, p: Params, rng: random.Random) -> Draft:
    total = api.ok("search_products", category=p["category"], max_price=p["max_price"])["total"]
    return number(f"How many {p['category']} products cost at most ${p['max_price']}?", total)


def priciest_under(api: Api, p: Params, rng: random.Random) -> Draft | None:
    found, pages = _walk(api, category=p["category"], max_price=p["max_price"])
    if pages < 2 or len({x["price"] for x in found}) < len(found):
        return None
    best = max(found, key=lambda x: x["price"])
    return text(
        f"What is the most expensive {p['category']} product priced at or below ${p['max_price']}? "
        "Answer with its name.",
        best["name"],
        "pagination",
    )


def out_of_stock_count(api: Api, p: Params, rng: random.Random) -> Draft | None:
    found, pages = _walk(api, category=p["category"])
    if pages < 2:
        return None
    return number(
        f"How many {p['category']} products are out of stock (stock 0)?",
        sum(x["stock"] == 0 for x in found),
        "pagination",
    )


def place_order(api: Api, p: Params, rng: random.Random) -> Draft | None:
    product = _product(api, p["name"])
    if product["stock"] < p["quantity"]:
        return None
    api.ok("create_order", customer=p["customer"], items=[{"product_id": product["id"], "quantity": p["quantity"]}])
    before = sum(o["customer"] == p["customer"] for o in _orders())
    return state(
        f"Place an order for {p['quantity']} x {p['name']} for the customer {p['customer']}.",
        [
            where("shop", "products", {"id": product["id"]}, fields={"stock": product["stock"] - p["quantity"]}),
            where(
                "shop",
                "orders",
                {"customer": p["customer"], "status": "placed"},
                count=sum(o["customer"] == p["customer"] and o["status"] == "placed" for o in _orders()) + 1,
            ),
            where("shop", "orders", {"customer": p["customer"]}, count=before + 1),
        ],
    )


def order_what_is_left(api: Api, p: Params, rng: random.Random) -> Draft | None:
    product = _product(api, p["name"])
    if not 0 < product["stock"] < p["quantity"]:
        return None
    refused = api.fails(
        "create_order", 409, customer=p["customer"], items=[{"product_id": product["id"], "quantity": p["quantity"]}]
    )
    api.ok(
        "create_order", customer=p["customer"], items=[{"product_id": product["id"], "quantity": refused["available"]}]
    )
    return state(
        f"Order {p['quantity']} x {p['name']} for {p['customer']}. If there is not enough stock, "
        "order all the units that are available instead.",
        [
            where("shop", "products", {"id": product["id"]}, fields={"stock": 0}),
            where(
                "shop",
                "orders",
                {"customer": p["customer"]},
                count=sum(o["customer"] == p["customer"] for o in _orders()) + 1,
            ),
        ],
        "error",
    )


def cancel_order(api: Api, p: Params, rng: random.Random) -> Draft | None:
    if seed()["orders"][p["order_id"]]["status"] != "placed":
        return None
    api.ok("cancel_order", **p)
    cancelled = sum(o["status"] == "cancelled" for o in _orders())
    return state(
        f"Cancel order {p['order_id']}.",
        [
            where("shop", "orders", {"id": p["order_id"]}, fields={"status": "cancelled"}),
            where("shop", "orders", {"status": "cancelled"}, count=cancelled + 1),
        ],
    )


def cancel_or_status(api: Api, p: Params, rng: random.Random) -> Draft | None:
    if seed()["orders"][p["order_id"]]["status"] in ("placed", "cancelled"):
        return None
    api.fails("cancel_order", 409, **p)
    current = api.ok("get_order", **p)["status"]
    return text(
        f"Please cancel order {p['order_id']}. If it can no longer be cancelled, tell me its current status "
        "instead (just the status).",
        current,
        "error",
    )


def _name_quantity(rng: random.Random) -> Params:
    return {**_name(rng), "quantity": rng.randint(2, 9)}


def _purchase(rng: random.Random) -> Params:
    return {**_name(rng), "quantity": rng.randint(1, 4), "customer": rng.choice(CUSTOMERS)}


def _short_purchase(rng: random.Random) -> Params:
    low = [x for x in _products() if 0 < x["stock"] <= 8]
    product = rng.choice(low)
    return {
        "name": product["name"],
        "quantity": product["stock"] + rng.randint(1, 6),
        "customer": rng.choice(CUSTOMERS),
    }


CATEGORIES = sorted(CATALOGUE)
ID = [
    Template("product_price", S, _name, product_price),
    Template("product_stock", S, _name, product_stock),
    Template("quantity_cost", S, _name_quantity, quantity_cost),
    Template(
        "cheaper_product",
        S,
        lambda rng: {"names": sorted(x["name"] for x in rng.sample(_products(), 2))},
        cheaper_product,
    ),
    Template("order_status", S, _order, order_status),
    Template("order_total", S, _order, order_total),
    Template("order_units", S, _order, order_units),
    Template(
        "customer_orders",
        S,
        lambda rng: {"customer": rng.choice(CUSTOMERS), "status": rng.choice((None, *STATUSES))},
        customer_orders,
    ),
    Template(
        "category_under",
        S,
        lambda rng: {"category": rng.choice(CATEGORIES), "max_price": rng.randrange(20, 300, 5)},
        category_under,
    ),
]
OOD = [
    Template(
        "priciest_under",
        S,
        lambda rng: {"category": rng.choice(CATEGORIES), "max_price": rng.randrange(100, 480, 5)},
        priciest_under,
    ),
    Template("out_of_stock_count", S, lambda rng: {"category": rng.choice(CATEGORIES)}, out_of_stock_count),
    Template("place_order", S, _purchase, place_order),
    Template("order_what_is_left", S, _short_purchase, order_what_is_left),
    Template("cancel_order", S, _order, cancel_order),
    Template("cancel_or_status", S, _order, cancel_or_status),
]

"""Shop tasks: lookups (in-domain); page walking, ordering, cancelling and 409 recovery (out-of-domain).

Strategies: a product is read off the name search, or searched and then opened (``get_product``); two
products sharing a noun are compared from one search for the noun; a customer's order count comes from
a filtered order listing or the customer summary; a count under a price cap from the filter's total or
by walking the category's pages.
"""

from __future__ import annotations

import random
from typing import Any

from tooluse_envs.rest.services.shop import CATALOGUE, CUSTOMERS, STATUSES, seed
from tooluse_envs.rest.templates import (
    DIRECT,
    Api,
    Draft,
    NotApplicable,
    Params,
    Template,
    ask,
    number,
    state,
    text,
    total,
    where,
)

S = ("shop",)
SEARCH_THEN_GET, NOUN_SEARCH, SUMMARY, WALK = "search_then_get", "noun_search", "customer_summary", "walk_pages"
LOOKUP = (DIRECT, SEARCH_THEN_GET)


def _products() -> list[dict[str, Any]]:
    return sorted(seed()["products"].values(), key=lambda p: p["id"])


def _orders() -> list[dict[str, Any]]:
    return sorted(seed()["orders"].values(), key=lambda o: o["id"])


def _product(api: Api, name: str) -> dict[str, Any]:
    """A product by its name: from the search result, or searched and then opened by id."""
    items = api.ok("search_products", q=name)["items"]
    found = next(p for p in items if p["name"] == name)
    return api.ok("get_product", product_id=found["id"]) if api.strategy == SEARCH_THEN_GET else found


def _lookup_teacher(p: Params, rng: random.Random) -> str:
    """Stock changes with every order, so the teacher usually opens the product for it; a price it reads
    off the search result more often than not."""
    wants_stock = "quantity" in p and "customer" in p or p.get("field") == "stock"
    return SEARCH_THEN_GET if rng.random() < (0.7 if wants_stock else 0.3) else DIRECT


def _walk(api: Api, limit: int = 10, **query: Any) -> tuple[list[dict[str, Any]], int]:
    """Every page of a product search; the rows and the number of pages read."""
    rows, offset, pages = [], 0, 0
    while offset is not None:
        body = api.ok("search_products", **query, limit=limit, **({"offset": offset} if offset else {}))
        rows += body["items"]
        offset, pages = body["next_offset"], pages + 1
    return rows, pages


def _name(rng: random.Random) -> Params:
    return {"name": rng.choice(_products())["name"]}


def _order(rng: random.Random) -> Params:
    return {"order_id": rng.choice(_orders())["id"]}


def product_price(api: Api, p: Params, rng: random.Random) -> Draft:
    question = ask(
        p,
        f"How much does the {p['name']} cost, in dollars?",
        f"What's the shop's price tag on the {p['name']} (in $)?",
    )
    return number(question, _product(api, p["name"])["price"], decimals=2)


def product_stock(api: Api, p: Params, rng: random.Random) -> Draft:
    question = ask(
        p,
        f"How many units of the {p['name']} are in stock?",
        f"If I wanted to buy the {p['name']}, how many pieces does the shop have on hand?",
    )
    return number(question, _product(api, p["name"])["stock"], decimals=0)


def quantity_cost(api: Api, p: Params, rng: random.Random) -> Draft:
    price = _product(api, p["name"])["price"]
    question = ask(
        p,
        f"What would {p['quantity']} units of the {p['name']} cost in total, in dollars?",
        f"I'd like {p['quantity']} of the {p['name']}. What is the combined price in $?",
    )
    return number(question, total([price] * p["quantity"], 2), "arithmetic", decimals=2)


def _noun(name: str) -> str:
    return name.split(" ", 1)[1]


def cheaper_product(api: Api, p: Params, rng: random.Random) -> Draft | None:
    a, b = rng.sample(p["names"], 2)
    if api.strategy == NOUN_SEARCH:
        if _noun(a) != _noun(b):
            raise NotApplicable("the two products share no noun to search for")
        items = _walk(api, q=_noun(a))[0]
        prices = {x["name"]: x["price"] for x in items if x["name"] in (a, b)}
    else:
        prices = {name: _product(api, name)["price"] for name in (a, b)}
    if prices[a] == prices[b]:
        return None
    question = ask(
        p,
        f"Which is cheaper: the {a} or the {b}? Answer with the product name.",
        f"Between the {a} and the {b}, which one costs less? Give its name.",
    )
    return text(question, min(prices, key=prices.__getitem__), "compare")


def _cheaper_teacher(p: Params, rng: random.Random) -> str:
    """Two products with the same noun are compared from one search for it; others looked up by name."""
    a, b = p["names"]
    return NOUN_SEARCH if _noun(a) == _noun(b) else _lookup_teacher(p, rng)


def _two_products(rng: random.Random) -> Params:
    """Half the pairs share a noun (e.g. two kettles), half are any two products."""
    first = rng.choice(_products())
    same = [x for x in _products() if _noun(x["name"]) == _noun(first["name"]) and x["id"] != first["id"]]
    second = rng.choice(same) if same and rng.random() < 0.5 else rng.choice(_products())
    if second["id"] == first["id"]:
        second = next(x for x in _products() if x["id"] != first["id"])
    return {"names": sorted([first["name"], second["name"]])}


def order_status(api: Api, p: Params, rng: random.Random) -> Draft:
    question = ask(
        p,
        f"What is the status of order {p['order_id']}?",
        f"Where is order {p['order_id']} at the moment? Give its status.",
    )
    return text(question, api.ok("get_order", order_id=p["order_id"])["status"])


def order_total(api: Api, p: Params, rng: random.Random) -> Draft:
    question = ask(
        p,
        f"What is the total of order {p['order_id']}, in dollars?",
        f"How much did order {p['order_id']} come to altogether ($)?",
    )
    return number(question, api.ok("get_order", order_id=p["order_id"])["total"], decimals=2)


def order_units(api: Api, p: Params, rng: random.Random) -> Draft:
    items = api.ok("get_order", order_id=p["order_id"])["items"]
    question = ask(
        p,
        f"How many units in total (all items, counting quantities) does order {p['order_id']} contain?",
        f"Counting every piece of every line, how many items are in order {p['order_id']}?",
    )
    return number(question, sum(item["quantity"] for item in items), decimals=0)


def customer_orders(api: Api, p: Params, rng: random.Random) -> Draft:
    if api.strategy == SUMMARY:
        summary = api.ok("get_customer_summary", customer=p["customer"])
        count = summary["by_status"][p["status"]] if p["status"] else summary["orders"]
    else:
        query = {"customer": p["customer"], **({"status": p["status"]} if p["status"] else {})}
        count = api.ok("list_orders", **query)["total"]
    kind = f"{p['status']} " if p["status"] else ""
    question = ask(
        p,
        f"How many {kind}orders does {p['customer']} have?",
        f"Count the {kind}orders on record for the customer {p['customer']}.",
    )
    return number(question, count, decimals=0)


def _orders_teacher(p: Params, rng: random.Random) -> str:
    """All orders: the customer summary has the count; one status: usually the filtered listing."""
    if p["status"] is None:
        return SUMMARY
    return DIRECT if rng.random() < 0.7 else SUMMARY


def category_under(api: Api, p: Params, rng: random.Random) -> Draft:
    if api.strategy == WALK:
        count = sum(x["price"] <= p["max_price"] for x in _walk(api, category=p["category"])[0])
    else:
        count = api.ok("search_products", category=p["category"], max_price=p["max_price"])["total"]
    question = ask(
        p,
        f"How many {p['category']} products cost at most ${p['max_price']}?",
        f"On a budget of ${p['max_price']}, how many products in the {p['category']} category could I afford?",
    )
    return number(question, count, decimals=0)


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
        decimals=0,
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
    Template("product_price", S, _name, product_price, LOOKUP, _lookup_teacher),
    Template("product_stock", S, lambda rng: {**_name(rng), "field": "stock"}, product_stock, LOOKUP, _lookup_teacher),
    Template("quantity_cost", S, _name_quantity, quantity_cost, LOOKUP, _lookup_teacher),
    Template("cheaper_product", S, _two_products, cheaper_product, (*LOOKUP, NOUN_SEARCH), _cheaper_teacher),
    Template("order_status", S, _order, order_status),
    Template("order_total", S, _order, order_total),
    Template("order_units", S, _order, order_units),
    Template(
        "customer_orders",
        S,
        lambda rng: {"customer": rng.choice(CUSTOMERS), "status": rng.choice((None, *STATUSES))},
        customer_orders,
        (DIRECT, SUMMARY),
        _orders_teacher,
    ),
    Template(
        "category_under",
        S,
        lambda rng: {"category": rng.choice(CATEGORIES), "max_price": rng.randrange(20, 300, 5)},
        category_under,
        (DIRECT, WALK),
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
    Template("place_order", S, _purchase, place_order, LOOKUP, _lookup_teacher),
    Template("order_what_is_left", S, _short_purchase, order_what_is_left, LOOKUP, _lookup_teacher),
    Template("cancel_order", S, _order, cancel_order),
    Template("cancel_or_status", S, _order, cancel_or_status),
]

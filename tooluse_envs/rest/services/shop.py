"""Shop: a product catalogue and customer orders (in-domain). Lists are paginated with limit/offset."""

from __future__ import annotations

import random
from functools import cache
from typing import Any

from tooluse_envs.rest.service import ApiError, Call, Reply, Service, Tables
from tooluse_envs.rest.services._spec import body, document, obj, page_params, param, responses

CATALOGUE = {  # category -> (nouns, price range)
    "kitchen": (("Kettle", "Chef Knife", "Skillet", "Blender", "Cutting Board", "Teapot"), (12, 140)),
    "home": (("Desk Lamp", "Throw Blanket", "Wall Clock", "Vase", "Floor Rug", "Candle Set"), (9, 220)),
    "electronics": (("Headphones", "Smart Speaker", "Power Bank", "Webcam", "Keyboard", "Monitor"), (19, 480)),
    "outdoors": (("Tent", "Backpack", "Water Bottle", "Camping Stove", "Hammock", "Trekking Poles"), (14, 360)),
    "toys": (("Puzzle", "Kite", "Building Blocks", "Plush Bear", "Board Game", "Yo-yo"), (5, 90)),
}
BRANDS = ("Aurora", "Nimbus", "Summit", "Harbor", "Ember", "Willow", "Cobalt", "Juniper")
CUSTOMERS = (
    "Alice Moreau",
    "Bilal Khan",
    "Chen Wei",
    "Dana Novak",
    "Elif Demir",
    "Farah Haddad",
    "Gustavo Lima",
    "Hana Sato",
    "Ivan Petrov",
    "Julia Berg",
    "Kofi Mensah",
    "Lena Fischer",
    "Mateo Rossi",
    "Nora Lund",
    "Omar Aziz",
    "Paula Costa",
    "Quinn Reyes",
    "Rosa Vidal",
    "Sven Olsen",
    "Tara Singh",
)
STATUSES = ("placed", "shipped", "delivered", "cancelled")
PAGE = page_params(10, 20)
ITEM = obj(
    {
        "product_id": {"type": "string", "description": "Product id, e.g. P-1004."},
        "quantity": {"type": "integer", "minimum": 1, "maximum": 50},
    },
    ["product_id", "quantity"],
)

SPEC = document(
    "Shop API",
    "Products and orders. List endpoints return one page: items, total, limit, offset and next_offset "
    "(null on the last page).",
    {
        "/products/{product_id}": {
            "get": {
                "operationId": "get_product",
                "summary": "One product: name, category, price and stock.",
                "parameters": [param("product_id", "path", {"type": "string"}, "Product id, e.g. P-1004.")],
                "responses": responses(200, None, 404),
            }
        },
        "/products": {
            "get": {
                "operationId": "search_products",
                "summary": "Search the catalogue (ordered by product id), one page at a time.",
                "parameters": [
                    param("q", "query", {"type": "string"}, "Text the product name contains."),
                    param("category", "query", {"type": "string", "enum": sorted(CATALOGUE)}, "Category."),
                    param("max_price", "query", {"type": "number", "minimum": 0}, "Highest price."),
                    *PAGE,
                ],
                "responses": responses(200, None),
            }
        },
        "/customers/{customer}/summary": {
            "get": {
                "operationId": "get_customer_summary",
                "summary": "A customer's order history in one object: order count, counts per status, amount spent.",
                "parameters": [param("customer", "path", {"type": "string"}, "Customer full name.")],
                "responses": responses(200, None, 404),
            }
        },
        "/orders/{order_id}": {
            "get": {
                "operationId": "get_order",
                "summary": "One order with its items, total and status.",
                "parameters": [param("order_id", "path", {"type": "string"}, "Order id, e.g. O-1042.")],
                "responses": responses(200, None, 404),
            }
        },
        "/orders": {
            "get": {
                "operationId": "list_orders",
                "summary": "Orders (ordered by id), one page at a time.",
                "parameters": [
                    param("customer", "query", {"type": "string"}, "Customer full name."),
                    param("status", "query", {"type": "string", "enum": list(STATUSES)}, "Order status."),
                    *PAGE,
                ],
                "responses": responses(200, None),
            },
            "post": {
                "operationId": "create_order",
                "summary": "Place an order. 404 for an unknown product, 409 when stock is too low.",
                "requestBody": body(
                    obj(
                        {
                            "customer": {"type": "string", "minLength": 1},
                            "items": {"type": "array", "items": ITEM, "minItems": 1, "maxItems": 10},
                        },
                        ["customer", "items"],
                    )
                ),
                "responses": responses(201, None, 404, 409),
            },
        },
        "/orders/{order_id}/cancel": {
            "post": {
                "operationId": "cancel_order",
                "summary": "Cancel an order that has not shipped yet (409 otherwise); its items go back in stock.",
                "parameters": [param("order_id", "path", {"type": "string"}, "Order id.")],
                "responses": responses(200, None, 404, 409),
            }
        },
    },
)


@cache
def seed() -> Tables:
    """120 products and 180 orders, drawn from a fixed seed."""
    rng = random.Random(5151)
    products: dict[str, dict[str, Any]] = {}
    names = [(cat, f"{brand} {noun}") for cat, (nouns, _) in CATALOGUE.items() for noun in nouns for brand in BRANDS]
    for category, name in rng.sample(names, 120):
        low, high = CATALOGUE[category][1]
        pid = f"P-{1001 + len(products)}"
        stock = 0 if rng.random() < 0.1 else rng.randint(1, 40)
        products[pid] = {
            "id": pid,
            "name": name,
            "category": category,
            "price": round(rng.uniform(low, high), 2),
            "stock": stock,
        }
    orders: dict[str, dict[str, Any]] = {}
    for n in range(180):
        lines = [
            {"product_id": pid, "quantity": rng.randint(1, 3), "unit_price": products[pid]["price"]}
            for pid in rng.sample(sorted(products), rng.randint(1, 3))
        ]
        oid = f"O-{1001 + n}"
        orders[oid] = {
            "id": oid,
            "customer": rng.choice(CUSTOMERS),
            "items": lines,
            "total": round(sum(x["quantity"] * x["unit_price"] for x in lines), 2),
            "status": rng.choices(STATUSES, weights=(3, 3, 5, 1))[0],
            "created": f"2025-05-{rng.randint(1, 31):02d}",
        }
    return {"products": products, "orders": orders}


def page(call: Call, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One limit/offset page of ``rows``."""
    limit, offset = call.params.get("limit", 10), call.params.get("offset", 0)
    items = rows[offset : offset + limit]
    following = offset + limit if offset + limit < len(rows) else None
    return {"items": items, "total": len(rows), "limit": limit, "offset": offset, "next_offset": following}


def _get(call: Call, table: str, key: str) -> dict[str, Any]:
    row = call.tables[table].get(call.params[key])
    if row is None:
        raise ApiError(404, "not_found", f"no {table[:-1]} {call.params[key]!r}")
    return row


def get_product(call: Call) -> dict[str, Any]:
    return _get(call, "products", "product_id")


def search_products(call: Call) -> dict[str, Any]:
    text, category, most = call.params.get("q", "").lower(), call.params.get("category"), call.params.get("max_price")
    rows = [
        p
        for p in call.tables["products"].values()
        if text in p["name"].lower()
        and (category is None or p["category"] == category)
        and (most is None or p["price"] <= most)
    ]
    return page(call, rows)


def get_order(call: Call) -> dict[str, Any]:
    return _get(call, "orders", "order_id")


def list_orders(call: Call) -> dict[str, Any]:
    customer, status = call.params.get("customer", "").lower(), call.params.get("status")
    rows = [
        o
        for o in call.tables["orders"].values()
        if (not customer or o["customer"].lower() == customer) and (status is None or o["status"] == status)
    ]
    return page(call, rows)


def get_customer_summary(call: Call) -> dict[str, Any]:
    name = call.params["customer"].strip().lower()
    rows = [o for o in call.tables["orders"].values() if o["customer"].lower() == name]
    if not rows:
        raise ApiError(404, "not_found", f"no orders for a customer named {call.params['customer']!r}")
    counts = {status: sum(o["status"] == status for o in rows) for status in STATUSES}
    spent = sum(round(o["total"] * 100) for o in rows if o["status"] != "cancelled") / 100
    return {"customer": rows[0]["customer"], "orders": len(rows), "by_status": counts, "spent": spent}


def create_order(call: Call) -> Reply:
    products = call.tables["products"]
    wanted: dict[str, int] = {}
    for line in call.body["items"]:
        if line["product_id"] not in products:
            raise ApiError(404, "not_found", f"no product {line['product_id']!r}")
        wanted[line["product_id"]] = wanted.get(line["product_id"], 0) + line["quantity"]
    for pid, quantity in wanted.items():
        if products[pid]["stock"] < quantity:
            raise ApiError(
                409,
                "out_of_stock",
                f"only {products[pid]['stock']} of {pid} in stock",
                product_id=pid,
                available=products[pid]["stock"],
            )
    lines = []
    for pid, quantity in wanted.items():
        products[pid] = {**products[pid], "stock": products[pid]["stock"] - quantity}
        lines.append({"product_id": pid, "quantity": quantity, "unit_price": products[pid]["price"]})
    oid = f"O-{call.episode.next_id('order', 1001 + len(seed()['orders']))}"
    order = {
        "id": oid,
        "customer": call.body["customer"],
        "items": lines,
        "status": "placed",
        "created": "2025-06-01",
        "total": round(sum(x["quantity"] * x["unit_price"] for x in lines), 2),
    }
    call.tables["orders"][oid] = order
    return Reply(201, order)


def cancel_order(call: Call) -> dict[str, Any]:
    order = _get(call, "orders", "order_id")
    if order["status"] != "placed":
        raise ApiError(409, "invalid_state", f"order {order['id']} is {order['status']} and cannot be cancelled")
    for line in order["items"]:
        product = call.tables["products"][line["product_id"]]
        call.tables["products"][product["id"]] = {**product, "stock": product["stock"] + line["quantity"]}
    order = call.tables["orders"][order["id"]] = {**order, "status": "cancelled"}
    return order


SERVICE = Service(
    name="shop",
    spec=SPEC,
    handlers={
        "get_product": get_product,
        "search_products": search_products,
        "get_order": get_order,
        "get_customer_summary": get_customer_summary,
        "list_orders": list_orders,
        "create_order": create_order,
        "cancel_order": cancel_order,
    },
    seed=seed,
)

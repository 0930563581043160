"""REST answers recomputed independently, and the teacher's strategy choice checked.

The recomputation reads the services' seed tables with plain Python (exact fractions, its own loops),
never the templates or the HTTP handlers, from the parameters each task records in its provenance. A
template that reads the wrong field, rounds in float or miscounts a page fails here.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from tooluse_envs.answers import parse_exact
from tooluse_envs.domains.rest import local_client, operations
from tooluse_envs.rest import services
from tooluse_envs.rest.generation import OOD_AXES, task_seed
from tooluse_envs.rest.templates import TemplateError, exact, number, total
from tooluse_envs.task_stats import tool_set
from tooluse_envs.tasks import SPLITS, Task, load_tasks

Params = dict[str, Any]


def _seed(name: str) -> dict[str, Any]:
    return services.load(name).seed()


def _dec(value: Any) -> Fraction:
    return Fraction(str(value))


def _fahrenheit(celsius: Any) -> Fraction:
    return _dec(celsius) * 9 / 5 + 32


def _forecast(p: Params, day: str | None = None) -> dict[str, Any]:
    return _seed("weather")["forecasts"][f"{p['city']}|{day or p['date']}"]


def _event(p: Params) -> dict[str, Any]:
    (event,) = [e for e in _seed("calendar")["events"].values() if e["title"] == p["title"] and e["date"] == p["date"]]
    return event


def _day_events(date: str) -> list[dict[str, Any]]:
    return sorted((e for e in _seed("calendar")["events"].values() if e["date"] == date), key=lambda e: e["start"])


def _mins(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _first_gap(date: str, length: int) -> str:
    """Minute by minute over 08:00-18:00: the first run of free minutes at least ``length`` long."""
    busy = {m for e in _day_events(date) for m in range(_mins(e["start"]), _mins(e["end"]))}
    run_start, run = None, 0
    for minute in range(8 * 60, 18 * 60):
        if minute in busy:
            run_start, run = None, 0
            continue
        run_start = minute if run_start is None else run_start
        run += 1
        if run >= length:
            return f"{run_start // 60:02d}:{run_start % 60:02d}"
    raise AssertionError(f"no free {length} minutes on {date}")


def _product(name: str) -> dict[str, Any]:
    (product,) = [x for x in _seed("shop")["products"].values() if x["name"] == name]
    return product


def _checking_recent(user: str, n: int) -> list[dict[str, Any]]:
    bank = _seed("bank")
    (checking,) = [a for a in bank["accounts"].values() if a["owner"] == user and a["type"] == "checking"]
    rows = [t for t in bank["transactions"].values() if t["account_id"] == checking["id"]]
    return sorted(rows, key=lambda t: (t["date"], t["id"]), reverse=True)[:n]


def _route(p: Params) -> list[dict[str, Any]]:
    return [
        f
        for f in _seed("flights")["flights"].values()
        if (f["origin"], f["destination"], f["date"]) == (p["origin"], p["destination"], p["date"])
    ]


def _by_author(author: str) -> list[dict[str, Any]]:
    return [b for b in _seed("library")["books"].values() if b["author"] == author]


RECOMPUTE: dict[str, Callable[[Params], Any]] = {
    # weather
    "forecast_high": lambda p: _forecast(p)["high"],
    "forecast_condition": lambda p: _forecast(p)["condition"],
    "forecast_low_f": lambda p: _fahrenheit(_forecast(p)["low"]),
    "temperature_swing": lambda p: _forecast(p)["high"] - _forecast(p)["low"],
    "warmer_city": lambda p: max(p["cities"], key=lambda c: _forecast({"city": c, "date": p["date"]})["high"]),
    "rain_total": lambda p: sum(_dec(_forecast(p, day)["precipitation_mm"]) for day in p["dates"]),
    "current_humidity": lambda p: _forecast(p, "2025-06-01")["humidity"],
    "current_temperature_f": lambda p: _fahrenheit(_forecast(p, "2025-06-01")["high"] - 2),
    "cities_in_country": lambda p: [
        c["name"] for c in _seed("weather")["cities"].values() if c["country"] == p["country"]
    ],
    "alert_count": lambda p: sum(a["city"] == p["city"] for a in _seed("weather")["alerts"].values()),
    # calendar
    "event_start": lambda p: _event(p)["start"],
    "event_location": lambda p: _event(p)["location"],
    "event_length": lambda p: _mins(_event(p)["end"]) - _mins(_event(p)["start"]),
    "events_on_day": lambda p: len(_day_events(p["date"])),
    "first_event": lambda p: _day_events(p["date"])[0]["title"],
    "titles_on_day": lambda p: [e["title"] for e in _day_events(p["date"])],
    "event_title_by_id": lambda p: _seed("calendar")["events"][p["event_id"]]["title"],
    "first_free_slot": lambda p: _first_gap(p["date"], p["minutes"]),
    # shop
    "product_price": lambda p: _dec(_product(p["name"])["price"]),
    "product_stock": lambda p: _product(p["name"])["stock"],
    "quantity_cost": lambda p: _dec(_product(p["name"])["price"]) * p["quantity"],
    "cheaper_product": lambda p: min(p["names"], key=lambda n: _dec(_product(n)["price"])),
    "order_status": lambda p: _seed("shop")["orders"][p["order_id"]]["status"],
    "order_total": lambda p: sum(
        _dec(x["unit_price"]) * x["quantity"] for x in _seed("shop")["orders"][p["order_id"]]["items"]
    ),
    "order_units": lambda p: sum(x["quantity"] for x in _seed("shop")["orders"][p["order_id"]]["items"]),
    "customer_orders": lambda p: sum(
        o["customer"] == p["customer"] and p["status"] in (None, o["status"]) for o in _seed("shop")["orders"].values()
    ),
    "category_under": lambda p: sum(
        x["category"] == p["category"] and _dec(x["price"]) <= p["max_price"]
        for x in _seed("shop")["products"].values()
    ),
    "priciest_under": lambda p: max(
        (
            x
            for x in _seed("shop")["products"].values()
            if x["category"] == p["category"] and x["price"] <= p["max_price"]
        ),
        key=lambda x: x["price"],
    )["name"],
    "out_of_stock_count": lambda p: sum(
        x["category"] == p["category"] and x["stock"] == 0 for x in _seed("shop")["products"].values()
    ),
    "cancel_or_status": lambda p: _seed("shop")["orders"][p["order_id"]]["status"],
    # bank
    "balance": lambda p: _dec(
        next(a for a in _seed("bank")["accounts"].values() if a["owner"] == p["user"] and a["type"] == p["type"])[
            "balance"
        ]
    ),
    "total_balance": lambda p: sum(
        _dec(a["balance"]) for a in _seed("bank")["accounts"].values() if a["owner"] == p["user"]
    ),
    "account_count": lambda p: sum(a["owner"] == p["user"] for a in _seed("bank")["accounts"].values()),
    "nth_merchant": lambda p: _checking_recent(p["user"], p["n"])[-1]["description"],
    "recent_spend": lambda p: -sum(_dec(t["amount"]) for t in _checking_recent(p["user"], p["n"])),
    "transaction_amount": lambda p: _dec(_checking_recent(p["user"], p["n"])[-1]["amount"]),
    "largest_payment": lambda p: max(-_dec(t["amount"]) for t in _checking_recent(p["user"], p["n"])),
    "merchant_spend": lambda p: (
        -sum(_dec(t["amount"]) for t in _checking_recent(p["user"], 10**6) if t["description"] == p["merchant"])
    ),
    # flights
    "cheapest_fare": lambda p: min(_dec(f["price"]) for f in _route(p)),
    "seats_left": lambda p: sum(f["seats_left"] for f in _route(p)),
    "arrival_time": lambda p: next(f["arrive"] for f in _route(p) if f["flight_number"] == p["flight_number"]),
    # library
    "author_titles": lambda p: [b["title"] for b in _by_author(p["author"])],
    "oldest_by_author": lambda p: min(_by_author(p["author"]), key=lambda b: b["year"])["title"],
    "genre_available": lambda p: sum(
        b["genre"] == p["genre"] and b["available"] > 0 for b in _seed("library")["books"].values()
    ),
}


def _answer_tasks() -> list[Task]:
    return [t for split in SPLITS for t in load_tasks("rest", split) if t.expected["kind"] != "state"]


def test_every_answer_template_has_an_independent_recomputation():
    missing = {t.template for t in _answer_tasks()} - set(RECOMPUTE)
    assert not missing, f"answer templates without a recomputation: {sorted(missing)}"


@pytest.mark.parametrize("split", SPLITS)
def test_every_shipped_answer_matches_a_recomputation_from_the_seed_data(split):
    wrong = []
    for task in load_tasks("rest", split):
        if task.expected["kind"] == "state":
            continue
        want, shipped = RECOMPUTE[task.template](task.provenance["params"]), task.expected["answer"]
        if task.expected["kind"] == "number":
            ok = parse_exact(shipped) == Fraction(want)
            # the stated precision holds the exact value: nothing was rounded away silently
            ok = ok and Fraction(want) * 10 ** task.expected["decimals"] % 1 == 0
        elif task.expected["kind"] == "rows":
            ok = sorted(want) == sorted(shipped)
        else:
            ok = want == shipped
        if not ok:
            wrong.append((task.id, task.template, shipped, want))
    assert not wrong, f"{len(wrong)} answers differ from the recomputation, e.g. {wrong[:3]}"


@pytest.mark.parametrize("split", SPLITS)
def test_alternatives_name_other_strategies_and_reach_the_same_answer(split):
    for task in load_tasks("rest", split):
        reference = task.reference
        names = [reference.strategy, *(alt.strategy for alt in reference.alternatives)]
        assert None not in names and len(set(names)) == len(names), task.id
        for alt in reference.alternatives:
            assert alt.answer == reference.answer, task.id
            assert alt.tool_calls != reference.tool_calls, task.id


def test_teacher_tool_sets_vary_within_templates_and_follow_problem_features():
    train = load_tasks("rest", "train")
    sets: dict[str, set[frozenset[str]]] = {}
    for task in train:
        sets.setdefault(task.template, set()).add(tool_set(task.reference))
    varied = {name for name, found in sets.items() if len(found) > 1}
    assert {"warmer_city", "rain_total", "product_price", "customer_orders", "balance"} <= varied
    for task in (t for t in train if t.template == "warmer_city"):
        cities = task.provenance["params"]["cities"]
        countries = {services.load("weather").seed()["cities"][c]["country"] for c in cities}
        assert (task.reference.strategy == "day_listing") == (len(countries) == 1), task.id
    for task in (t for t in train if t.template == "rain_total"):
        days = [int(d[-2:]) for d in task.provenance["params"]["dates"]]
        assert (task.reference.strategy == "range") == (days[-1] - days[0] <= 4), task.id


def test_ood_axes_each_change_one_thing():
    ood = load_tasks("rest", "test_ood")
    in_domain_templates = {t.template for t in load_tasks("rest", "train")}
    by_axis: dict[str, list[Task]] = {}
    for task in ood:
        by_axis.setdefault(task.axis or "-", []).append(task)
    assert set(by_axis) == set(OOD_AXES) and all(len(tasks) >= 100 for tasks in by_axis.values())
    for task in by_axis["paraphrase"]:
        assert task.template in in_domain_templates and task.provenance["params"]["wording"] == "paraphrase"
        assert not set(task.tags) & set(services.OUT_OF_DOMAIN)
    for task in by_axis["unseen_template"]:
        assert task.template not in in_domain_templates and not set(task.tags) & set(services.OUT_OF_DOMAIN)
    for task in by_axis["unseen_service"]:
        assert set(task.tags) & set(services.OUT_OF_DOMAIN)
    train_questions = {t.question for t in load_tasks("rest", "train")}
    assert not train_questions & {t.question for t in by_axis["paraphrase"]}


# -- exact numbers and the endpoints that give tasks a second way -------------------------------------


def test_a_number_task_refuses_a_value_that_is_not_exact_at_its_precision():
    assert number("Sum?", total([0.1, 0.2], 1), decimals=1).expected == {"kind": "number", "answer": 0.3, "decimals": 1}
    assert exact(2.675, 2) == Decimal("2.68")  # half-up on the decimal, where float round() gives 2.67
    with pytest.raises(TemplateError, match="not exact"):
        number("Price?", 0.1 + 0.2, decimals=2)


def test_the_second_way_endpoints_answer_like_the_first():
    client = local_client()
    episode = client.open_episode()
    ops = operations()

    def call(name: str, **arguments: Any) -> Any:
        return client.execute(ops[name], arguments, episode)

    day = call("get_daily_forecasts", city="Rome", start="2025-06-02", end="2025-06-04").body["days"]
    assert [d["date"] for d in day] == ["2025-06-02", "2025-06-03", "2025-06-04"]
    assert day[1]["high"] == _forecast({"city": "Rome", "date": "2025-06-03"})["high"]
    assert call("get_daily_forecasts", city="Rome", start="2025-06-04", end="2025-06-02").status == 422
    spain = call("list_forecasts", date="2025-06-05", country="spain").body["forecasts"]
    assert {row["city"] for row in spain} == {"Madrid", "Barcelona", "Seville"}
    summary = call("get_customer_summary", customer="Chen Wei").body
    orders = [o for o in _seed("shop")["orders"].values() if o["customer"] == "Chen Wei"]
    assert summary["orders"] == len(orders) and sum(summary["by_status"].values()) == len(orders)
    assert call("get_customer_summary", customer="Nobody Here").status == 404
    client.close_episode(episode)
    client.close()


def test_equal_parameters_give_one_task_whichever_split_draws_them():
    assert task_seed('forecast_high:{"city": "Oslo"}') == task_seed('forecast_high:{"city": "Oslo"}')
    assert task_seed('forecast_high:{"city": "Oslo"}') != task_seed('forecast_high:{"city": "Rome"}')
    train = {(t.template, str(sorted(t.provenance["params"].items()))) for t in load_tasks("rest", "train")}
    test = {(t.template, str(sorted(t.provenance["params"].items()))) for t in load_tasks("rest", "test_id")}
    assert not train & test

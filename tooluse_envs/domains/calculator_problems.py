"""Word-problem templates for the Calculator domain: in-domain (1–3 steps) and out-of-domain (4–6 steps).

Each template draws its numbers, runs its solution through the real tools (``Chain``) and returns the
question; the chain's calls become the teacher's reference trajectory.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from tooluse_envs.domain import format_result
from tooluse_envs.tasks import ReferenceCall
from tooluse_envs.tools import Tool


class Chain:
    """Runs a template's tool steps for real and records them as the reference trajectory.

    Each step's result is passed on exactly as the policy would read it (the formatted text parsed
    back), so replaying the reference reproduces the reference answer.
    """

    def __init__(self, tools: dict[str, Tool]) -> None:
        self.tools = tools
        self.calls: list[ReferenceCall] = []
        self.value: float = 0.0

    def __call__(self, name: str, **arguments: float | list[float]) -> float:
        text = format_result(self.tools[name](**arguments))
        self.calls.append(ReferenceCall(name, dict(arguments)))
        self.value = float(text)
        return int(self.value) if self.value.is_integer() else self.value


class Numbers:
    """Draws the numbers of a problem from the split's range."""

    def __init__(self, rng: random.Random, large: bool) -> None:
        self.rng, self.large = rng, large

    def count(self, lo: int = 2, hi: int = 40) -> int:
        return self.rng.randint(lo * 50, hi * 2500) if self.large else self.rng.randint(lo, hi)

    def price(self, lo: float = 0.5, hi: float = 40.0) -> float:
        scale = 120 if self.large else 1
        return round(self.rng.uniform(lo * scale, hi * scale), 2)

    def show(self, x: float) -> str:
        """Write a number as the question does (with thousands separators in the large range)."""
        return f"{x:,}" if self.large else f"{x}"


NAMES = [
    "Ava",
    "Ben",
    "Chloe",
    "Diego",
    "Emma",
    "Farah",
    "Gus",
    "Hana",
    "Ivan",
    "Jade",
    "Kofi",
    "Lena",
    "Mateo",
    "Nora",
]
ITEMS = ["notebooks", "apples", "tickets", "pencils", "mugs", "candles", "stickers", "plants", "books", "scarves"]
OOD_NAMES = ["Octavia", "Pavel", "Quincy", "Rosalind", "Soren", "Tamsin", "Ulrich", "Vesna", "Wendell", "Ximena"]
Template = Callable[[Chain, Numbers, random.Random], str]


def _t_total_cost(c: Chain, n: Numbers, r: random.Random) -> str:
    k, p = n.count(), n.price()
    c("multiply", a=k, b=p)
    return f"{r.choice(NAMES)} buys {n.show(k)} {r.choice(ITEMS)} at ${p} each. How much does that cost in total?"


def _t_change(c: Chain, n: Numbers, r: random.Random) -> str:
    k, p = n.count(2, 9), n.price(1, 9)
    bill = 100 if k * p < 100 else 500
    total = c("multiply", a=k, b=p)
    c("subtract", a=bill, b=total)
    return f"{r.choice(NAMES)} buys {k} {r.choice(ITEMS)} for ${p} each and pays with a ${bill} bill. How much change?"


def _t_share(c: Chain, n: Numbers, r: random.Random) -> str:
    people, each = n.count(2, 12), n.count(2, 30)
    c("divide", a=people * each, b=people)
    return f"{people * each} {r.choice(ITEMS)} are shared equally among {people} friends. How many does each get?"


def _t_leftover(c: Chain, n: Numbers, r: random.Random) -> str:
    total, size = n.count(20, 200), n.count(3, 12)
    c("modulo", a=total, b=size)
    return f"{total} {r.choice(ITEMS)} are packed in bags of {size}. How many are left over?"


def _t_total_scores(c: Chain, n: Numbers, r: random.Random) -> str:
    scores = [n.count(40, 100) for _ in range(r.randint(3, 6))]
    c("sum_numbers", numbers=scores)
    return f"{r.choice(NAMES)} scored {', '.join(map(str, scores))} points in the games this season. What is the total?"


def _t_average(c: Chain, n: Numbers, r: random.Random) -> str:
    values = [n.count(10, 90) for _ in range(r.randint(3, 5))]
    total = c("sum_numbers", numbers=values)
    c("divide", a=total, b=len(values))
    return f"The daily visitors were {', '.join(map(str, values))}. What was the average number of visitors per day?"


PLACES = ["garden", "patio", "rug", "courtyard", "classroom floor", "chessboard", "pool cover", "photo frame"]
UNITS = ["meters", "feet", "yards", "centimeters"]


def _t_square_area(c: Chain, n: Numbers, r: random.Random) -> str:
    side, unit = n.count(2, 60), r.choice(UNITS)
    c("power", base=side, exponent=2)
    return f"A square {r.choice(PLACES)} has sides of {side} {unit}. What is its area in square {unit}?"


def _t_fence(c: Chain, n: Numbers, r: random.Random) -> str:
    side, unit = n.count(2, 60), r.choice(UNITS)
    root = c("sqrt", x=side * side)
    c("multiply", a=root, b=4)
    return f"A square {r.choice(PLACES)} has an area of {side * side} square {unit}. How many {unit} is its border?"


def _t_temperature_gap(c: Chain, n: Numbers, r: random.Random) -> str:
    a, b = r.randint(-20, 15), r.randint(-25, 30)
    diff = c("subtract", a=a, b=b)
    c("abs_value", x=diff)
    return f"At dawn it was {a} degrees and at noon {b} degrees. By how many degrees did the temperature change?"


def _t_discount(c: Chain, n: Numbers, r: random.Random) -> str:
    price, off = n.price(10, 90), r.choice([5, 10, 15, 20, 25, 30, 35])
    sale = c("multiply", a=price, b=(100 - off) / 100)
    c("round_number", x=sale, decimals=2)
    return f"A jacket costs ${price} and is {off}% off. What is the sale price, rounded to the cent?"


def _t_boxes(c: Chain, n: Numbers, r: random.Random) -> str:
    items, per = n.count(20, 300), n.count(6, 24)
    q = c("divide", a=items, b=per)
    c("ceil", x=q)
    return f"{items} {r.choice(ITEMS)} must be shipped in boxes holding {per} each. How many boxes are needed?"


def _t_full_packs(c: Chain, n: Numbers, r: random.Random) -> str:
    items, per = n.count(20, 300), n.count(6, 24)
    q = c("divide", a=items, b=per)
    c("floor", x=q)
    return f"A shop has {items} {r.choice(ITEMS)} and sells them in packs of {per}. How many full packs can it make?"


def _t_savings(c: Chain, n: Numbers, r: random.Random) -> str:
    start, weekly, weeks = n.count(5, 200), n.count(2, 40), n.count(2, 20)
    saved = c("multiply", a=weekly, b=weeks)
    c("add", a=start, b=saved)
    who = r.choice(NAMES)
    return f"{who} has ${start} and saves ${weekly} every week. How much does {who} have after {weeks} weeks?"


def _t_compound(c: Chain, n: Numbers, r: random.Random) -> str:
    principal, rate, years = n.count(100, 2000), r.choice([2, 3, 4, 5, 6]), r.randint(2, 6)
    growth = c("power", base=1 + rate / 100, exponent=years)
    grown = c("multiply", a=principal, b=growth)
    c("round_number", x=grown, decimals=2)
    return f"${principal} earns {rate}% interest compounded yearly. What is it worth after {years} years, to the cent?"


def _t_recipe(c: Chain, n: Numbers, r: random.Random) -> str:
    base_servings, flour, servings = r.choice([2, 4, 5, 8]), n.count(100, 600), n.count(2, 20)
    per = c("divide", a=flour, b=base_servings)
    c("multiply", a=per, b=servings)
    return f"A recipe for {base_servings} people needs {flour} grams of flour. How many grams for {servings} people?"


ID_TEMPLATES: tuple[Template, ...] = (
    _t_total_cost,
    _t_change,
    _t_share,
    _t_leftover,
    _t_total_scores,
    _t_average,
    _t_square_area,
    _t_fence,
    _t_temperature_gap,
    _t_discount,
    _t_boxes,
    _t_full_packs,
    _t_savings,
    _t_compound,
    _t_recipe,
)


def _o_warehouse(c: Chain, n: Numbers, r: random.Random) -> str:
    stock, shipped, received, per = n.count(40, 80), [n.count(2, 8) for _ in range(3)], n.count(5, 20), n.count(6, 24)
    out = c("sum_numbers", numbers=shipped)
    left = c("subtract", a=stock, b=out)
    now = c("add", a=left, b=received)
    crates = c("divide", a=now, b=per)
    c("ceil", x=crates)
    days = ", ".join(n.show(s) for s in shipped)
    return (
        f"A depot holds {n.show(stock)} units. It ships {days} units on three days, then receives "
        f"{n.show(received)} units. Pallets hold {per} units. How many pallets does the remaining stock fill "
        f"(count a partly full pallet)?"
    )


def _o_payroll(c: Chain, n: Numbers, r: random.Random) -> str:
    rate, hours, extra, tax = n.price(12, 60), r.randint(30, 40), r.randint(2, 15), r.choice([10, 15, 20, 22])
    base = c("multiply", a=rate, b=hours)
    over_rate = c("multiply", a=rate, b=1.5)
    over = c("multiply", a=over_rate, b=extra)
    gross = c("add", a=base, b=over)
    net = c("multiply", a=gross, b=(100 - tax) / 100)
    c("round_number", x=net, decimals=2)
    return (
        f"{r.choice(OOD_NAMES)} earns ${n.show(rate)} an hour for {hours} regular hours and time-and-a-half for "
        f"{extra} overtime hours. After {tax}% tax, what is the take-home pay, to the cent?"
    )


def _o_hypotenuse(c: Chain, n: Numbers, r: random.Random) -> str:
    a, b = n.count(3, 40), n.count(3, 40)
    a2 = c("power", base=a, exponent=2)
    b2 = c("power", base=b, exponent=2)
    total = c("add", a=a2, b=b2)
    length = c("sqrt", x=total)
    c("round_number", x=length, decimals=2)
    return (
        f"A ramp rises {n.show(a)} cm over a horizontal run of {n.show(b)} cm. How long is the ramp surface, "
        f"rounded to two decimals?"
    )


def _o_budget(c: Chain, n: Numbers, r: random.Random) -> str:
    income, costs, months = n.count(300, 900), [n.count(10, 60) for _ in range(4)], r.randint(3, 12)
    spent = c("sum_numbers", numbers=costs)
    left = c("subtract", a=income, b=spent)
    monthly = c("divide", a=left, b=months)
    c("floor", x=monthly)
    return (
        f"A club raised ${n.show(income)} and paid bills of ${', $'.join(n.show(x) for x in costs)}. The rest is "
        f"spread over {months} months in whole dollars. How many dollars per month at most?"
    )


def _o_manhattan(c: Chain, n: Numbers, r: random.Random) -> str:
    x1, y1, x2, y2 = (n.count(1, 90) * r.choice([-1, 1]) for _ in range(4))
    dx = c("subtract", a=x1, b=x2)
    adx = c("abs_value", x=dx)
    dy = c("subtract", a=y1, b=y2)
    ady = c("abs_value", x=dy)
    c("add", a=adx, b=ady)
    return (
        f"A courier drives on a grid from ({n.show(x1)}, {n.show(y1)}) to ({n.show(x2)}, {n.show(y2)}) moving only "
        f"along the axes. How many blocks does the trip cover?"
    )


def _o_tiles(c: Chain, n: Numbers, r: random.Random) -> str:
    length, width, tile, cost = n.count(10, 60), n.count(10, 60), r.choice([20, 25, 30, 40, 50]), n.price(1, 9)
    room = c("multiply", a=length, b=width)
    one = c("power", base=tile, exponent=2)
    count = c("divide", a=room, b=one)
    whole = c("ceil", x=count)
    c("multiply", a=whole, b=cost)
    return (
        f"A hall measures {n.show(length)} cm by {n.show(width)} cm. Square tiles are {tile} cm on a side and cost "
        f"${n.show(cost)} each. What do the tiles cost, buying whole tiles only?"
    )


def _o_fahrenheit(c: Chain, n: Numbers, r: random.Random) -> str:
    f = n.count(1, 40) // 10 + r.randint(-40, 400)
    shifted = c("subtract", a=f, b=32)
    scaled = c("multiply", a=shifted, b=5)
    celsius = c("divide", a=scaled, b=9)
    c("round_number", x=celsius, decimals=1)
    return f"An oven log shows {f} °F. Convert it to Celsius, rounded to one decimal."


def _o_fuel(c: Chain, n: Numbers, r: random.Random) -> str:
    km, per100, price = n.count(20, 200), round(r.uniform(4.5, 11.5), 1), round(r.uniform(1.2, 2.4), 3)
    hundreds = c("divide", a=km, b=100)
    litres = c("multiply", a=hundreds, b=per100)
    whole = c("ceil", x=litres)
    cost = c("multiply", a=whole, b=price)
    c("round_number", x=cost, decimals=2)
    return (
        f"A truck drives {n.show(km)} km using {per100} litres per 100 km. Fuel is bought in whole litres at "
        f"€{price} per litre. What does the fuel cost, to the cent?"
    )


def _o_empty_chairs(c: Chain, n: Numbers, r: random.Random) -> str:
    groups, seats = [n.count(2, 20) for _ in range(r.randint(3, 5))], r.choice([6, 8, 10, 12])
    guests = c("sum_numbers", numbers=groups)
    tables = c("divide", a=guests, b=seats)
    needed = c("ceil", x=tables)
    chairs = c("multiply", a=needed, b=seats)
    c("subtract", a=chairs, b=guests)
    return (
        f"Groups of {', '.join(n.show(g) for g in groups)} guests arrive at a gala with tables of {seats}. Using as "
        f"few tables as possible, how many chairs stay empty?"
    )


def _o_investment(c: Chain, n: Numbers, r: random.Random) -> str:
    principal, rate, years, tax = n.count(20, 400), r.choice([3, 4, 5, 7]), r.randint(3, 9), r.choice([15, 25, 30])
    growth = c("power", base=1 + rate / 100, exponent=years)
    value = c("multiply", a=principal, b=growth)
    gain = c("subtract", a=value, b=principal)
    taxed = c("multiply", a=gain, b=tax / 100)
    after = c("subtract", a=value, b=taxed)
    c("round_number", x=after, decimals=2)
    return (
        f"${n.show(principal)} grows at {rate}% a year, compounded yearly, for {years} years; {tax}% tax is due on "
        f"the gain only. What is left after tax, to the cent?"
    )


OOD_TEMPLATES: tuple[Template, ...] = (
    _o_warehouse,
    _o_payroll,
    _o_hypotenuse,
    _o_budget,
    _o_manhattan,
    _o_tiles,
    _o_fahrenheit,
    _o_fuel,
    _o_empty_chairs,
    _o_investment,
)

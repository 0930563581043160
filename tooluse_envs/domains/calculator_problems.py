"""In-domain word-problem templates of the Calculator domain (1–3 teacher steps, the paper's 12 tools).

Each template draws its numbers, states the question and lists every correct strategy; the teacher's
choice among them follows the problem's features as a strong solver would (``sum_numbers`` for three
or more addends, ``power`` for cubes, rounding only a value that needs it, ...), so the teacher's tool
set varies within a template. Templates in ``MAGNITUDE_TEMPLATES`` read the same at a larger but
plausible scale (``Numbers(large=True)``): the out-of-domain magnitude axis.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from tooluse_envs.domains.calculator_chain import Calc, Number, Numbers, Problem, show, to_cents, usd

Template = Callable[[Numbers, random.Random], Problem]

BUYERS = ["A school", "A library", "A café", "A community center", "A hotel", "An office", "A theater"]
BIG_BUYERS = ["A school district", "A hotel chain", "A wholesaler", "A city council", "A university"]
ITEMS = ["notebooks", "apples", "tickets", "pencils", "mugs", "candles", "stickers", "plants", "books", "scarves"]
NAMES = ["Ava", "Ben", "Chloe", "Diego", "Emma", "Farah", "Gus", "Hana", "Ivan", "Jade", "Kofi", "Lena", "Mateo"]


def listing(values: list[Number], unit: str = "") -> str:
    """``a, b and c`` (each number as the question writes it, with an optional unit prefix like ``$``)."""
    shown = [f"{unit}{show(v)}" for v in values]
    return ", ".join(shown[:-1]) + " and " + shown[-1]


def add_up(c: Calc, values: list[Number]) -> Number:
    """A chain of ``add`` calls over the values (the alternative to one ``sum_numbers``)."""
    total = values[0]
    for value in values[1:]:
        total = c("add", a=total, b=value)
    return total


def total_of(c: Calc, values: list[Number]) -> Number:
    """How a strong solver adds a list: ``add`` for two numbers, ``sum_numbers`` for three or more."""
    return c("add", a=values[0], b=values[1]) if len(values) == 2 else c("sum_numbers", numbers=values)


def the_other_total(c: Calc, values: list[Number]) -> Number:
    return c("sum_numbers", numbers=values) if len(values) == 2 else add_up(c, values)


def _t_total_cost(n: Numbers, r: random.Random) -> Problem:
    k, p = n.int(2, 40, large=(250, 6000)), n.money(0.5, 40)
    strategies = {"multiply": lambda c: c("multiply", a=k, b=p)}
    if k <= 6:
        strategies["repeated_addition"] = lambda c: c("sum_numbers", numbers=[p] * k)
    question = (
        f"{n.word(BUYERS, BIG_BUYERS)} buys {show(k)} {r.choice(ITEMS)} at {usd(p)} each. "
        f"How much does that cost in total?"
    )
    return Problem(question, strategies, "multiply", decimals=2)


def _t_change(n: Numbers, r: random.Random) -> Problem:
    k, p = n.int(2, 9), n.money(1, 9)
    bill = 50 if k * p < 50 else 100
    strategies = {"multiply_subtract": lambda c: c("subtract", a=bill, b=c("multiply", a=k, b=p))}
    if k <= 4:
        strategies["sum_subtract"] = lambda c: c("subtract", a=bill, b=c("sum_numbers", numbers=[p] * k))
    question = (
        f"{r.choice(NAMES)} buys {k} {r.choice(ITEMS)} for {usd(p)} each and pays with a ${bill} bill. "
        "How much change is given back?"
    )
    return Problem(question, strategies, "multiply_subtract", decimals=2)


def _t_share(n: Numbers, r: random.Random) -> Problem:
    people, each = n.int(2, 12), n.int(2, 30, large=(400, 2000))
    total = people * each
    question = (
        f"A club shares {show(total)} {r.choice(ITEMS)} equally among its {people} members. "
        f"How many does each member get?"
    )
    return Problem(question, {"divide": lambda c: c("divide", a=total, b=people)}, "divide")


def _t_leftover(n: Numbers, r: random.Random) -> Problem:
    size = n.int(3, 12)
    total = n.int(20, 200, large=(2000, 90000))
    if total % size == 0:
        total += r.randint(1, size - 1)

    def divide_floor(c: Calc) -> Number:
        full = c("floor", x=c("divide", a=total, b=size))
        return c("subtract", a=total, b=c("multiply", a=full, b=size))

    question = f"{show(total)} {r.choice(ITEMS)} are packed in bags of {size}. How many are left over?"
    return Problem(question, {"modulo": lambda c: c("modulo", a=total, b=size), "divide_floor": divide_floor}, "modulo")


def _t_total_scores(n: Numbers, r: random.Random) -> Problem:
    values = [n.int(10, 99, large=(1000, 20000)) for _ in range(r.randint(2, 6))]
    teacher = "add" if len(values) == 2 else "sum_numbers"
    strategies = {teacher: lambda c: total_of(c, values), "other_total": lambda c: the_other_total(c, values)}
    question = (
        f"A food bank received {listing(values)} cans of food on {len(values)} days. "
        f"How many cans did it receive in all?"
    )
    return Problem(question, strategies, teacher)


def _t_average(n: Numbers, r: random.Random) -> Problem:
    values = [n.int(10, 90, large=(1000, 30000)) for _ in range(r.randint(2, 5))]
    teacher = "add_divide" if len(values) == 2 else "sum_divide"
    strategies = {
        teacher: lambda c: to_cents(c, c("divide", a=total_of(c, values), b=len(values)), 1),
        "other_total_divide": lambda c: to_cents(c, c("divide", a=the_other_total(c, values), b=len(values)), 1),
    }
    question = (
        f"A museum had {listing(values)} visitors on {len(values)} days. What was the average "
        f"number of visitors per day, rounded to one decimal place?"
    )
    return Problem(question, strategies, teacher, decimals=1)


PLACES = ["garden", "courtyard", "field", "plaza", "farm plot", "parking lot"]
UNITS = ["meters", "feet", "yards"]
CUBES = ["water tank", "storage bin", "concrete block", "planter"]
BIG_CUBES = ["water tank", "concrete block", "shipping crate"]
FIELDS = ["field", "farm plot", "pasture", "park"]


def _t_area_volume(n: Numbers, r: random.Random) -> Problem:
    """A square's area (a strong solver multiplies) or a cube's volume (it uses ``power``)."""
    if r.random() < 0.5:
        s, unit = n.int(2, 150, large=(300, 1500)), r.choice(UNITS)
        strategies = {
            "multiply": lambda c: c("multiply", a=s, b=s),
            "power": lambda c: c("power", base=s, exponent=2),
        }
        place = n.word(PLACES, FIELDS)
        question = f"A square {place} has sides of {show(s)} {unit}. What is its area in square {unit}?"
        return Problem(question, strategies, "multiply")
    s = n.int(2, 99, large=(160, 300))
    strategies = {
        "power": lambda c: c("power", base=s, exponent=3),
        "multiply": lambda c: c("multiply", a=c("multiply", a=s, b=s), b=s),
    }
    thing = n.word(CUBES, BIG_CUBES)
    question = f"A cube-shaped {thing} has edges of {show(s)} cm. What is its volume in cubic centimeters?"
    return Problem(question, strategies, "power")


def _t_fence(n: Numbers, r: random.Random) -> Problem:
    side, unit = n.int(10, 200, large=(300, 1200)), r.choice(UNITS)

    def doubling(c: Calc) -> Number:
        s = c("sqrt", x=side * side)
        two = c("add", a=s, b=s)
        return c("add", a=two, b=two)

    strategies = {"sqrt_multiply": lambda c: c("multiply", a=c("sqrt", x=side * side), b=4), "sqrt_add": doubling}
    question = (
        f"A square {r.choice(FIELDS)} has an area of {show(side * side)} square {unit}. "
        f"How many {unit} of fence go around its border?"
    )
    return Problem(question, strategies, "sqrt_multiply")


def _t_temperature_gap(n: Numbers, r: random.Random) -> Problem:
    """Both readings non-negative: subtract the smaller; a sign involved: difference then ``abs_value``."""
    a, b = r.randint(-20, 15), r.randint(-25, 30)
    while b == a:
        b = r.randint(-25, 30)
    teacher = "subtract_smaller" if min(a, b) >= 0 else "abs_difference"
    strategies = {
        "subtract_smaller": lambda c: c("subtract", a=max(a, b), b=min(a, b)),
        "abs_difference": lambda c: c("abs_value", x=c("subtract", a=b, b=a)),
    }
    question = (
        f"At dawn it was {a} °C and at noon {b} °C. By how many degrees did the temperature change "
        f"between the two readings?"
    )
    return Problem(question, strategies, teacher)


GOODS = ["a bicycle", "a laptop", "a sofa", "a camera", "a guitar", "a treadmill"]


def _t_discount(n: Numbers, r: random.Random) -> Problem:
    """The discount in whole cents: work it out and subtract it; otherwise scale the price and round."""
    price, off = n.money(20, 400, large=(1000, 9000)), r.choice([5, 10, 15, 20, 25, 30, 35, 40])
    whole_cents = (round(price * 100) * off) % 100 == 0

    def subtract_discount(c: Calc) -> Number:
        return to_cents(c, c("subtract", a=price, b=c("multiply", a=price, b=off / 100)))

    strategies = {
        "subtract_discount": subtract_discount,
        "sale_factor": lambda c: to_cents(c, c("multiply", a=price, b=(100 - off) / 100)),
    }
    question = (
        f"{r.choice(GOODS).capitalize()} costs {usd(price)} and is {off}% off. "
        f"What is the sale price, rounded to the cent?"
    )
    return Problem(question, strategies, "subtract_discount" if whole_cents else "sale_factor", decimals=2)


def _t_boxes(n: Numbers, r: random.Random) -> Problem:
    """Divisible: one division; otherwise divide then round up (or round down and add one box)."""
    per = n.int(6, 24)
    items = per * n.int(2, 40, large=(200, 3000)) if r.random() < 0.3 else n.int(20, 300, large=(2000, 60000))
    divisible = items % per == 0
    strategies = {"divide_ceil": lambda c: c("ceil", x=c("divide", a=items, b=per))}
    if divisible:
        strategies["divide"] = lambda c: c("divide", a=items, b=per)
    else:
        strategies["floor_plus_one"] = lambda c: c("add", a=c("floor", x=c("divide", a=items, b=per)), b=1)
    question = (
        f"A warehouse must ship {show(items)} {r.choice(ITEMS)} in boxes holding {per} each. How many boxes are needed?"
    )
    return Problem(question, strategies, "divide" if divisible else "divide_ceil")


def _t_full_packs(n: Numbers, r: random.Random) -> Problem:
    per = n.int(6, 24)
    items = n.int(20, 300, large=(2000, 60000))
    if items % per == 0:
        items += r.randint(1, per - 1)

    def drop_remainder(c: Calc) -> Number:
        rest = c("modulo", a=items, b=per)
        return c("divide", a=c("subtract", a=items, b=rest), b=per)

    strategies = {"divide_floor": lambda c: c("floor", x=c("divide", a=items, b=per)), "drop_remainder": drop_remainder}
    question = (
        f"A shop has {show(items)} {r.choice(ITEMS)} and sells them in packs of {per}. How many full packs can it make?"
    )
    return Problem(question, strategies, "divide_floor")


def _t_savings(n: Numbers, r: random.Random) -> Problem:
    start, weekly = n.int(5, 200, large=(1000, 20000)), n.int(2, 40, large=(100, 900))
    weeks, who = n.int(2, 20), r.choice(NAMES)
    strategies = {"multiply_add": lambda c: c("add", a=start, b=c("multiply", a=weekly, b=weeks))}
    question = (
        f"{who} has ${show(start)} and saves ${show(weekly)} every week. How much does {who} have after {weeks} weeks?"
    )
    return Problem(question, strategies, "multiply_add")


def _t_compound(n: Numbers, r: random.Random) -> Problem:
    """Two years: multiply by the growth factor twice; three or more: ``power``."""
    principal, rate, years = n.int(100, 2000, large=(10000, 500000)), r.choice([2, 3, 4, 5, 6]), r.randint(2, 5)
    factor = 1 + rate / 100

    def with_power(c: Calc) -> Number:
        return to_cents(c, c("multiply", a=principal, b=c("power", base=factor, exponent=years)))

    def year_by_year(c: Calc) -> Number:
        value = principal
        for _ in range(years):
            value = c("multiply", a=value, b=factor)
        return to_cents(c, value)

    question = (
        f"${show(principal)} earns {rate}% interest compounded yearly. What is it worth after {years} years, "
        f"rounded to the cent?"
    )
    teacher = "power" if years >= 3 else "year_by_year"
    return Problem(question, {"power": with_power, "year_by_year": year_by_year}, teacher, decimals=2)


def _t_recipe(n: Numbers, r: random.Random) -> Problem:
    """Flour divisible by the servings: per person first; otherwise scale up first (no fractions midway)."""
    base, flour, servings = r.choice([2, 4, 5, 8]), n.int(100, 600), n.int(2, 20, large=(1000, 5000))
    if servings == base:
        servings += 1
    strategies = {
        "per_person": lambda c: c("multiply", a=c("divide", a=flour, b=base), b=servings),
        "scale_up": lambda c: c("divide", a=c("multiply", a=flour, b=servings), b=base),
    }
    question = (
        f"A recipe for {base} people needs {flour} grams of flour. "
        f"How many grams are needed for {show(servings)} people?"
    )
    return Problem(question, strategies, "per_person" if flour % base == 0 else "scale_up", decimals=3)


def _t_tip(n: Numbers, r: random.Random) -> Problem:
    """A tip of 10, 20 or 25% is a simple fraction (divide); others multiply by the rate."""
    bill, pct = n.money(20, 200, large=(1000, 6000)), r.choice([10, 12, 15, 18, 20, 25])
    strategies = {
        "divide_fraction": lambda c: to_cents(c, c("divide", a=bill, b=100 // pct)),
        "multiply_rate": lambda c: to_cents(c, c("multiply", a=bill, b=pct / 100)),
        "multiply_divide": lambda c: to_cents(c, c("divide", a=c("multiply", a=bill, b=pct), b=100)),
    }
    if 100 % pct:
        del strategies["divide_fraction"]
    question = f"A restaurant bill comes to {usd(bill)}. How much is a {pct}% tip, rounded to the cent?"
    return Problem(question, strategies, "divide_fraction" if 100 % pct == 0 else "multiply_rate", decimals=2)


ID_TEMPLATES: tuple[Template, ...] = (
    _t_total_cost,
    _t_change,
    _t_share,
    _t_leftover,
    _t_total_scores,
    _t_average,
    _t_area_volume,
    _t_fence,
    _t_temperature_gap,
    _t_discount,
    _t_boxes,
    _t_full_packs,
    _t_savings,
    _t_compound,
    _t_recipe,
    _t_tip,
)
# the templates whose wording stays plausible with larger numbers (no 3,574 °F oven, no 900 friends)
MAGNITUDE_TEMPLATES: tuple[Template, ...] = tuple(t for t in ID_TEMPLATES if t not in (_t_change, _t_temperature_gap))

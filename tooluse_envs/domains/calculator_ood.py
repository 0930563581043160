"""Out-of-domain Calculator templates, one family per axis that a template itself changes.

- ``UNSEEN_TEMPLATES``: new kinds of problem, with in-domain numbers, 1–3 teacher steps and the 12 tools.
- ``LONGER_CHAIN_TEMPLATES``: in-domain situations (shopping, saving, shipping, discounts, interest)
  with more quantities, so the teacher needs 4–6 steps; numbers stay in the in-domain range.
- ``UNSEEN_TOOL_TEMPLATES``: problems whose teacher uses a tool no training reference uses (``gcd``,
  ``percentage``, ``average``, ``maximum``), offered next to the 12; numbers and length in-domain.

The magnitude and distractor-tool axes reuse the in-domain templates (``calculator_problems``).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from tooluse_envs.domains.calculator_chain import Calc, Number, Numbers, Problem, show, to_cents, usd
from tooluse_envs.domains.calculator_problems import ITEMS, NAMES, Template, listing, the_other_total, total_of

# --- unseen templates -------------------------------------------------------------------------------


def _u_oven(n: Numbers, r: random.Random) -> Problem:
    celsius = 5 * r.randint(24, 50)
    strategies = {
        "multiply_add": lambda c: c("add", a=c("multiply", a=celsius, b=1.8), b=32),
        "ninths": lambda c: c("add", a=c("divide", a=c("multiply", a=celsius, b=9), b=5), b=32),
    }
    return Problem(f"A recipe says to bake at {celsius} °C. What is that in °F?", strategies, "multiply_add")


def _u_fuel(n: Numbers, r: random.Random) -> Problem:
    km, per100 = r.randint(20, 900), r.randint(45, 115) / 10
    strategies = {
        "per_km_first": lambda c: c("multiply", a=c("divide", a=km, b=100), b=per100),
        "scale_then_divide": lambda c: c("divide", a=c("multiply", a=km, b=per100), b=100),
    }
    question = f"A car uses {per100} litres of fuel per 100 km. How many litres does a {km} km trip use?"
    return Problem(question, strategies, "per_km_first", decimals=3)


def _u_speed(n: Numbers, r: random.Random) -> Problem:
    km, minutes = r.randint(5, 60), r.randint(20, 240)

    def via_hours(c: Calc) -> Number:
        return to_cents(c, c("divide", a=km, b=c("divide", a=minutes, b=60)), 1)

    strategies = {
        "per_minute": lambda c: to_cents(c, c("multiply", a=c("divide", a=km, b=minutes), b=60), 1),
        "scale_first": lambda c: to_cents(c, c("divide", a=c("multiply", a=km, b=60), b=minutes), 1),
        "via_hours": via_hours,
    }
    question = (
        f"A cyclist rides {km} km in {minutes} minutes. What is the average speed in km/h, rounded to one decimal?"
    )
    return Problem(question, strategies, "scale_first", decimals=1)


def _u_take_home(n: Numbers, r: random.Random) -> Problem:
    rate, hours, tax = n.money(12, 45), r.randint(10, 40), r.choice([10, 15, 20, 22])

    def subtract_tax(c: Calc) -> Number:
        gross = c("multiply", a=rate, b=hours)
        return to_cents(c, c("subtract", a=gross, b=c("multiply", a=gross, b=tax / 100)))

    strategies = {
        "keep_share": lambda c: to_cents(c, c("multiply", a=c("multiply", a=rate, b=hours), b=(100 - tax) / 100)),
        "subtract_tax": subtract_tax,
    }
    question = (
        f"{r.choice(NAMES)} earns {usd(rate)} an hour and works {hours} hours. After {tax}% tax, what is the "
        f"take-home pay, rounded to the cent?"
    )
    return Problem(question, strategies, "keep_share", decimals=2)


def _u_edging(n: Numbers, r: random.Random) -> Problem:
    length, width = r.randint(2, 40), r.randint(2, 40)
    strategies = {
        "add_double": lambda c: c("multiply", a=c("add", a=length, b=width), b=2),
        "sum_sides": lambda c: c("sum_numbers", numbers=[length, width, length, width]),
    }
    question = (
        f"A rectangular flower bed is {length} m long and {width} m wide. How many meters of edging go around it?"
    )
    return Problem(question, strategies, "add_double")


def _u_bill_split(n: Numbers, r: random.Random) -> Problem:
    bill, tip, people = n.money(40, 400), r.choice([10, 15, 18, 20]), r.randint(2, 8)
    strategies = {
        "tip_then_split": lambda c: to_cents(c, c("divide", a=c("multiply", a=bill, b=1 + tip / 100), b=people)),
        "split_then_tip": lambda c: to_cents(c, c("multiply", a=c("divide", a=bill, b=people), b=1 + tip / 100)),
    }
    question = (
        f"{people} friends split a {usd(bill)} dinner bill plus a {tip}% tip equally. How much does each pay, "
        f"rounded to the cent?"
    )
    return Problem(question, strategies, "tip_then_split", decimals=2)


def _u_paint(n: Numbers, r: random.Random) -> Problem:
    length, height, cover = r.randint(3, 15), r.randint(2, 4), r.choice([5, 8, 10, 12])
    strategies = {
        "divide_ceil": lambda c: c("ceil", x=c("divide", a=c("multiply", a=length, b=height), b=cover)),
        "floor_plus_one": lambda c: c(
            "add", a=c("floor", x=c("divide", a=c("multiply", a=length, b=height), b=cover)), b=1
        ),
    }
    if (length * height) % cover == 0:
        del strategies["floor_plus_one"]
    question = (
        f"A wall is {length} m long and {height} m high. One can of paint covers {cover} square meters. "
        f"How many cans are needed for one coat?"
    )
    return Problem(question, strategies, "divide_ceil")


def _u_exchange(n: Numbers, r: random.Random) -> Problem:
    amount, rate = n.money(20, 900), r.randint(8000, 16000) / 10000
    strategies = {"multiply": lambda c: to_cents(c, c("multiply", a=amount, b=rate))}
    question = (
        f"A traveler changes {usd(amount)} into euros at {rate} euros per dollar. How many euros, rounded to the cent?"
    )
    return Problem(question, strategies, "multiply", decimals=2)


def _u_stock_gain(n: Numbers, r: random.Random) -> Problem:
    shares, buy = r.randint(5, 200), n.money(5, 80)
    sell = round(buy + n.money(0.5, 20), 2)
    strategies = {
        "gain_per_share": lambda c: c("multiply", a=c("subtract", a=sell, b=buy), b=shares),
        "values_then_subtract": lambda c: c(
            "subtract", a=c("multiply", a=sell, b=shares), b=c("multiply", a=buy, b=shares)
        ),
    }
    question = (
        f"An investor bought {shares} shares at {usd(buy)} each and sold them all at {usd(sell)} each. "
        f"What was the total gain?"
    )
    return Problem(question, strategies, "gain_per_share", decimals=2)


def _u_tickets(n: Numbers, r: random.Random) -> Problem:
    adults, kids, pa, pk = r.randint(10, 200), r.randint(10, 200), n.money(8, 30), n.money(3, 15)

    def sum_both(c: Calc) -> Number:
        return c("sum_numbers", numbers=[c("multiply", a=adults, b=pa), c("multiply", a=kids, b=pk)])

    strategies = {
        "multiply_add": lambda c: c("add", a=c("multiply", a=adults, b=pa), b=c("multiply", a=kids, b=pk)),
        "multiply_sum": sum_both,
    }
    question = (
        f"A theater sold {adults} adult tickets at {usd(pa)} and {kids} child tickets at {usd(pk)}. "
        f"How much did it take in?"
    )
    return Problem(question, strategies, "multiply_add", decimals=2)


UNSEEN_TEMPLATES: tuple[Template, ...] = (
    _u_oven,
    _u_fuel,
    _u_speed,
    _u_take_home,
    _u_edging,
    _u_bill_split,
    _u_paint,
    _u_exchange,
    _u_stock_gain,
    _u_tickets,
)

# --- longer chains of in-domain situations ------------------------------------------------------------


def _l_change_long(n: Numbers, r: random.Random) -> Problem:
    kinds = r.sample(ITEMS, r.randint(2, 3))
    counts, prices = [r.randint(2, 9) for _ in kinds], [n.money(1, 9) for _ in kinds]
    total_cents = sum(k * round(p * 100) for k, p in zip(counts, prices, strict=True))
    bill = 50 * (total_cents // 5000 + 1)

    def pay(c: Calc, adder: Callable[[Calc, list[Number]], Number]) -> Number:  # total_of or the_other_total
        costs = [c("multiply", a=k, b=p) for k, p in zip(counts, prices, strict=True)]
        return c("subtract", a=bill, b=adder(c, costs))

    teacher = "add" if len(kinds) == 2 else "sum_numbers"
    strategies = {teacher: lambda c: pay(c, total_of), "other_total": lambda c: pay(c, the_other_total)}
    bought = " and ".join(f"{k} {item} at {usd(p)} each" for k, item, p in zip(counts, kinds, prices, strict=True))
    question = f"{r.choice(NAMES)} buys {bought}, paying with ${bill}. How much change is given back?"
    return Problem(question, strategies, teacher, decimals=2)


def _l_savings_long(n: Numbers, r: random.Random) -> Problem:
    start, weekly, weeks = n.int(5, 200), n.int(2, 40), n.int(2, 20)
    spend = r.randint(1, start + weekly * weeks)
    weekly2, weeks2, who = n.int(2, 40), n.int(2, 20), r.choice(NAMES)

    def plan(c: Calc) -> Number:
        left = c("subtract", a=c("add", a=start, b=c("multiply", a=weekly, b=weeks)), b=spend)
        return c("add", a=left, b=c("multiply", a=weekly2, b=weeks2))

    question = (
        f"{who} has ${start} and saves ${weekly} a week for {weeks} weeks, then spends ${spend} on a bike, then "
        f"saves ${weekly2} a week for {weeks2} more weeks. How much does {who} have at the end?"
    )
    return Problem(question, {"step_by_step": plan}, "step_by_step")


def _l_average_gap(n: Numbers, r: random.Random) -> Problem:
    days = r.randint(3, 5)
    a, b = ([n.int(10, 90) for _ in range(days)] for _ in range(2))

    def means_then_subtract(c: Calc) -> Number:  # the larger mean minus the smaller, as read off the results
        mean_a = c("divide", a=c("sum_numbers", numbers=a), b=days)
        mean_b = c("divide", a=c("sum_numbers", numbers=b), b=days)
        return to_cents(c, c("subtract", a=max(mean_a, mean_b), b=min(mean_a, mean_b)), 1)

    def totals_then_divide(c: Calc) -> Number:
        total_a, total_b = c("sum_numbers", numbers=a), c("sum_numbers", numbers=b)
        gap = c("subtract", a=max(total_a, total_b), b=min(total_a, total_b))
        return to_cents(c, c("divide", a=gap, b=days), 1)

    question = (
        f"Over {days} days, stall A sold {listing(a)} pies and stall B sold {listing(b)}. "
        f"By how many pies per day did their daily averages differ, rounded to one decimal?"
    )
    strategies = {"means_then_subtract": means_then_subtract, "totals_then_divide": totals_then_divide}
    return Problem(question, strategies, "means_then_subtract", decimals=1)


def _l_boxes_long(n: Numbers, r: random.Random) -> Problem:
    deliveries, per = [n.int(20, 300) for _ in range(3)], n.int(6, 24)
    damaged = r.randint(1, min(deliveries))

    def usable(c: Calc) -> Number:
        return c("subtract", a=c("sum_numbers", numbers=deliveries), b=damaged)

    strategies = {
        "divide_ceil": lambda c: c("ceil", x=c("divide", a=usable(c), b=per)),
        "floor_plus_one": lambda c: c("add", a=c("floor", x=c("divide", a=usable(c), b=per)), b=1),
    }
    if (sum(deliveries) - damaged) % per == 0:
        del strategies["floor_plus_one"]
    question = (
        f"A warehouse receives {listing(deliveries)} {r.choice(ITEMS)} in three deliveries; {damaged} "
        f"are damaged and thrown away. The rest ship in boxes of {per}. How many boxes are needed?"
    )
    return Problem(question, strategies, "divide_ceil")


def _l_discount_long(n: Numbers, r: random.Random) -> Problem:
    price, off, extra, tax = n.money(20, 400), r.choice([10, 20, 25, 30]), r.choice([5, 10, 15]), r.choice([5, 6, 8])

    def factors(c: Calc) -> Number:
        sale = c("multiply", a=c("multiply", a=price, b=(100 - off) / 100), b=(100 - extra) / 100)
        return to_cents(c, c("multiply", a=sale, b=1 + tax / 100))

    def amounts(c: Calc) -> Number:
        sale = c("subtract", a=price, b=c("multiply", a=price, b=off / 100))
        coupon = c("subtract", a=sale, b=c("multiply", a=sale, b=extra / 100))
        return to_cents(c, c("add", a=coupon, b=c("multiply", a=coupon, b=tax / 100)))

    question = (
        f"A coat costs {usd(price)}. It is {off}% off, a coupon takes another {extra}% off the sale price, and "
        f"{tax}% sales tax is added. What is the final price, rounded to the cent at the end?"
    )
    return Problem(question, {"factors": factors, "amounts": amounts}, "factors", decimals=2)


def _l_compound_long(n: Numbers, r: random.Random) -> Problem:
    principal, deposit, rate = n.int(100, 2000), n.int(100, 2000), r.choice([2, 3, 4, 5, 6])
    first, second = r.randint(2, 4), r.randint(2, 4)
    factor = 1 + rate / 100

    def grow(c: Calc) -> Number:
        value = c("multiply", a=principal, b=c("power", base=factor, exponent=first))
        value = c("add", a=value, b=deposit)
        return to_cents(c, c("multiply", a=value, b=c("power", base=factor, exponent=second)))

    question = (
        f"${show(principal)} earns {rate}% interest compounded yearly. After {first} years "
        f"${show(deposit)} more is added, and the total grows at the same rate for {second} more years. "
        f"What is it worth then, rounded to the cent?"
    )
    return Problem(question, {"power": grow}, "power", decimals=2)


LONGER_CHAIN_TEMPLATES: tuple[Template, ...] = (
    _l_change_long,
    _l_savings_long,
    _l_average_gap,
    _l_boxes_long,
    _l_discount_long,
    _l_compound_long,
)

# --- tools never needed in training -------------------------------------------------------------------


def _n_gift_bags(n: Numbers, r: random.Random) -> Problem:
    g = r.randint(2, 12)
    a, b = g * r.randint(2, 15), g * r.randint(2, 15)
    while a == b:
        b = g * r.randint(2, 15)

    def euclid(c: Calc) -> Number:
        x, y = max(a, b), min(a, b)
        while True:
            rest = c("modulo", a=x, b=y)
            if rest == 0:
                return y
            x, y = y, rest

    question = (
        f"{r.choice(NAMES)} has {a} pencils and {b} erasers to pack into identical gift bags with nothing left "
        f"over. What is the largest number of bags that can be made?"
    )
    return Problem(question, {"gcd": lambda c: c("gcd", a=a, b=b), "euclid": euclid}, "gcd", tools=("gcd",))


def _n_pass_rate(n: Numbers, r: random.Random) -> Problem:
    total = r.randint(20, 400)
    passed = r.randint(1, total - 1)
    strategies = {
        "percentage": lambda c: to_cents(c, c("percentage", part=passed, whole=total), 1),
        "divide_multiply": lambda c: to_cents(c, c("multiply", a=c("divide", a=passed, b=total), b=100), 1),
        "multiply_divide": lambda c: to_cents(c, c("divide", a=c("multiply", a=passed, b=100), b=total), 1),
    }
    question = f"{passed} of the {total} students passed the exam. What percent passed, rounded to one decimal place?"
    return Problem(question, strategies, "percentage", decimals=1, tools=("percentage",))


def _n_lap_mean(n: Numbers, r: random.Random) -> Problem:
    laps = [r.randint(60, 180) for _ in range(r.randint(3, 6))]
    strategies = {
        "average": lambda c: to_cents(c, c("average", numbers=laps), 1),
        "sum_divide": lambda c: to_cents(c, c("divide", a=c("sum_numbers", numbers=laps), b=len(laps)), 1),
    }
    question = (
        f"A runner's lap times were {listing(laps)} seconds. What was the mean lap time in seconds, "
        f"rounded to one decimal?"
    )
    return Problem(question, strategies, "average", decimals=1, tools=("average",))


def _n_top_bid(n: Numbers, r: random.Random) -> Problem:
    opening = r.randint(20, 300)
    bids = [opening + r.randint(1, 200) for _ in range(r.randint(3, 6))]
    strategies = {
        "maximum": lambda c: c("subtract", a=c("maximum", numbers=bids), b=opening),
        "read_highest": lambda c: c("subtract", a=max(bids), b=opening),
    }
    question = (
        f"A painting opened at ${opening}; bids of {listing(bids, '$')} followed. By how many dollars "
        f"did the highest bid beat the opening price?"
    )
    return Problem(question, strategies, "maximum", tools=("maximum",))


UNSEEN_TOOL_TEMPLATES: tuple[Template, ...] = (_n_gift_bags, _n_pass_rate, _n_lap_mean, _n_top_bid)

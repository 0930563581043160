"""Problem templates for the Code domain.

In-domain problems are numeric and list puzzles solved with plain Python. Out-of-domain problems are
text and file wrangling (CSV, JSON, dates, regular expressions, word counts) that need stdlib modules
the in-domain references never import (``csv``, ``json``, ``datetime``, ``re``, ``collections``), with
their input files shipped into the sandbox. Each template returns the question, the teacher's code and
the input files; the answer is whatever that code prints (see ``CodeDomain.generate``).
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Problem:
    question: str
    code: str
    files: dict[str, str] = field(default_factory=dict)
    kind: str = "number"


def _nums(r: random.Random, n: int = 0, lo: int = 1, hi: int = 99) -> list[int]:
    return [r.randint(lo, hi) for _ in range(n or r.randint(6, 14))]


def p_prime_sum(r: random.Random) -> Problem:
    n = r.randint(50, 5000)
    code = f"print(sum(p for p in range(2, {n}) if all(p % d for d in range(2, int(p ** 0.5) + 1))))"
    return Problem(f"What is the sum of all prime numbers below {n}?", code)


def p_fibonacci(r: random.Random) -> Problem:
    n, m = r.randint(10, 2000), r.choice([1000, 9973, 10007, 65536, 1_000_007])
    code = f"a, b = 0, 1\nfor _ in range({n}):\n    a, b = b, a + b\nprint(a % {m})"
    return Problem(f"What is the {n}th Fibonacci number modulo {m} (F(0) = 0, F(1) = 1)?", code)


def p_median(r: random.Random) -> Problem:
    xs = _nums(r)
    code = f"import statistics\nprint(statistics.median({xs}))"
    return Problem(f"What is the median of {xs}?", code)


def p_count_divisible(r: random.Random) -> Problem:
    xs, k = _nums(r, lo=1, hi=500), r.randint(3, 9)
    return Problem(f"How many numbers in {xs} are divisible by {k}?", f"print(sum(x % {k} == 0 for x in {xs}))")


def p_kth_smallest(r: random.Random) -> Problem:
    xs = _nums(r, lo=-50, hi=300)
    k = r.randint(1, len(xs))
    return Problem(f"What is the {k}th smallest number in {xs} (counting repeats)?", f"print(sorted({xs})[{k - 1}])")


def p_factorial_digits(r: random.Random) -> Problem:
    n = r.randint(10, 400)
    code = f"import math\nprint(sum(int(d) for d in str(math.factorial({n}))))"
    return Problem(f"What is the sum of the digits of {n}! ?", code)


def p_gcd_list(r: random.Random) -> Problem:
    g = r.randint(2, 30)
    xs = [g * r.randint(1, 40) for _ in range(r.randint(3, 7))]
    code = f"import math\nfrom functools import reduce\nprint(reduce(math.gcd, {xs}))"
    return Problem(f"What is the greatest common divisor of {xs}?", code)


def p_distinct(r: random.Random) -> Problem:
    xs = _nums(r, n=r.randint(10, 25), lo=1, hi=20)
    return Problem(f"How many distinct values are in {xs}?", f"print(len(set({xs})))")


def p_longest_run(r: random.Random) -> Problem:
    xs = _nums(r, n=r.randint(10, 20), lo=1, hi=50)
    code = (
        f"xs = {xs}\nbest = run = 1\nfor a, b in zip(xs, xs[1:]):\n"
        "    run = run + 1 if b > a else 1\n    best = max(best, run)\nprint(best)"
    )
    return Problem(f"What is the length of the longest strictly increasing contiguous run in {xs}?", code)


def p_odd_squares(r: random.Random) -> Problem:
    xs = _nums(r, lo=-40, hi=60)
    return Problem(
        f"What is the sum of the squares of the odd numbers in {xs}?", f"print(sum(x * x for x in {xs} if x % 2))"
    )


def p_collatz(r: random.Random) -> Problem:
    n = r.randint(5, 100_000)
    code = (
        f"n, steps = {n}, 0\nwhile n != 1:\n    n = n // 2 if n % 2 == 0 else 3 * n + 1\n    steps += 1\nprint(steps)"
    )
    return Problem(f"How many steps does the Collatz sequence starting at {n} take to reach 1?", code)


def p_product_mod(r: random.Random) -> Problem:
    xs, m = _nums(r, lo=2, hi=999), r.choice([97, 101, 997, 1009, 10007])
    code = f"p = 1\nfor x in {xs}:\n    p = p * x % {m}\nprint(p)"
    return Problem(f"What is the product of {xs} modulo {m}?", code)


def p_mean(r: random.Random) -> Problem:
    xs = _nums(r, lo=1, hi=1000)
    return Problem(f"What is the mean of {xs}, rounded to 2 decimals?", f"print(round(sum({xs}) / len({xs}), 2))")


def p_pair_sums(r: random.Random) -> Problem:
    xs, target = _nums(r, lo=1, hi=30), r.randint(10, 40)
    code = f"xs = {xs}\nprint(sum(xs[i] + xs[j] == {target} for i in range(len(xs)) for j in range(i + 1, len(xs))))"
    return Problem(f"In {xs}, how many pairs of positions (i < j) hold values summing to {target}?", code)


REGIONS = ["north", "south", "east", "west", "central"]
PRODUCTS = ["widget", "gadget", "sprocket", "gizmo", "doohickey", "flange", "bracket"]
WORDS = (
    "river stone lantern harbor meadow copper falcon willow ember quartz orchard signal thunder velvet "
    "compass glacier saffron beacon"
).split()


def _sales_csv(r: random.Random) -> str:
    rows = ["date,region,product,quantity,unit_price"]
    for _ in range(r.randint(20, 60)):
        day = dt.date(2024, 1, 1) + dt.timedelta(days=r.randint(0, 364))
        rows.append(f"{day},{r.choice(REGIONS)},{r.choice(PRODUCTS)},{r.randint(1, 40)},{r.randint(100, 9999) / 100}")
    return "\n".join(rows) + "\n"


def o_region_revenue(r: random.Random) -> Problem:
    region = r.choice(REGIONS)
    code = (
        "import csv\nwith open('sales.csv') as f:\n"
        f"    rows = [row for row in csv.DictReader(f) if row['region'] == '{region}']\n"
        "print(round(sum(int(row['quantity']) * float(row['unit_price']) for row in rows), 2))"
    )
    q = f"sales.csv lists sales. What is the total revenue (quantity × unit_price) of the {region} region, to the cent?"
    return Problem(q, code, {"sales.csv": _sales_csv(r)})


def o_top_product(r: random.Random) -> Problem:
    code = (
        "import csv\nfrom collections import Counter\ntotals = Counter()\nwith open('sales.csv') as f:\n"
        "    for row in csv.DictReader(f):\n        totals[row['product']] += int(row['quantity'])\n"
        "ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))\nprint(ranked[0][0])"
    )
    q = "In sales.csv, which product sold the largest total quantity (ties: alphabetically first)?"
    return Problem(q, code, {"sales.csv": _sales_csv(r)}, kind="text")


def _users_json(r: random.Random) -> str:
    first = ["ana", "bo", "cy", "dee", "eli", "fay", "gil", "hal", "ivy", "jon", "kai", "lu", "max", "ned"]
    users = [
        {
            "name": f"{r.choice(first)}{i}",
            "age": r.randint(16, 80),
            "active": r.random() < 0.6,
            "posts": r.randint(0, 500),
        }
        for i in range(r.randint(15, 40))
    ]
    return json.dumps({"users": users}, indent=1)


def o_active_users(r: random.Random) -> Problem:
    age = r.randint(20, 60)
    code = (
        "import json\nwith open('users.json') as f:\n    users = json.load(f)['users']\n"
        f"print(sum(u['active'] and u['age'] > {age} for u in users))"
    )
    return Problem(
        f"users.json holds user records. How many active users are older than {age}?",
        code,
        {"users.json": _users_json(r)},
    )


def o_top_poster(r: random.Random) -> Problem:
    code = (
        "import json\nwith open('users.json') as f:\n    users = json.load(f)['users']\n"
        "print(max(users, key=lambda u: (u['posts'], u['name']))['name'])"
    )
    q = "In users.json, what is the name of the user with the most posts (ties: the alphabetically last name)?"
    return Problem(q, code, {"users.json": _users_json(r)}, kind="text")


def o_days_between(r: random.Random) -> Problem:
    a = dt.date(1990, 1, 1) + dt.timedelta(days=r.randint(0, 15000))
    b = a + dt.timedelta(days=r.randint(1, 4000))
    code = f"from datetime import date\nprint((date.fromisoformat('{b}') - date.fromisoformat('{a}')).days)"
    return Problem(f"How many days are there from {a} to {b}?", code)


def o_weekday(r: random.Random) -> Problem:
    day = dt.date(1900, 1, 1) + dt.timedelta(days=r.randint(0, 60000))
    code = f"from datetime import date\nprint(date.fromisoformat('{day}').strftime('%A'))"
    return Problem(f"On which day of the week did {day.strftime('%B %d, %Y')} fall?", code, kind="text")


def _log(r: random.Random) -> str:
    lines = []
    for _ in range(r.randint(40, 120)):
        ip = f"10.{r.randint(0, 3)}.{r.randint(0, 9)}.{r.randint(1, 20)}"
        level = r.choices(["INFO", "WARN", "ERROR"], [6, 2, 1])[0]
        lines.append(
            f"2024-05-{r.randint(1, 28):02d} {r.randint(0, 23):02d}:{r.randint(0, 59):02d} {level} {ip} "
            f"request {r.choice(WORDS)} took {r.randint(1, 900)}ms"
        )
    return "\n".join(lines) + "\n"


def o_error_ips(r: random.Random) -> Problem:
    code = (
        "import re\nips = set()\nfor line in open('server.log'):\n"
        r"    m = re.search(r' ERROR (\d+\.\d+\.\d+\.\d+) ', line)"
        "\n"
        "    if m:\n        ips.add(m.group(1))\nprint(len(ips))"
    )
    return Problem(
        "How many distinct IP addresses logged at least one ERROR in server.log?", code, {"server.log": _log(r)}
    )


def o_slow_requests(r: random.Random) -> Problem:
    limit = r.choice([300, 500, 700])
    code = (
        "import re\nprint(sum(int(m.group(1)) > " + str(limit) + " for m in re.finditer(r'took (\\d+)ms', "
        "open('server.log').read())))"
    )
    return Problem(f"How many requests in server.log took more than {limit} ms?", code, {"server.log": _log(r)})


def o_common_word(r: random.Random) -> Problem:
    words = [r.choice(WORDS) for _ in range(r.randint(80, 200))]
    text = " ".join(w.capitalize() + "." if i % 9 == 8 else w for i, w in enumerate(words))
    code = (
        "import re\nfrom collections import Counter\n"
        "counts = Counter(re.findall(r'[a-z]+', open('story.txt').read().lower()))\n"
        "print(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0])"
    )
    q = "What is the most frequent word in story.txt, ignoring case (ties: alphabetically first)?"
    return Problem(q, code, {"story.txt": text + "\n"}, kind="text")


def o_email_domains(r: random.Random) -> Problem:
    domains = ["example.org", "mail.test", "corp.example", "uni.example.edu", "shop.test"]
    people = [
        f"{r.choice(WORDS)}.{r.choice(WORDS)}{r.randint(1, 99)}@{r.choice(domains)}" for _ in range(r.randint(10, 30))
    ]
    text = "\n".join(f"Contact {i}: {p} (ext. {r.randint(100, 999)})" for i, p in enumerate(people))
    code = "import re\nprint(len(set(re.findall(r'@([\\w.]+)', open('contacts.txt').read()))))"
    return Problem("How many different e-mail domains appear in contacts.txt?", code, {"contacts.txt": text + "\n"})


ID_TEMPLATES: tuple[Callable[[random.Random], Problem], ...] = (
    p_prime_sum,
    p_fibonacci,
    p_median,
    p_count_divisible,
    p_kth_smallest,
    p_factorial_digits,
    p_gcd_list,
    p_distinct,
    p_longest_run,
    p_odd_squares,
    p_collatz,
    p_product_mod,
    p_mean,
    p_pair_sums,
)
OOD_TEMPLATES: tuple[Callable[[random.Random], Problem], ...] = (
    o_region_revenue,
    o_top_product,
    o_active_users,
    o_top_poster,
    o_days_between,
    o_weekday,
    o_error_ips,
    o_slow_requests,
    o_common_word,
    o_email_domains,
)

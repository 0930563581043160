"""Code problem templates: what each computes, how it is worded, and the numbers it draws.

Every template has an in-domain wording (``ask``) and a paraphrase (``reword``, only in ``test_ood``),
and draws its numbers at in-domain scale or, for the ``magnitude`` axis, much larger (same list
lengths, same parameters, larger values). ``UNSEEN_LIST_TEMPLATES`` are computations that training
never asks for, posed in the in-domain way (same layouts, same modules, same scale).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass

from tooluse_envs.domains.code_problems import Data, Problem, list_strategies, make_data, ordinal, scalar_strategies

Params = dict[str, int | str]
MAX_LEN = 30


@dataclass(frozen=True)
class ListTemplate:
    """A computation over a list of integers ``xs``; ``compute`` is Python that prints the result."""

    name: str
    ask: str
    reword: str
    compute: str
    sample: Callable[[random.Random, int, bool], tuple[list[int], Params]]
    decimals: int = 0
    min_len: int = 6

    def draw(self, r: random.Random, big: bool = False, reword: bool = False, layout: str | None = None) -> Problem:
        xs, params = self.sample(r, r.randint(self.min_len, MAX_LEN), big)
        data: Data = make_data(r, xs, layout)
        text = (self.reword if reword else self.ask).format(data=data.phrase, **params)
        teacher, alternatives = list_strategies(data, self.compute.format(**params))
        key = json.dumps([self.name, xs, {k: v for k, v in params.items() if k != "kth"}], sort_keys=True)
        files = {data.path: data.content} if data.path else {}
        question = f"{text} {data.note}".strip()
        return Problem(self.name, key, question, teacher, alternatives, self.decimals, files)


@dataclass(frozen=True)
class ScalarTemplate:
    """A computation over one or two integers; ``function`` defines what ``call`` and ``check`` use."""

    name: str
    ask: str
    reword: str
    sample: Callable[[random.Random, bool], Params]
    script: Callable[[Params], str]
    function: str
    check: str
    call: str
    large: Callable[[Params], bool]

    def draw(self, r: random.Random, big: bool = False, reword: bool = False, layout: str | None = None) -> Problem:
        params = self.sample(r, big)
        text = (self.reword if reword else self.ask).format(**params)
        teacher, alternatives = scalar_strategies(
            self.script(params), self.function, self.check, self.call.format(**params), self.large(params)
        )
        key = json.dumps([self.name, {k: v for k, v in params.items() if k != "nth"}], sort_keys=True)
        return Problem(self.name, key, text, teacher, alternatives, 0)


def uniform(
    lo: int, hi: int, big_lo: int, big_hi: int
) -> Callable[[random.Random, int, bool], tuple[list[int], Params]]:
    def sample(r: random.Random, n: int, big: bool) -> tuple[list[int], Params]:
        a, b = (big_lo, big_hi) if big else (lo, hi)
        return [r.randint(a, b) for _ in range(n)], {}

    return sample


def with_param(
    values: Callable[[random.Random, int, bool], tuple[list[int], Params]],
    param: Callable[[random.Random, list[int]], Params],
) -> Callable[[random.Random, int, bool], tuple[list[int], Params]]:
    def sample(r: random.Random, n: int, big: bool) -> tuple[list[int], Params]:
        xs, _ = values(r, n, big)
        return xs, param(r, xs)

    return sample


def _kth(r: random.Random, xs: list[int]) -> Params:
    k = r.randint(1, len(xs))
    return {"k": k, "kth": ordinal(k)}


def _gcd_values(r: random.Random, n: int, big: bool) -> tuple[list[int], Params]:
    g = r.randint(1000, 99_999) if big else r.randint(2, 30)
    return [g * r.randint(1, 5000 if big else 40) for _ in range(n)], {}


def _distinct_values(r: random.Random, n: int, big: bool) -> tuple[list[int], Params]:
    pool = [r.randint(10**6, 10**9) for _ in range(20)] if big else list(range(1, 21))
    return [r.choice(pool) for _ in range(n)], {}


def _product_values(r: random.Random, n: int, big: bool) -> tuple[list[int], Params]:
    xs = [r.randint(10**6, 10**9) if big else r.randint(2, 999) for _ in range(n)]
    return xs, {"m": r.choice([1_000_000_007, 998_244_353, 2_147_483_647] if big else [97, 101, 997, 1009, 10007])}


def _pair_values(r: random.Random, n: int, big: bool) -> tuple[list[int], Params]:
    scale = r.randint(1000, 99_999) if big else 1
    return [scale * r.randint(1, 30) for _ in range(n)], {"t": scale * r.randint(10, 40)}


RUN = (
    "best = run = 1\nfor a, b in zip(xs, xs[1:]):\n"
    "    run = run + 1 if b > a else 1\n    best = max(best, run)\nprint(best)"
)
MEAN = (
    "from decimal import Decimal, ROUND_HALF_UP\n"
    "print((Decimal(sum(xs)) / len(xs)).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP))"
)
PAIRS = "print(sum(xs[i] + xs[j] == {t} for i in range(len(xs)) for j in range(i + 1, len(xs))))"

LIST_TEMPLATES: tuple[ListTemplate, ...] = (
    ListTemplate(
        "median",
        "What is the median of {data}?",
        "Sort {data} and report the middle value (the average of the two middle values when the count is even).",
        "import statistics\nprint(statistics.median(xs))",
        uniform(1, 99, 10**5, 10**7),
        decimals=1,
    ),
    ListTemplate(
        "count_divisible",
        "How many of {data} are divisible by {k}?",
        "Count the entries of {data} that leave no remainder when divided by {k}.",
        "print(sum(x % {k} == 0 for x in xs))",
        with_param(uniform(1, 500, 10**6, 10**9), lambda r, xs: {"k": r.randint(3, 9)}),
    ),
    ListTemplate(
        "kth_smallest",
        "What is the {kth} smallest number in {data} (counting repeats)?",
        "If {data} were sorted in ascending order with duplicates kept, which value would be at position {k}, "
        "counting from 1?",
        "print(sorted(xs)[{k} - 1])",
        with_param(uniform(-50, 300, -500_000, 3_000_000), _kth),
    ),
    ListTemplate(
        "gcd_list",
        "What is the greatest common divisor of {data}?",
        "Find the largest positive integer that divides every one of {data}.",
        "import math\nprint(math.gcd(*xs))",
        _gcd_values,
        min_len=3,
    ),
    ListTemplate(
        "distinct",
        "How many distinct values are in {data}?",
        "After removing duplicates from {data}, how many values remain?",
        "print(len(set(xs)))",
        _distinct_values,
        min_len=10,
    ),
    ListTemplate(
        "longest_run",
        "What is the length of the longest strictly increasing contiguous run in {data}?",
        "Reading {data} in order, how long is the longest stretch of consecutive entries in which each is larger "
        "than the one before it?",
        RUN,
        uniform(1, 50, 10**6, 5 * 10**7),
        min_len=10,
    ),
    ListTemplate(
        "odd_squares",
        "What is the sum of the squares of the odd numbers in {data}?",
        "Square every odd entry of {data} and add the squares up. What total do you get?",
        "print(sum(x * x for x in xs if x % 2))",
        uniform(-40, 60, -4 * 10**6, 6 * 10**6),
    ),
    ListTemplate(
        "product_mod",
        "What is the product of {data} modulo {m}?",
        "Multiply all of {data} together; what remainder does the product leave when divided by {m}?",
        "p = 1\nfor x in xs:\n    p = p * x % {m}\nprint(p)",
        _product_values,
    ),
    ListTemplate(
        "mean",
        "What is the mean of {data}, rounded to 2 decimal places (halves round up)?",
        "Give the arithmetic average of {data} to two decimal places, rounding a final 5 upward.",
        MEAN,
        uniform(1, 1000, 10**6, 10**9),
        decimals=2,
    ),
    ListTemplate(
        "pair_sums",
        "In {data}, how many pairs of positions (i < j) hold values summing to {t}?",
        "Count the unordered pairs of distinct positions in {data} whose two values add up to exactly {t}.",
        PAIRS,
        _pair_values,
    ),
)


def _second_values(r: random.Random, n: int, big: bool) -> tuple[list[int], Params]:
    xs = [r.randint(1, 200) for _ in range(n)]
    return (xs, {}) if len(set(xs)) > 1 else _second_values(r, n, big)


KADANE = "best = cur = xs[0]\nfor x in xs[1:]:\n    cur = max(x, cur + x)\n    best = max(best, cur)\nprint(best)"

UNSEEN_LIST_TEMPLATES: tuple[ListTemplate, ...] = (
    ListTemplate(
        "spread",
        "What is the largest of {data} minus the smallest?",
        "",
        "print(max(xs) - min(xs))",
        uniform(-500, 500, 0, 0),
    ),
    ListTemplate(
        "second_largest",
        "What is the second largest distinct value among {data}?",
        "",
        "print(sorted(set(xs))[-2])",
        _second_values,
    ),
    ListTemplate(
        "above_mean",
        "How many of {data} are strictly greater than their mean?",
        "",
        "print(sum(x * len(xs) > sum(xs) for x in xs))",
        uniform(1, 100, 0, 0),
    ),
    ListTemplate(
        "inversions",
        "How many pairs of positions i < j in {data} hold a larger value at i than at j?",
        "",
        "print(sum(xs[i] > xs[j] for i in range(len(xs)) for j in range(i + 1, len(xs))))",
        uniform(1, 100, 0, 0),
    ),
    ListTemplate(
        "mode",
        "Which value occurs most often in {data} (ties: the smallest such value)?",
        "",
        "print(min(set(xs), key=lambda v: (-xs.count(v), v)))",
        uniform(1, 12, 0, 0),
    ),
    ListTemplate(
        "lcm_list",
        "What is the least common multiple of {data}?",
        "",
        "import math\nprint(math.lcm(*xs))",
        uniform(2, 24, 0, 0),
        min_len=3,
    ),
    ListTemplate(
        "alternating_sum",
        "What is the alternating sum of {data} in order (first minus second plus third minus fourth, and so on)?",
        "",
        "print(sum(x if i % 2 == 0 else -x for i, x in enumerate(xs)))",
        uniform(-99, 99, 0, 0),
    ),
    ListTemplate(
        "max_subarray",
        "What is the largest sum of a non-empty run of consecutive entries of {data}?",
        "",
        KADANE,
        uniform(-50, 50, 0, 0),
    ),
)


TRIAL = "print(sum(p for p in range(2, {n}) if all(p % d for d in range(2, int(p ** 0.5) + 1))))"
SIEVE_FN = (
    "def prime_sum(n):\n    sieve = bytearray([1]) * n\n    sieve[0:2] = bytearray(2)\n"
    "    for i in range(2, int(n ** 0.5) + 1):\n        if sieve[i]:\n"
    "            sieve[i * i::i] = bytearray(len(range(i * i, n, i)))\n"
    "    return sum(i for i in range(n) if sieve[i])"
)
FIB_FN = "def fib_mod(n, m):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, (a + b) % m\n    return a"
FACT_FN = (
    "def factorial_digit_sum(n):\n    f = 1\n    for i in range(2, n + 1):\n        f *= i\n"
    "    return sum(int(d) for d in str(f))"
)
COLLATZ_FN = (
    "def collatz_steps(n):\n    steps = 0\n    while n != 1:\n        n = n // 2 if n % 2 == 0 else 3 * n + 1\n"
    "        steps += 1\n    return steps"
)


def _fib_params(r: random.Random, big: bool) -> Params:
    n = r.randint(10**5, 10**6) if big else r.randint(10, 2000)
    m = r.choice([1_000_000_007, 998_244_353] if big else [1000, 9973, 10007, 65536, 1_000_007])
    return {"n": n, "nth": ordinal(n), "m": m}


SCALAR_TEMPLATES: tuple[ScalarTemplate, ...] = (
    ScalarTemplate(
        "prime_sum",
        "What is the sum of all prime numbers below {n}?",
        "Add up every prime p with p < {n}. What is the total?",
        lambda r, big: {"n": r.randint(200_000, 2_000_000) if big else r.randint(50, 5000)},
        lambda p: TRIAL.format(**p) if int(p["n"]) <= 5000 else f"{SIEVE_FN}\nprint(prime_sum({p['n']}))",
        SIEVE_FN,
        "prime_sum(10)",
        "prime_sum({n})",
        lambda p: int(p["n"]) > 2500,
    ),
    ScalarTemplate(
        "fibonacci",
        "What is the {nth} Fibonacci number modulo {m} (F(0) = 0, F(1) = 1)?",
        "With F(0) = 0, F(1) = 1 and F(k) = F(k - 1) + F(k - 2), what remainder does F({n}) leave when divided by {m}?",
        _fib_params,
        lambda p: f"a, b = 0, 1\nfor _ in range({p['n']}):\n    a, b = b, (a + b) % {p['m']}\nprint(a)",
        FIB_FN,
        "fib_mod(10, 1000)",
        "fib_mod({n}, {m})",
        lambda p: int(p["n"]) > 1000,
    ),
    ScalarTemplate(
        "factorial_digits",
        "What is the sum of the decimal digits of {n}! (the factorial of {n})?",
        "Write out {n} factorial in base 10 and add up all of its digits. What do you get?",
        lambda r, big: {"n": r.randint(600, 1500) if big else r.randint(10, 400)},
        lambda p: f"import math\nprint(sum(int(d) for d in str(math.factorial({p['n']}))))",
        FACT_FN,
        "factorial_digit_sum(10)",
        "factorial_digit_sum({n})",
        lambda p: int(p["n"]) > 200,
    ),
    ScalarTemplate(
        "collatz",
        "How many steps does the Collatz sequence starting at {n} take to reach 1?",
        "Starting from {n}, repeatedly halve the number when it is even and replace it by 3x + 1 when it is odd "
        "(x being the number). How many such steps does it take to reach 1?",
        lambda r, big: {"n": r.randint(10**9, 10**15) if big else r.randint(5, 100_000)},
        lambda p: (
            f"n, steps = {p['n']}, 0\nwhile n != 1:\n    n = n // 2 if n % 2 == 0 else 3 * n + 1\n"
            "    steps += 1\nprint(steps)"
        ),
        COLLATZ_FN,
        "collatz_steps(6)",
        "collatz_steps({n})",
        lambda p: int(p["n"]) > 50_000,
    ),
)

ID_TEMPLATES: tuple[ListTemplate | ScalarTemplate, ...] = LIST_TEMPLATES + SCALAR_TEMPLATES

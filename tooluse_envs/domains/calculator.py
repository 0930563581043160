"""Calculator: math word problems solved with the 12 calculator tools of the MENTOR paper.

In-domain tasks (``train``, ``test_id``) come from 15 templates that take 1–3 tool steps with small
numbers. Out-of-domain tasks (``test_ood``) come from 10 templates never seen in training, take 4–6
steps, use numbers from an unseen range (thousands, written with separators), and offer distractor tools
next to the 12. Tools run in-process: they are trusted arithmetic.
"""

from __future__ import annotations

import math
import random
from functools import cache
from typing import Any

from tooluse_envs.domain import Domain, draw_distinct, format_result
from tooluse_envs.domains.calculator_problems import ID_TEMPLATES, OOD_TEMPLATES, Chain, Numbers
from tooluse_envs.tasks import Reference, Task
from tooluse_envs.tools import Tool, function_tool

MAX_MAGNITUDE = 1e15


def _checked(value: float) -> float:
    if not math.isfinite(value) or abs(value) > MAX_MAGNITUDE:
        raise ValueError(f"result {value!r} is out of range (|x| <= 1e15)")
    return value


def add(a: float, b: float) -> float:
    """Add two numbers.

    Args:
        a: The first number.
        b: The second number.
    """
    return _checked(a + b)


def subtract(a: float, b: float) -> float:
    """Subtract b from a.

    Args:
        a: The number to subtract from.
        b: The number to subtract.
    """
    return _checked(a - b)


def multiply(a: float, b: float) -> float:
    """Multiply two numbers.

    Args:
        a: The first factor.
        b: The second factor.
    """
    return _checked(a * b)


def divide(a: float, b: float) -> float:
    """Divide a by b.

    Args:
        a: The dividend.
        b: The divisor (not zero).
    """
    if b == 0:
        raise ZeroDivisionError("division by zero")
    return _checked(a / b)


def sum_numbers(numbers: list[float]) -> float:
    """Add up a list of numbers.

    Args:
        numbers: The numbers to add.
    """
    return _checked(math.fsum(numbers))


def floor(x: float) -> float:
    """Round a number down to the nearest integer.

    Args:
        x: The number.
    """
    return _checked(float(math.floor(x)))


def ceil(x: float) -> float:
    """Round a number up to the nearest integer.

    Args:
        x: The number.
    """
    return _checked(float(math.ceil(x)))


def round_number(x: float, decimals: int = 0) -> float:
    """Round a number to a given count of decimal places.

    Args:
        x: The number.
        decimals: Decimal places to keep (0 to 10).
    """
    if not 0 <= decimals <= 10:
        raise ValueError("decimals must be between 0 and 10")
    return _checked(round(x, decimals))


def power(base: float, exponent: float) -> float:
    """Raise base to the power exponent.

    Args:
        base: The base.
        exponent: The exponent.
    """
    try:
        return _checked(float(base) ** float(exponent))
    except OverflowError as exc:
        raise ValueError("result is out of range (|x| <= 1e15)") from exc


def sqrt(x: float) -> float:
    """The square root of a non-negative number.

    Args:
        x: The number (not negative).
    """
    if x < 0:
        raise ValueError("square root of a negative number")
    return math.sqrt(x)


def abs_value(x: float) -> float:
    """The absolute value of a number.

    Args:
        x: The number.
    """
    return abs(x)


def modulo(a: float, b: float) -> float:
    """The remainder of a divided by b.

    Args:
        a: The dividend.
        b: The divisor (not zero).
    """
    if b == 0:
        raise ZeroDivisionError("modulo by zero")
    return a % b


def average(numbers: list[float]) -> float:
    """The arithmetic mean of a list of numbers.

    Args:
        numbers: The numbers (at least one).
    """
    if not numbers:
        raise ValueError("average of an empty list")
    return math.fsum(numbers) / len(numbers)


def percentage(part: float, whole: float) -> float:
    """What percent part is of whole.

    Args:
        part: The part.
        whole: The whole (not zero).
    """
    if whole == 0:
        raise ZeroDivisionError("whole is zero")
    return _checked(100 * part / whole)


def maximum(numbers: list[float]) -> float:
    """The largest of a list of numbers.

    Args:
        numbers: The numbers (at least one).
    """
    if not numbers:
        raise ValueError("maximum of an empty list")
    return max(numbers)


def gcd(a: int, b: int) -> int:
    """The greatest common divisor of two integers.

    Args:
        a: The first integer.
        b: The second integer.
    """
    return math.gcd(a, b)


CORE_TOOLS = (add, subtract, multiply, divide, sum_numbers, floor, ceil, round_number, power, sqrt, abs_value, modulo)
DISTRACTOR_TOOLS = (average, percentage, maximum, gcd)


SPLIT_SIZES = {"train": 2000, "test_id": 300, "test_ood": 300}
SPLIT_SEEDS = {"train": 1001, "test_id": 2002, "test_ood": 3003}


@cache
def _all_tools() -> dict[str, Tool]:
    return {fn.__name__: function_tool(fn) for fn in CORE_TOOLS + DISTRACTOR_TOOLS}


class CalculatorDomain(Domain):
    """Math word problems with the paper's 12 calculator tools."""

    name = "calculator"

    def tools(self) -> dict[str, Tool]:
        return _all_tools()

    def _problems(self, split: str) -> list[tuple[str, tuple[Chain, str]]]:
        """(template, (solved chain, question)) for a split; test splits skip train's questions."""
        ood = split == "test_ood"
        rng = random.Random(SPLIT_SEEDS[split])
        numbers = Numbers(rng, large=ood)
        taken = None if split == "train" else {question for _, (_, question) in self._problems("train")}

        def draw(template: Any) -> tuple[Chain, str]:
            chain = Chain(self.tools())
            return chain, template(chain, numbers, rng)

        templates = OOD_TEMPLATES if ood else ID_TEMPLATES
        return draw_distinct(templates, SPLIT_SIZES[split], draw, key=lambda item: item[1], taken=taken)

    def generate(self, split: str) -> list[Task]:
        ood = split == "test_ood"
        distractors = random.Random(SPLIT_SEEDS[split] + 1)
        core = [fn.__name__ for fn in CORE_TOOLS]
        tasks = []
        for index, (template, (chain, question)) in enumerate(self._problems(split)):
            tools = core + sorted(distractors.sample([fn.__name__ for fn in DISTRACTOR_TOOLS], 2)) if ood else core
            tasks.append(
                Task(
                    id=f"calculator/{split}/{index:05d}",
                    domain="calculator",
                    split=split,
                    question=question + " Use the tools for every calculation and give the final answer in \\boxed{}.",
                    tools=tuple(tools),
                    expected={"kind": "number", "answer": chain.value},
                    reference=Reference(tuple(chain.calls), format_result(chain.value)),
                    tags=(template, f"steps:{len(chain.calls)}") + (("distractors",) if ood else ()),
                )
            )
        return tasks


DOMAIN_CLASS = CalculatorDomain

"""The Calculator domain's tools: the paper's 12, plus tools offered only out of domain.

Tools run in-process (trusted arithmetic) on the numbers the policy wrote. ``round_number`` rounds
the written decimal half-up, so money answers never depend on a float's binary neighbour.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import TypeVar

from tooluse_envs.tools import Tool, function_tool

MAX_MAGNITUDE = 1e15
_Num = TypeVar("_Num", int, float)


def _checked(value: _Num) -> _Num:
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
    """Round a number to a given count of decimal places (halves round away from zero).

    Args:
        x: The number.
        decimals: Decimal places to keep (0 to 10).
    """
    if not 0 <= decimals <= 10:
        raise ValueError("decimals must be between 0 and 10")
    # the number as written, not its binary neighbour: 8.925 rounds to 8.93 (float round() gives 8.92)
    exact = Decimal(x) if isinstance(x, int) else Decimal(repr(float(x)))
    return _checked(float(exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)))


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


def lcm(a: int, b: int) -> int:
    """The least common multiple of two integers.

    Args:
        a: The first integer.
        b: The second integer.
    """
    return _checked(math.lcm(a, b))


def minimum(numbers: list[float]) -> float:
    """The smallest of a list of numbers.

    Args:
        numbers: The numbers (at least one).
    """
    if not numbers:
        raise ValueError("minimum of an empty list")
    return min(numbers)


def is_prime(n: int) -> bool:
    """Whether a whole number is prime.

    Args:
        n: A whole number up to 10**12.
    """
    if not 0 <= n <= 10**12:
        raise ValueError("n must be between 0 and 10**12")
    return n >= 2 and all(n % d for d in range(2, math.isqrt(n) + 1))


def factorial(n: int) -> int:
    """The product of the integers from 1 to n.

    Args:
        n: A whole number from 0 to 17.
    """
    if not 0 <= n <= 17:
        raise ValueError("n must be between 0 and 17")
    return math.factorial(n)


def logarithm(x: float, base: float = 10) -> float:
    """The logarithm of x in the given base.

    Args:
        x: A positive number.
        base: The base (positive, not 1).
    """
    if x <= 0 or base <= 0 or base == 1:
        raise ValueError("logarithm needs x > 0 and a positive base other than 1")
    return math.log(x, base)


CORE_TOOLS = (add, subtract, multiply, divide, sum_numbers, floor, ceil, round_number, power, sqrt, abs_value, modulo)
# offered only out of domain: tools some test_ood tasks need (axis unseen_tool) and tools no task needs
UNSEEN_TOOLS = (gcd, percentage, average, maximum)
DISTRACTOR_TOOLS = (lcm, minimum, is_prime, factorial, logarithm)


@cache
def all_tools() -> dict[str, Tool]:
    """Every tool a Calculator task may offer, by name."""
    return {fn.__name__: function_tool(fn) for fn in CORE_TOOLS + UNSEEN_TOOLS + DISTRACTOR_TOOLS}

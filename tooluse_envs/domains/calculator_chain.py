"""How a Calculator problem is stated and solved: strategies, two ways to run them, and the checks.

A template returns a ``Problem``: the question, every correct strategy (each a small function that
makes tool calls through a ``Calc``), the name of the one the teacher chose for this problem, and the
answer's precision. Each strategy runs twice: through the real tools with results passed on as the
policy reads them (``ToolCalc``: that run becomes the reference trajectory), and in exact decimal
arithmetic (``ExactCalc``). A problem is kept only when every strategy reaches the same answer and that
answer is the exact one at the stated precision, so no shipped answer is a float artifact.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, localcontext
from typing import Any, Protocol

from tooluse_envs.domain import format_result
from tooluse_envs.tasks import Reference, ReferenceCall
from tooluse_envs.tools import Tool

Number = Any  # int | float in the tool run, Decimal in the exact run
MAX_CALLS = 7  # a trajectory must fit the env's 8 turns with its answer turn


class Calc(Protocol):
    def __call__(self, name: str, **arguments: Any) -> Number: ...


Strategy = Callable[[Calc], Number]


class ToolCalc:
    """Runs calls through the real tools and records them; each result is passed on as its text reads."""

    def __init__(self, tools: dict[str, Tool]) -> None:
        self.tools = tools
        self.calls: list[ReferenceCall] = []
        self.value: float = 0.0

    def __call__(self, name: str, **arguments: Any) -> Number:
        text = format_result(self.tools[name](**arguments))
        self.calls.append(ReferenceCall(name, dict(arguments)))
        self.value = float(text)
        return int(self.value) if self.value.is_integer() else self.value


def _dec(x: Any) -> Decimal:
    if isinstance(x, Decimal):
        return x
    return Decimal(x) if isinstance(x, int) else Decimal(repr(x))


def _mean(numbers: list[Decimal]) -> Decimal:
    return sum(numbers, Decimal(0)) / len(numbers)


_EXACT: dict[str, Callable[..., Decimal]] = {
    "add": lambda a, b: a + b,
    "subtract": lambda a, b: a - b,
    "multiply": lambda a, b: a * b,
    "divide": lambda a, b: a / b,
    "sum_numbers": lambda numbers: sum(numbers, Decimal(0)),
    "floor": lambda x: x.to_integral_value(rounding=ROUND_FLOOR),
    "ceil": lambda x: x.to_integral_value(rounding=ROUND_CEILING),
    "round_number": lambda x, decimals=0: x.quantize(Decimal(1).scaleb(-int(decimals)), rounding=ROUND_HALF_UP),
    "power": lambda base, exponent: base ** int(exponent),
    "sqrt": lambda x: x.sqrt(),
    "abs_value": lambda x: abs(x),
    "modulo": lambda a, b: a % b,
    "average": _mean,
    "percentage": lambda part, whole: 100 * part / whole,
    "maximum": lambda numbers: max(numbers),
    "gcd": lambda a, b: Decimal(math.gcd(int(a), int(b))),
}


class ExactCalc:
    """The same calls in 50-digit decimal arithmetic, with intermediate results kept exact."""

    def __call__(self, name: str, **arguments: Any) -> Number:
        args: dict[str, Any] = {
            k: [_dec(x) for x in v] if isinstance(v, list) else _dec(v) for k, v in arguments.items()
        }
        if name == "round_number":
            args["decimals"] = int(arguments.get("decimals", 0))
        with localcontext() as ctx:
            ctx.prec = 50
            return _EXACT[name](**args)


def needs_rounding(value: Number, decimals: int) -> bool:
    """Whether a value has more decimal places than the answer keeps (a teacher then rounds it)."""
    d = _dec(value)
    return d != d.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def to_cents(c: Calc, value: Number, decimals: int = 2) -> Number:
    """Round to the answer's precision, but only when the value needs it (as a careful solver does)."""
    return c("round_number", x=value, decimals=decimals) if needs_rounding(value, decimals) else value


@dataclass
class Problem:
    """A question with every correct strategy for it and the teacher's choice among them."""

    question: str
    strategies: Mapping[str, Strategy]
    teacher: str
    decimals: int = 0
    tools: tuple[str, ...] = field(default_factory=tuple)  # tools offered besides the in-domain ones


@dataclass(frozen=True)
class Solved:
    """A problem checked and run: its exact answer and the teacher's and alternative trajectories."""

    problem: Problem
    answer: int | float
    reference: Reference


def _trajectory(strategy: Strategy, tools: dict[str, Tool]) -> tuple[ToolCalc, Number] | None:
    """The strategy run through the tools, and the answer it reaches (not always the last result)."""
    run = ToolCalc(tools)
    try:
        value = strategy(run)
    except (ValueError, ZeroDivisionError, ArithmeticError):
        return None
    if not run.calls or len(run.calls) > MAX_CALLS:
        return None
    return run, value


def solve(problem: Problem, tools: dict[str, Tool]) -> Solved | None:
    """Run every strategy both ways; None when any disagrees with the exact answer at its precision."""
    exact = _dec(problem.strategies[problem.teacher](ExactCalc()))
    step = Decimal(1).scaleb(-problem.decimals)
    if exact != exact.quantize(step, rounding=ROUND_HALF_UP) or exact < 0:
        return None
    references = {}
    for name, strategy in problem.strategies.items():
        ran = _trajectory(strategy, tools)
        if ran is None or _dec(ran[1]) != exact or _dec(strategy(ExactCalc())) != exact:
            return None
        references[name] = Reference(tuple(ran[0].calls), format_result(ran[1]), strategy=name)
    teacher = references.pop(problem.teacher)
    seen = {_calls_key(teacher)}
    alternatives = []
    for alt in references.values():
        if _calls_key(alt) not in seen:
            seen.add(_calls_key(alt))
            alternatives.append(alt)
    answer: int | float = int(exact) if problem.decimals == 0 else float(exact)
    reference = Reference(
        teacher.tool_calls, teacher.answer, strategy=problem.teacher, alternatives=tuple(alternatives)
    )
    return Solved(problem, answer, reference)


def _calls_key(reference: Reference) -> str:
    return repr([(c.name, sorted(c.arguments.items())) for c in reference.tool_calls])


class Numbers:
    """Draws a problem's numbers from the in-domain range, or from a larger but plausible one."""

    def __init__(self, rng: random.Random, large: bool = False) -> None:
        self.rng, self.large = rng, large

    def int(self, lo: int, hi: int, large: tuple[int, int] | None = None) -> int:
        if self.large and large:
            lo, hi = large
        return self.rng.randint(lo, hi)

    def word(self, usual: list[str], large: list[str]) -> str:
        """A noun that fits the scale (a 1,200-yard square is a field, not a courtyard)."""
        return self.rng.choice(large if self.large else usual)

    def money(self, lo: float, hi: float, large: tuple[float, float] | None = None) -> float:
        """An amount in whole cents."""
        if self.large and large:
            lo, hi = large
        return self.rng.randint(round(lo * 100), round(hi * 100)) / 100


def show(x: Number) -> str:
    """A number as the question writes it: thousands separators, no float noise."""
    if isinstance(x, int):
        return f"{x:,}"
    return f"{x:,.10g}" if abs(x) < 1e6 else f"{x:,}"


def usd(x: float) -> str:
    """A dollar amount: whole dollars without cents, else two decimals."""
    return f"${x:,.0f}" if float(x).is_integer() else f"${x:,.2f}"

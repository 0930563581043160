"""Calculator tasks: every shipped answer recomputed independently, the ill-posed classes that were
fixed (negative quantities, impossible stock, implausible scales, float-rounded money), the teacher's
per-problem strategy choice, and the out-of-domain axes each changing one thing."""

from __future__ import annotations

import math
import re
from fractions import Fraction

import pytest

from tooluse_envs.domains.calculator_chain import Problem, solve
from tooluse_envs.domains.calculator_tools import CORE_TOOLS, all_tools, round_number
from tooluse_envs.task_stats import computation_key
from tooluse_envs.tasks import SPLITS, Reference, Task, load_tasks

ALL = {split: load_tasks("calculator", split) for split in SPLITS}
EVERY_TASK = [task for tasks in ALL.values() for task in tasks]
ID_TOOLS = {fn.__name__ for fn in CORE_TOOLS}
# temperatures are signed, and one strategy takes their difference before abs_value
SIGNED_TEMPLATES = {"temperature_gap"}

# --- an exact evaluator written independently of the generator: Fractions, half-up by hand ------------


def half_up(x: Fraction, places: int) -> Fraction:
    scale = 10**places
    sign = -1 if x < 0 else 1
    return sign * Fraction(math.floor(abs(x) * scale + Fraction(1, 2)), scale)


def exact_sqrt(x: Fraction) -> Fraction:
    num, den = math.isqrt(x.numerator), math.isqrt(x.denominator)
    assert Fraction(num, den) ** 2 == x, f"sqrt({x}) is irrational: the answer would need a rounding step"
    return Fraction(num, den)


OPS = {
    "add": lambda a, b: a + b,
    "subtract": lambda a, b: a - b,
    "multiply": lambda a, b: a * b,
    "divide": lambda a, b: a / b,
    "sum_numbers": lambda numbers: sum(numbers, Fraction(0)),
    "floor": lambda x: Fraction(math.floor(x)),
    "ceil": lambda x: Fraction(math.ceil(x)),
    "round_number": lambda x, decimals=0: half_up(x, int(decimals)),
    "power": lambda base, exponent: base ** int(exponent),
    "sqrt": exact_sqrt,
    "abs_value": lambda x: abs(x),
    "modulo": lambda a, b: a - b * math.floor(a / b),
    "average": lambda numbers: sum(numbers, Fraction(0)) / len(numbers),
    "percentage": lambda part, whole: 100 * part / whole,
    "maximum": lambda numbers: max(numbers),
    "gcd": lambda a, b: Fraction(math.gcd(int(a), int(b))),
}


def exact_results(reference: Reference) -> list[tuple[str, dict, Fraction]]:
    """Each call's exact result; an argument that is an earlier result as the policy read it (10 digits,
    their error carried along) is replaced by that exact result, so tool-text rounding never reaches the answer."""
    results: list[Fraction] = []

    def resolve(value: float | int) -> Fraction:
        written = Fraction(str(value))
        for earlier in reversed(results):
            if abs(earlier - written) <= Fraction(1, 10**7) * max(1, abs(earlier)):
                return earlier
        return written

    out = []
    for call in reference.tool_calls:
        args = {
            k: [resolve(x) for x in v] if isinstance(v, list) else (v if k == "decimals" else resolve(v))
            for k, v in call.arguments.items()
        }
        value = OPS[call.name](**args)
        results.append(value)
        out.append((call.name, args, value))
    return out


def exact_answer(reference: Reference) -> Fraction:
    """The trajectory's answer: the last result, or, when Euclid ends on a zero remainder, its divisor."""
    name, args, value = exact_results(reference)[-1]
    return args["b"] if name == "modulo" and value == 0 else value


@pytest.mark.parametrize("split", SPLITS)
def test_every_answer_and_alternative_is_exact_arithmetic_at_the_stated_precision(split):
    wrong = []
    for task in ALL[split]:
        want = Fraction(str(task.expected["answer"]))
        assert want == half_up(want, task.expected["decimals"]), task.id  # representable at its precision
        for ref in (task.reference, *task.reference.alternatives):
            got = exact_answer(ref)
            if got != want or Fraction(ref.answer) != want:
                wrong.append((task.id, ref.strategy, str(got), task.expected["answer"]))
    assert not wrong, f"{len(wrong)} answers differ from exact arithmetic, e.g. {wrong[:3]}"


_QUESTION_NUMBER = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")


def question_numbers(task: Task) -> list[Fraction]:
    return [Fraction(m.replace(",", "")) for m in _QUESTION_NUMBER.findall(task.question)]


def derived_constants(task: Task) -> set[Fraction]:
    """Constants a solver derives from the question: percent rates, 100/p, and small counts."""
    out = {Fraction(k) for k in range(0, 13)} | {Fraction(9, 5), Fraction(32), Fraction(60), Fraction(100)}
    for p in map(int, re.findall(r"(\d+)%", task.question)):
        out |= {Fraction(p, 100), Fraction(100 - p, 100), Fraction(100 + p, 100), Fraction(100, p), Fraction(p)}
    return out


@pytest.mark.parametrize("split", SPLITS)
def test_every_number_a_trajectory_starts_from_is_in_the_question(split):
    strays = []
    for task in ALL[split]:
        allowed = set(question_numbers(task)) | derived_constants(task)
        for ref in (task.reference, *task.reference.alternatives):
            earlier: list[Fraction] = []
            for name, args, value in exact_results(ref):
                for key, arg in args.items():
                    for x in arg if isinstance(arg, list) else [arg]:
                        if key != "decimals" and x not in allowed and x not in earlier:
                            strays.append((task.id, ref.strategy, name, str(x)))
                earlier.append(value)
    assert not strays, f"{len(strays)} arguments come from nowhere in the question, e.g. {strays[:3]}"


# --- ill-posed classes ----------------------------------------------------------------------------------


def test_no_negative_quantities_or_impossible_stock():
    """Answers are never negative, and no count or amount goes below zero midway (shipping more than is
    held, spending more than was saved); only temperatures carry a sign."""
    bad = []
    for task in EVERY_TASK:
        if task.expected["answer"] < 0:
            bad.append((task.id, "answer"))
        if task.template in SIGNED_TEMPLATES:
            continue
        if any(n < 0 for n in question_numbers(task)):
            bad.append((task.id, "question"))
        for ref in (task.reference, *task.reference.alternatives):
            bad += [(task.id, ref.strategy, name) for name, _, value in exact_results(ref) if value < 0]
    assert not bad, f"{len(bad)} negative quantities, e.g. {bad[:3]}"


PLAUSIBLE = [  # (pattern, lowest, highest): scales a real problem of that kind has
    (r"(-?\d+) °C", -40, 260),
    (r"(\d+)%", 1, 100),
    (r"among its (\d+) members", 2, 60),
    (r"works (\d+) hours", 1, 60),
    (r"(\d+) friends", 2, 20),
    (r"\$([\d,]+(?:\.\d+)?)", 0.01, 1_000_000),
    (r"bags of (\d+)", 2, 50),
    (r"edges of ([\d,]+) cm", 1, 400),
    (r"([\d.]+) litres of fuel per 100 km", 3, 20),
]


@pytest.mark.parametrize("pattern,low,high", PLAUSIBLE)
def test_quantities_stay_at_plausible_scales(pattern, low, high):
    seen, odd = 0, []
    for task in EVERY_TASK:
        for match in re.findall(pattern, task.question):
            seen += 1
            if not low <= float(match.replace(",", "")) <= high:
                odd.append((task.id, match))
    assert seen, f"no question matches {pattern}; the check has gone stale"
    assert not odd, f"{len(odd)} implausible values, e.g. {odd[:3]}"


@pytest.mark.parametrize(
    "x,decimals,want",
    [
        (8.925, 2, 8.93),
        (2.675, 2, 2.68),
        (1.005, 2, 1.01),
        (0.125, 2, 0.13),
        (-2.5, 0, -3),
        (19.9325, 2, 19.93),
        (7, 0, 7),
    ],
)
def test_round_number_rounds_the_written_decimal_half_up(x, decimals, want):
    assert round_number(x, decimals) == want


def test_money_answers_that_float_rounding_gets_wrong_are_shipped_half_up():
    """Tasks where Python's round() on the float is a cent off exist, and their answers are half-up."""
    cases = [
        (task, call.arguments["x"])
        for task in EVERY_TASK
        for call in task.reference.tool_calls
        if call.name == "round_number"
        and call.arguments["decimals"] == 2
        and Fraction(str(round(call.arguments["x"], 2))) != half_up(Fraction(str(call.arguments["x"])), 2)
    ]
    assert cases, "no half-cent case in the data: the regression would not be exercised"
    for task, x in cases:
        assert Fraction(str(task.expected["answer"])) == half_up(Fraction(str(x)), 2), task.id


# --- the teacher's strategy and its alternatives --------------------------------------------------------


def test_teacher_adds_two_numbers_with_add_and_three_or_more_with_sum_numbers():
    for task in ALL["train"]:
        if task.template == "total_scores":
            (call,) = task.reference.tool_calls
            addends = len(question_numbers(task)) - 1  # the numbers, then the count of days
            assert call.name == ("add" if addends == 2 else "sum_numbers"), task.id


def test_teacher_uses_power_for_cubes_and_multiply_for_squares():
    for task in ALL["train"]:
        if task.template == "area_volume":
            names = [c.name for c in task.reference.tool_calls]
            assert names == (["power"] if "cube" in task.question else ["multiply"]), task.id


def test_solve_rejects_a_problem_whose_strategies_disagree():
    good = Problem(
        "2 + 3?", {"add": lambda c: c("add", a=2, b=3), "sum": lambda c: c("sum_numbers", numbers=[2, 3])}, "add"
    )
    wrong = Problem("2 + 3?", {"add": lambda c: c("add", a=2, b=3), "off": lambda c: c("multiply", a=2, b=3)}, "add")
    inexact = Problem("1 / 3?", {"divide": lambda c: c("divide", a=1, b=3)}, "divide", decimals=2)
    solved = solve(good, all_tools())
    assert solved is not None and solved.answer == 5 and solved.reference.alternatives[0].strategy == "sum"
    assert solve(wrong, all_tools()) is None
    assert solve(inexact, all_tools()) is None  # 0.333... is not an answer at two decimals without rounding


# --- splits and axes ------------------------------------------------------------------------------------


def test_in_domain_tasks_offer_exactly_the_papers_12_tools():
    for split in ("train", "test_id"):
        assert all(set(task.tools) == ID_TOOLS for task in ALL[split])


def test_no_test_task_repeats_a_train_or_test_id_computation():
    keys = {computation_key(task) for split in ("train", "test_id") for task in ALL[split]}
    train = {computation_key(task) for task in ALL["train"]}
    assert not [t.id for t in ALL["test_id"] if computation_key(t) in train]
    assert not [t.id for t in ALL["test_ood"] if computation_key(t) in keys]


def by_axis(axis: str) -> list[Task]:
    return [task for task in ALL["test_ood"] if task.axis == axis]


def test_unseen_tool_tasks_need_a_tool_no_training_reference_uses():
    used_in_train = {name for task in ALL["train"] for name in task.reference.tool_names}
    offered_in_train = {name for task in ALL["train"] for name in task.tools}
    tasks = by_axis("unseen_tool")
    assert len(tasks) >= 100
    for task in tasks:
        new = task.reference.tool_names - used_in_train
        assert new and new <= set(task.tools) and not new & offered_in_train, task.id
        assert set(task.tools) - ID_TOOLS == new, task.id  # nothing else changes: only the needed tool is added


def test_each_axis_changes_one_thing():
    id_templates = {task.template for task in ALL["train"]}
    id_steps = max(len(task.reference.tool_calls) for task in ALL["train"])
    id_largest = max(max(question_numbers(task)) for task in ALL["train"] if task.template != "fence")
    largest_in_train: dict[str, Fraction] = {}
    for task in ALL["train"]:
        largest_in_train[task.template] = max(largest_in_train.get(task.template, 0), *question_numbers(task))
    for task in ALL["test_ood"]:
        steps, extra = len(task.reference.tool_calls), set(task.tools) - ID_TOOLS
        in_domain_template = task.template in id_templates
        assert in_domain_template == (task.axis in ("magnitude", "distractor_tools")), task.id
        assert (steps > id_steps) == (task.axis == "longer_chain"), task.id
        assert bool(extra) == (task.axis in ("distractor_tools", "unseen_tool")), task.id
        if task.axis == "distractor_tools":
            used = {name for ref in (task.reference, *task.reference.alternatives) for name in ref.tool_names}
            assert not used & extra, task.id  # offered, never useful
        if task.axis == "magnitude":  # a number larger than any its template shows in train
            assert max(question_numbers(task)) > largest_in_train[task.template], task.id
        elif task.template != "fence":
            assert max(question_numbers(task)) <= id_largest, task.id

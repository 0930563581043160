"""The Code tasks as shipped: every answer recomputed independently from the question's own data, and
the classes of ill-posed items fixed at the generator (broken ordinals, repeated OOD questions,
axes that change more than one thing, test computations repeated from train).

The recomputation reads the data the way a solver would (the list written in the question, or the
file named in it) and computes with its own plain-Python algorithms, never the generator's code.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections import Counter
from fractions import Fraction
from functools import cache, reduce
from itertools import combinations

import pytest

from tooluse_envs.domains.code_problems import ordinal
from tooluse_envs.tasks import SPLITS, Task, load_tasks

UNSEEN_MODULE_FILES = (".json", ".csv", ".log")


def all_tasks() -> list[Task]:
    return [task for split in SPLITS for task in load_tasks("code", split)]


def first_int(pattern: str, text: str) -> int:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in {text!r}"
    return int(next(group for group in match.groups() if group is not None))


def task_values(task: Task) -> list[int]:
    """The list of integers the question is about, read from the question or its file."""
    files = task.context.get("files", {})
    if not files:
        match = re.search(r"\[(-?\d+(?:, -?\d+)*)\]", task.question)
        assert match, task.id
        return [int(v) for v in match.group(1).split(", ")]
    ((path, text),) = files.items()
    assert path in task.question, task.id
    if path.endswith(".json"):
        lists = [value for value in json.loads(text).values() if isinstance(value, list)]
        assert len(lists) == 1, task.id
        values = lists[0]
    elif path.endswith(".csv"):
        column = re.search(r'"(\w+)" values', task.question).group(1)
        values = [int(row[column]) for row in csv.DictReader(io.StringIO(text))]
    elif path.endswith(".log"):
        values = [int(line.rsplit("value=", 1)[1]) for line in text.splitlines()]
    else:
        values = [int(token) for token in re.findall(r"-?\d+", text)]
    stated = first_int(r"the (\d+) ", task.question)
    assert stated == len(values), f"{task.id}: the question says {stated} values, the file holds {len(values)}"
    return values


@cache
def prime_prefix_sums(limit: int) -> list[int]:
    """sums[n] = sum of the primes below n, by a plain list sieve."""
    is_prime = [False, False] + [True] * (limit - 1)
    for i in range(2, math.isqrt(limit) + 1):
        if is_prime[i]:
            for j in range(i * i, limit + 1, i):
                is_prime[j] = False
    sums, total = [0] * (limit + 1), 0
    for n in range(limit + 1):
        sums[n] = total
        total += n if is_prime[n] else 0
    return sums


def fib_pair(n: int, m: int) -> tuple[int, int]:
    """(F(n), F(n+1)) mod m by fast doubling."""
    if n == 0:
        return 0, 1
    a, b = fib_pair(n // 2, m)
    c, d = a * (2 * b - a) % m, (a * a + b * b) % m
    return (d, (c + d) % m) if n % 2 else (c, d)


def collatz(n: int) -> int:
    steps = 0
    while n > 1:
        n, steps = (n >> 1 if n & 1 == 0 else 3 * n + 1), steps + 1
    return steps


def longest_increasing_run(xs: list[int]) -> int:
    breaks = [0] + [i for i in range(1, len(xs)) if xs[i] <= xs[i - 1]] + [len(xs)]
    return max(b - a for a, b in zip(breaks, breaks[1:], strict=False))


def half_up(value: Fraction, places: int) -> Fraction:
    scale = 10**places
    return Fraction(math.floor(value * scale + Fraction(1, 2)), scale)


# the numbers a question asks about besides its data, read from either wording (in-domain or paraphrase)
PARAMS = {
    "count_divisible": (r"divisible by (\d+)|divided by (\d+)",),
    "kth_smallest": (r"(\d+)(?:st|nd|rd|th) smallest|position (\d+)",),
    "product_mod": (r"modulo (\d+)|divided by (\d+)",),
    "pair_sums": (r"summing to (\d+)|exactly (\d+)",),
    "prime_sum": (r"below (\d+)|p < (\d+)",),
    "fibonacci": (r"(\d+)(?:st|nd|rd|th) Fibonacci|F\((\d+)\) leave", r"modulo (\d+)|divided by (\d+)"),
    "factorial_digits": (r"digits of (\d+)!|out (\d+) factorial",),
    "collatz": (r"starting at (\d+)|Starting from (\d+)",),
}


def params(task: Task) -> tuple[int, ...]:
    return tuple(first_int(pattern, task.question) for pattern in PARAMS.get(task.template, ()))


def list_answer(template: str, xs: list[int], p: tuple[int, ...]) -> Fraction | int:
    s = sorted(xs)
    if template == "median":
        mid = len(s) // 2
        return Fraction(s[mid]) if len(s) % 2 else Fraction(s[mid - 1] + s[mid], 2)
    if template == "count_divisible":
        return len([x for x in xs if x / p[0] == x // p[0]])
    if template == "kth_smallest":
        return s[p[0] - 1]
    if template == "gcd_list":
        return reduce(lambda a, b: a if b == 0 else math.gcd(b, a % b), xs)
    if template == "distinct":
        return len(Counter(xs))
    if template == "longest_run":
        return longest_increasing_run(xs)
    if template == "odd_squares":
        return sum(x**2 for x in xs if x & 1)
    if template == "product_mod":
        return math.prod(xs) % p[0]
    if template == "mean":
        return half_up(Fraction(sum(xs), len(xs)), 2)
    if template == "pair_sums":
        return sum(a + b == p[0] for a, b in combinations(xs, 2))
    if template == "spread":
        return s[-1] - s[0]
    if template == "second_largest":
        return sorted(Counter(xs))[-2]
    if template == "above_mean":
        return len([x for x in xs if x > Fraction(sum(xs), len(xs))])
    if template == "inversions":
        return sum(a > b for a, b in combinations(xs, 2))
    if template == "mode":
        counts = Counter(xs)
        return min(v for v in counts if counts[v] == max(counts.values()))
    if template == "lcm_list":
        return reduce(lambda a, b: a * b // math.gcd(a, b), xs)
    if template == "alternating_sum":
        return sum(xs[::2]) - sum(xs[1::2])
    if template == "max_subarray":
        return max(sum(xs[i:j]) for i in range(len(xs)) for j in range(i + 1, len(xs) + 1))
    raise AssertionError(f"no independent solver for {template}")


def scalar_answer(template: str, p: tuple[int, ...]) -> int:
    if template == "prime_sum":
        return prime_prefix_sums(2_000_000)[p[0]]
    if template == "fibonacci":
        return fib_pair(p[0], p[1])[0]
    if template == "factorial_digits":
        return sum(map(int, str(math.prod(range(1, p[0] + 1)))))
    if template == "collatz":
        return collatz(p[0])
    raise AssertionError(f"no independent solver for {template}")


SCALARS = ("prime_sum", "fibonacci", "factorial_digits", "collatz")
DECIMALS = {"median": 1, "mean": 2}


def independent_answer(task: Task) -> Fraction:
    if task.template in SCALARS:
        return Fraction(scalar_answer(task.template, params(task)))
    return Fraction(list_answer(task.template, task_values(task), params(task)))


@pytest.mark.parametrize("split", SPLITS)
def test_every_answer_equals_an_independent_recomputation_from_the_question(split):
    wrong = []
    for task in load_tasks("code", split):
        want = independent_answer(task)
        shipped = Fraction(str(task.expected["answer"]))
        if shipped != want or Fraction(task.reference.answer) != want:
            wrong.append((task.id, task.expected["answer"], task.reference.answer, str(want)))
        assert task.expected["decimals"] == DECIMALS.get(task.template, 0), task.id
    assert not wrong, f"{len(wrong)} wrong answers, e.g. {wrong[:3]}"


def test_ordinals_have_the_right_suffix():
    cases = {
        1: "1st",
        2: "2nd",
        3: "3rd",
        4: "4th",
        11: "11th",
        12: "12th",
        13: "13th",
        21: "21st",
        22: "22nd",
        23: "23rd",
        101: "101st",
        111: "111th",
        112: "112th",
        1013: "1013th",
        2002: "2002nd",
    }
    assert {n: ordinal(n) for n in cases} == cases


def test_no_question_holds_a_broken_ordinal():
    found, broken = 0, []
    for task in all_tasks():
        for number, suffix in re.findall(r"\b(\d+)(st|nd|rd|th)\b", task.question):
            found += 1
            n = int(number)
            right = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
            if suffix != right:
                broken.append(f"{task.id}: {number}{suffix}")
    assert found > 100, "ordinals are expected in the kth_smallest and fibonacci questions"
    assert not broken, broken[:5]


@pytest.mark.parametrize("split", SPLITS)
def test_no_split_repeats_a_question(split):
    questions = Counter(task.question for task in load_tasks("code", split))
    repeated = {q: n for q, n in questions.items() if n > 1}
    assert not repeated, f"{len(repeated)} questions repeated, e.g. {next(iter(repeated))[:120]!r}"


def computation(task: Task) -> tuple:
    """What a task computes whatever its wording and layout: template, data and parameters."""
    return task.template, () if task.template in SCALARS else tuple(task_values(task)), params(task)


def test_no_test_task_repeats_a_train_computation_in_another_wording_or_layout():
    train = {computation(task) for task in load_tasks("code", "train")}
    repeated = [
        task.id for split in ("test_id", "test_ood") for task in load_tasks("code", split) if computation(task) in train
    ]
    assert not repeated, repeated[:5]


def ood_by_axis() -> dict[str, list[Task]]:
    out: dict[str, list[Task]] = {}
    for task in load_tasks("code", "test_ood"):
        out.setdefault(task.axis, []).append(task)
    return out


def test_unseen_module_tasks_need_a_module_that_no_train_reference_imports():
    train = load_tasks("code", "train")
    for task in train:
        assert not any(path.endswith(UNSEEN_MODULE_FILES) for path in task.context.get("files", {})), task.id
        for call in task.reference.tool_calls:
            code = call.arguments.get("code", "")
            assert not re.search(r"^import (json|csv|re)\b", code, re.M), task.id
    train_templates = {task.template for task in train}
    for task in ood_by_axis()["unseen_module"]:
        assert task.template in train_templates, task.id
        (path,) = task.context["files"]
        assert path.endswith(UNSEEN_MODULE_FILES), task.id


def test_unseen_templates_are_new_and_other_axes_keep_the_training_templates():
    train_templates = {task.template for task in load_tasks("code", "train")}
    for axis, tasks in ood_by_axis().items():
        new = {task.template for task in tasks} - train_templates
        assert bool(new) == (axis == "unseen_template"), (axis, new)
        if axis == "unseen_template":
            assert new == {task.template for task in tasks}


def magnitude(task: Task) -> int:
    if task.template in SCALARS:
        return params(task)[0]
    return max(abs(x) for x in task_values(task))


def test_magnitude_tasks_only_have_larger_numbers():
    train_max = Counter()
    for task in load_tasks("code", "train"):
        train_max[task.template] = max(train_max[task.template], magnitude(task))
    for task in ood_by_axis()["magnitude"]:
        assert magnitude(task) > train_max[task.template], task.id
        assert not any(path.endswith(UNSEEN_MODULE_FILES) for path in task.context.get("files", {})), task.id


def wording(task: Task) -> str:
    """The question with its data, numbers and file names blanked out."""
    text = re.sub(r"\[.*?\]", "L", task.question)
    text = re.sub(r"\b[\w]+\.(txt|json|csv|log)\b", "F", text)
    return re.sub(r"\d+", "N", text)


def test_paraphrases_are_worded_unlike_any_training_question():
    train = {wording(task) for task in load_tasks("code", "train")}
    reused = [task.id for task in ood_by_axis()["paraphrase"] if wording(task) in train]
    assert not reused, reused[:5]


LAYOUT_STATED = re.compile(
    r'one integer per line|separated by|JSON object whose|CSV file with a header|ends with "value='
)


@pytest.mark.parametrize("split", SPLITS)
def test_teacher_reads_a_file_first_exactly_when_the_question_leaves_its_layout_unstated(split):
    for task in load_tasks("code", split):
        if not task.context:
            continue
        stated = bool(LAYOUT_STATED.search(task.question))
        reads_first = task.reference.tool_calls[0].name == "read_file"
        assert reads_first != stated, task.id
        tool_sets = {frozenset(c.name for c in alt.tool_calls) for alt in task.reference.alternatives}
        assert frozenset({"python"}) in tool_sets or not reads_first, task.id


def test_closing_the_last_code_env_kills_the_pools_jails_and_not_before():
    import gymnasium as gym

    from sandbox import SandboxClosed
    from tooluse_envs.domains import code

    first, second = gym.make("tooluse/Code-v0", pool_size=2), gym.make("tooluse/Code-v0", pool_size=2)
    try:
        for env in (first, second):
            env.reset(seed=0)
        pool = code._pools[(first.unwrapped.domain.backend, 2)]
        first.close()
        with pool.acquire() as lease:  # the other env still uses the pool
            assert lease.run("print(1 + 1)").stdout == "2\n"
        second.close()
        assert (first.unwrapped.domain.backend, 2) not in code._pools
        with pytest.raises(SandboxClosed):
            pool.acquire()
        third = gym.make("tooluse/Code-v0", pool_size=2)  # a new env starts a new pool
        third.reset(seed=0)
        assert code._pools[(third.unwrapped.domain.backend, 2)] is not pool
        third.close()
    finally:
        first.close()
        second.close()

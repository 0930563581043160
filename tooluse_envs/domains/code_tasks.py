"""Code task generation: which problems each split holds, and the tasks built from them.

``train`` and ``test_id`` draw the in-domain templates at in-domain scale; ``test_id`` holds no
computation (template, data, parameters — whatever the wording or layout) that train holds.
``test_ood`` is the union of four axes, each changing one thing relative to in-domain tasks:

* ``magnitude``: in-domain templates, wording and layouts, only the numbers much larger;
* ``paraphrase``: in-domain computations at in-domain scale, in wording training never uses;
* ``unseen_module``: in-domain list computations whose data comes as JSON, CSV or a log file, which
  needs ``json``, ``csv`` or ``re`` — modules no training reference imports;
* ``unseen_template``: computations training never asks for, posed the in-domain way.

Answers are what the teacher's code prints, run here in a scratch directory (trusted code); every
alternative strategy must print the same, or generation fails.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from tooluse_envs.domains.code_problems import MODULE_LAYOUTS, Problem, Strategy
from tooluse_envs.domains.code_templates import ID_TEMPLATES, LIST_TEMPLATES, UNSEEN_LIST_TEMPLATES
from tooluse_envs.errors import TaskError
from tooluse_envs.tasks import Reference, ReferenceCall, Task

SPLIT_SIZES = {"train": 2000, "test_id": 300}
SPLIT_SEEDS = {"train": 11, "test_id": 22, "test_ood": 33}
TASKS_PER_AXIS = 110
EARLIER_SPLITS = {"train": (), "test_id": ("train",), "test_ood": ("train", "test_id")}  # whose computations to skip
FOOTER = " Use the python tool and give the final answer in \\boxed{}."


@dataclass(frozen=True)
class Axis:
    """One out-of-domain axis: the templates it draws and how it draws them."""

    name: str
    templates: Sequence[Any]
    draw: Callable[[Any, random.Random], Problem]


OOD_AXES = (
    Axis("magnitude", ID_TEMPLATES, lambda t, r: t.draw(r, big=True)),
    Axis("paraphrase", ID_TEMPLATES, lambda t, r: t.draw(r, reword=True)),
    Axis("unseen_module", LIST_TEMPLATES, lambda t, r: t.draw(r, layout=r.choice(MODULE_LAYOUTS))),
    Axis("unseen_template", UNSEEN_LIST_TEMPLATES, lambda t, r: t.draw(r)),
)


def draw_problems(
    rng: random.Random,
    templates: Sequence[Any],
    count: int,
    draw: Callable[[Any, random.Random], Problem],
    taken: set[str],
) -> list[Problem]:
    """Draw from the templates in turn until ``count`` problems, none repeating a computation in
    ``taken`` (which grows) or a question already drawn."""
    out: list[Problem] = []
    questions: set[str] = set()
    misses = 0
    while len(out) < count:
        template = templates[len(out) % len(templates)]
        problem = draw(template, rng)
        if problem.key in taken or problem.question in questions:
            misses += 1
            if misses > 10_000:
                raise TaskError(f"{template.name} cannot produce {count} distinct problems")
            continue
        taken.add(problem.key)
        questions.add(problem.question)
        out.append(problem)
    return out


def split_problems(split: str) -> list[tuple[Problem, str | None]]:
    """(problem, axis) for a split; test splits skip every computation of train (and test_ood of test_id)."""
    taken: set[str] = set()
    for earlier in EARLIER_SPLITS[split]:
        taken |= {problem.key for problem, _ in split_problems(earlier)}
    rng = random.Random(SPLIT_SEEDS[split])
    if split != "test_ood":
        return [(p, None) for p in draw_problems(rng, ID_TEMPLATES, SPLIT_SIZES[split], lambda t, r: t.draw(r), taken)]
    return [
        (problem, axis.name)
        for axis in OOD_AXES
        for problem in draw_problems(rng, axis.templates, TASKS_PER_AXIS, axis.draw, taken)
    ]


def run_strategy(strategy: Strategy, files: dict[str, str]) -> str:
    """What the strategy's last ``python`` call prints, its calls run in one namespace in a scratch folder."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    printed, cwd = "", os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        for name, content in files.items():
            Path(tmp, name).write_text(content, encoding="utf-8")
        try:
            os.chdir(tmp)
            for call in strategy.calls:
                if call.tool == "python":
                    out = io.StringIO()
                    with contextlib.redirect_stdout(out):
                        exec(compile(call.argument, "<reference>", "exec"), namespace)  # noqa: S102
                    printed = out.getvalue()
        finally:
            os.chdir(cwd)
    return printed.strip()


def expected_number(printed: str, decimals: int, where: str) -> int | float:
    """The printed answer as the exact value ``expected.answer`` stores (it must round-trip a float)."""
    value = Decimal(printed)
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int) or -exponent > decimals:
        raise TaskError(f"{where}: answer {printed} has more than {decimals} decimals")
    number: int | float = int(value) if decimals == 0 else float(value)
    if Decimal(repr(number)) != value:
        raise TaskError(f"{where}: answer {printed} is not exactly representable")
    return number


def reference(strategy: Strategy, answer: str) -> Reference:
    calls = tuple(ReferenceCall(call.tool, call.arguments()) for call in strategy.calls)
    return Reference(calls, answer, strategy=strategy.name)


def build_task(split: str, index: int, problem: Problem, axis: str | None) -> Task:
    task_id = f"code/{split}/{index:05d}"
    answer = run_strategy(problem.teacher, problem.files)
    alternatives = []
    for alternative in problem.alternatives:
        printed = run_strategy(alternative, problem.files)
        if printed != answer:
            raise TaskError(f"{task_id}: strategy {alternative.name} prints {printed!r}, the teacher {answer!r}")
        alternatives.append(reference(alternative, printed))
    teacher = reference(problem.teacher, answer)
    number = expected_number(answer, problem.decimals, task_id)
    return Task(
        id=task_id,
        domain="code",
        split=split,
        question=problem.question + FOOTER,
        tools=("python", "read_file") if problem.files else ("python",),
        expected={"kind": "number", "answer": number, "decimals": problem.decimals},
        reference=Reference(teacher.tool_calls, answer, strategy=teacher.strategy, alternatives=tuple(alternatives)),
        context={"files": problem.files} if problem.files else {},
        tags=(problem.template, f"axis:{axis}") if axis else (problem.template,),
    )


def generate_tasks(split: str) -> list[Task]:
    return [build_task(split, i, problem, axis) for i, (problem, axis) in enumerate(split_problems(split))]

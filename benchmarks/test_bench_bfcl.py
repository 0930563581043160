"""BFCL: how fast the AST checker grades answers, and how long building the tasks from bfcl-eval takes.

Grading rate = graded answers per second over every ``test_ood`` reference (and one wrong answer each),
stored in the benchmark's ``extra_info``. Run: ``pytest benchmarks/test_bench_bfcl.py --benchmark-only``.
"""

from __future__ import annotations

import importlib.util

import pytest

if importlib.util.find_spec("bfcl_eval") is None:
    pytest.skip("bfcl-eval is not installed (pip install --no-deps bfcl-eval)", allow_module_level=True)

from bench_utils import record_rate

from tooluse_envs.domains import bfcl
from tooluse_envs.domains.bfcl_checker import Call


def _answers() -> list[tuple[bfcl.Task, list[Call]]]:
    """Each task's reference, and the same with its last call dropped (a wrong answer)."""
    out = []
    for task in bfcl.BFCLDomain().load("test_ood"):
        calls = [Call(c.name, c.arguments) for c in task.reference.tool_calls]
        out += [(task, calls), (task, calls[:-1])]
    return out


def _grade_all(answers: list[tuple[bfcl.Task, list[Call]]]) -> int:
    return sum(bfcl.grade(task, calls).correct for task, calls in answers)


def test_checker_throughput(benchmark):
    benchmark.group = "bfcl"
    answers = _answers()
    correct = benchmark.pedantic(_grade_all, args=(answers,), rounds=5, iterations=1)
    assert correct == len(answers) // 2 + sum(not calls for _, calls in answers[::2])
    record_rate(benchmark, "answers_per_s", len(answers))


def test_building_every_split_from_bfcl_eval(benchmark):
    benchmark.group = "bfcl"

    def build() -> int:
        bfcl._category_tasks.cache_clear()
        return sum(len(bfcl.BFCLDomain().load(split)) for split in ("train", "test_id", "test_ood"))

    assert benchmark.pedantic(build, rounds=2, iterations=1) == 176 + 174 + 3121

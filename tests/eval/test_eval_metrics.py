"""pass@k, pass^k and the tool-distribution metrics against hand-computed values."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import pytest

from mentor_agents.eval.metrics import (
    entropy,
    js_similarity,
    k_values,
    pass_at_k,
    pass_hat_k,
    slot_metrics,
)


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (5, 2, 1, 0.4),  # c / n
        (5, 2, 2, 1 - 3 / 10),  # 1 - C(3,2)/C(5,2)
        (5, 2, 3, 1 - 1 / 10),  # 1 - C(3,3)/C(5,3)
        (5, 2, 4, 1.0),  # fewer than k failures: some success is certain
        (4, 0, 2, 0.0),
        (4, 4, 4, 1.0),
        (10, 1, 5, 0.5),  # 1 - C(9,5)/C(10,5) = 1 - 126/252
    ],
)
def test_pass_at_k_hand_cases(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (5, 3, 1, 0.6),
        (5, 3, 2, 3 / 10),  # C(3,2)/C(5,2)
        (5, 3, 3, 1 / 10),
        (5, 3, 4, 0.0),  # fewer successes than k
        (4, 4, 3, 1.0),
        (4, 0, 1, 0.0),
    ],
)
def test_pass_hat_k_hand_cases(n, c, k, expected):
    assert pass_hat_k(n, c, k) == pytest.approx(expected)


@pytest.mark.parametrize(("n", "c"), [(6, 0), (6, 2), (6, 5), (7, 7)])
def test_estimators_equal_enumeration_over_k_subsets(n, c):
    outcomes = [True] * c + [False] * (n - c)
    for k in range(1, n + 1):
        subsets = list(itertools.combinations(outcomes, k))
        assert pass_at_k(n, c, k) == pytest.approx(sum(any(s) for s in subsets) / len(subsets))
        assert pass_hat_k(n, c, k) == pytest.approx(sum(all(s) for s in subsets) / len(subsets))


def test_estimators_reject_impossible_counts():
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
    with pytest.raises(ValueError):
        pass_hat_k(3, 1, 4)


def test_k_values():
    assert k_values(1) == [1]
    assert k_values(5) == [1, 2, 4, 5]
    assert k_values(8) == [1, 2, 4, 8]


def test_entropy_and_js_similarity_hand_cases():
    assert entropy(Counter()) == 0.0
    assert entropy(Counter(a=3)) == 0.0
    assert entropy(Counter(a=1, b=1)) == pytest.approx(1.0)
    assert js_similarity(Counter(a=2, b=1), Counter(a=4, b=2)) == pytest.approx(1.0)
    assert js_similarity(Counter(a=1), Counter(b=1)) == pytest.approx(0.0)
    assert js_similarity(Counter(), Counter()) == 1.0
    assert js_similarity(Counter(), Counter(a=1)) == 0.0
    # p = (1, 0), q = (1/2, 1/2), m = (3/4, 1/4)
    kl_pm = math.log2(1 / 0.75)
    kl_qm = 0.5 * math.log2(0.5 / 0.75) + 0.5 * math.log2(0.5 / 0.25)
    expected = 1 - 0.5 * (kl_pm + kl_qm)
    assert js_similarity(Counter(a=1), Counter(a=1, b=1)) == pytest.approx(expected)
    assert js_similarity(Counter(a=1, b=1), Counter(a=1)) == pytest.approx(expected)  # symmetric


def _row(task: str, success: bool, calls: list[tuple[str, bool]], tokens: int = 0) -> dict:
    return {
        "task_id": task,
        "success": success,
        "reward": float(success),
        "tool_calls": [{"name": n, "known": True, "valid": v, "turn": 1} for n, v in calls],
        "invalid_calls": sum(not v for _, v in calls),
        "generated_tokens": tokens,
        "wall_s": 0.5,
    }


def test_slot_metrics_aggregate_by_task():
    rows = [
        _row("t1", True, [("add", True), ("add", True)], 10),
        _row("t1", False, [("mul", False)], 6),
        _row("t2", False, [], 4),
        _row("t2", False, [("add", True)], 4),
    ]
    m = slot_metrics(rows, Counter(add=3), samples=2)
    assert m["n_tasks"] == 2 and m["n_episodes"] == 4
    assert m["success"] == 0.25
    assert m["pass_at_k"] == {"1": 0.25, "2": 0.5}  # t1: 1 of 2 -> pass@2 = 1; t2: 0
    assert m["pass_hat_k"] == {"1": 0.25, "2": 0.0}
    assert m["tool_calls_per_task"] == 1.0
    assert m["unique_tools_per_task"] == 0.75
    assert m["invalid_call_rate"] == 0.25
    assert m["tool_entropy"] == pytest.approx(entropy(Counter(add=3, mul=1)))
    assert m["js_similarity"] == pytest.approx(js_similarity(Counter(add=3, mul=1), Counter(add=3)))
    assert (m["tokens_generated"], m["tokens_per_episode"], m["wall_s"]) == (24, 6.0, 2.0)

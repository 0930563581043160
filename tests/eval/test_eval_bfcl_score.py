"""BFCL's aggregation (mentor_agents.eval.bfcl) and the per-axis / per-category breakdowns of a results file."""

from __future__ import annotations

import pytest
from eval_helpers import evaluate

from mentor_agents.eval.bfcl import IRRELEVANCE, LIVE_AST, NON_LIVE_AST, ast_at_k, bfcl_report, summaries
from mentor_agents.eval.metrics import breakdown, pass_at_k, pass_hat_k


def _rows(category: str, right: int, wrong: int) -> list[dict]:
    return [{"task_id": f"{category}-{i}", "success": i < right} for i in range(right + wrong)]


def _report(results: dict[str, tuple[int, int]], population: dict[str, int]) -> dict:
    rows = [row for name, (right, wrong) in results.items() for row in _rows(name, right, wrong)]
    categories = {row["task_id"]: row["task_id"].rsplit("-", 1)[0] for row in rows}
    return bfcl_report(rows, categories, population)


def test_non_live_is_unweighted_live_is_weighted_by_category_size_and_irrelevance_stays_apart():
    results = {name: (1, 1) for name in NON_LIVE_AST}  # 50% each ...
    results["simple"] = (3, 1)  # ... but simple 75%: unweighted mean 56.25% whatever the counts
    results |= {
        "live_simple": (1, 0),
        "live_multiple": (0, 1),
        "live_parallel": (1, 0),
        "live_parallel_multiple": (1, 0),
    }
    results |= {"irrelevance": (1, 0), "live_irrelevance": (0, 1)}
    population = {"live_simple": 230, "live_multiple": 945, "live_parallel": 14, "live_parallel_multiple": 21}
    summary = _report(results, population)["summary"]
    assert summary["non_live"] == pytest.approx((0.75 + 0.5 + 0.5 + 0.5) / 4)
    # weighted by the split's category sizes, not by the 1 task sampled from each
    assert summary["live"] == pytest.approx((230 + 14 + 21) / (230 + 945 + 14 + 21))
    assert summary["irrelevance"] == pytest.approx(0.5)
    assert summary["ast"] == pytest.approx((summary["non_live"] + summary["live"]) / 2)
    assert summary["relevance"] is None


def test_an_agent_that_never_calls_scores_only_on_irrelevance():
    results = {name: (0, 5) for name in (*NON_LIVE_AST, *LIVE_AST)} | {name: (5, 0) for name in IRRELEVANCE}
    summary = _report(results, {})["summary"]
    assert summary == {"ast": 0.0, "non_live": 0.0, "live": 0.0, "irrelevance": 1.0, "relevance": None}


def test_a_summary_with_a_category_not_evaluated_is_not_available():
    results = {name: (1, 0) for name in NON_LIVE_AST if name != "parallel"} | {"irrelevance": (1, 0)}
    summary = summaries(_report(results, {})["categories"])
    assert summary["non_live"] is None and summary["ast"] is None and summary["irrelevance"] is None


def test_breakdown_by_axis_and_template():
    rows = [
        {"task_id": "a", "success": True},
        {"task_id": "b", "success": False},
        {"task_id": "c", "success": True},
        {"task_id": "c", "success": False},
    ]
    features = {
        "a": {"domain": "calculator", "axis": "magnitude", "template": "add", "category": None},
        "b": {"domain": "calculator", "axis": "magnitude", "template": "mul", "category": None},
        "c": {"domain": "calculator", "axis": "unseen_tool", "template": "gcd", "category": None},
    }
    out = breakdown(rows, features)
    assert set(out) == {"axis", "template"}  # one domain only: no domain breakdown
    assert out["axis"]["magnitude"] == {"n_tasks": 2, "n_episodes": 2, "success": 0.5}
    assert out["axis"]["unseen_tool"] == {"n_tasks": 1, "n_episodes": 2, "success": 0.5}
    assert out["template"]["add"]["success"] == 1.0


def test_no_tool_and_oracle_on_bfcl_per_category(tmp_path):
    """The headline of a BFCL slot is BFCL's AST summary: the no-tool agent gets 0 there, all of its
    micro-averaged success comes from irrelevance detection."""
    kwargs = {"envs": ["tooluse/BFCL-v0"], "splits": ["test_ood"], "episodes": 30}
    no_tool = evaluate(tmp_path / "n.json", "no-tool", **kwargs)["results"][0]
    oracle = evaluate(tmp_path / "o.json", "oracle", **kwargs)["results"][0]
    assert no_tool["headline"]["name"] == "bfcl_ast" and no_tool["headline"]["value"] == 0.0
    assert no_tool["metrics"]["success"] > 0.2  # what a plain micro-average would have reported
    assert no_tool["bfcl"]["summary"]["irrelevance"] == 1.0
    for name, category in no_tool["bfcl"]["categories"].items():
        assert category["accuracy"] == (1.0 if name in IRRELEVANCE else 0.0), name
    assert oracle["headline"]["value"] == 1.0
    assert all(c["accuracy"] == 1.0 for c in oracle["bfcl"]["categories"].values())
    assert no_tool["breakdown"]["category"].keys() == no_tool["bfcl"]["categories"].keys()


def test_pass_at_k_is_aggregated_like_accuracy():
    """Two samples per task, one right: pass@2 = 1 and pass^2 = 0 in every AST category; irrelevance
    (all right) does not enter the AST summary."""
    rows, categories = [], {}
    for name in (*NON_LIVE_AST, *LIVE_AST, *IRRELEVANCE):
        task = f"{name}-0"
        categories[task] = name
        right = (True, True) if name in IRRELEVANCE else (True, False)
        rows += [{"task_id": task, "success": ok} for ok in right]
    assert ast_at_k(rows, categories, {}, pass_at_k, [1, 2]) == {"1": 0.5, "2": 1.0}
    assert ast_at_k(rows, categories, {}, pass_hat_k, [1, 2]) == {"1": 0.5, "2": 0.0}


def test_the_no_tool_agent_has_no_bfcl_pass_at_k_either(tmp_path):
    kwargs = {"envs": ["tooluse/BFCL-v0"], "splits": ["test_ood"], "episodes": 10, "samples": 2}
    slot = evaluate(tmp_path / "n.json", "no-tool", **kwargs)["results"][0]
    assert slot["metrics"]["pass_at_k"]["2"] > 0  # the micro-average counts the irrelevance tasks
    assert slot["headline"]["pass_at_k"] == {"1": 0.0, "2": 0.0}


def test_a_blend_names_each_domains_axis_apart():
    rows = [{"task_id": "a", "success": True}, {"task_id": "b", "success": False}]
    features = {
        "a": {"domain": "calculator", "axis": "magnitude", "template": "add", "category": None},
        "b": {"domain": "sql", "axis": "magnitude", "template": "join", "category": None},
    }
    out = breakdown(rows, features)
    assert set(out["axis"]) == {"calculator/magnitude", "sql/magnitude"} and set(out["domain"]) == {"calculator", "sql"}

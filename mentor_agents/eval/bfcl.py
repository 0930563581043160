"""BFCL scores the way BFCL reports them: per category, then BFCL's own summaries.

A micro-average over every BFCL episode is gamed by an agent that never calls anything: irrelevance
tasks (correct = no call) are about a quarter of the single-turn data. BFCL never reports that
number. Its leaderboard (``bfcl_eval/eval_checker/eval_runner_helper.py``, ``generate_leaderboard_csv``
with ``calculate_unweighted_accuracy`` / ``calculate_weighted_accuracy``, bfcl-eval 2026.3.23)
reports, for the single-turn categories this suite has:

* **Non-live (AST)**: the *unweighted* mean of simple, multiple, parallel and parallel_multiple
  (BFCL's ``simple`` is itself the mean of Python, Java and JavaScript; the domain has Python only,
  so here ``simple`` is ``simple_python``).
* **Live (AST)**: the mean of live_simple, live_multiple, live_parallel and live_parallel_multiple
  *weighted by each category's number of entries* (the whole category's, not the sample's, so a
  stratified sample estimates the same quantity).
* **Irrelevance detection**: the unweighted mean of irrelevance and live_irrelevance; never folded
  into the AST summaries.
* **Relevance detection**: BFCL's live_relevance; not part of this domain (its entries have no
  possible answer to build a teacher reference from), so always ``None``.

A summary is ``None`` when one of its categories was not evaluated (BFCL displays "N/A" then).
BFCL's overall score also weighs multi-turn and agentic sections this suite does not have, so it is
not reproduced; the headline here, ``ast``, is the mean of the non-live and live summaries (equal
weights, as in BFCL's overall), with irrelevance reported beside it, not inside it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

NON_LIVE_AST = ("simple", "multiple", "parallel", "parallel_multiple")
LIVE_AST = ("live_simple", "live_multiple", "live_parallel", "live_parallel_multiple")
IRRELEVANCE = ("irrelevance", "live_irrelevance")
SUMMARIES = ("ast", "non_live", "live", "irrelevance", "relevance")
"""The summary keys, headline first."""


def category_accuracy(
    episodes: Iterable[Mapping[str, Any]], categories: Mapping[str, str], population: Mapping[str, int]
) -> dict[str, dict[str, Any]]:
    """Per category: accuracy (mean success over its episodes), tasks evaluated, entries in the split.

    ``categories`` maps a task id to its category; ``population`` a category to its size in the split.
    """
    results: dict[str, list[bool]] = defaultdict(list)
    tasks: dict[str, set[str]] = defaultdict(set)
    for episode in episodes:
        name = categories[episode["task_id"]]
        results[name].append(bool(episode["success"]))
        tasks[name].add(episode["task_id"])
    return {
        name: {
            "accuracy": sum(results[name]) / len(results[name]),
            "n_tasks": len(tasks[name]),
            "population": int(population.get(name, len(tasks[name]))),
        }
        for name in sorted(results)
    }


def _unweighted(per_category: Mapping[str, Mapping[str, Any]], names: Sequence[str]) -> float | None:
    if any(name not in per_category for name in names):
        return None
    return sum(per_category[name]["accuracy"] for name in names) / len(names)


def _weighted(per_category: Mapping[str, Mapping[str, Any]], names: Sequence[str]) -> float | None:
    if any(name not in per_category for name in names):
        return None
    total = sum(per_category[name]["population"] for name in names)
    return sum(per_category[name]["accuracy"] * per_category[name]["population"] for name in names) / total


def summaries(per_category: Mapping[str, Mapping[str, Any]]) -> dict[str, float | None]:
    """BFCL's summary scores from per-category results (see the module docstring)."""
    non_live = _unweighted(per_category, NON_LIVE_AST)
    live = _weighted(per_category, LIVE_AST)
    return {
        "ast": None if non_live is None or live is None else (non_live + live) / 2,
        "non_live": non_live,
        "live": live,
        "irrelevance": _unweighted(per_category, IRRELEVANCE),
        "relevance": None,
    }


def bfcl_report(
    episodes: Iterable[Mapping[str, Any]], categories: Mapping[str, str], population: Mapping[str, int]
) -> dict[str, Any]:
    """Per-category accuracy and BFCL's summaries for one env x split."""
    per_category = category_accuracy(episodes, categories, population)
    return {"categories": per_category, "summary": summaries(per_category)}


def ast_at_k(
    episodes: Iterable[Mapping[str, Any]],
    categories: Mapping[str, str],
    population: Mapping[str, int],
    per_task: Any,
    ks: Sequence[int],
) -> dict[str, float | None]:
    """BFCL's AST summary of a per-task statistic (pass@k or pass^k): ``{k: value}``.

    ``per_task(n, c, k)`` scores one task from its n samples with c successes; each category's value is
    its mean over tasks, combined like accuracy in ``summaries``.
    """
    outcomes: dict[str, list[bool]] = defaultdict(list)
    for episode in episodes:
        outcomes[episode["task_id"]].append(bool(episode["success"]))
    out: dict[str, float | None] = {}
    for k in ks:
        values: dict[str, list[float]] = defaultdict(list)
        for task_id, results in outcomes.items():
            if len(results) >= k:
                values[categories[task_id]].append(per_task(len(results), sum(results), k))
        per_category = {
            name: {"accuracy": sum(v) / len(v), "population": int(population.get(name, len(v)))}
            for name, v in values.items()
        }
        out[str(k)] = summaries(per_category)["ast"]
    return out

"""Evaluation metrics: pass@k, pass^k and MENTOR's "strategic competence" measures.

Everything here is a pure function of per-episode records (dicts as written to the episodes JSONL),
so the local and the Ray evaluation, and a resumed one, compute identical numbers from the same
episodes whatever order they finished in.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k (Chen et al. 2021): P(at least one of k samples drawn from n succeeds).

    ``1 - C(n-c, k) / C(n, k)``, computed as a running product so that large ``n`` does not overflow.
    """
    _check(n, c, k)
    if n - c < k:
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


def pass_hat_k(n: int, c: int, k: int) -> float:
    """Unbiased pass^k (tau-bench): P(all k samples drawn from n succeed) = ``C(c, k) / C(n, k)``."""
    _check(n, c, k)
    if c < k:
        return 0.0
    return math.comb(c, k) / math.comb(n, k)


def _check(n: int, c: int, k: int) -> None:
    if not (0 <= c <= n and 1 <= k <= n):
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")


def k_values(n: int) -> list[int]:
    """The k reported for n samples: 1, powers of two below n, and n itself."""
    ks, k = {1, n}, 2
    while k < n:
        ks.add(k)
        k *= 2
    return sorted(ks)


def entropy(counts: Counter[str]) -> float:
    """Shannon entropy (bits) of the distribution the counts describe (0 for no counts)."""
    total = sum(counts.values())
    if total == 0:
        return 0.0
    return 0.0 - sum(v / total * math.log2(v / total) for _, v in sorted(counts.items()) if v > 0)  # never -0.0


def js_similarity(p: Counter[str], q: Counter[str]) -> float:
    """1 - Jensen-Shannon divergence (base 2, so in [0, 1]) between two count distributions.

    Two empty distributions (neither side called a tool) are identical: 1. One empty side: 0, the
    student's strategy has nothing in common with the teacher's.
    """
    tp, tq = sum(p.values()), sum(q.values())
    if tp == 0 and tq == 0:
        return 1.0
    if tp == 0 or tq == 0:
        return 0.0
    jsd = 0.0
    for name in sorted(set(p) | set(q)):  # fixed order: identical floats in every process
        a, b = p.get(name, 0) / tp, q.get(name, 0) / tq
        m = (a + b) / 2
        if a > 0:
            jsd += 0.5 * a * math.log2(a / m)
        if b > 0:
            jsd += 0.5 * b * math.log2(b / m)
    return max(0.0, min(1.0, 1.0 - jsd))


def tool_names(episode: dict[str, Any]) -> list[str]:
    """Names of the task's tools the episode called (unknown names and unparsable calls left out)."""
    return [c["name"] for c in episode["tool_calls"] if c.get("known") and c.get("name")]


def slot_metrics(episodes: Sequence[dict[str, Any]], teacher: Counter[str], samples: int) -> dict[str, Any]:
    """Aggregate one env x split: success, pass@k / pass^k per k, reward, tool use, tokens, time.

    ``teacher`` counts the reference tool names of the same tasks (each task once), the distribution
    the student's is compared with.
    """
    by_task: dict[str, list[bool]] = defaultdict(list)
    for ep in episodes:
        by_task[ep["task_id"]].append(bool(ep["success"]))
    n_eps = len(episodes)
    calls = [len(ep["tool_calls"]) for ep in episodes]
    student = Counter(name for ep in episodes for name in tool_names(ep))
    invalid = sum(ep["invalid_calls"] for ep in episodes)
    out: dict[str, Any] = {
        "n_tasks": len(by_task),
        "n_episodes": n_eps,
        "success": _mean(float(ep["success"]) for ep in episodes),
        "pass_at_k": _over_tasks(by_task, samples, pass_at_k),
        "pass_hat_k": _over_tasks(by_task, samples, pass_hat_k),
        "reward_mean": _mean(ep["reward"] for ep in episodes),
        "tool_calls_per_task": _mean(calls),
        "unique_tools_per_task": _mean(len(set(tool_names(ep))) for ep in episodes),
        "invalid_call_rate": invalid / sum(calls) if sum(calls) else 0.0,
        "tool_entropy": entropy(student),
        "teacher_tool_entropy": entropy(teacher),
        "js_similarity": js_similarity(student, teacher),
        "tokens_generated": int(sum(ep["generated_tokens"] for ep in episodes)),
        "tokens_per_episode": _mean(ep["generated_tokens"] for ep in episodes),
        "wall_s": float(sum(ep["wall_s"] for ep in episodes)),
    }
    return out


def _over_tasks(by_task: dict[str, list[bool]], samples: int, fn: Any) -> dict[str, float]:
    """Mean over tasks of ``fn(n, c, k)`` for each reported k (tasks with fewer samples are skipped)."""
    out = {}
    for k in k_values(samples):
        values = [fn(len(v), sum(v), k) for v in by_task.values() if len(v) >= k]
        out[str(k)] = _mean(values)
    return out


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return float(sum(values) / len(values)) if values else 0.0


BREAKDOWNS = ("domain", "axis", "template", "category")
"""Task features a slot's success is broken down by (a kind appears only where some task has it)."""


def task_features(task: Any) -> dict[str, str | None]:
    """The features of ``task`` that ``breakdown`` groups by: domain, OOD axis, template, BFCL category."""
    category = next((tag.split(":", 1)[1] for tag in task.tags if tag.startswith("category:")), None)
    return {"domain": task.domain, "axis": task.axis, "template": task.template or None, "category": category}


def breakdown(episodes: Sequence[dict[str, Any]], features: dict[str, dict[str, str | None]]) -> dict[str, Any]:
    """Success per value of each feature kind: ``{kind: {value: {n_tasks, n_episodes, success}}}``.

    ``features`` maps a task id to ``task_features`` of its task. A kind with one value only (the
    domain of a single-domain slot) or none is left out: it would repeat the slot's own numbers. In a
    blend (Mixed) axes and templates are named ``<domain>/<value>``: two domains' ``magnitude`` axes
    are different changes.
    """
    out: dict[str, Any] = {}
    blend = len({features[ep["task_id"]]["domain"] for ep in episodes}) > 1
    for kind in BREAKDOWNS:
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for ep in episodes:
            value = features[ep["task_id"]].get(kind)
            if value is not None and blend and kind in ("axis", "template"):
                value = f"{features[ep['task_id']]['domain']}/{value}"
            if value is not None:
                groups[value].append(ep)
        if len(groups) < 2 and not (groups and kind in ("axis", "category")):
            continue
        out[kind] = {
            value: {
                "n_tasks": len({ep["task_id"] for ep in rows}),
                "n_episodes": len(rows),
                "success": _mean(float(ep["success"]) for ep in rows),
            }
            for value, rows in sorted(groups.items())
        }
    return out

"""Per-step metrics as JSON lines, summaries of a batch of trajectories, and an optional PNG plot."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mentor_agents.rollout import Trajectory


def rollout_metrics(trajs: Sequence[Trajectory]) -> dict[str, float]:
    """Reward mean/std, each reward component, success, tool calls, invalid-call rate, tokens."""
    rewards = [t.reward for t in trajs]
    calls = [len(t.episode.get("tool_calls", [])) for t in trajs]
    invalid = sum(t.episode.get("invalid_calls", 0) for t in trajs)
    out = {
        "reward_mean": statistics.fmean(rewards),
        "reward_std": statistics.pstdev(rewards),
        "success": statistics.fmean(float(t.episode.get("success", False)) for t in trajs),
        "tool_calls": statistics.fmean(calls),
        "invalid_call_rate": invalid / max(1, sum(calls)),
        "ended_with_eos": statistics.fmean(float(t.episode.get("ended_with_eos", False)) for t in trajs),
        "generated_tokens": float(sum(t.generated_tokens for t in trajs)),
        "tokens": float(sum(len(t.token_ids) for t in trajs)),
    }
    for name in sorted({k for t in trajs for k in t.reward_components}):
        out[f"reward/{name}"] = statistics.fmean(t.reward_components.get(name, 0.0) for t in trajs)
    return out


class MetricsLog:
    """Appends one JSON object per step to ``<out>/metrics.jsonl``; on resume, drops steps past the
    checkpoint so the file matches an uninterrupted run."""

    def __init__(self, out_dir: str | Path, resume_step: int = 0) -> None:
        self.path = Path(out_dir) / "metrics.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        rows = read_metrics(self.path) if self.path.is_file() else []
        kept = [r for r in rows if r.get("step", 0) <= resume_step]
        self.path.write_text("".join(json.dumps(r) + "\n" for r in kept))

    def write(self, row: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def plot_metrics(path: str | Path, keys: Sequence[str] = ("loss", "reward_mean", "success")) -> Path | None:
    """A PNG next to the JSONL; returns None when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    rows = read_metrics(path)
    keys = [k for k in keys if any(k in r for r in rows)]
    fig, axes = plt.subplots(len(keys), 1, figsize=(6, 2.2 * max(1, len(keys))), squeeze=False)
    for ax, key in zip(axes[:, 0], keys, strict=False):
        points = [(r["step"], r[key]) for r in rows if key in r]
        ax.plot([p[0] for p in points], [p[1] for p in points])
        ax.set_ylabel(key)
    axes[-1, 0].set_xlabel("step")
    png = Path(path).with_suffix(".png")
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
    return png

"""Per-step metrics as JSON lines, summaries of a batch of trajectories, and optional PNG plots.

Plots (the ``[plot]`` extra, imported only when drawing): integer step ticks, the run name and phase in
the title, raw points faint under a smoothed curve, so a noisy RL reward still shows its trend;
``metrics.png`` per phase and ``metrics_combined.png`` for the whole run (``train.run``).
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mentor_agents.rollout import Trajectory

PLOT_KEYS = ("loss", "reward_mean", "success", "val/success")
"""Metrics plotted when logged (a phase without one, SFT's reward say, gets no panel for it)."""

COMBINED_PNG = "metrics_combined.png"
"""The whole run's plot, in the run directory."""


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


def smooth(values: Sequence[float], weight: float = 0.8) -> list[float]:
    """Debiased exponential moving average (as TensorBoard's smoothing): the trend of a noisy per-step
    curve, with the first points not pulled toward zero."""
    out, level = [], 0.0
    for i, value in enumerate(values, start=1):
        level = weight * level + (1 - weight) * value
        out.append(level / (1 - weight**i))
    return out


def _series(rows: Sequence[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    """(steps, values) of ``key`` over the rows that have a finite number for it."""
    points = [
        (int(r["step"]), float(r[key]))
        for r in rows
        if isinstance(r.get(key), int | float) and math.isfinite(r[key]) and "step" in r
    ]
    return [p[0] for p in points], [p[1] for p in points]


def _pyplot() -> Any | None:
    """matplotlib's pyplot on the file-only Agg backend, or None without the ``[plot]`` extra."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _draw(ax: Any, steps: Sequence[int], values: Sequence[float], label: bool) -> None:
    """Raw points faint, the smoothed curve over them, integer step ticks."""
    from matplotlib.ticker import MaxNLocator

    ax.plot(steps, values, "o", color="C0", alpha=0.25, markersize=3, label="raw" if label else None)
    ax.plot(steps, smooth(values), "-", color="C0", linewidth=1.6, label="smoothed (EMA 0.8)" if label else None)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.2)


def _title(run_name: str | None, phase: str | None) -> str:
    return " - ".join(part for part in (run_name, phase) if part) or "training metrics"


def plot_metrics(
    path: str | Path,
    keys: Sequence[str] = ("loss", "reward_mean", "success"),
    run_name: str | None = None,
    phase: str | None = None,
) -> Path | None:
    """``metrics.png`` next to the JSONL: one panel per key present, titled with the run and phase.

    Returns None when matplotlib is not installed (the ``[plot]`` extra) or no key was logged.
    """
    plt = _pyplot()
    if plt is None:
        return None
    rows = read_metrics(path)
    series = {key: _series(rows, key) for key in keys}
    series = {key: points for key, points in series.items() if points[0]}
    if not series:
        return None
    fig, axes = plt.subplots(len(series), 1, figsize=(6.4, 1.2 + 2.2 * len(series)), squeeze=False, sharex=True)
    for i, (ax, (key, (steps, values))) in enumerate(zip(axes[:, 0], series.items(), strict=True)):
        _draw(ax, steps, values, label=i == 0)
        ax.set_ylabel(key)
    axes[0, 0].legend(loc="best", fontsize="small")
    axes[-1, 0].set_xlabel("step")
    fig.suptitle(_title(run_name, phase))
    png = Path(path).with_suffix(".png")
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
    return png


def plot_run(
    phases: Sequence[tuple[str, str | Path]],
    png: str | Path,
    run_name: str | None = None,
    keys: Sequence[str] = PLOT_KEYS,
) -> Path | None:
    """One PNG of the whole run: a row per metric, a column per phase (each on its own step axis).

    ``phases`` is ``(name, metrics.jsonl path)`` in the order they ran; returns None without matplotlib
    or when no phase logged any of ``keys``.
    """
    plt = _pyplot()
    if plt is None:
        return None
    data = {name: read_metrics(path) for name, path in phases if Path(path).is_file()}
    series = {(name, key): _series(rows, key) for name, rows in data.items() for key in keys}
    used = [key for key in keys if any(series[(name, key)][0] for name in data)]
    if not used:
        return None
    names = list(data)
    fig, axes = plt.subplots(len(used), len(names), figsize=(4.8 * len(names), 1.2 + 2.2 * len(used)), squeeze=False)
    for row, key in enumerate(used):
        for col, name in enumerate(names):
            ax = axes[row, col]
            steps, values = series[(name, key)]
            if not steps:
                ax.set_axis_off()
                continue
            first = not any(series[(name, k)][0] for k in used[:row])  # the column's top panel
            _draw(ax, steps, values, label=first)
            ax.set_ylabel(key)
            ax.set_title(name, fontsize="medium")
            ax.set_xlabel("step")
            if first:
                ax.legend(loc="best", fontsize="x-small")
    fig.suptitle(_title(run_name, " + ".join(names)))
    png = Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
    return png

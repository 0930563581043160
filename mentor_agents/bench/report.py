"""The grid's results: ``bench.json`` (schema-validated), ``bench.md``, ``bench.html`` and two PNGs.

Everything is rebuilt from the cells' files (``eval.json``, ``metrics.jsonl``, ``trained.json``), so a
report can be made at any point of a grid (``mentor bench --report-only``): unfinished cells are listed
with their status and left out of the statistics. Per method x slot the report gives the mean over
seeds with a Student-t 95% CI; per slot the paired difference (same seed) of every method against
``sft`` and against ``sparse``; the strategic metrics (tool calls per task, invalid-call rate, JS
similarity of the tool distribution to the teacher's); learning curves (GRPO reward per step, mean
over seeds); and the paper's similarity-vs-success scatter (``eval.leaderboard.plot_similarity``).
"""

from __future__ import annotations

import html
import json
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mentor_agents.bench.eta import time_left
from mentor_agents.bench.grid import BASELINES, Cell, Grid, evaluated_twin
from mentor_agents.bench.stats import LEVEL, Summary, mean_ci, paired_difference, sign_test, summarize
from mentor_agents.train.config import NOT_COMPARED

SCHEMA_VERSION = "1"
SCHEMA_PATH = Path(__file__).parent / "bench.schema.json"
MEAN_SLOT = "Mean"
"""The pseudo-slot of each cell's mean over its slots (as the leaderboard's "Mean score")."""

METRICS: dict[str, tuple[str, str]] = {
    "score": ("Score", "pct"),
    "success": ("Success", "pct"),
    "reward_mean": ("Reward", "num3"),
    "tool_calls_per_task": ("Calls/task", "num2"),
    "invalid_call_rate": ("Invalid calls", "pct"),
    "js_similarity": ("JS sim. to teacher", "num3"),
}
"""Metric key -> (title, format). ``score`` is each slot's headline: success, BFCL's AST summary on BFCL."""
STRATEGIC = ("tool_calls_per_task", "invalid_call_rate", "js_similarity")
DIFF_BASELINES = ("sft", "sparse", "mentor")
"""Methods others are compared with, seed by seed: ``sft`` and ``sparse`` by every method, ``mentor`` by its
ablations (``mentor_no_match``, ``mentor_partial``, ``mentor_f1``: what removing or changing a term costs)."""


def compared(baseline: str, method: str) -> bool:
    """Whether the report pairs ``method`` with ``baseline`` (see :data:`DIFF_BASELINES`)."""
    if method == baseline:
        return False
    return method.startswith("mentor_") if baseline == "mentor" else True


# --- reading the cells ------------------------------------------------------------------------------------


def slot_values(doc: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """``{slot label: {metric: value}}`` of one ``eval.json``, plus the :data:`MEAN_SLOT` over its slots."""
    out: dict[str, dict[str, float | None]] = {}
    for slot in doc["results"]:
        values: dict[str, float | None] = {"score": slot["headline"]["value"]}
        values |= {key: slot["metrics"][key] for key in METRICS if key != "score"}
        out[slot["label"]] = values
    mean: dict[str, float | None] = {}
    for key in METRICS:
        present = [value for v in out.values() if (value := v[key]) is not None]
        mean[key] = statistics.fmean(present) if present else None
    out[MEAN_SLOT] = mean
    return out


def _read_json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _metrics_rows(cell: Cell) -> list[dict[str, Any]]:
    path = cell.path / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _rel(path: Path, out: Path) -> str:
    try:
        return str(path.relative_to(out))
    except ValueError:
        return str(path)


def cell_entry(grid: Grid, cell: Cell, out: Path) -> dict[str, Any]:
    """What ``bench.json`` says of one cell: where its files are, its status, its compute."""
    status = cell.status()
    marker = _read_json(cell.train_record)
    results = _read_json(cell.eval_path) if status == "done" else None
    init = grid.init_of(cell)
    entry: dict[str, Any] = {
        "method": cell.method,
        "seed": cell.seed,
        "path": _rel(cell.path, out),
        "status": status,
        "init": _rel(init, out) if init is not None else f"preset:{grid.preset}",
        "final_model": _rel(cell.final_model, out) if (cell.final_model / "config.json").is_file() else None,
        "eval": _rel(cell.eval_path, out) if results is not None else None,
        "train_wall_s": marker.get("wall_s") if marker else None,
        "eval_wall_s": results["execution"]["wall_s"] if results else None,
        "train_steps": None,
        "generated_tokens": None,
    }
    rows = [r for r in _metrics_rows(cell) if r.get("step", 0) > 0]
    if rows and marker is not None:
        entry["train_steps"] = max(r["step"] for r in rows)
        if cell.method not in BASELINES:
            entry["generated_tokens"] = int(sum(r.get("generated_tokens", 0) for r in rows))
    return entry


@dataclass
class Table:
    """Per method x slot x metric: value by seed (the finished cells only)."""

    slots: list[str] = field(default_factory=list)
    values: dict[str, dict[str, dict[str, dict[int, float | None]]]] = field(default_factory=dict)

    def of(self, method: str, slot: str, metric: str) -> dict[int, float | None]:
        return self.values.get(method, {}).get(slot, {}).get(metric, {})


def read_table(grid: Grid, out: Path) -> Table:
    table = Table()
    for cell in grid.cells(out):
        if not cell.evaluated():
            continue
        for slot, values in slot_values(json.loads(cell.eval_path.read_text())).items():
            if slot != MEAN_SLOT and slot not in table.slots:
                table.slots.append(slot)
            for metric, value in values.items():
                by_seed = table.values.setdefault(cell.method, {}).setdefault(slot, {}).setdefault(metric, {})
                by_seed[cell.seed] = value
    table.slots.append(MEAN_SLOT)
    return table


def task_outcomes(cell: Cell) -> dict[str, dict[str, float]]:
    """``{slot label: {task id: success}}`` of one evaluated cell, from its episodes file; a task played
    with several samples counts once, with its mean success (its samples are not independent tasks)."""
    doc = json.loads(cell.eval_path.read_text())
    labels = {(slot["env_id"], slot["split"]): slot["label"] for slot in doc["results"]}
    episodes = cell.eval_path.with_name(Path(doc["episodes_file"]).name) if doc.get("episodes_file") else None
    samples: dict[str, dict[str, list[float]]] = {label: {} for label in labels.values()}
    if episodes is not None and episodes.is_file():
        for line in episodes.read_text().splitlines():
            row = json.loads(line) if line.strip() else {}
            label = labels.get((row.get("env_id"), row.get("split")))
            if label is not None and "task_id" in row:
                samples[label].setdefault(row["task_id"], []).append(float(bool(row["success"])))
    return {label: {task: statistics.fmean(v) for task, v in tasks.items()} for label, tasks in samples.items()}


def _task_paired(mine: dict[str, dict[str, float]], theirs: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    """Per slot of ``mine`` (and :data:`MEAN_SLOT`, pooling every slot's tasks): the mean per-task difference
    in success on the tasks both played, its t CI over tasks, the tasks only one of the two solved and the
    exact sign-test p of those counts."""
    records = []
    pooled: list[tuple[float, float]] = []
    for slot in [*mine, MEAN_SLOT]:
        if slot == MEAN_SLOT:
            pairs = pooled
        else:
            keys = sorted(mine[slot].keys() & theirs.get(slot, {}).keys())
            pairs = [(mine[slot][k], theirs[slot][k]) for k in keys]
            pooled += pairs
        if not pairs:
            continue
        summary = mean_ci([a - b for a, b in pairs])
        record = {k: v for k, v in _record(summary).items() if k not in ("seeds", "values")}
        wins = sum(a > b for a, b in pairs)
        losses = sum(a < b for a, b in pairs)
        counts = {"wins": wins, "losses": losses, "p_sign": sign_test(wins, losses)}
        records.append({"slot": slot, "metric": "success", **record, **counts})
    return records


Outcomes = dict[tuple[str, int], dict[str, dict[str, float]]]
"""``(method, seed) -> {slot: {task id: success}}`` of every evaluated cell."""


def read_outcomes(grid: Grid, out: Path) -> Outcomes:
    return {(cell.method, cell.seed): task_outcomes(cell) for cell in grid.cells(out) if cell.evaluated()}


def task_differences(grid: Grid, out: Path, outcomes: Outcomes | None = None) -> list[dict[str, Any]]:
    """Per seed, every method against ``sft`` and ``sparse`` (MENTOR's ablations also against ``mentor``;
    :func:`compared`) on the *same tasks*: the mean per-task
    difference in success with its t CI over tasks, and how many tasks only one of the two solved.

    Why: every cell plays the same sampled tasks, so pairing by task removes the tasks' difficulty from
    the comparison. The CI is over tasks only: it says whether these two trained students differ on
    this task distribution, not whether the methods would with another seed (that is the paired
    difference over seeds). With one or two seeds finished it is the sharper of the two questions the
    grid can answer. ``Mean`` pools every slot's tasks. ``outcomes``: :func:`read_outcomes`, if read already.
    """
    outcomes = read_outcomes(grid, out) if outcomes is None else outcomes
    records = []
    for baseline in DIFF_BASELINES:
        for (method, seed), mine in outcomes.items():
            theirs = outcomes.get((baseline, seed))
            if not compared(baseline, method) or theirs is None:
                continue
            head = {"baseline": baseline, "method": method, "seed": seed}
            records += [head | record for record in _task_paired(mine, theirs)]
    return records


def seed_differences(grid: Grid, out: Path, outcomes: Outcomes | None = None) -> list[dict[str, Any]]:
    """Every method against itself trained with another seed, task by task (each later seed minus each
    earlier one), in the records of :func:`task_differences` with ``baseline_seed`` added.

    Why: it is the scale against which the per-seed comparisons are read. If two students of one method,
    differing only in their seed, are as far apart on the same tasks as two methods are within a seed, a
    one-seed ordering of the methods may be the seed's doing. (With ``start="sft"`` an RL cell's seed also
    picks its SFT start, which two methods of one seed share, so for RL methods these differences bound
    the RL run's own noise from above.) A ``base`` whose evaluation is shared by every seed
    (:func:`evaluated_twin`) is one model, and is left out.
    """
    outcomes = read_outcomes(grid, out) if outcomes is None else outcomes
    shared = {(c.method, c.seed) for c in grid.cells(out) if evaluated_twin(grid, c) is not None}
    records = []
    for (method, seed), mine in sorted(outcomes.items()):
        for (other, earlier), theirs in sorted(outcomes.items()):
            if other != method or earlier >= seed or {(method, seed), (other, earlier)} & shared:
                continue
            head = {"baseline": method, "baseline_seed": earlier, "method": method, "seed": seed}
            records += [head | record for record in _task_paired(mine, theirs)]
    return records


def learning_curves(grid: Grid, out: Path) -> list[dict[str, Any]]:
    """GRPO ``reward_mean`` and ``success`` per step of every RL method: each seed, and their mean.

    Each method's reward has its own scale (``mentor`` tops at 1.1, ``toolrl`` spans -3..4), so rewards
    compare steps of one method; training success (share of the step's rollouts answered correctly)
    compares methods.
    """
    curves = []
    for method in grid.methods:
        if method in BASELINES:
            continue
        series: list[dict[str, Any]] = []
        for cell in grid.cells(out):
            if cell.method != method or not cell.trained():
                continue
            rows = [r for r in _metrics_rows(cell) if "reward_mean" in r]
            if rows:
                series.append(
                    {
                        "seed": cell.seed,
                        "step": [r["step"] for r in rows],
                        "reward_mean": [r["reward_mean"] for r in rows],
                        "success": [r.get("success") for r in rows],
                    }
                )
        if not series:
            continue
        steps = sorted({s for one in series for s in one["step"]})
        curve: dict[str, Any] = {"method": method, "step": steps, "reward_mean": [], "success": [], "n_seeds": []}
        for step in steps:
            at = [one["step"].index(step) if step in one["step"] else None for one in series]
            rows_at = [(one, i) for one, i in zip(series, at, strict=True) if i is not None]
            curve["reward_mean"].append(statistics.fmean(one["reward_mean"][i] for one, i in rows_at))
            success = [v for one, i in rows_at if (v := one["success"][i]) is not None]
            curve["success"].append(statistics.fmean(success) if success else None)
            curve["n_seeds"].append(len(rows_at))
        curves.append({**curve, "seeds": series})
    return curves


def equal_compute_checks(grid: Grid, out: Path) -> dict[str, bool | None]:
    """What the cells' own ``config.json`` files say, checked after the fact (None: too few cells to check).

    ``rl_configs_identical``: every trained RL cell's GRPO config equals every other's but for ``reward``
    and ``seed``; ``sft_matches_grid``: every trained sft cell ran the grid's SFT config (its steps
    included, so the examples-seen rule held).
    """
    rl, sft = [], []
    for cell in grid.cells(out):
        config = _read_json(cell.path / "config.json") if cell.trained() else None
        if config is None:
            continue
        if cell.method == "sft":
            sft.append(_comparable(config["sft"], "sft", ("seed",)) == _comparable(grid.sft or {}, "sft", ()))
        elif config.get("grpo") is not None:
            rl.append(json.dumps(_comparable(config["grpo"], "grpo", ("reward", "seed")), sort_keys=True))
    return {
        "rl_configs_identical": len(set(rl)) == 1 if len(rl) > 1 else None,
        "sft_matches_grid": all(sft) if sft else None,
    }


def _comparable(phase: dict[str, Any], prefix: str, skip: tuple[str, ...]) -> dict[str, Any]:
    """A phase config without ``skip`` and the keys that do not change results (checkpointing, Ray)."""
    return {k: v for k, v in phase.items() if k not in skip and f"{prefix}.{k}" not in NOT_COMPARED}


# --- the document ---------------------------------------------------------------------------------------


def _record(summary: Summary, **keys: Any) -> dict[str, Any]:
    return {**keys, **summary.to_dict(), "excludes_zero": summary.excludes_zero}


def build_bench(grid: Grid, out: str | Path) -> dict[str, Any]:
    """The ``bench.json`` document (see ``bench.schema.json``)."""
    from mentor_agents.eval.schema import _version, dependency_versions

    out = Path(out)
    table = read_table(grid, out)
    cells = [cell_entry(grid, cell, out) for cell in grid.cells(out)]
    outcomes = read_outcomes(grid, out)
    aggregates = [
        _record(summarize(table.of(method, slot, metric)), method=method, slot=slot, metric=metric)
        for method in grid.methods
        for slot in table.slots
        for metric in METRICS
        if table.of(method, slot, metric)
    ]
    differences = []
    for baseline in DIFF_BASELINES:
        if baseline not in grid.methods:
            continue
        for method in grid.methods:
            if not compared(baseline, method):
                continue
            for slot in table.slots:
                a, b = table.of(method, slot, "score"), table.of(baseline, slot, "score")
                if a and b:
                    summary = paired_difference(a, b)
                    differences.append(_record(summary, baseline=baseline, method=method, slot=slot, metric="score"))
    return {
        "schema_version": SCHEMA_VERSION,
        "project": {"name": "tooluse-mentor", "version": _version("tooluse-mentor")},
        "versions": dependency_versions(),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "level": LEVEL,
        "config": grid.to_dict(),
        "cells": cells,
        "progress": progress(grid, out, cells),
        "checks": equal_compute_checks(grid, out),
        "slots": table.slots,
        "aggregates": aggregates,
        "differences": differences,
        "task_differences": task_differences(grid, out, outcomes),
        "seed_differences": seed_differences(grid, out, outcomes),
        "curves": learning_curves(grid, out),
    }


def progress(grid: Grid, out: Path, cells: list[dict[str, Any]]) -> dict[str, Any]:
    """Cells done of all, and while some are left, how long they should take (``bench.eta``)."""
    done = {"done": sum(c["status"] == "done" for c in cells), "total": len(cells)}
    if done["done"] < done["total"]:
        estimate = time_left(grid.cells(out), lambda cell: evaluated_twin(grid, cell) is not None)
        done["time_left"] = estimate.describe()
    return done


def validate_bench(doc: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``doc`` matches ``bench.schema.json``."""
    from jsonschema import Draft202012Validator

    Draft202012Validator(json.loads(SCHEMA_PATH.read_text())).validate(doc)


def write_bench(grid: Grid, out: str | Path) -> Path:
    """Build, validate and atomically write ``<out>/bench.json``."""
    doc = build_bench(grid, out)
    validate_bench(doc)
    return _write(Path(out) / "bench.json", json.dumps(doc, indent=1) + "\n")


def _write(path: Path, text: str) -> Path:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path


# --- Markdown and HTML ----------------------------------------------------------------------------------


@dataclass
class Section:
    title: str
    note: str
    head: list[str]
    rows: list[list[str]]


def _value(fmt: str, value: float) -> str:
    if fmt == "pct":
        return f"{value * 100:.1f}%"
    return f"{value:.{3 if fmt == 'num3' else 2}f}"


def _spread(fmt: str, value: float) -> str:
    return f"{value * 100:.1f}" if fmt == "pct" else _value(fmt, value)


def format_summary(record: dict[str, Any] | None, fmt: str, signed: bool = False) -> str:
    """``23.4% ± 5.1`` (mean ± CI half-width; percentage points for rates), ``(n=1)`` without a CI."""
    if record is None or record["n"] == 0:
        return "–"
    mean = record["mean"]
    if signed:
        text = f"{mean * 100:+.1f}" if fmt == "pct" else f"{mean:+.3f}"
    else:
        text = _value(fmt, mean)
    if record["half_width"] is None:
        return f"{text} (n=1)"
    mark = " *" if signed and record["excludes_zero"] else ""
    return f"{text} ± {_spread(fmt, record['half_width'])}{mark}"


def sections(doc: dict[str, Any]) -> list[Section]:
    """The report's tables, shared by the Markdown and the HTML."""
    config, slots = doc["config"], doc["slots"]
    methods = config["methods"]
    agg = {(r["method"], r["slot"], r["metric"]): r for r in doc["aggregates"]}
    diff = {(r["baseline"], r["method"], r["slot"]): r for r in doc["differences"]}
    level = f"{doc['level']:.0%}"
    out = []
    n_seeds = {m: agg[(m, MEAN_SLOT, "score")]["n"] if (m, MEAN_SLOT, "score") in agg else 0 for m in methods}
    out.append(
        Section(
            "Score per slot",
            f"Mean over seeds ± the half-width of its {level} Student-t CI, in percentage points. Score is success "
            "(pass@1, greedy), on BFCL its AST summary; Mean is each cell's mean over its slots.",
            ["Method", *slots, "Seeds"],
            [[m, *(format_summary(agg.get((m, s, "score")), "pct") for s in slots), str(n_seeds[m])] for m in methods],
        )
    )
    for baseline in DIFF_BASELINES:
        if baseline not in methods:
            continue
        rows = [
            [m, *(format_summary(diff.get((baseline, m, s)), "pct", signed=True) for s in slots)]
            for m in methods
            if compared(baseline, m)
        ]
        if not rows:
            continue
        out.append(
            Section(
                f"Paired difference vs {baseline}",
                f"Method − {baseline} in score, seed by seed, mean ± {level} CI half-width (percentage points); "
                "* marks a CI that excludes 0.",
                ["Method", *slots],
                rows,
            )
        )
    out += _task_sections(doc)
    strategic = [*STRATEGIC, "reward_mean"]
    out.append(
        Section(
            "Strategic metrics (mean over slots)",
            f"Mean over seeds ± {level} CI half-width. Invalid calls: share of tool calls that could not run "
            "(unparsable, an unknown tool or arguments failing its schema); JS sim.: 1 − Jensen–Shannon divergence "
            f"of the tool-name distribution to the teacher's; reward: the {config['eval']['reward']} reward.",
            ["Method", *(METRICS[k][0] for k in strategic)],
            [[m, *(format_summary(agg.get((m, MEAN_SLOT, k)), METRICS[k][1]) for k in strategic)] for m in methods],
        )
    )
    for key in STRATEGIC:
        title, fmt = METRICS[key]
        rows = [[m, *(format_summary(agg.get((m, s, key)), fmt) for s in slots)] for m in methods]
        out.append(Section(f"{title} per slot", f"Mean over seeds ± {level} CI half-width.", ["Method", *slots], rows))
    out.append(_compute_section(doc))
    out.append(_cells_section(doc))
    return out


def _shown_task_record(record: dict[str, Any] | None) -> str:
    """``+3.0 ± 4.1 (12/9, p=0.66)``: the mean ± t CI, the tasks only each side solved, the sign-test p."""
    if record is None:
        return "–"
    counts = f"{record['wins']}/{record['losses']}"
    return f"{format_summary(record, 'pct', signed=True)} ({counts}, p={record['p_sign']:.2g})"


def _task_sections(doc: dict[str, Any]) -> list[Section]:
    """One table per baseline: each method's per-seed, task-paired difference in success; then each method
    against its other seeds."""
    records = doc.get("task_differences", [])
    slots, level = doc["slots"], f"{doc['level']:.0%}"
    out = []
    for baseline in DIFF_BASELINES:
        mine = {(r["method"], r["seed"], r["slot"]): r for r in records if r["baseline"] == baseline}
        rows = sorted({(method, seed) for method, seed, _ in mine})
        if not rows:
            continue
        out.append(
            Section(
                f"Same tasks, per seed: vs {baseline}",
                f"Method − {baseline} in success on the tasks both played (every cell plays the same tasks), "
                f"mean ± {level} t CI over tasks, percentage points; in brackets the tasks only the method / only "
                f"{baseline} solved and the exact sign-test p of those counts (trust p over the t CI when they are "
                "few). The CI is over tasks, not seeds: it says whether these two trained students "
                "differ here, not whether another seed would. Success on BFCL is per task, not its AST summary.",
                ["Method", "Seed", *slots],
                [[m, str(seed), *(_shown_task_record(mine.get((m, seed, s))) for s in slots)] for m, seed in rows],
            )
        )
    by_pair = {(r["method"], r["seed"], r["baseline_seed"], r["slot"]): r for r in doc.get("seed_differences", [])}
    pairs = sorted({key[:3] for key in by_pair})
    if pairs:
        out.append(
            Section(
                "Same tasks, same method, another seed",
                "One method's student of a later seed − its student of an earlier seed, task by task, in the format "
                "above: how far two runs of one method land apart when only the seed changes. A difference between "
                "methods within one seed that is no larger than these may be the seed's doing, not the method's. "
                "(An RL cell started from SFT also changes its SFT start with the seed, which the per-seed tables "
                "hold fixed, so for RL methods these rows bound the RL run's own noise from above.)",
                ["Method", "Seeds", *slots],
                [
                    [m, f"{seed} − {earlier}", *(_shown_task_record(by_pair.get((m, seed, earlier, s))) for s in slots)]
                    for m, seed, earlier in pairs
                ],
            )
        )
    return out


def _compute_section(doc: dict[str, Any]) -> Section:
    rows = []
    for method in doc["config"]["methods"]:
        cells = [c for c in doc["cells"] if c["method"] == method]
        steps = sorted({c["train_steps"] for c in cells if c["train_steps"] is not None})
        tokens = [c["generated_tokens"] for c in cells if c["generated_tokens"] is not None]
        walls = [c["train_wall_s"] for c in cells if c["train_wall_s"] is not None]
        rows.append(
            [
                method,
                "/".join(map(str, steps)) or "–",
                f"{statistics.fmean(tokens):,.0f}" if tokens else "–",
                f"{statistics.fmean(walls):.0f}" if walls else "–",
            ]
        )
    return Section(
        "Compute per cell",
        "Steps trained (SFT optimizer steps or GRPO steps), generated tokens during GRPO (mean over seeds: the "
        "cap is the same for every RL cell, the tokens actually sampled are not) and training wall seconds.",
        ["Method", "Steps", "Generated tokens", "Train s"],
        rows,
    )


def _cells_section(doc: dict[str, Any]) -> Section:
    rows = [[c["method"], str(c["seed"]), c["status"], c["final_model"] or "–", c["eval"] or "–"] for c in doc["cells"]]
    return Section(
        "Cells",
        "Every trained student is a loadable model directory: mentor eval --agent hf:<out>/<final_model>.",
        ["Method", "Seed", "Status", "Model", "Results"],
        rows,
    )


def _intro(doc: dict[str, Any]) -> list[str]:
    config, compute = doc["config"], doc["config"]["compute"]
    ev = config["eval"]
    lines = [
        f"Preset `{config['preset']}`, start `{config['start']}`, methods {', '.join(config['methods'])}; "
        f"seeds {', '.join(map(str, config['seeds']))}; trained on `{config['train_env']}`.",
    ]
    if "rl" in compute:
        rl = compute["rl"]
        lines.append(
            f"RL cells (equal compute): {rl['steps']} GRPO steps × {rl['prompts_per_step']} prompts × "
            f"{rl['group_size']} samples = {rl['trajectories']} trajectories, {rl['optimizer_updates']} optimizer "
            f"updates, at most {rl['max_turns']} turns × {rl['max_new_tokens']} tokens each; {rl['rule']}."
        )
    if "sft" in compute:
        sft = compute["sft"]
        note = f" ({sft['note']})" if "note" in sft else ""
        lines.append(
            f"SFT cell: {sft['steps']} steps × {sft['batch_size']} = {sft['examples']} examples; {sft['rule']}{note}."
        )
    episodes = "all" if ev["episodes"] is None else ev["episodes"]
    lines.append(
        f"Evaluation: {', '.join(ev['envs'])}, {episodes} tasks per slot (stratified sample, seed "
        f"{ev['sample_seed']}, the same tasks for every cell), greedy, {ev['max_turns']} turns × "
        f"{ev['max_new_tokens']} tokens."
    )
    done, checks = doc["progress"], doc["checks"]
    left = f" ({done['time_left']})" if "time_left" in done else ""
    lines.append(f"Cells finished: {done['done']} of {done['total']}{left}.")
    shown = {True: "yes", False: "NO", None: "not checkable yet"}
    lines.append(
        "Checked in the cells' config.json: RL configs identical but for reward and seed: "
        f"{shown[checks['rl_configs_identical']]}; sft cells ran the grid's SFT config: "
        f"{shown[checks['sft_matches_grid']]}."
    )
    lines.append(_resolution(doc))
    return lines


def _resolution(doc: dict[str, Any]) -> str:
    """How small a paired difference the grid can tell from zero: the median CI half-width on Mean."""
    with_ci = [r for r in doc["differences"] if r["slot"] == MEAN_SLOT and r["half_width"] is not None]
    if not with_ci:
        return "Resolution: no paired difference has a CI yet (it needs two seeds of both methods)."
    widths = [r["half_width"] for r in with_ci]
    seeds, planned = max(r["n"] for r in with_ci), len(doc["config"]["seeds"])
    so_far = f" (so far: {planned} planned)" if seeds < planned else ""
    return (
        f"Resolution: the paired differences on Mean have a median {doc['level']:.0%} CI half-width of "
        f"{statistics.median(widths) * 100:.1f} points; smaller differences cannot be told from zero with "
        f"{seeds} seeds{so_far}."
    )


def _md_table(section: Section) -> list[str]:
    lines = [f"## {section.title}", "", section.note, ""]
    rule = "|" + "|".join(["---"] + ["---:"] * (len(section.head) - 1)) + "|"
    lines += ["| " + " | ".join(section.head) + " |", rule]
    return lines + ["| " + " | ".join(row) + " |" for row in section.rows] + [""]


def to_markdown(doc: dict[str, Any], images: dict[str, str]) -> str:
    lines = ["# Distillation benchmark", "", *(f"- {line}" for line in _intro(doc)), ""]
    for section in sections(doc):
        lines += _md_table(section)
    for title, name in images.items():
        lines += [f"## {title}", "", f"![{title}]({name})", ""]
    return "\n".join(lines)


_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:90em}
table{border-collapse:collapse;margin-bottom:.5em}th,td{padding:.3em .7em;border-bottom:1px solid #ddd;
text-align:right}th:first-child,td:first-child{text-align:left}th{background:#f4f4f4}
p.note{color:#555;font-size:.9em}img{max-width:48em}"""


def to_html(doc: dict[str, Any], images: dict[str, str]) -> str:
    esc = html.escape
    parts = [
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>Distillation benchmark</title>",
        f"<style>{_STYLE}</style></head><body><h1>Distillation benchmark</h1><ul>",
        *(f"<li>{esc(line).replace('`', '')}</li>" for line in _intro(doc)),
        "</ul>",
    ]
    for section in sections(doc):
        head = "".join(f"<th>{esc(h)}</th>" for h in section.head)
        body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in section.rows)
        parts.append(
            f"<h2>{esc(section.title)}</h2><p class='note'>{esc(section.note)}</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )
    for title, name in images.items():
        parts.append(f"<h2>{esc(title)}</h2><img src='{esc(name)}' alt='{esc(title)}'>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


# --- plots ----------------------------------------------------------------------------------------------


def plot_learning_curves(doc: dict[str, Any], path: Path) -> Path | None:
    """Training success (comparable across methods) and each method's own reward per GRPO step, one colour
    per RL method: its seeds thin, their mean thick. None: no matplotlib or no curve."""
    if not doc["curves"]:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        return None
    fig, axes = plt.subplots(2, 1, figsize=(6.4, 6.4), sharex=True)
    panels = (
        ("success", "training success (share of rollouts)"),
        ("reward_mean", "training reward (each method's own)"),
    )
    for ax, (key, label) in zip(axes, panels, strict=True):
        for i, curve in enumerate(doc["curves"]):
            color = f"C{i % 10}"
            for one in curve["seeds"]:
                points = [(x, y) for x, y in zip(one["step"], one[key], strict=True) if y is not None]
                ax.plot([p[0] for p in points], [p[1] for p in points], color=color, alpha=0.25, linewidth=0.8)
            points = [(x, y) for x, y in zip(curve["step"], curve[key], strict=True) if y is not None]
            name = f"{curve['method']} (n={max(curve['n_seeds'])})"
            ax.plot([p[0] for p in points], [p[1] for p in points], color=color, linewidth=2, label=name, marker=".")
        ax.set_ylabel(label, fontsize=8)
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].set_title("Learning curves: mean over seeds (thin: each seed)")
    axes[0].legend(fontsize=7)
    axes[-1].set_xlabel("GRPO step")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_scatter(doc: dict[str, Any], path: Path) -> Path | None:
    """The paper's similarity-vs-success view, one point per method (means over seeds), drawn by the
    leaderboard's own plot. None: no matplotlib or no finished cell."""
    from mentor_agents.eval.leaderboard import Row, plot_similarity

    agg = {(r["method"], r["slot"], r["metric"]): r["mean"] for r in doc["aggregates"]}
    rows = []
    for method in doc["config"]["methods"]:
        if (method, MEAN_SLOT, "score") not in agg:
            continue
        slots = [s for s in doc["slots"] if s != MEAN_SLOT and (method, s, "score") in agg]
        summary = {
            "success": agg[(method, MEAN_SLOT, "score")],
            "js_similarity": agg[(method, MEAN_SLOT, "js_similarity")],
        }
        rows.append(
            Row(
                label=method,
                success={s: agg[(method, s, "score")] for s in slots},
                summary=summary,
                similarity={s: agg[(method, s, "js_similarity")] for s in slots},
            )
        )
    if not rows:
        return None
    return plot_similarity(rows, path)


def write_report(grid: Grid, out: str | Path, plots: bool = True) -> dict[str, Path]:
    """``bench.json``, ``bench.md``, ``bench.html`` and, with matplotlib, ``learning_curves.png`` and
    ``similarity_vs_success.png`` in ``out``; returns what was written."""
    out = Path(out)
    written = {"json": write_bench(grid, out)}
    doc = json.loads(written["json"].read_text())
    images: dict[str, str] = {}
    if plots:
        for key, title, name, plot in (
            ("curves", "Learning curves", "learning_curves.png", plot_learning_curves),
            ("scatter", "Similarity to the teacher vs success", "similarity_vs_success.png", plot_scatter),
        ):
            png = plot(doc, out / name)
            if png is not None:
                written[key] = png
                images[title] = name
    written["markdown"] = _write(out / "bench.md", to_markdown(doc, images))
    written["html"] = _write(out / "bench.html", to_html(doc, images))
    return written


def matplotlib_missing() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return True
    return False

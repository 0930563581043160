"""The results document of ``mentor eval``: one entry per env x split, validated against the schema.

Each slot entry holds the generic metrics (``eval.metrics.slot_metrics``), what the stratified sample
drew per stratum, success broken down by OOD axis / template / BFCL category / domain, BFCL's own
report where the slot is BFCL (``eval.bfcl``), and a ``headline``: the one number a table shows for
the slot. It is ``success`` except on BFCL, where it is BFCL's AST summary: irrelevance detection is
reported beside it (an agent that never calls a tool is right on every irrelevance task); its
pass@k and pass^k are aggregated the same way.
"""

from __future__ import annotations

import json
import platform
from collections import Counter
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from mentor_agents.errors import UserError
from mentor_agents.eval.bfcl import ast_at_k, bfcl_report
from mentor_agents.eval.metrics import breakdown, k_values, pass_at_k, pass_hat_k, slot_metrics, task_features

SCHEMA_PATH = Path(__file__).parent / "results.schema.json"


def category_population(strata: dict[str, list[int]]) -> dict[str, int]:
    """BFCL category -> its number of tasks in the whole split, from the sample's strata."""
    out: dict[str, int] = Counter()
    for name, (_, population) in strata.items():
        group = name.split("|", 1)[0]
        if "/category:" in group:
            out[group.split("/category:", 1)[1]] += population
    return dict(out)


def slot_result(
    slot: Any,
    label: str,
    rows: Sequence[dict[str, Any]],
    tasks: Sequence[Any],
    teacher: Counter[str],
    strata: dict[str, list[int]],
    samples: int,
) -> dict[str, Any]:
    """The results entry of one env x split from its episode rows and the tasks it played."""
    features = {task.id: task_features(task) for task in tasks}
    metrics = slot_metrics(rows, teacher, samples)
    out: dict[str, Any] = {
        "env_id": slot.env_id,
        "split": slot.split,
        "kwargs": json.loads(json.dumps(slot.kwargs)),
        "label": label,
        "metrics": metrics,
        "headline": {
            "name": "success",
            "value": metrics["success"],
            "pass_at_k": metrics["pass_at_k"],
            "pass_hat_k": metrics["pass_hat_k"],
        },
        "sample": strata,
        "breakdown": breakdown(rows, features),
    }
    categories = {task_id: f["category"] for task_id, f in features.items() if f["category"] is not None}
    if categories and len(categories) == len(features):
        population = category_population(strata)
        report = bfcl_report(rows, categories, population)
        ks = k_values(samples)
        out["bfcl"] = report
        out["headline"] = {
            "name": "bfcl_ast",
            "value": report["summary"]["ast"],
            "pass_at_k": ast_at_k(rows, categories, population, pass_at_k, ks),
            "pass_hat_k": ast_at_k(rows, categories, population, pass_hat_k, ks),
        }
    return out


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        if dist == "tooluse-mentor":
            import tooluse_envs

            return tooluse_envs.__version__
        return None


def dependency_versions() -> dict[str, str | None]:
    """Python and the main dependencies (read from metadata, so nothing heavy is imported)."""
    names = ("gymnasium", "numpy", "jsonschema", "torch", "transformers", "ray")
    return {"python": platform.python_version(), **{n: _version(n) for n in names}}


def validate_results(results: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``results`` matches the shipped schema."""
    from jsonschema import Draft202012Validator

    Draft202012Validator(json.loads(SCHEMA_PATH.read_text())).validate(results)


def load_results(path: str | Path) -> dict[str, Any]:
    """A results file, read and validated; ``UserError`` naming the file when it is not one this mentor reads
    (not JSON, not a results file, another ``schema_version``, or a document the schema refuses)."""
    from jsonschema import ValidationError

    path = Path(path)
    regenerate = "re-run mentor eval with that run's flags and --out to regenerate it"
    try:
        doc = json.loads(path.read_text())
    except OSError as exc:
        raise UserError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    except ValueError as exc:
        raise UserError(f"{path} is not JSON ({exc}): give the results files mentor eval --out writes") from exc
    wanted = json.loads(SCHEMA_PATH.read_text())["properties"]["schema_version"]["const"]
    if not isinstance(doc, dict) or "schema_version" not in doc or "results" not in doc:
        raise UserError(f"{path} is not a mentor eval results file (no schema_version and results): {regenerate}")
    if doc["schema_version"] != wanted:
        raise UserError(
            f"{path} has results schema_version {doc['schema_version']!r}, this mentor reads {wanted!r} "
            f"(written by another version of mentor eval): {regenerate}"
        )
    try:
        validate_results(doc)
    except ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "the top level"
        message = exc.message if len(exc.message) <= 120 else exc.message[:117] + "..."
        raise UserError(f"{path} does not match the results schema at {where} ({message}): {regenerate}") from exc
    return doc


def write_results(results: dict[str, Any], out: Path) -> None:
    """Validate, then write atomically (a kill never leaves a half-written results file)."""
    validate_results(results)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(results, indent=1) + "\n")
    tmp.replace(out)


def summary_lines(results: dict[str, Any], samples: int) -> list[str]:
    """What ``mentor eval`` prints: per slot its metrics, then its per-axis and BFCL breakdowns."""
    lines = []
    k = str(samples)
    for slot in results["results"]:
        m, head = slot["metrics"], slot["headline"]
        score = "" if head["name"] == "success" else f"{head['name']} {_rate(head['value'])}  "
        lines.append(
            f"{slot['label']:<20} {score}success {m['success']:.3f}  pass@{k} {m['pass_at_k'][k]:.3f}"
            f"  reward {m['reward_mean']:.3f}  calls/task {m['tool_calls_per_task']:.2f}"
            f"  invalid {m['invalid_call_rate']:.3f}  JS-sim {m['js_similarity']:.3f}"
        )
        for axis, group in slot["breakdown"].get("axis", {}).items():
            lines.append(f"    axis {axis:<24} success {group['success']:.3f}  ({group['n_tasks']} tasks)")
        if "bfcl" in slot:
            summary = slot["bfcl"]["summary"]
            lines.append("    BFCL " + "  ".join(f"{k2} {_rate(v)}" for k2, v in summary.items()))
            for name, c in slot["bfcl"]["categories"].items():
                share = f"{c['n_tasks']}/{c['population']}"
                lines.append(f"    category {name:<22} accuracy {c['accuracy']:.3f}  ({share} tasks)")
    return lines


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"

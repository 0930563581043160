"""Helpers for the evaluation tests: small scripted runs written into a temp dir (imported by path:
pytest puts this folder on sys.path)."""

from __future__ import annotations

import json
from pathlib import Path

from mentor_agents.eval.run import EvalConfig, run_evaluation


def evaluate(out: Path, agent: str = "oracle", **kwargs) -> dict:
    """Run ``mentor eval`` in-process with small defaults and no progress bar."""
    kwargs.setdefault("envs", ["paper"])
    kwargs.setdefault("episodes", 4)
    return run_evaluation(EvalConfig(agent=agent, out=str(out), progress=False, **kwargs))


def metrics_without_time(results: dict) -> list[dict]:
    """Per-slot metrics minus wall time, the part two runs of the same config must agree on."""
    return [{k: v for k, v in s["metrics"].items() if k != "wall_s"} for s in results["results"]]


def episode_rows(path: Path) -> list[dict]:
    lines = path.read_text().splitlines()
    return [json.loads(line) for line in lines[1:]]

"""Fixtures for the evaluation tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from eval_helpers import evaluate


@pytest.fixture(scope="module")
def baseline_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """oracle, no-tool and random on the paper protocol (10 tasks per slot: every BFCL category once)."""
    root = tmp_path_factory.mktemp("runs")
    paths = {}
    for agent in ("oracle", "no-tool", "random"):
        paths[agent] = root / f"{agent}.json"
        evaluate(paths[agent], agent, episodes=10)
    return paths

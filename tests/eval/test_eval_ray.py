"""Ray evaluation equals the local run, and survives an actor dying mid-unit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eval_helpers import episode_rows, evaluate, metrics_without_time

from mentor_agents.eval.run import episodes_path

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'tooluse-mentor[ray]')")

SMALL = {"envs": ["paper"], "episodes": 6, "samples": 2}


@pytest.fixture(scope="module", autouse=True)
def ray_cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def local_out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local") / "random.json"
    evaluate(out, "random", **SMALL)
    return out


@pytest.fixture(scope="module")
def local_random(local_out) -> dict:
    return json.loads(local_out.read_text())


def rows_without_time(out: Path) -> list[dict]:
    """Every episode row of the run at ``out`` but its wall time, in key order (Ray finishes in any order)."""
    rows = [{k: v for k, v in r.items() if k != "wall_s"} for r in episode_rows(episodes_path(out))]
    return sorted(rows, key=lambda r: (r["env_id"], r["split"], r["task_id"], r["sample"]))


def test_ray_results_equal_local(tmp_path, local_random, local_out):
    on_ray = evaluate(tmp_path / "random.json", "random", ray=True, workers=2, **SMALL)
    assert on_ray["execution"]["backend"] == "ray"
    assert metrics_without_time(on_ray) == metrics_without_time(local_random)
    assert rows_without_time(tmp_path / "random.json") == rows_without_time(local_out)


def test_dead_actor_is_replaced_and_its_unit_rerun(tmp_path, local_random, local_out, monkeypatch):
    from mentor_agents.distributed import faults

    marker = tmp_path / "crash-once"
    marker.touch()
    monkeypatch.setattr(faults, "CRASH_MARKER", str(marker))
    out = tmp_path / "crashy.json"
    on_ray = evaluate(out, "random", ray=True, workers=2, **SMALL)
    assert not marker.exists(), "no actor crashed, so the test proved nothing"
    keys = [
        (r["env_id"], r["split"], r["task_id"], r["sample"]) for r in episode_rows(tmp_path / "crashy.episodes.jsonl")
    ]
    assert len(keys) == len(set(keys)) == 4 * 6 * 2
    assert metrics_without_time(on_ray) == metrics_without_time(local_random)
    assert rows_without_time(out) == rows_without_time(local_out)

"""Evaluation throughput: oracle episodes/s on the ``paper`` protocol, locally and on 2 Ray actors.

Run: ``pytest benchmarks/test_bench_eval.py --benchmark-only``; episodes/s land in ``extra_info``.
Each round is a whole ``run_evaluation`` (task loading, episodes, JSONL, metrics, results file); the
Ray round includes starting its actors (the cluster itself is started once, outside the timing).
"""

from __future__ import annotations

import itertools

import pytest

from mentor_agents.eval.run import EvalConfig, run_evaluation

EPISODES = 100  # per env x split: 4 slots -> 400 episodes per round
GROUP = "eval: oracle on paper (episodes/s)"


def _bench(benchmark, tmp_path, **kwargs) -> None:
    benchmark.group = GROUP
    counter = itertools.count()

    def run() -> dict:
        out = tmp_path / f"run{next(counter)}.json"
        return run_evaluation(
            EvalConfig("oracle", envs=["paper"], episodes=EPISODES, out=str(out), progress=False, **kwargs)
        )

    results = benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    episodes = sum(s["metrics"]["n_episodes"] for s in results["results"])
    assert all(s["metrics"]["success"] == 1.0 for s in results["results"])
    if benchmark.stats is not None:
        benchmark.extra_info["episodes_per_s"] = round(episodes / benchmark.stats.stats.median, 1)


def test_oracle_paper_local(benchmark, tmp_path):
    _bench(benchmark, tmp_path)


def test_oracle_paper_ray_2_workers(benchmark, tmp_path):
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'tooluse-mentor[ray]')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        _bench(benchmark, tmp_path, ray=True, workers=2)
    finally:
        ray.shutdown()

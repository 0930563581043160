"""Pooled episodes (issue 13): release + acquire + one small run, with a new jail per episode vs the jail
recycled in place (``BwrapConfig(recycle=...)``), side by side in one run.

A pool of one, so that every acquire waits for the reset of the sandbox just released: the round is the
whole cost of an episode turnover, as Code-v0 pays it when episodes come faster than resets. Run:
``pytest benchmarks/test_bench_sandbox_reset.py --benchmark-only``; ``test_reset_speedup`` prints the
ratio of the medians (target >= 3x). Only the ratio is checked, and only with ``TOOLUSE_BENCH_STRICT=1``:
a loaded 2-core box stretches both rows, though not by the same factor.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from sandbox import BwrapConfig, Limits, SandboxPool, unavailable_reason

if TYPE_CHECKING:
    from pytest_benchmark.fixture import BenchmarkFixture

pytest.importorskip("pytest_benchmark")
pytestmark = pytest.mark.skipif(bool(unavailable_reason(BwrapConfig())), reason="bwrap unavailable")

GROUP = "bwrap episode: release + acquire + run('x = 1'), pool of one"
LIMITS = Limits(wall_s=30, cpu_s=30)
ROUNDS = 40
TARGET = 3.0
STRICT = os.environ.get("TOOLUSE_BENCH_STRICT") == "1"
MEDIANS: dict[str, float] = {}


@pytest.mark.parametrize("reset", ["new-jail", "recycle"])
def test_episode_turnover(benchmark: BenchmarkFixture, reset: str) -> None:
    benchmark.group = GROUP
    with SandboxPool(size=1, backend=BwrapConfig(recycle=reset == "recycle"), limits=LIMITS) as pool:

        def episode() -> None:
            with pool.acquire(files={"task.txt": "data"}, timeout_s=60) as lease:
                assert lease.run("x = 1").ok

        benchmark.pedantic(episode, rounds=ROUNDS, warmup_rounds=2)
    if benchmark.stats is not None:
        MEDIANS[reset] = benchmark.stats.stats.median
        benchmark.extra_info["episodes_per_s"] = round(1 / benchmark.stats.stats.median, 1)


def test_reset_speedup(benchmark: BenchmarkFixture) -> None:
    """Print recycle's speed-up over a new jail per episode (takes ``benchmark`` only to run last)."""
    benchmark.pedantic(lambda: None, rounds=1)
    if set(MEDIANS) != {"new-jail", "recycle"}:
        pytest.skip(reason="no medians of both rows (--benchmark-disable, or a row was deselected)")
    ratio = MEDIANS["new-jail"] / MEDIANS["recycle"]
    print(f"episode turnover median: new jail {MEDIANS['new-jail'] * 1e3:.1f} ms, "
          f"recycled {MEDIANS['recycle'] * 1e3:.1f} ms: {ratio:.1f}x (target {TARGET:g}x)")
    benchmark.extra_info["speedup"] = round(ratio, 2)
    assert not (STRICT and ratio < TARGET), ratio

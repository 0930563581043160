"""Jail cold start from a process holding 1 GB (as a trainer holding a model does): uid switched by
``setpriv`` after exec vs by ``Popen(user=...)`` before it.

``Popen(user=...)`` makes CPython fork() instead of vfork(), and fork() copies the parent's page
tables, so every jail start pays for the parent's memory. Code-v0 starts a fresh jail per episode,
so inside a GRPO run this is paid per episode. Run:
``pytest benchmarks/test_bench_sandbox_spawn.py --benchmark-only``.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

from sandbox import BwrapConfig, Limits, Sandbox, unavailable_reason
from sandbox import backend as backend_module

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="only root switches jails to a dedicated uid"),
    pytest.mark.skipif(bool(unavailable_reason(BwrapConfig())), reason="bwrap unavailable"),
]
GROUP = "bwrap cold start, parent holding 1 GB in 4 MB arrays"


@pytest.fixture(scope="module")
def held_memory():
    return [np.ones(512 * 1024) for _ in range(256)]  # touched, so its page tables are real


@pytest.mark.parametrize("switch", ["setpriv", "popen-user"])
def test_cold_start_holding_memory(benchmark, monkeypatch, held_memory, switch):
    if switch == "popen-user":
        monkeypatch.setattr(backend_module, "setpriv_path", lambda: None)
    elif backend_module.setpriv_path() is None:
        pytest.skip(reason="setpriv (util-linux) is not installed")
    benchmark.group = GROUP

    def cold() -> None:
        with warnings.catch_warnings(), Sandbox(BwrapConfig(), Limits(wall_s=30, cpu_s=30)) as sandbox:
            assert sandbox.run("x = 1").ok

    benchmark.pedantic(cold, rounds=15, warmup_rounds=1)
    assert len(held_memory) == 256

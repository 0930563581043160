"""Sandbox latency: warm calls and cold starts per backend, against the naive ways to run code.

Run: ``python -m pytest benchmarks/test_bench_sandbox.py --benchmark-columns=min,median,max,rounds``.
Groups print side by side: ``call`` (one ``x = 1`` on a warm sandbox vs. a fresh ``python3 -c`` vs.
``docker exec``) and ``cold-start`` (``Sandbox()`` + first run + ``close()``); ``docker`` and ``docker-sdk``
are the docker backend's CLI and SDK clients, and ``test_targets`` prints their ratio. Targets: bwrap warm median
<= 1 ms and >= 50x faster than ``docker exec``; bwrap cold start <= 150 ms. The ratio is always checked;
the absolute targets only with ``TOOLUSE_BENCH_STRICT=1`` (on a quiet machine: a loaded 2-core box can
triple every absolute time, baselines included), and are printed either way by ``test_targets``.
"""

from __future__ import annotations

import os
import subprocess
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from sandbox import BwrapConfig, DockerConfig, Limits, Sandbox, SubprocessConfig, unavailable_reason
from sandbox.docker import owner_labels
from sandbox.registry import BackendConfig

if TYPE_CHECKING:
    from pytest_benchmark.fixture import BenchmarkFixture

pytest.importorskip("pytest_benchmark")

LIMITS = Limits(wall_s=30, cpu_s=30)
PYTHON = "/usr/bin/python3"
MEDIANS: dict[str, float] = {}
COLD_ROUNDS = {"bwrap": 20, "subprocess": 20, "docker": 3, "docker-sdk": 3}
STRICT = os.environ.get("TOOLUSE_BENCH_STRICT") == "1"
TARGETS = {"warm-bwrap": 1e-3, "cold-bwrap": 0.150}  # seconds, medians


def _param(config: BackendConfig, name: str, mark: pytest.MarkDecorator | None) -> object:
    marks = [mark] if mark else []
    reason = unavailable_reason(config)
    if reason:
        marks.append(pytest.mark.skip(reason=f"{name} unavailable: {reason}"))
    return pytest.param(config, id=name, marks=marks)


BACKENDS = [
    _param(BwrapConfig(), "bwrap", pytest.mark.bwrap),
    _param(DockerConfig(), "docker", pytest.mark.docker),
    _param(DockerConfig(client="sdk"), "docker-sdk", pytest.mark.docker),  # same backend, engine via the SDK
    _param(SubprocessConfig(), "subprocess", None),
]
DOCKER_REASON = unavailable_reason(DockerConfig())


def _name(config: BackendConfig) -> str:
    name = type(config).__name__.removesuffix("Config").lower()
    return "docker-sdk" if isinstance(config, DockerConfig) and config.client == "sdk" else name


def _record(key: str, benchmark: BenchmarkFixture) -> None:
    """Keep a median for ``test_targets``; there is none under ``--benchmark-disable`` (one plain run)."""
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        MEDIANS[key] = stats.stats.median


def _open(config: BackendConfig) -> Sandbox:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the subprocess backend's NotAJailWarning, once per sandbox
        return Sandbox(config, LIMITS)


@pytest.mark.benchmark(group="call")
@pytest.mark.parametrize("config", BACKENDS)
def test_warm_run(benchmark: BenchmarkFixture, config: BackendConfig) -> None:
    sandbox = _open(config)
    try:
        assert sandbox.run("x = 1").ok
        result = benchmark(sandbox.run, "x = 1")
        assert result.ok
    finally:
        sandbox.close()
    _record(f"warm-{_name(config)}", benchmark)


@pytest.mark.benchmark(group="call")
def test_baseline_fresh_python_per_call(benchmark: BenchmarkFixture) -> None:
    def fresh() -> None:
        subprocess.run([PYTHON, "-c", "x = 1"], check=True)

    benchmark.pedantic(fresh, rounds=20, warmup_rounds=1)
    _record("fresh-python", benchmark)


@pytest.fixture(scope="module")
def idle_container() -> Iterator[str]:
    if DOCKER_REASON:
        pytest.skip(f"docker unavailable: {DOCKER_REASON}")
    started = subprocess.run(["docker", "run", "-d", "--rm", "--network", "none", *owner_labels(),
                              "tooluse-sandbox", "sleep", "infinity"], capture_output=True, text=True, check=True)
    name = started.stdout.strip()
    yield name
    subprocess.run(["docker", "rm", "-f", name], capture_output=True)


@pytest.mark.docker
@pytest.mark.benchmark(group="call")
def test_baseline_docker_exec_per_call(benchmark: BenchmarkFixture, idle_container: str) -> None:
    def exec_once() -> None:
        subprocess.run(["docker", "exec", idle_container, "python3", "-c", "x = 1"], check=True)

    benchmark.pedantic(exec_once, rounds=10, warmup_rounds=1)
    _record("docker-exec", benchmark)


@pytest.mark.benchmark(group="cold-start")
@pytest.mark.parametrize("config", BACKENDS)
def test_cold_start(benchmark: BenchmarkFixture, config: BackendConfig) -> None:
    def cold() -> None:
        with _open(config) as sandbox:
            assert sandbox.run("x = 1").ok

    benchmark.pedantic(cold, rounds=COLD_ROUNDS[_name(config)], warmup_rounds=1)
    _record(f"cold-{_name(config)}", benchmark)


@pytest.mark.benchmark(group="targets")
def test_targets(benchmark: BenchmarkFixture) -> None:
    """Print medians, speed-ups and targets; bwrap must be >= 50x faster per call than ``docker exec``.

    It takes the ``benchmark`` fixture only so that ``--benchmark-only`` runs it after the others.
    """
    benchmark.pedantic(lambda: None, rounds=1)
    for kind in ("warm", "cold"):  # the docker backend's two clients, side by side
        if f"{kind}-docker" in MEDIANS and f"{kind}-docker-sdk" in MEDIANS:
            ratio = MEDIANS[f"{kind}-docker"] / MEDIANS[f"{kind}-docker-sdk"]
            print(f"{kind} docker: CLI / SDK median = {ratio:.2f}")
    if "warm-bwrap" not in MEDIANS:
        pytest.skip("no bwrap medians (bwrap unavailable, or --benchmark-disable)")
    for key, median in sorted(MEDIANS.items()):
        print(f"median {key:>16}: {median * 1e3:9.3f} ms")
    for baseline in ("fresh-python", "docker-exec", "warm-docker"):
        if baseline in MEDIANS:
            print(f"bwrap warm run is {MEDIANS[baseline] / MEDIANS['warm-bwrap']:.0f}x faster than {baseline}")
    missed = [f"{key} median {MEDIANS[key] * 1e3:.1f} ms > {limit * 1e3:g} ms"
              for key, limit in TARGETS.items() if key in MEDIANS and MEDIANS[key] > limit]
    print("targets:", "; ".join(missed) if missed else "all met")
    benchmark.extra_info.update({key: round(value, 6) for key, value in MEDIANS.items()})
    if "docker-exec" in MEDIANS:
        assert MEDIANS["docker-exec"] / MEDIANS["warm-bwrap"] >= 50
    assert not (STRICT and missed), missed

"""Fixtures for the sandbox tests: every backend this machine has, each marked and skipped with its reason.

Set ``TOOLUSE_SANDBOX_REQUIRE=bwrap,docker`` (CI does, after ``.ci/setup_sandbox_backends.sh``) to turn a
missing backend into a failure instead of a skip, so a broken setup cannot pass silently.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest

from sandbox import (
    BackendConfig,
    BwrapConfig,
    DockerConfig,
    Limits,
    Sandbox,
    SubprocessConfig,
    WorkerInfo,
    unavailable_reason,
)
from sandbox.uids import processes_of

IS_ROOT = os.geteuid() == 0
BATTERY_LIMITS = Limits(wall_s=10, cpu_s=1, memory_mb=256, output_bytes=65536, max_procs=32, file_size_mb=16,
                        disk_mb=64)
REQUIRED = {name.strip() for name in os.environ.get("TOOLUSE_SANDBOX_REQUIRE", "").split(",") if name.strip()}
SETUP_HINT = "run .ci/setup_sandbox_backends.sh (as root) to install and start it"


def _param(config: BackendConfig, name: str, mark: pytest.MarkDecorator | None) -> object:
    marks = [mark] if mark is not None else []
    reason = unavailable_reason(config)
    if reason is not None and name not in REQUIRED:
        marks.append(pytest.mark.skip(reason=f"{name} backend unavailable: {reason}; {SETUP_HINT}"))
    if name == "subprocess":
        marks.append(pytest.mark.filterwarnings("ignore::sandbox.NotAJailWarning"))
    return pytest.param(config, id=name, marks=marks)


BACKENDS = [
    _param(BwrapConfig(), "bwrap", pytest.mark.bwrap),
    _param(DockerConfig(), "docker", pytest.mark.docker),
    _param(DockerConfig(client="sdk"), "docker-sdk", pytest.mark.docker),  # same backend, engine via the SDK
    _param(SubprocessConfig(), "subprocess", None),
]


def backend_name(config: BackendConfig) -> str:
    return {BwrapConfig: "bwrap", DockerConfig: "docker", SubprocessConfig: "subprocess"}[type(config)]


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> BackendConfig:
    """One backend's options; tests using it run once per backend available here."""
    return request.param


@pytest.fixture(scope="session")
def sandbox(backend: BackendConfig) -> Iterator[Sandbox]:
    """One sandbox per backend, shared by the session (each test leaves it working): jails are cheap to
    reset but, with docker's vfs storage driver, slow to create."""
    with Sandbox(backend, BATTERY_LIMITS) as sb:
        yield sb


@pytest.fixture
def battery_limits() -> Limits:
    """The limits of the shared ``sandbox`` fixture."""
    return BATTERY_LIMITS


@pytest.fixture
def not_a_jail(request: pytest.FixtureRequest, backend: BackendConfig) -> Callable[..., None]:
    """``not_a_jail(reason, when=True)``: expect (strictly) this test to fail on the subprocess backend only.

    A fixture rather than an importable helper, so the tests work under any pytest import mode.
    """

    def mark(reason: str, when: bool = True) -> None:
        if isinstance(backend, SubprocessConfig) and when:
            request.applymarker(pytest.mark.xfail(strict=True, reason=f"subprocess backend is not a jail: {reason}"))

    return mark


@pytest.fixture
def leftovers() -> Callable[[WorkerInfo], list[str]]:
    """``leftovers(info)``: what of a closed sandbox's worker still exists on the host."""
    return find_leftovers


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def container_exists(name: str) -> bool:
    done = subprocess.run(["docker", "inspect", name], capture_output=True, timeout=30)
    return done.returncode == 0


def find_leftovers(info: WorkerInfo, timeout_s: float = 5.0) -> list[str]:
    """What of a closed sandbox's worker still exists on the host (waits up to ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = []
        if pid_alive(info.pid):
            found.append(f"pid {info.pid}")
        if info.uid is not None and processes_of(info.uid):
            found.append(f"processes of uid {info.uid}: {processes_of(info.uid)}")
        if info.container is not None and container_exists(info.container):
            found.append(f"container {info.container}")
        if info.cgroup is not None and os.path.exists(info.cgroup):
            found.append(f"cgroup {info.cgroup}")
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)

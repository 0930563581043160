"""Nothing outlives its owner: interpreter exit, a crashed owner, and stale docker containers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import sandbox as sandbox_package
from sandbox import BackendConfig, DockerConfig, SubprocessConfig, WorkerInfo, unavailable_reason
from sandbox.docker import LABEL, OWNER_LABEL, clean_stale_containers
from sandbox.uids import kill_uid

DOCKER_REASON = unavailable_reason(DockerConfig())
REPO_ROOT = Path(sandbox_package.__file__).resolve().parents[1]
OWNER = """
import json, os, signal, sys, warnings
warnings.simplefilter("ignore")
from sandbox import Sandbox
sb = Sandbox(sys.argv[1])
assert sb.run("import subprocess; subprocess.Popen(['sleep', '60'])").ok
print(json.dumps(sb.worker_info.__dict__), flush=True)
if sys.argv[2] == "crash":
    os.kill(os.getpid(), signal.SIGKILL)
"""


def container_running(name: str) -> bool:
    done = subprocess.run(["docker", "inspect", "--format", "{{.State.Running}}", name], capture_output=True,
                          text=True, timeout=30)
    return done.stdout.strip() == "true"


def wait_for(condition: Callable[[], bool], timeout_s: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def run_owner(backend: BackendConfig, how: str) -> WorkerInfo:
    """Start a sandbox in a separate interpreter that exits (or crashes) without closing it."""
    name = type(backend).__name__.removesuffix("Config").lower()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run([sys.executable, "-c", OWNER, name, how], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.stdout.strip(), done.stderr
    return WorkerInfo(**json.loads(done.stdout))


@pytest.mark.parametrize("how", ["exit", "crash"])
def test_owner_gone_means_sandbox_gone(backend: BackendConfig, how: str,
                                       leftovers: Callable[[WorkerInfo], list[str]],
                                       not_a_jail: Callable[..., None]) -> None:
    if isinstance(backend, SubprocessConfig) and os.geteuid() != 0:
        pytest.skip(reason="without root the subprocess backend has no uid to sweep for the worker's children")
    expect_leak = isinstance(backend, SubprocessConfig) and how == "crash"
    not_a_jail("a crashed owner cannot sweep the worker's children (no namespace to collapse)", when=expect_leak)
    info = run_owner(backend, how)
    try:
        if info.container is not None and how == "crash":
            # The worker reads EOF once the attached CLI died, so the container stops by itself; the next
            # process that uses docker removes it.
            assert wait_for(lambda: not container_running(info.container)), "container still running"
            clean_stale_containers()
        found = leftovers(info, timeout_s=1 if expect_leak else 15)
    finally:
        if info.uid is not None:
            kill_uid(info.uid)  # the leaked `sleep` of the expected failure
    assert found == []


@pytest.mark.docker
@pytest.mark.skipif(DOCKER_REASON is not None, reason=f"docker backend unavailable: {DOCKER_REASON}")
def test_stale_containers_of_dead_owners_are_removed(leftovers: Callable[[WorkerInfo], list[str]]) -> None:
    dead_owner = f"{socket.gethostname()}:999999999:0"
    created = subprocess.run(["docker", "create", "--label", f"{LABEL}=1", "--label", f"{OWNER_LABEL}={dead_owner}",
                              "tooluse-sandbox", "true"], capture_output=True, text=True, timeout=120)
    assert created.returncode == 0, created.stderr
    clean_stale_containers()
    assert leftovers(WorkerInfo("docker", pid=-1, container=created.stdout.strip())) == []

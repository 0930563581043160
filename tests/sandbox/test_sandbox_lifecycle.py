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
from sandbox.cgroup import sweep_stale_leaves
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
                                       leftovers: Callable[[WorkerInfo], list[str]]) -> None:
    # On the subprocess backend a crashed owner is cleaned up by the worker's supervisor itself: it gets
    # SIGTERM from PR_SET_PDEATHSIG and kills its process group (and, on a dedicated uid, the whole uid).
    if isinstance(backend, SubprocessConfig) and os.geteuid() != 0:
        pytest.skip(reason="without root the subprocess backend has no uid to sweep for the worker's children")
    info = run_owner(backend, how)
    try:
        if info.container is not None and how == "crash":
            # The worker reads EOF once the attached CLI died, so the container stops by itself; the next
            # process that uses docker removes it.
            assert wait_for(lambda: not container_running(info.container)), "container still running"
            clean_stale_containers()
        if info.cgroup is not None and how == "crash":
            sweep_stale_leaves()  # the next process that uses bwrap removes a crashed owner's cgroup leaves
        found = leftovers(info, timeout_s=15)
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


# -- the subprocess backend's reaper (issue 13, item 6) ------------------------------------------------------

REAPER_OWNER = """
import json, os, sys, time, warnings
warnings.simplefilter("ignore")
from sandbox import Sandbox
sb = Sandbox("subprocess")
child = sb.run("import subprocess\\np = subprocess.Popen(['sleep', '120'])\\nprint(p.pid)")
assert child.ok, child
workdir = sb._backend._workdir
print(json.dumps({"supervisor": sb.worker_info.pid, "executor": sb._worker.ready["executor_pid"],
                  "child": int(child.stdout), "workdir": workdir}), flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.filterwarnings("ignore::sandbox.NotAJailWarning")
def test_sigkilled_owner_leaves_no_worker_and_no_workdir() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    owner = subprocess.Popen([sys.executable, "-c", REAPER_OWNER], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=env)
    try:
        assert owner.stdout is not None
        line = owner.stdout.readline()
        assert line, owner.stderr.read() if owner.stderr else ""
        info = json.loads(line)
        pids = [info["supervisor"], info["executor"], info["child"]]
        assert all(_alive(pid) for pid in pids) and os.path.isdir(info["workdir"])
        owner.kill()  # SIGKILL: no atexit, no close()
        owner.wait(timeout=30)
        gone = wait_for(lambda: not any(_alive(pid) for pid in pids) and not os.path.exists(info["workdir"]),
                        timeout_s=30)
        left = [pid for pid in pids if _alive(pid)]
        assert gone, f"still alive: {left}; workdir exists: {os.path.exists(info['workdir'])}"
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()


def test_stale_workdirs_of_dead_owners_are_swept(tmp_path: Path) -> None:
    from sandbox.backend import process_start_time
    from sandbox.subprocess_backend import sweep_stale_workdirs, workdir_prefix

    namespace = os.stat("/proc/self/ns/pid").st_ino
    mine = tmp_path / f"{workdir_prefix()}abc123"
    dead = tmp_path / f"tooluse-sandbox-{namespace}-999999999-12345-abc_12"
    recycled = tmp_path / f"tooluse-sandbox-{namespace}-{os.getpid()}-{int(process_start_time(os.getpid()) or 0) + 1}-z"
    foreign = tmp_path / f"tooluse-sandbox-{namespace + 1}-999999999-12345-abc"  # another PID namespace's
    unrelated = tmp_path / "tooluse-sandbox-uids"
    for folder in (mine, dead, recycled, foreign, unrelated):
        folder.mkdir()
        (folder / "file.txt").write_text("x")
    target = tmp_path / "precious"
    target.mkdir()
    (target / "keep.txt").write_text("x")
    link = tmp_path / f"tooluse-sandbox-{namespace}-999999998-1-link"
    link.symlink_to(target)
    removed = sweep_stale_workdirs(str(tmp_path), force=True)
    assert sorted(removed) == sorted([str(dead), str(recycled)])  # a pid alone may have been recycled
    assert mine.is_dir() and foreign.is_dir() and unrelated.is_dir()
    assert link.is_symlink() and (target / "keep.txt").exists()
    assert sweep_stale_workdirs(str(tmp_path)) == []  # rate-limited without force

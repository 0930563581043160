"""The docker backend: one long-lived container per worker, driven through the ``docker`` CLI.

The container runs the worker under docker's tiny init (``--init``: it reaps orphans, and the worker is
then not PID 1, which ignores signals), attached once over stdin/stdout (``docker start -a -i``), so a
call costs a pipe round trip, not a ``docker exec``. The container has no network, a read-only
root, tmpfs ``/work`` and ``/tmp``, a memory cap, a pids limit, no capabilities, and runs as ``nobody``.

The CLI rather than the docker SDK keeps the package dependency-free. Containers carry the label
``tooluse-sandbox=1`` plus their owner (host, pid, process start time): they are removed on close, at
interpreter exit, and — if their owner died without cleaning up — by the next process that uses docker.
A crashed owner's container stops by itself: its worker reads EOF when the attached CLI dies.
"""

from __future__ import annotations

import atexit
import logging
import os
import secrets
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from functools import cache
from typing import ClassVar

from .backend import JAIL_ENV, LaunchSpec, WorkerProcess, process_start_time, worker_argv, worker_config
from .errors import BackendUnavailable, SandboxError
from .types import Limits, WorkerInfo

log = logging.getLogger(__name__)
LABEL = "tooluse-sandbox"
OWNER_LABEL = "tooluse-sandbox.owner"
INSTALL_HINT = ("apt-get install docker.io, start dockerd, then build the image with "
                "`bash sandbox/docker_image.sh` (or run .ci/setup_sandbox_backends.sh)")
MEMORY_HEADROOM_MB = 64
JAIL_UID = 65534  # nobody: the image's unprivileged user
_live_containers: set[str] = set()
_live_lock = threading.Lock()


@dataclass(frozen=True)
class DockerConfig:
    """Options of the docker backend."""

    image: str = "tooluse-sandbox"
    """Image with ``python3`` (full, not ``python3-minimal``); built by ``sandbox/docker_image.sh``."""
    startup_timeout_s: float = 60.0


def docker(*args: str, timeout_s: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run one docker CLI command and capture its output."""
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout_s)


@cache
def probe(image: str) -> str | None:
    """Why docker cannot be used, or ``None`` when the engine answers and ``image`` exists. Cached."""
    if shutil.which("docker") is None:
        return "the docker CLI is not on PATH"
    try:
        info = docker("version", "--format", "{{.Server.Version}}", timeout_s=15)
        if info.returncode != 0:
            return f"the docker engine does not answer: {info.stderr.strip()[-300:]}"
        if docker("image", "inspect", image, timeout_s=15).returncode != 0:
            return f"image {image!r} does not exist"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"docker CLI failed: {exc}"
    clean_stale_containers()
    return None


def _owner_tag() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{process_start_time(os.getpid())}"


def owner_labels() -> list[str]:
    """``docker create/run`` arguments that mark a container as this process's sandbox container."""
    return ["--label", f"{LABEL}=1", "--label", f"{OWNER_LABEL}={_owner_tag()}"]


def _owner_alive(tag: str) -> bool:
    host, _, rest = tag.partition(":")
    pid, _, start = rest.partition(":")
    if host != socket.gethostname():
        return True  # another machine's container on a shared engine: not ours to judge
    return pid.isdigit() and process_start_time(int(pid)) == start


def clean_stale_containers() -> None:
    """Remove labelled containers whose owning process is gone (it crashed before cleaning up)."""
    listing = docker("ps", "-a", "--filter", f"label={LABEL}=1", "--format",
                     f'{{{{.Names}}}}\t{{{{.Label "{OWNER_LABEL}"}}}}', timeout_s=30)
    stale = [line.split("\t")[0] for line in listing.stdout.splitlines()
             if line.strip() and not _owner_alive(line.partition("\t")[2])]
    if stale:
        log.info("removing %d stale sandbox container(s): %s", len(stale), ", ".join(stale))
        docker("rm", "-f", *stale, timeout_s=120)


def _remove_containers(names: list[str]) -> None:
    """``docker rm -f`` and wait until the containers are really gone (``--rm`` may be removing them)."""
    if names:
        removed = docker("rm", "-f", *names, timeout_s=120)
        deadline = time.monotonic() + 30
        while removed.returncode != 0 and time.monotonic() < deadline:
            if docker("inspect", "--format", "{{.Id}}", *names, timeout_s=30).stdout.strip() == "":
                break
            time.sleep(0.05)
    with _live_lock:
        _live_containers.difference_update(names)


@atexit.register
def _remove_live_containers() -> None:
    with _live_lock:
        names = sorted(_live_containers)
    try:
        _remove_containers(names)
    except (OSError, subprocess.TimeoutExpired):
        pass


class DockerBackend:
    """Runs the worker as the main process of one container, restarted (not re-created) on respawn.

    Why restart: with the vfs storage driver ``docker create`` copies the whole image (seconds), while
    ``docker start`` takes ~0.2 s. A restart is still a fresh jail: the root is read-only and every
    writable place is a tmpfs, which docker mounts anew on each start; all processes died on stop.
    """

    name: ClassVar[str] = "docker"

    def __init__(self, limits: Limits, config: DockerConfig | None = None) -> None:
        self.limits = limits
        self.config = config or DockerConfig()
        reason = probe(self.config.image)
        if reason:
            raise BackendUnavailable(self.name, reason, INSTALL_HINT)
        self._container: str | None = None

    def _create(self) -> str:
        """``docker create`` the container whose main process is the worker; returns its name."""
        name = f"{LABEL}-{os.getpid()}-{secrets.token_hex(4)}"
        limits = self.limits
        # Owned by the jail's user rather than mode=1777: docker drops the mode when it restarts a container.
        tmpfs = f"rw,exec,nosuid,nodev,size={limits.disk_mb}m,uid={JAIL_UID},gid={JAIL_UID},mode=0700"
        memory = f"{limits.memory_mb + MEMORY_HEADROOM_MB}m"
        env = [arg for key, value in {**JAIL_ENV, "HOME": "/work", "TMPDIR": "/tmp"}.items()
               for arg in ("--env", f"{key}={value}")]
        # No --workdir: docker would re-create /work root-owned over the tmpfs (the worker chdirs itself).
        # No RLIMIT_NPROC: uid 65534 is shared by every container on the host; --pids-limit counts instead.
        config = worker_config(limits, "/work", max_procs=None)
        with _live_lock:
            _live_containers.add(name)
        created = docker(
            "create", "--interactive", "--init", "--name", name, *owner_labels(),
            "--log-driver", "none", "--network", "none",
            "--read-only", "--tmpfs", f"/work:{tmpfs}", "--tmpfs", f"/tmp:{tmpfs}",
            "--user", f"{JAIL_UID}:{JAIL_UID}", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "--memory", memory, "--memory-swap", memory, "--pids-limit", str(limits.max_procs),
            "--hostname", "sandbox", *env, self.config.image, *worker_argv("python3", config),
            timeout_s=self.config.startup_timeout_s)
        if created.returncode != 0:
            _remove_containers([name])
            raise SandboxError(f"docker create failed: {created.stderr.strip()[-500:]}")
        return name

    def launch_spec(self) -> LaunchSpec:
        if self._container is None:
            self._container = self._create()
        return LaunchSpec(["docker", "start", "--attach", "--interactive", self._container],
                          env=dict(os.environ), startup_timeout_s=self.config.startup_timeout_s)

    def terminate(self, worker: WorkerProcess) -> None:
        if self._container is not None:
            stopped = docker("stop", "--time", "0", self._container, timeout_s=60)
            if stopped.returncode != 0:  # the engine lost it: start over with a new container
                _remove_containers([self._container])
                self._container = None
        worker.kill_group()

    def info(self, worker: WorkerProcess) -> WorkerInfo:
        return WorkerInfo(self.name, worker.pid, container=self._container, enforcement="cgroup",
                          memory_total_mb=self.limits.memory_mb + MEMORY_HEADROOM_MB,
                          pids_max=self.limits.max_procs)

    def close(self) -> None:
        if self._container is not None:
            _remove_containers([self._container])
            self._container = None

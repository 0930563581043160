"""The docker backend: one long-lived container per worker, driven through the ``docker`` CLI.

The container runs the worker under docker's tiny init (``--init``: it reaps orphans, and the worker is
then not PID 1, which ignores signals), attached once over stdin/stdout (``docker start -a -i``), so a
call costs a pipe round trip, not a ``docker exec``. The container has no network, a read-only
root, tmpfs ``/work`` and ``/tmp``, a memory cap, a pids limit, no capabilities, and runs as ``nobody``.

The CLI is the default and keeps the package dependency-free; ``DockerConfig(client="sdk")`` makes the
same calls through the docker SDK instead (the ``[docker]`` extra; :mod:`sandbox.docker_sdk`), with the
same container settings (:class:`ContainerSpec` renders both). Containers carry the label
``tooluse-sandbox=1`` plus their owner (host, pid, process start time): they are removed on close, at
interpreter exit, and — if their owner died without cleaning up — by the next process that uses docker.
A crashed owner's container stops by itself: its worker reads EOF when the attached CLI (or relay) dies.
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
from dataclasses import dataclass, field
from functools import cache
from typing import Any, ClassVar, Literal

from . import docker_sdk
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
CLIENTS = ("cli", "sdk")
_live_containers: dict[str, str] = {}
"""Containers this process created and has not removed yet -> the client that removes them at exit."""
_live_lock = threading.Lock()


@dataclass(frozen=True)
class DockerConfig:
    """Options of the docker backend."""

    image: str = "tooluse-sandbox"
    """Image with ``python3`` (full, not ``python3-minimal``); built by ``sandbox/docker_image.sh``."""
    startup_timeout_s: float = 60.0
    client: Literal["cli", "sdk"] = "cli"
    """How the engine is driven: ``"cli"`` (one ``docker`` process per call; no Python dependency) or
    ``"sdk"`` (the Engine API through the docker SDK, ``pip install 'tooluse-mentor[docker]'``). Same
    container settings, labels, owner sweep and limits either way."""

    def __post_init__(self) -> None:
        """Reject an unknown client here rather than at the first engine call."""
        if self.client not in CLIENTS:
            raise ValueError(f"DockerConfig.client must be one of {', '.join(CLIENTS)}, got {self.client!r}")


def docker(*args: str, timeout_s: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run one docker CLI command and capture its output."""
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout_s)


@cache
def probe(image: str, client: str = "cli") -> str | None:
    """Why docker cannot be used through ``client``, or ``None`` when the engine answers and ``image``
    exists. Cached. Sweeps stale containers through that client on success."""
    if client == "sdk":
        reason = docker_sdk.probe(image)
        if reason is None:
            clean_stale_containers("sdk")
        return reason
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


def owner_label_map() -> dict[str, str]:
    """The labels that mark a container as this process's sandbox container."""
    return {LABEL: "1", OWNER_LABEL: _owner_tag()}


def owner_labels() -> list[str]:
    """``docker create/run`` arguments that mark a container as this process's sandbox container."""
    return [arg for key, value in owner_label_map().items() for arg in ("--label", f"{key}={value}")]


def _owner_alive(tag: str) -> bool:
    host, _, rest = tag.partition(":")
    pid, _, start = rest.partition(":")
    if host != socket.gethostname():
        return True  # another machine's container on a shared engine: not ours to judge
    return pid.isdigit() and process_start_time(int(pid)) == start


def _labelled_containers(client: str) -> list[tuple[str, str]]:
    """``(name, owner tag)`` of every sandbox container the engine has, through ``client``."""
    if client == "sdk":
        return docker_sdk.list_labelled(LABEL, OWNER_LABEL)
    listing = docker("ps", "-a", "--filter", f"label={LABEL}=1", "--format",
                     f'{{{{.Names}}}}\t{{{{.Label "{OWNER_LABEL}"}}}}', timeout_s=30)
    return [(line.partition("\t")[0], line.partition("\t")[2]) for line in listing.stdout.splitlines()
            if line.strip()]


def clean_stale_containers(client: str = "cli") -> None:
    """Remove labelled containers whose owning process is gone (it crashed before cleaning up)."""
    stale = [name for name, owner in _labelled_containers(client) if not _owner_alive(owner)]
    if stale:
        log.info("removing %d stale sandbox container(s): %s", len(stale), ", ".join(stale))
        if client == "sdk":
            docker_sdk.remove(stale)
        else:
            docker("rm", "-f", *stale, timeout_s=120)


def _remove_containers(names: list[str], client: str = "cli") -> None:
    """``docker rm -f`` (or the SDK's force remove) and wait until the containers are really gone."""
    if names and client == "sdk":
        docker_sdk.remove(names)
    elif names:
        removed = docker("rm", "-f", *names, timeout_s=120)
        deadline = time.monotonic() + 30
        while removed.returncode != 0 and time.monotonic() < deadline:
            if docker("inspect", "--format", "{{.Id}}", *names, timeout_s=30).stdout.strip() == "":
                break
            time.sleep(0.05)
    with _live_lock:
        for name in names:
            _live_containers.pop(name, None)


@atexit.register
def _remove_live_containers() -> None:
    with _live_lock:
        by_client = {client: sorted(name for name, used in _live_containers.items() if used == client)
                     for client in CLIENTS}
    for client, names in by_client.items():
        try:
            _remove_containers(names, client)
        except Exception:  # best effort at interpreter exit (a CLI timeout, an SDK transport error)
            pass


@dataclass(frozen=True)
class ContainerSpec:
    """One sandbox container's settings, rendered for ``docker create`` and for the SDK alike, so the
    two clients cannot drift apart."""

    name: str
    image: str
    command: list[str]
    limits: Limits
    labels: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def tmpfs_options(self) -> str:
        # Owned by the jail's user rather than mode=1777: docker drops the mode when it restarts a container.
        return (f"rw,exec,nosuid,nodev,size={self.limits.disk_mb}m,uid={JAIL_UID},gid={JAIL_UID},"
                "mode=0700")

    @property
    def memory(self) -> str:
        return f"{self.limits.memory_mb + MEMORY_HEADROOM_MB}m"

    def cli_args(self) -> list[str]:
        """Arguments of ``docker create``."""
        labels = [arg for key, value in self.labels.items() for arg in ("--label", f"{key}={value}")]
        env = [arg for key, value in self.env.items() for arg in ("--env", f"{key}={value}")]
        return ["create", "--interactive", "--init", "--name", self.name, *labels,
                "--log-driver", "none", "--network", "none",
                "--read-only", "--tmpfs", f"/work:{self.tmpfs_options}", "--tmpfs", f"/tmp:{self.tmpfs_options}",
                "--user", f"{JAIL_UID}:{JAIL_UID}", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
                "--memory", self.memory, "--memory-swap", self.memory, "--pids-limit", str(self.limits.max_procs),
                "--hostname", "sandbox", *env, self.image, *self.command]

    def sdk_kwargs(self) -> dict[str, Any]:
        """Keywords of the SDK's ``create_container`` and ``create_host_config`` (the same settings:
        ``stdin_open`` sets OpenStdin, StdinOnce and the attach flags as ``--interactive`` does)."""
        host_config = {
            "init": True, "log_config": {"Type": "none", "Config": {}}, "network_mode": "none",
            "read_only": True, "tmpfs": {"/work": self.tmpfs_options, "/tmp": self.tmpfs_options},
            "cap_drop": ["ALL"], "security_opt": ["no-new-privileges"], "mem_limit": self.memory,
            "memswap_limit": self.memory, "pids_limit": self.limits.max_procs,
            "restart_policy": {"Name": "no", "MaximumRetryCount": 0}}  # the CLI's explicit default
        container = {"image": self.image, "command": self.command, "name": self.name, "labels": dict(self.labels),
                     "environment": dict(self.env), "user": f"{JAIL_UID}:{JAIL_UID}", "hostname": "sandbox",
                     "stdin_open": True}
        return {"host_config": host_config, "container": container}


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
        self.client = self.config.client
        reason = probe(self.config.image, self.client)
        if reason:
            hint = docker_sdk.SDK_INSTALL_HINT if reason.startswith(docker_sdk.SDK_MISSING) else INSTALL_HINT
            raise BackendUnavailable(self.name, reason, hint)
        self._container: str | None = None

    def _spec(self) -> ContainerSpec:
        """The container whose main process is the worker."""
        # No --workdir: docker would re-create /work root-owned over the tmpfs (the worker chdirs itself).
        # No RLIMIT_NPROC: uid 65534 is shared by every container on the host; --pids-limit counts instead.
        config = worker_config(self.limits, "/work", max_procs=None)
        return ContainerSpec(name=f"{LABEL}-{os.getpid()}-{secrets.token_hex(4)}", image=self.config.image,
                             command=worker_argv("python3", config), limits=self.limits, labels=owner_label_map(),
                             env={**JAIL_ENV, "HOME": "/work", "TMPDIR": "/tmp"})

    def _create(self) -> str:
        """Create the container (not started: :meth:`launch_spec`'s command starts and attaches it)."""
        spec = self._spec()
        with _live_lock:
            _live_containers[spec.name] = self.client
        if self.client == "sdk":
            error = docker_sdk.create(spec.sdk_kwargs())
        else:
            created = docker(*spec.cli_args(), timeout_s=self.config.startup_timeout_s)
            error = None if created.returncode == 0 else created.stderr.strip()[-500:]
        if error is not None:
            _remove_containers([spec.name], self.client)
            raise SandboxError(f"docker create failed: {error}")
        return spec.name

    def launch_spec(self) -> LaunchSpec:
        if self._container is None:
            self._container = self._create()
        if self.client == "sdk":
            return LaunchSpec(docker_sdk.relay_argv(self._container), env={},
                              startup_timeout_s=self.config.startup_timeout_s)
        return LaunchSpec(["docker", "start", "--attach", "--interactive", self._container],
                          env=dict(os.environ), startup_timeout_s=self.config.startup_timeout_s)

    def _stop(self, container: str) -> bool:
        """Stop the container at once; False when the engine no longer has it."""
        if self.client == "sdk":
            return docker_sdk.stop(container)
        return docker("stop", "--time", "0", container, timeout_s=60).returncode == 0

    def terminate(self, worker: WorkerProcess) -> None:
        if self._container is not None and not self._stop(self._container):
            # the engine lost it: start over with a new container
            _remove_containers([self._container], self.client)
            self._container = None
        worker.kill_group()

    def info(self, worker: WorkerProcess) -> WorkerInfo:
        return WorkerInfo(self.name, worker.pid, container=self._container, enforcement="cgroup",
                          memory_total_mb=self.limits.memory_mb + MEMORY_HEADROOM_MB,
                          pids_max=self.limits.max_procs)

    def close(self) -> None:
        if self._container is not None:
            _remove_containers([self._container], self.client)
            self._container = None

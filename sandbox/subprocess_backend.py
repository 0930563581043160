"""The subprocess backend: the same worker under rlimits only. NOT a jail.

It exists so the package works everywhere (a laptop without bubblewrap or docker, CI without root), with
the same behaviour as the real jails. It does not hide the filesystem or the network from the code; it
says so with a :class:`~sandbox.errors.NotAJailWarning` every time one is created. Under root the worker
still runs as a dedicated unprivileged uid, so fork bombs are stopped and root-only files stay unread.

Nothing outlives a crashed owner: the worker's supervisor asks the kernel for SIGTERM when the owner dies
(``PR_SET_PDEATHSIG``) and then kills its process group (on a dedicated uid: every process of the uid)
and deletes its working directory. Working directories are named after their owner
(``tooluse-sandbox-<pid namespace>-<pid>-<start time>-<random>``), so one left behind anyway (the worker was SIGKILLed
too) is removed by the next process that starts a subprocess sandbox, as docker's containers are.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import stat
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from typing import ClassVar

from .backend import JAIL_ENV, LaunchSpec, WorkerProcess, process_start_time, worker_argv, worker_config
from .errors import NotAJailWarning
from .types import Limits, WorkerInfo
from .uids import UidLease, allocate_uid, kill_uid

NOT_A_JAIL = ("sandbox backend 'subprocess' is NOT a jail: code can read and write whatever the worker's uid "
              "can and reach the network; only rlimits and the wall clock are enforced. Install bubblewrap "
              "(apt-get install bubblewrap) or docker for isolation.")
WORKDIR_PREFIX = "tooluse-sandbox-"
WORKDIR_NAME = re.compile(r"^tooluse-sandbox-(\d+)-(\d+)-(\d+)-[A-Za-z0-9_]+$")
SWEEP_INTERVAL_S = 60.0
log = logging.getLogger(__name__)
_sweep_lock = threading.Lock()
_last_sweep = -SWEEP_INTERVAL_S


def _pid_namespace() -> int:
    """Our PID namespace's inode: a pid means something only inside it (a /tmp may be shared with another)."""
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return 0


def workdir_prefix() -> str:
    """``tooluse-sandbox-<pid namespace>-<pid>-<start time>-``: a working directory's name says which
    process owns it."""
    return f"{WORKDIR_PREFIX}{_pid_namespace()}-{os.getpid()}-{process_start_time(os.getpid()) or 0}-"


def sweep_stale_workdirs(directory: str | None = None, *, force: bool = False) -> list[str]:
    """Remove working directories whose owner process is gone; returns the removed paths.

    Only real directories (not symlinks) that this euid owns are removed (under root, any owner: the
    directory belongs to a dedicated uid by then). Runs at most once per ``SWEEP_INTERVAL_S`` unless
    ``force``; cheap, because it lists one directory.
    """
    global _last_sweep
    with _sweep_lock:
        now = time.monotonic()
        if not force and now - _last_sweep < SWEEP_INTERVAL_S:
            return []
        _last_sweep = now
    root = directory or tempfile.gettempdir()
    removed: list[str] = []
    try:
        names = os.listdir(root)
    except OSError:
        return removed
    namespace = str(_pid_namespace())
    for name in names:
        match = WORKDIR_NAME.match(name)
        if match is None or match.group(1) != namespace:  # another PID namespace's: not ours to judge
            continue
        pid, start = int(match.group(2)), match.group(3)
        if process_start_time(pid) == start:
            continue  # the owner lives (or this is ours)
        path = os.path.join(root, name)
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or (os.geteuid() != 0 and info.st_uid != os.geteuid()):
            continue
        shutil.rmtree(path, ignore_errors=True)
        if not os.path.lexists(path):
            removed.append(path)
    if removed:
        log.info("removed %d sandbox working director(ies) of dead owners", len(removed))
    return removed


@dataclass(frozen=True)
class SubprocessConfig:
    """Options of the subprocess backend."""

    python: str | None = None
    """Interpreter; default ``/usr/bin/python3`` under root (the dedicated uid must be able to read it),
    else the running interpreter."""
    startup_timeout_s: float = 10.0


class SubprocessBackend:
    """Runs the worker as a plain child process in a private temporary directory."""

    name: ClassVar[str] = "subprocess"

    def __init__(self, limits: Limits, config: SubprocessConfig | None = None) -> None:
        warnings.warn(NOT_A_JAIL, NotAJailWarning, stacklevel=4)
        self.limits = limits
        self.config = config or SubprocessConfig()
        sweep_stale_workdirs()
        self._uid: UidLease | None = allocate_uid() if os.geteuid() == 0 else None
        self._workdir = tempfile.mkdtemp(prefix=workdir_prefix())
        default_python = "/usr/bin/python3" if self._uid and os.path.exists("/usr/bin/python3") else sys.executable
        self.python = self.config.python or default_python

    def _fresh_workdir(self) -> None:
        shutil.rmtree(self._workdir, ignore_errors=True)
        os.mkdir(self._workdir, 0o700)
        if self._uid is not None:
            os.chown(self._workdir, self._uid.uid, self._uid.uid)

    def launch_spec(self) -> LaunchSpec:
        self._fresh_workdir()
        config = worker_config(self.limits, self._workdir, parent_pid=os.getpid(),
                               max_procs=self.limits.max_procs if self._uid else None,
                               remove_workdir_when_orphaned=True, sole_user_of_uid=self._uid is not None)
        env = {**JAIL_ENV, "HOME": self._workdir, "TMPDIR": self._workdir}
        return LaunchSpec(worker_argv(self.python, config), env, uid=self._uid.uid if self._uid else None,
                          cwd=self._workdir, startup_timeout_s=self.config.startup_timeout_s)

    def terminate(self, worker: WorkerProcess) -> None:
        worker.kill_group()
        if self._uid is not None:
            kill_uid(self._uid.uid)  # children that left the process group

    def info(self, worker: WorkerProcess) -> WorkerInfo:
        return WorkerInfo(self.name, worker.pid, uid=self._uid.uid if self._uid else None, enforcement="rlimits",
                          pids_max=self.limits.max_procs if self._uid else None)

    def close(self) -> None:
        if self._uid is not None:
            kill_uid(self._uid.uid)
            self._uid.release()
            self._uid = None
        shutil.rmtree(self._workdir, ignore_errors=True)

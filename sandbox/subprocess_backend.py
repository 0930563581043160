"""The subprocess backend: the same worker under rlimits only. NOT a jail.

It exists so the package works everywhere (a laptop without bubblewrap or docker, CI without root), with
the same behaviour as the real jails. It does not hide the filesystem or the network from the code; it
says so with a :class:`~sandbox.errors.NotAJailWarning` every time one is created. Under root the worker
still runs as a dedicated unprivileged uid, so fork bombs are stopped and root-only files stay unread.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import warnings
from dataclasses import dataclass
from typing import ClassVar

from .backend import JAIL_ENV, LaunchSpec, WorkerProcess, worker_argv, worker_config
from .errors import NotAJailWarning
from .types import Limits, WorkerInfo
from .uids import UidLease, allocate_uid, kill_uid

NOT_A_JAIL = ("sandbox backend 'subprocess' is NOT a jail: code can read and write whatever the worker's uid "
              "can and reach the network; only rlimits and the wall clock are enforced. Install bubblewrap "
              "(apt-get install bubblewrap) or docker for isolation.")


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
        self._uid: UidLease | None = allocate_uid() if os.geteuid() == 0 else None
        self._workdir = tempfile.mkdtemp(prefix="tooluse-sandbox-")
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
                               max_procs=self.limits.max_procs if self._uid else None)
        env = {**JAIL_ENV, "HOME": self._workdir, "TMPDIR": self._workdir}
        return LaunchSpec(worker_argv(self.python, config), env, uid=self._uid.uid if self._uid else None,
                          cwd=self._workdir, startup_timeout_s=self.config.startup_timeout_s)

    def terminate(self, worker: WorkerProcess) -> None:
        worker.kill_group()
        if self._uid is not None:
            kill_uid(self._uid.uid)  # children that left the process group

    def info(self, worker: WorkerProcess) -> WorkerInfo:
        return WorkerInfo(self.name, worker.pid, uid=self._uid.uid if self._uid else None)

    def close(self) -> None:
        if self._uid is not None:
            kill_uid(self._uid.uid)
            self._uid.release()
            self._uid = None
        shutil.rmtree(self._workdir, ignore_errors=True)

"""The bubblewrap backend: namespaces + rlimits, ~20 ms to start, no daemon.

The jail sees a read-only ``/usr`` (and the ``/lib``/``/bin`` links into it), a minimal ``/dev`` and
``/proc``, a few ``/etc`` files the interpreter reads, and private tmpfs mounts at ``/work`` (the working
directory, where files are shipped) and ``/tmp``. Every namespace is unshared: no network, no view of host
processes. Under root, bwrap itself is started under a dedicated unprivileged uid (see :mod:`.uids`) so
RLIMIT_NPROC stops fork bombs and the uid can be swept clean on kill; without root, RLIMIT_NPROC still
counts per jail on Linux >= 5.14, where process counts are kept per user namespace.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from functools import cache
from typing import ClassVar

from .backend import JAIL_ENV, LaunchSpec, WorkerProcess, as_user, worker_argv, worker_config
from .errors import BackendUnavailable
from .types import Limits, WorkerInfo
from .uids import UidLease, allocate_uid, kill_uid

log = logging.getLogger(__name__)
INSTALL_HINT = "apt-get install bubblewrap (and allow unprivileged user namespaces)"
ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/etc/mime.types", "/etc/python3", "/etc/python3.11",
             "/etc/python3.12", "/etc/python3.13")
PROBE_UID = 65534
JAIL_EXIT_WAIT_S = 2.0


@dataclass(frozen=True)
class BwrapConfig:
    """Options of the bwrap backend."""

    python: str = "/usr/bin/python3"
    """Interpreter inside the jail; must live under ``/usr`` and be readable by an unprivileged uid."""
    startup_timeout_s: float = 10.0


def _root_links() -> list[str]:
    """``/lib``, ``/bin`` ... as on the host: symlinks into ``/usr`` (merged /usr) or read-only binds."""
    args: list[str] = []
    for name in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(name):
            args += ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            args += ["--ro-bind", name, name]
    return args


def bwrap_args(limits: Limits) -> list[str]:
    """The bwrap command line up to (not including) the command it runs."""
    args = ["bwrap", "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
            "--new-session", "--hostname", "sandbox", "--ro-bind", "/usr", "/usr", *_root_links()]
    for path in ETC_FILES:
        args += ["--ro-bind-try", path, path]
    size = str(limits.disk_mb << 20)
    args += ["--proc", "/proc", "--dev", "/dev", "--size", size, "--tmpfs", "/tmp",
             "--size", size, "--tmpfs", "/work", "--remount-ro", "/", "--chdir", "/work"]
    return args


def nproc_counted_per_userns() -> bool:
    """Since Linux 5.14 RLIMIT_NPROC counts processes per user namespace, so without root (no dedicated
    uid) the limit set inside bwrap's namespace still counts only the jail's own processes."""
    try:
        major, minor = (int(part) for part in os.uname().release.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (5, 14)


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (empty when the kernel lacks ``/proc/<pid>/task/<pid>/children``)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(child) for child in handle.read().split()]
    except (OSError, ValueError):
        return []


@cache
def probe(python: str) -> str | None:
    """Why bwrap cannot run here, or ``None`` when a trial jail starts. Cached per process."""
    if shutil.which("bwrap") is None:
        return "the bwrap executable is not on PATH"
    if not os.access(python, os.X_OK):
        return f"{python} (the in-jail interpreter) does not exist"
    argv, identity = as_user([*bwrap_args(Limits()), python, "-I", "-c", "import resource"],
                             PROBE_UID if os.geteuid() == 0 else None)
    try:
        done = subprocess.run(argv, capture_output=True, timeout=30, env=JAIL_ENV, **identity)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"trial jail failed: {exc}"
    if done.returncode != 0:
        return f"trial jail failed: {done.stderr.decode(errors='replace').strip()[-500:]}"
    return None


class BwrapBackend:
    """Runs the worker in a bubblewrap jail."""

    name: ClassVar[str] = "bwrap"

    def __init__(self, limits: Limits, config: BwrapConfig | None = None) -> None:
        self.limits = limits
        self.config = config or BwrapConfig()
        reason = probe(self.config.python)
        if reason:
            raise BackendUnavailable(self.name, reason, INSTALL_HINT)
        self._uid: UidLease | None = allocate_uid() if os.geteuid() == 0 else None
        self._limit_procs = self._uid is not None or nproc_counted_per_userns()
        if not self._limit_procs:
            log.warning("bwrap without root on a kernel older than 5.14: RLIMIT_NPROC would count all of this "
                        "user's processes, so fork bombs are bounded by the wall clock only")

    def launch_spec(self) -> LaunchSpec:
        config = worker_config(self.limits, "/work",
                               max_procs=self.limits.max_procs if self._limit_procs else None)
        argv = [*bwrap_args(self.limits), *worker_argv(self.config.python, config)]
        env = {**JAIL_ENV, "HOME": "/work", "TMPDIR": "/tmp"}
        return LaunchSpec(argv, env, uid=self._uid.uid if self._uid else None,
                          startup_timeout_s=self.config.startup_timeout_s)

    def terminate(self, worker: WorkerProcess) -> None:
        # SIGKILL the PID namespace's init first: the kernel then kills and reaps everything inside, bwrap
        # reaps its child and exits, and no orphan is left for the host's init to reap (a container's
        # PID 1 often never does). Killing bwrap itself is the fallback (--die-with-parent does the rest);
        # the uid sweep is the belt to those braces.
        if worker.alive():  # unreaped, so worker.pid is still bwrap and its children are the jail's
            for pid in _children(worker.pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            worker.exit_code(timeout_s=JAIL_EXIT_WAIT_S)
        worker.kill_group()
        if self._uid is not None:
            kill_uid(self._uid.uid)

    def info(self, worker: WorkerProcess) -> WorkerInfo:
        return WorkerInfo(self.name, worker.pid, uid=self._uid.uid if self._uid else None)

    def close(self) -> None:
        if self._uid is not None:
            kill_uid(self._uid.uid)
            self._uid.release()
            self._uid = None

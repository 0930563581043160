"""The bubblewrap backend: namespaces + rlimits, ~20 ms to start, no daemon.

The jail sees a read-only ``/usr`` (and the ``/lib``/``/bin`` links into it), a minimal ``/dev`` and
``/proc``, a few ``/etc`` files the interpreter reads, and private tmpfs mounts at ``/work`` (the working
directory, where files are shipped) and ``/tmp``. Every namespace is unshared: no network, no view of host
processes. Under root, bwrap itself is started under a dedicated unprivileged uid (see :mod:`.uids`) so
RLIMIT_NPROC stops fork bombs and the uid can be swept clean on kill; without root, RLIMIT_NPROC still
counts per jail on Linux >= 5.14, where process counts are kept per user namespace.

The jail's *total* memory (issue 13): RLIMIT_AS caps each process, not their sum, and tmpfs files and
their inodes live in host memory too. So:

* where the host allows it (root with a writable cgroup2 hierarchy, or cgroup v1 ``memory`` and ``pids``
  hierarchies), each jail runs in a cgroup leaf of its own (:mod:`.cgroup`): ``memory_mb`` plus
  ``MEMORY_HEADROOM_MB`` in all — processes, tmpfs pages, kernel objects — no swap, ``max_procs`` tasks;
* always, every writable tmpfs is sized: ``/work`` and ``/tmp`` ``disk_mb`` each, ``/dev/shm`` a link into
  ``/tmp``, and ``/dev`` a 64 KiB tmpfs, read-only once the devices are bound into it one by one (bwrap's
  ``--dev`` is a writable tmpfs of half the host's RAM). Under root ``/work`` and ``/tmp`` also get
  ``nr_inodes`` (bwrap has no such option, so they are mounted in a private mount namespace of the jail's
  before bwrap binds them); without root their inodes are bounded only by a cgroup;
* without a cgroup the total is bounded by construction: ``max_procs * memory_mb`` plus the tmpfs sizes.

:attr:`~sandbox.WorkerInfo.enforcement` and :attr:`~sandbox.WorkerInfo.memory_total_mb` say which holds.
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

from . import backend as backend_module
from .backend import JAIL_ENV, LaunchSpec, Outcome, WorkerProcess, as_user, worker_argv, worker_config
from .cgroup import JailCgroup, sweep_stale_leaves
from .cgroup import layout as cgroup_layout
from .errors import BackendUnavailable
from .types import Limits, WorkerInfo
from .uids import UidLease, allocate_uid, kill_uid

log = logging.getLogger(__name__)
INSTALL_HINT = "apt-get install bubblewrap (and allow unprivileged user namespaces)"
ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/etc/mime.types", "/etc/python3", "/etc/python3.11",
             "/etc/python3.12", "/etc/python3.13")
PROBE_UID = 65534
JAIL_EXIT_WAIT_S = 2.0
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
DEV_TMPFS_BYTES = 64 << 10
MEMORY_HEADROOM_MB = 64
MOUNT_ROOT = "/run/tooluse-sandbox/mounts"
"""Mount points (``work``, ``tmp``) of the inode-capped tmpfs; empty on the host: each jail mounts over
them in a mount namespace of its own."""
MOUNT_NAMES = ("work", "tmp")
MOUNT_SCRIPT = ('o=$1; shift; while [ "$1" != -- ]; do mount -t tmpfs -o "$o" tmpfs "$1" || exit 125; shift; done; '
                'shift; exec "$@"')
RECYCLE_WIPES = ("/work", "/tmp")
"""The jail's writable mounts (``/dev/shm`` is a link into ``/tmp``), emptied when a jail is recycled."""
RECYCLE_TIMEOUT_S = 15.0
"""How long a recycle may take before the host gives up on it and starts a new jail instead."""
MIN_INODES = 1024
INODE_BYTES = 1024
"""Kernel memory of one empty tmpfs file (inode and dentry), measured: 500k files took 497 MiB."""
"""The jail's cgroup holds ``memory_mb`` plus this much (as docker's container): the supervisor, bwrap and
the jail's init stay alive when the executor fills its RLIMIT_AS, so that it gets ``MemoryError``, not
the OOM killer."""


@dataclass(frozen=True)
class BwrapConfig:
    """Options of the bwrap backend."""

    python: str = "/usr/bin/python3"
    """Interpreter inside the jail; must live under ``/usr`` and be readable by an unprivileged uid."""
    startup_timeout_s: float = 10.0
    cgroup: bool = True
    """Put each jail in a cgroup leaf of its own (memory and process totals) where the host allows it;
    ``False``, or a host without a usable cgroup, bounds the jail by construction only (see
    :attr:`~sandbox.WorkerInfo.enforcement`)."""
    recycle: bool = True
    """Reset a jail in place (``Sandbox.reset``, and so every release to a ``SandboxPool``) instead of
    starting a new one: its PID 1 kills every other process of the jail, removes System V IPC objects,
    clears the keyrings, empties ``/work`` and ``/tmp`` and forks a pristine interpreter, and the host checks
    the result (see :meth:`BwrapBackend.recycle`); ~10x faster per episode. Anything it cannot vouch for
    falls back to a new jail. ``False``: a new jail on every reset, as before."""


def _root_links() -> list[str]:
    """``/lib``, ``/bin`` ... as on the host: symlinks into ``/usr`` (merged /usr) or read-only binds."""
    args: list[str] = []
    for name in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(name):
            args += ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            args += ["--ro-bind", name, name]
    return args


def _dev_args() -> list[str]:
    """A minimal ``/dev`` built device by device, instead of ``--dev``: bwrap's own ``/dev`` is a writable
    tmpfs of half the host's RAM (and ``/dev/shm`` with it). Here it is a tiny tmpfs, read-only once the
    device nodes are bound in; ``/dev/shm`` points into ``/tmp``, the jail's own sized tmpfs."""
    args = ["--size", str(DEV_TMPFS_BYTES), "--tmpfs", "/dev"]
    for name in DEVICES:
        args += ["--dev-bind", f"/dev/{name}", f"/dev/{name}"]
    args += ["--symlink", "/proc/self/fd", "/dev/fd", "--symlink", "/proc/self/fd/0", "/dev/stdin",
             "--symlink", "/proc/self/fd/1", "/dev/stdout", "--symlink", "/proc/self/fd/2", "/dev/stderr",
             "--symlink", "/tmp", "/dev/shm", "--remount-ro", "/dev"]
    return args


def tmpfs_inodes(limits: Limits) -> int:
    """Inodes (files, directories, links) each of ``/work`` and ``/tmp`` may hold: one per 4 KiB of
    ``disk_mb``, so their kernel memory (~1 KiB each) stays within a quarter of the tmpfs's size."""
    return max(limits.disk_mb << 8, MIN_INODES)


def tmpfs_total_mb(limits: Limits, *, inodes_capped: bool) -> int:
    """The memory ``/work`` and ``/tmp`` (``/dev/shm`` included) can hold: ``disk_mb`` of pages each, plus
    the kernel memory of their inodes where those are capped (not counted otherwise: unbounded)."""
    inode_mb = (tmpfs_inodes(limits) * INODE_BYTES) >> 20 if inodes_capped else 0
    return 2 * (limits.disk_mb + inode_mb)


def tmpfs_mount_prefix(limits: Limits, uid: int) -> list[str]:
    """Command prefix that mounts ``/work``'s and ``/tmp``'s tmpfs with ``size`` *and* ``nr_inodes`` (which
    bwrap cannot set) in a private mount namespace of the jail's own — nothing shows on the host, and the
    mounts die with the jail — on the directories bwrap then binds (root only: see :func:`inode_caps_work`)."""
    options = (f"size={limits.disk_mb << 20},nr_inodes={tmpfs_inodes(limits)},mode=0700,uid={uid},gid={uid},"
               "nosuid,nodev")
    return ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", MOUNT_SCRIPT, "sh",
            options, *(os.path.join(MOUNT_ROOT, name) for name in MOUNT_NAMES), "--"]


@cache
def inode_caps_work() -> bool:
    """True when we can mount the jail's tmpfs ourselves (root with ``unshare`` and ``mount``); tried once."""
    if os.geteuid() != 0 or not (shutil.which("unshare") and shutil.which("mount")):
        return False
    try:
        for name in MOUNT_NAMES:
            os.makedirs(os.path.join(MOUNT_ROOT, name), mode=0o755, exist_ok=True)
        trial = [*tmpfs_mount_prefix(Limits(disk_mb=1), PROBE_UID), "true"]
        return subprocess.run(trial, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def bwrap_args(limits: Limits, *, premounted: bool = False, as_pid_1: bool = False) -> list[str]:
    """The bwrap command line up to (not including) the command it runs; ``premounted``: ``/work`` and
    ``/tmp`` are bound from :func:`tmpfs_mount_prefix`'s mounts instead of made by bwrap; ``as_pid_1``: the
    worker is the PID namespace's init, instead of bwrap's own init (which runs under the jail's uid and
    can be ptraced by the code: harmless in a jail that dies with the episode, not in one that is recycled)."""
    args = ["bwrap", "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
            "--new-session", *(["--as-pid-1"] if as_pid_1 else []), "--hostname", "sandbox",
            "--ro-bind", "/usr", "/usr", *_root_links()]
    for path in ETC_FILES:
        args += ["--ro-bind-try", path, path]
    args += ["--proc", "/proc", *_dev_args()]
    if premounted:
        for name in MOUNT_NAMES:
            args += ["--bind", os.path.join(MOUNT_ROOT, name), f"/{name}"]
    else:
        size = str(limits.disk_mb << 20)
        args += ["--size", size, "--tmpfs", "/tmp", "--size", size, "--tmpfs", "/work"]
    args += ["--remount-ro", "/", "--chdir", "/work"]
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


def _all_children(pid: int) -> list[int]:
    """Direct children of every thread of ``pid``; raises ``OSError`` when they cannot be read."""
    found: list[int] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as handle:
            found += [int(child) for child in handle.read().split()]
    return sorted(found)


def recycled_jail_problem(bwrap_pid: int, cgroup_pids: list[int] | None) -> str | None:
    """What is wrong with a jail its PID 1 says it recycled, seen from the host; None when it is fresh.

    The host does not take the jail's word for it: the PID namespace must hold exactly the chain PID 1 ->
    supervisor -> executor (every process of the namespace descends from its PID 1), the cgroup leaf, where
    there is one, exactly those and bwrap, and the writable mounts must be empty.
    """
    try:
        chain = [bwrap_pid]
        for _ in range(3):
            children = _all_children(chain[-1])
            if len(children) != 1:
                return f"process {chain[-1]} of the jail has children {children}, expected one"
            chain.append(children[0])
        if _all_children(chain[-1]):
            return "the fresh executor already has children"
        if cgroup_pids is not None and sorted(cgroup_pids) != sorted(chain):
            return f"the jail's cgroup holds {cgroup_pids}, expected {chain}"
        for mount in RECYCLE_WIPES:
            left = os.listdir(f"/proc/{chain[1]}/root{mount}")
            if left:
                return f"{mount} still holds {sorted(left)[:5]}"
    except (OSError, ValueError) as exc:
        return f"cannot inspect the jail: {exc}"
    return None


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
        self._cgroups = cgroup_layout() if self.config.cgroup else None
        if self._cgroups is not None:
            sweep_stale_leaves()
        self._leaves: dict[str, JailCgroup] = {}
        self._premount = self._uid is not None and inode_caps_work()
        if not self._limit_procs and self._cgroups is None:
            log.warning("bwrap without root on a kernel older than 5.14 and without a cgroup: RLIMIT_NPROC would "
                        "count all of this user's processes, so fork bombs are bounded by the wall clock only")

    def memory_total_mb(self, *, cgroup: bool, inodes_capped: bool) -> int:
        """The bound on one jail's total memory (see :attr:`~sandbox.WorkerInfo.memory_total_mb`)."""
        if cgroup:
            return self.limits.memory_mb + MEMORY_HEADROOM_MB
        return self.limits.max_procs * self.limits.memory_mb + tmpfs_total_mb(self.limits,
                                                                              inodes_capped=inodes_capped)

    def launch_spec(self) -> LaunchSpec:
        # The cgroup leaf is entered, and the tmpfs mounted, by commands that run as us before the switch
        # to the jail's uid: that needs setpriv (Popen(user=...) switches before anything runs).
        as_us_first = self._uid is None or backend_module.setpriv_path() is not None
        cgroups = self._cgroups if as_us_first else None
        premount = self._premount and as_us_first
        config = worker_config(self.limits, "/work",
                               max_procs=self.limits.max_procs if self._limit_procs else None,
                               recycle_wipes=list(RECYCLE_WIPES) if self.config.recycle else None)
        argv = [*bwrap_args(self.limits, premounted=premount, as_pid_1=self.config.recycle),
                *worker_argv(self.config.python, config)]
        env = {**JAIL_ENV, "HOME": "/work", "TMPDIR": "/tmp"}
        memory_total_mb = self.memory_total_mb(cgroup=cgroups is not None, inodes_capped=premount)
        prefix: list[str] = []
        path = None
        if cgroups is not None:
            leaf = JailCgroup.create(cgroups, memory_bytes=memory_total_mb << 20, pids=self.limits.max_procs)
            prefix, path = leaf.enter_argv([]), leaf.memory_dir
            self._leaves[path] = leaf
        if premount and self._uid is not None:
            prefix += tmpfs_mount_prefix(self.limits, self._uid.uid)
        details = {"enforcement": "cgroup" if cgroups is not None else "construction",
                   "memory_total_mb": memory_total_mb,
                   "pids_max": self.limits.max_procs if self._limit_procs or cgroups is not None else None,
                   "tmpfs_inodes": tmpfs_inodes(self.limits) if premount else None}
        return LaunchSpec(argv, env, uid=self._uid.uid if self._uid else None,
                          startup_timeout_s=self.config.startup_timeout_s, prefix=prefix, cgroup=path,
                          details=details)

    def terminate(self, worker: WorkerProcess) -> None:
        # SIGKILL the PID namespace's init first: the kernel then kills and reaps everything inside, bwrap
        # reaps its child and exits, and no orphan is left for the host's init to reap (a container's
        # PID 1 often never does). Killing bwrap itself is the fallback (--die-with-parent does the rest);
        # the uid sweep is the belt to those braces.
        leaf = self._leaves.pop(worker.spec.cgroup, None) if worker.spec.cgroup else None
        if leaf is not None:
            leaf.kill()  # every process the jail ever had was born in its leaf
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
        if leaf is not None:
            leaf.remove()

    def recycle(self, worker: WorkerProcess) -> bool:
        """Reset the jail in place (see :attr:`BwrapConfig.recycle` and the worker's ``Zygote``), then check
        from the host that only a fresh interpreter is left in it; False — the caller then terminates the
        jail and starts a new one — when recycling is off, refused by the jail, or the check fails."""
        if not self.config.recycle or not worker.alive():
            return False
        exchange = worker.request({"op": "recycle"}, RECYCLE_TIMEOUT_S)
        reply = exchange.reply or {}
        if exchange.outcome is not Outcome.REPLY or reply.get("status") != "ok" or reply.get("ready") is not True:
            log.info("jail not recycled (%s): a new one is started",
                     reply.get("error") or exchange.detail or exchange.outcome.value)
            return False
        leaf = self._leaves.get(worker.spec.cgroup) if worker.spec.cgroup else None
        problem = recycled_jail_problem(worker.pid, leaf.pids() if leaf is not None else None)
        if problem is not None:
            log.warning("a recycled jail failed the host's check (%s): a new one is started", problem)
            return False
        worker.ready = reply
        return True

    def info(self, worker: WorkerProcess) -> WorkerInfo:
        return WorkerInfo(self.name, worker.pid, uid=self._uid.uid if self._uid else None,
                          cgroup=worker.spec.cgroup, **worker.spec.details)

    def close(self) -> None:
        for leaf in self._leaves.values():
            leaf.remove()
        self._leaves.clear()
        if self._uid is not None:
            kill_uid(self._uid.uid)
            self._uid.release()
            self._uid = None

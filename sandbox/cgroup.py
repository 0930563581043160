"""One cgroup leaf per bwrap jail: a memory total, a process total, no swap, and a kill switch.

RLIMIT_AS caps each process of a jail, not the jail: 64 processes at 512 MiB each, plus tmpfs files and
kernel objects (an empty file's inode costs ~1 KiB of kernel memory), add up to many GiB. A memory cgroup
counts all of it — anonymous memory, tmpfs pages the jail wrote, page tables, inodes and dentries — so a
leaf with ``memory.max`` bounds the jail's total, as docker's container cgroup does.

Used where the host allows it, else the jail is bounded by construction (see :mod:`.bwrap`):

* cgroup v2 with the ``memory`` and ``pids`` controllers: leaves live under ``<mount>/tooluse-sandbox``,
  with both controllers enabled in its and the root's ``cgroup.subtree_control``. Not below our own
  cgroup: the "no internal processes" rule forbids enabling controllers for the children of a cgroup that
  holds processes (ours holds us). So this takes write access to the hierarchy's root: root on the host,
  or a container whose cgroup namespace root is empty (not the usual docker container, whose root holds
  its processes: there the jail is bounded by construction, inside the container's own limit);
* cgroup v1 (separate ``memory`` and ``pids`` hierarchies, as on hybrid hosts): leaves under
  ``<hierarchy>/tooluse-sandbox`` in each, as in v2 (and as docker puts containers under ``/docker``).

Either way a jail is charged to its own leaf, not to the cgroup of the process that started it (whose
limit, if any, it escapes: its own is ``memory_mb`` + 64 MiB), and a leaf left by a crashed owner can
never keep the owner's cgroup from being removed by whoever manages it.

The jail's first process moves itself into the leaf before anything else runs (:func:`enter_argv`): a
``/bin/sh`` that writes its own pid into ``cgroup.procs`` and ``exec``s the real command (``setpriv`` ->
``bwrap``), so every process the jail ever has is born inside the leaf. Leaves are named after their
owner (pid and start time), so a dead owner's leaves are killed and removed by the next user.
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass
from functools import cache

from .backend import process_start_time

log = logging.getLogger(__name__)
PARENT_NAME = "tooluse-sandbox"
LEAF_PREFIX = "tooluse-sandbox-"
CONTROLLERS = ("memory", "pids")
ENTER_SCRIPT = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"'
"""``sh -c`` program: write our pid into each ``cgroup.procs`` given before ``--``, then exec the rest."""
REMOVE_WAIT_S = 5.0


def _mounts() -> list[tuple[str, str, set[str]]]:
    """(mount point, filesystem type, super options) of every cgroup mount, from /proc/self/mountinfo."""
    found: list[tuple[str, str, set[str]]] = []
    try:
        with open("/proc/self/mountinfo") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return found
    for line in lines:
        head, _, tail = line.partition(" - ")
        fields, tail_fields = head.split(), tail.split()
        if len(fields) < 5 or len(tail_fields) < 3 or tail_fields[0] not in ("cgroup", "cgroup2"):
            continue
        point = fields[4].replace("\\040", " ")
        found.append((point, tail_fields[0], set(tail_fields[2].split(","))))
    return found


def _write(path: str, value: str) -> None:
    with open(path, "w") as handle:
        handle.write(value)


def _read_int(path: str) -> int | None:
    try:
        with open(path) as handle:
            text = handle.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


@dataclass(frozen=True)
class CgroupLayout:
    """Where this process puts jail leaves: one parent directory per hierarchy."""

    version: int
    """2 (unified) or 1 (separate memory and pids hierarchies)."""
    parents: tuple[str, ...]
    """v2: the one parent; v1: the memory parent, then the pids parent."""

    @property
    def name(self) -> str:
        return f"cgroup v{self.version}"


def _enable_v2(directory: str) -> bool:
    """Enable memory and pids for ``directory``'s children; False where the kernel refuses."""
    try:
        with open(os.path.join(directory, "cgroup.subtree_control")) as handle:
            enabled = set(handle.read().split())
        missing = [name for name in CONTROLLERS if name not in enabled]
        if missing:
            _write(os.path.join(directory, "cgroup.subtree_control"), " ".join(f"+{name}" for name in missing))
    except OSError:
        return False
    return True


def _v2_parent(mount: str) -> str | None:
    """``<mount>/tooluse-sandbox`` with memory and pids enabled for its children, or None."""
    try:
        with open(os.path.join(mount, "cgroup.controllers")) as handle:
            if not set(CONTROLLERS) <= set(handle.read().split()):
                return None
    except OSError:
        return None
    parent = os.path.join(mount, PARENT_NAME)
    existed = os.path.isdir(parent)
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError:
        return None
    if _enable_v2(mount) and _enable_v2(parent):
        return parent
    if not existed:
        try:
            os.rmdir(parent)
        except OSError:
            pass
    return None


def _v1_parents(mounts: list[tuple[str, str, set[str]]]) -> tuple[str, ...] | None:
    """``<hierarchy>/tooluse-sandbox`` in the memory and pids hierarchies, or None where one is missing or
    not writable."""
    parents = []
    for controller in CONTROLLERS:
        point = next((point for point, kind, options in mounts if kind == "cgroup" and controller in options), None)
        if point is None:
            return None
        parent = os.path.join(point, PARENT_NAME)
        try:
            os.makedirs(parent, exist_ok=True)
        except OSError:
            return None
        parents.append(parent)
    return tuple(parents)


@cache
def layout() -> CgroupLayout | None:
    """The cgroup layout jails can use on this host, or None (cached per process; tried for real once:
    a trial leaf is created, a process moved into it, and the leaf removed)."""
    mounts = _mounts()
    found: CgroupLayout | None = None
    v2 = next((point for point, kind, _ in mounts if kind == "cgroup2"), None)
    if v2 is not None:
        parent = _v2_parent(v2)
        if parent is not None:
            found = CgroupLayout(2, (parent,))
    if found is None:
        parents = _v1_parents(mounts)
        if parents is not None:
            found = CgroupLayout(1, parents)
    if found is None:
        return None
    try:
        leaf = JailCgroup.create(found, memory_bytes=64 << 20, pids=8)
    except OSError as exc:
        log.info("%s is not usable for jails: %s", found.name, exc)
        return None
    try:
        done = subprocess.run(leaf.enter_argv(["true"]), capture_output=True, timeout=30)
        usable = done.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        usable = False
    leaf.remove()
    if not usable:
        log.info("%s: a process cannot be moved into a jail leaf here", found.name)
        return None
    sweep_stale(found)
    return found


def _pid_namespace() -> str:
    """Our PID namespace's inode: a pid means something only inside it, and the cgroup tree may be shared
    with processes of other namespaces (containers)."""
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return "0"


def _owner_prefix() -> str:
    """``tooluse-sandbox-<pid namespace>-<pid>-<start time>-``: a leaf's name says which process owns it."""
    return f"{LEAF_PREFIX}{_pid_namespace()}-{os.getpid()}-{process_start_time(os.getpid()) or 0}-"


def sweep_stale_leaves() -> None:
    """Kill and remove the jail leaves of owners that died without removing them (a crashed process):
    run whenever a bwrap backend starts, as docker's stale containers are removed."""
    found = layout()
    if found is not None:
        sweep_stale(found)


def sweep_stale(found: CgroupLayout) -> None:
    """Kill and remove the leaves in ``found`` whose owner process is gone."""
    try:
        names = sorted(set().union(*(os.listdir(parent) for parent in found.parents)))
    except OSError:
        return
    namespace = _pid_namespace()
    for name in names:
        parts = name[len(LEAF_PREFIX):].split("-")
        if not name.startswith(LEAF_PREFIX) or len(parts) != 4 or parts[0] != namespace or not parts[1].isdigit():
            continue  # not a leaf of ours, or another PID namespace's: not ours to judge
        if process_start_time(int(parts[1])) == parts[2]:
            continue  # the owner lives
        JailCgroup(found, tuple(os.path.join(parent, name) for parent in found.parents)).remove()


@dataclass(frozen=True)
class JailCgroup:
    """The leaf (one directory per hierarchy) of one jail."""

    found: CgroupLayout
    paths: tuple[str, ...]

    @classmethod
    def create(cls, found: CgroupLayout, *, memory_bytes: int, pids: int) -> JailCgroup:
        """A fresh leaf with ``memory_bytes`` of memory (swap none) and ``pids`` tasks at most."""
        name = _owner_prefix() + secrets.token_hex(4)
        leaf = cls(found, tuple(os.path.join(parent, name) for parent in found.parents))
        try:
            for path in leaf.paths:
                os.mkdir(path, 0o755)
            if found.version == 2:
                path = leaf.paths[0]
                _write(os.path.join(path, "memory.max"), str(memory_bytes))
                if os.path.exists(os.path.join(path, "memory.swap.max")):
                    _write(os.path.join(path, "memory.swap.max"), "0")
                _write(os.path.join(path, "pids.max"), str(pids))
            else:
                memory, pids_path = leaf.paths
                _write(os.path.join(memory, "memory.limit_in_bytes"), str(memory_bytes))
                if os.path.exists(os.path.join(memory, "memory.memsw.limit_in_bytes")):
                    _write(os.path.join(memory, "memory.memsw.limit_in_bytes"), str(memory_bytes))
                _write(os.path.join(pids_path, "pids.max"), str(pids))
        except OSError:
            leaf.remove()
            raise
        return leaf

    @property
    def memory_dir(self) -> str:
        return self.paths[0]

    def enter_argv(self, argv: list[str]) -> list[str]:
        """``argv`` behind a ``/bin/sh`` that first moves itself into this leaf."""
        procs = [os.path.join(path, "cgroup.procs") for path in self.paths]
        return ["/bin/sh", "-c", ENTER_SCRIPT, "sh", *procs, "--", *argv]

    def memory_current(self) -> int | None:
        """Bytes charged to the jail now (processes, tmpfs pages, kernel objects)."""
        name = "memory.current" if self.found.version == 2 else "memory.usage_in_bytes"
        return _read_int(os.path.join(self.memory_dir, name))

    def memory_peak(self) -> int | None:
        """Most bytes ever charged to the jail (``memory.peak``, Linux >= 5.19 in v2), or None."""
        name = "memory.peak" if self.found.version == 2 else "memory.max_usage_in_bytes"
        return _read_int(os.path.join(self.memory_dir, name))

    def pids(self) -> list[int]:
        found: set[int] = set()
        for path in self.paths:
            try:
                with open(os.path.join(path, "cgroup.procs")) as handle:
                    found.update(int(pid) for pid in handle.read().split())
            except (OSError, ValueError):
                pass
        return sorted(found)

    def kill(self, timeout_s: float = REMOVE_WAIT_S) -> None:
        """SIGKILL every process of the leaf (``cgroup.kill`` where the kernel has it) until none is left."""
        kill_file = os.path.join(self.memory_dir, "cgroup.kill")
        deadline = time.monotonic() + timeout_s
        while pids := self.pids():
            if self.found.version == 2 and os.path.exists(kill_file):
                try:
                    _write(kill_file, "1")
                except OSError:
                    pass
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            if time.monotonic() > deadline:
                log.error("processes of jail cgroup %s survive SIGKILL: %s", self.memory_dir, pids[:10])
                return
            time.sleep(0.005)

    def remove(self) -> None:
        """Kill what is left in the leaf and remove its directories (retried while the kernel says busy)."""
        self.kill()
        deadline = time.monotonic() + REMOVE_WAIT_S
        for path in self.paths:
            while True:
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:
                    if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                        log.error("could not remove jail cgroup %s: %s", path, exc)
                        break
                    time.sleep(0.01)

"""Dedicated unprivileged uids for jails started by root.

Why: RLIMIT_NPROC counts processes per *real uid*, so a fork bomb is only stopped at ``max_procs`` when
the jail runs under a uid nothing else uses (bwrap's own ``--uid`` maps ids inside a user namespace and
does not help; the kernel still counts the processes as root's). A dedicated uid also lets us kill every
process the jail ever started, whatever process group or session it moved to.

Uids are leased with ``flock`` on a lock file per uid, so concurrent processes (pytest-xdist, several
trainers) never share one; the lock dies with its holder, so a crash frees the uid.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

UID_BASE = 61000
UID_COUNT = 1000


@dataclass
class UidLease:
    """A uid held by this process until :meth:`release`."""

    uid: int
    _lock_fd: int

    def release(self) -> None:
        """Give the uid back; call only once no process of the uid is left."""
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1


def _lock_dir() -> Path:
    for candidate in (Path("/run/tooluse-sandbox/uids"), Path(tempfile.gettempdir()) / "tooluse-sandbox-uids"):
        try:
            candidate.mkdir(mode=0o700, parents=True, exist_ok=True)
            if candidate.stat().st_uid == os.geteuid() and os.access(candidate, os.W_OK):
                return candidate
        except OSError:
            continue
    raise OSError("no writable directory for sandbox uid locks")


def _uid_in_passwd(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True


def _process_table() -> dict[int, int]:
    """Live (non-zombie) processes as pid -> real uid, read from ``/proc/<pid>/status``.

    The real uid, not the owner of ``/proc/<pid>``: a process that clears its dumpable flag makes its
    ``/proc`` entry root's, and must not hide from :func:`kill_uid` that way.
    """
    table = {}
    with os.scandir("/proc") as entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/status", "rb") as handle:
                    status = handle.read(2048)
            except OSError:
                continue
            fields = dict(line.split(b":", 1) for line in status.splitlines() if b":" in line)
            if fields.get(b"State", b"").strip().startswith(b"Z"):
                continue
            uid_field = fields.get(b"Uid", b"").split()
            if uid_field:
                table[int(entry.name)] = int(uid_field[0])
    return table


def running_uids() -> set[int]:
    """Real uids of all live processes on the host."""
    return set(_process_table().values())


def processes_of(uid: int) -> list[int]:
    """Pids of the live processes whose real uid is ``uid``."""
    return [pid for pid, owner in _process_table().items() if owner == uid]


def allocate_uid() -> UidLease:
    """Lease a uid from ``UID_BASE`` on that is in no passwd entry and runs no process; root only."""
    if os.geteuid() != 0:
        raise PermissionError("only root can run jails under a dedicated uid")
    lock_dir = _lock_dir()
    busy = running_uids()
    for uid in range(UID_BASE, UID_BASE + UID_COUNT):
        if uid in busy or _uid_in_passwd(uid):
            continue
        fd = os.open(lock_dir / f"{uid}.lock", os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        if processes_of(uid):  # raced with a holder that released after our scan; leave its leftovers be
            os.close(fd)
            continue
        return UidLease(uid, fd)
    raise OSError(f"all {UID_COUNT} sandbox uids from {UID_BASE} are in use")


def kill_uid(uid: int, timeout_s: float = 10.0) -> None:
    """SIGKILL every process of ``uid`` until none is left (a fork bomb refills the table meanwhile).

    Only called for uids leased by :func:`allocate_uid`, so every such process was started by us.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        pids = processes_of(uid)
        if not pids:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"processes of sandbox uid {uid} survive SIGKILL: {pids[:10]}")
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.005)

"""The Backend protocol and the host side of the worker protocol, shared by every backend.

A backend only decides *how* to start the jail (:class:`LaunchSpec`) and how to kill everything in it
(:meth:`Backend.terminate`). Talking to the worker — the JSON-lines exchange, the wall-clock deadline,
the reply size cap, telling a dead worker from a slow one — is the same for all and lives here once.

The host trusts nothing it reads from the jail: it stops reading a reply at :func:`max_reply_bytes`, and
a line that is not a JSON object (garbage, nesting deep enough for ``RecursionError``), carries another
request's id, or has fields of the wrong type ends the exchange as :attr:`Outcome.PROTOCOL` — the worker
is then replaced — and never as an exception.
"""

from __future__ import annotations

import enum
import json
import os
import queue
import secrets
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

from .errors import WorkerStartError
from .types import Limits, WorkerInfo

T = TypeVar("T")
REPLY_OVERHEAD_BYTES = 1 << 20
JAIL_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "PYTHONIOENCODING": "utf-8", "MALLOC_ARENA_MAX": "2", "USER": "sandbox"}
"""The whole environment of a worker: nothing of the host's leaks in. MALLOC_ARENA_MAX keeps glibc from
reserving 64 MiB of address space per thread, which would eat RLIMIT_AS."""


@cache
def worker_source() -> str:
    """The worker program's source, passed with ``python3 -c`` so the jail needs no file of ours."""
    return (Path(__file__).with_name("worker.py")).read_text(encoding="utf-8")


def worker_argv(python: str, config: dict[str, Any]) -> list[str]:
    """Command line that starts the worker under ``python``."""
    return [python, "-I", "-u", "-c", worker_source(), json.dumps(config)]


def worker_config(limits: Limits, workdir: str, *, max_procs: int | None, parent_pid: int | None = None,
                  remove_workdir_when_orphaned: bool = False, sole_user_of_uid: bool = False,
                  recycle_wipes: list[str] | None = None) -> dict[str, Any]:
    """The worker's start-up configuration (its rlimits are applied by the worker itself).

    ``parent_pid``: the worker's supervisor asks for SIGTERM when that process dies, and then kills what
    the jail started and — with ``remove_workdir_when_orphaned`` — deletes ``workdir``;
    ``sole_user_of_uid``: the worker runs under a uid nothing else uses, so that clean-up may kill every
    process of the uid; ``recycle_wipes``: the worker runs as PID 1 of a PID namespace of its own and may be
    recycled in place (see :class:`Recycler`), emptying these writable mounts.
    """
    recycle = {"recyclable": True, "wipe": list(recycle_wipes)} if recycle_wipes is not None else {}
    return {**recycle, "workdir": workdir, "memory_mb": limits.memory_mb, "file_size_mb": limits.file_size_mb,
            "cpu_s": limits.cpu_s, "cpu_total_s": max(limits.cpu_total_s, limits.cpu_s + 1),
            "output_bytes": limits.output_bytes, "max_procs": max_procs, "parent_pid": parent_pid,
            "remove_workdir_when_orphaned": remove_workdir_when_orphaned, "sole_user_of_uid": sole_user_of_uid}


def process_start_time(pid: int) -> str | None:
    """The start time of ``pid`` in clock ticks since boot (``/proc/<pid>/stat``), or None if it is gone:
    with the pid, it names one process for good (a pid alone may be recycled)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


@dataclass(frozen=True)
class LaunchSpec:
    """How to start one worker: the command line and the host-side identity it runs under."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=lambda: dict(JAIL_ENV))
    uid: int | None = None
    """Start the process under this uid (and gid): root drops to a dedicated unprivileged uid."""
    cwd: str | None = None
    startup_timeout_s: float = 10.0
    prefix: list[str] = field(default_factory=list)
    """Command run under the host's own identity before the switch to ``uid`` (it ``exec``s the rest):
    bwrap's step into the jail's cgroup leaf."""
    cgroup: str | None = None
    """The jail's cgroup directory, when the backend made one for this worker."""
    details: dict[str, Any] = field(default_factory=dict)
    """What the backend notes about this worker for :meth:`Backend.info` (how its limits are enforced)."""


class Backend(Protocol):
    """One isolation mechanism, bound to one sandbox (it may hold a uid or a container name)."""

    name: ClassVar[str]

    def launch_spec(self) -> LaunchSpec:
        """The command for a fresh worker; called for the first start and every respawn."""
        ...

    def terminate(self, worker: WorkerProcess) -> None:
        """Kill the worker and everything it started; return once nothing of it runs."""
        ...

    def info(self, worker: WorkerProcess) -> WorkerInfo:
        """Where the worker lives on the host."""
        ...

    def close(self) -> None:
        """Release what the backend holds (uid lease, spare container, work directory)."""
        ...


@runtime_checkable
class Recycler(Protocol):
    """A backend that can reset a jail in place instead of starting a new one (bwrap)."""

    def recycle(self, worker: WorkerProcess) -> bool:
        """Reset the jail for a new episode: a fresh interpreter, nothing of the old one left (no process,
        file, IPC object, key); False when that cannot be had (the caller then starts a new jail)."""
        ...


class Outcome(enum.Enum):
    """How one request/reply exchange ended."""

    REPLY = "reply"
    TIMEOUT = "timeout"
    DIED = "died"
    PROTOCOL = "protocol"


@dataclass(frozen=True)
class Exchange:
    """The result of :meth:`WorkerProcess.request`: a reply, or why there is none."""

    outcome: Outcome
    reply: dict[str, Any] | None = None
    detail: str = ""


@cache
def setpriv_path() -> str | None:
    return shutil.which("setpriv")


def as_user(argv: list[str], uid: int | None) -> tuple[list[str], dict[str, Any]]:
    """``argv`` and the ``Popen`` keywords that run it as ``uid`` (real, effective and saved uid and gid;
    no supplementary groups), or unchanged when ``uid`` is None or already ours.

    util-linux ``setpriv`` switches the ids after exec when it is installed, because ``Popen(user=...)``
    makes CPython fork() instead of vfork(): the fork copies the page tables of the whole parent, which
    cost ~50 ms per jail start in a process holding 1 GB of model tensors (measured), against ~2 ms.
    """
    if uid is None or uid == os.geteuid():
        return list(argv), {}
    setpriv = setpriv_path()
    if setpriv is None:
        return list(argv), {"user": uid, "group": uid, "extra_groups": []}
    return [setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--", *argv], {}


class _Spawner:
    """Starts every worker from one long-lived thread.

    bwrap's ``--die-with-parent`` and the worker's PR_SET_PDEATHSIG fire when the *thread* that forked
    them exits, not the process; a worker started from a short-lived thread (a pool's reset thread, an
    executor) would be killed with it. Forking from this daemon thread ties workers to the process.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], queue.SimpleQueue[Any]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def call(self, job: Callable[[], T]) -> T:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, name="sandbox-spawner", daemon=True)
                self._thread.start()
        answer: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._jobs.put((job, answer))
        kind, value = answer.get()
        if kind == "error":
            raise value
        return value

    def _serve(self) -> None:
        while True:
            job, answer = self._jobs.get()
            try:
                answer.put(("ok", job()))
            except BaseException as exc:  # noqa: B036 - handed back to the caller's thread
                answer.put(("error", exc))


SPAWNER = _Spawner()


class WorkerProcess:
    """One running worker: the process the host started, and the JSON-lines pipe to it."""

    def __init__(self, spec: LaunchSpec, max_reply_bytes: int) -> None:
        self.spec = spec
        self.max_reply_bytes = max_reply_bytes
        self._stderr = tempfile.TemporaryFile()
        self._buffer = bytearray()
        self.popen: subprocess.Popen[bytes] = SPAWNER.call(self._start)
        assert self.popen.stdin is not None and self.popen.stdout is not None
        self._in = self.popen.stdin.fileno()
        self._out = self.popen.stdout.fileno()
        os.set_blocking(self._in, False)
        os.set_blocking(self._out, False)
        self.ready: dict[str, Any] = {}

    def _start(self) -> subprocess.Popen[bytes]:
        spec = self.spec
        argv, identity = as_user(spec.argv, spec.uid)
        argv = [*spec.prefix, *argv]
        return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                                env=spec.env, cwd=spec.cwd, start_new_session=True, bufsize=0, **identity)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.exit_code() is None

    def exit_code(self, timeout_s: float = 0.0) -> int | None:
        """The exit status once the started process has exited (negative: killed by that signal), else None.

        Uses ``WNOWAIT``: the process stays a zombie until :meth:`reap`, so its pid and process group cannot
        be recycled for an unrelated process while we may still signal them.
        """
        deadline = time.monotonic() + timeout_s
        while self.popen.returncode is None:
            try:
                info = os.waitid(os.P_PID, self.popen.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:  # reaped behind our back (a SIGCHLD handler): let Popen settle it
                return self.popen.poll()
            if info is not None:
                return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.002)
        return self.popen.returncode

    def wait_ready(self) -> dict[str, Any]:
        """Wait for the worker's hello line; raise :class:`WorkerStartError` with the jail's stderr."""
        deadline = time.monotonic() + self.spec.startup_timeout_s
        line, outcome = self._read_line(deadline)
        if outcome is Outcome.REPLY and line is not None:
            hello = parse_line(line)
            if isinstance(hello, dict) and hello.get("ready") is True:
                self.ready = hello
                return hello
        why = {Outcome.TIMEOUT: f"no hello within {self.spec.startup_timeout_s:g} s",
               Outcome.DIED: self.exit_description()}.get(outcome, "garbled or oversized hello")
        raise WorkerStartError(f"worker did not start ({why}); stderr: {self.stderr_tail() or '<empty>'}")

    def request(self, message: dict[str, Any], timeout_s: float) -> Exchange:
        """Send one request and wait for its reply: the next line, which must be a well-formed reply
        carrying this request's nonce; anything else is :attr:`Outcome.PROTOCOL` (see the module doc)."""
        deadline = time.monotonic() + timeout_s
        nonce = secrets.token_hex(8)
        data = (json.dumps({**message, "id": nonce}) + "\n").encode()
        outcome = self._write_all(data, deadline)
        if outcome is Outcome.REPLY:
            line, outcome = self._read_line(deadline)
            if line is not None:
                reply = parse_line(line)
                problem = reply_problem(reply, nonce)
                if problem is not None:
                    return Exchange(Outcome.PROTOCOL, detail=problem)
                assert isinstance(reply, dict)
                return Exchange(Outcome.REPLY, reply)
        if outcome is Outcome.PROTOCOL:
            return Exchange(outcome, detail=f"reply longer than {self.max_reply_bytes} bytes; not read further")
        detail = self.exit_description() if outcome is Outcome.DIED else ""
        return Exchange(outcome, detail=detail)

    def _write_all(self, data: bytes, deadline: float) -> Outcome:
        view = memoryview(data)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return Outcome.TIMEOUT
            _, writable, _ = select.select([], [self._in], [], remaining)
            if not writable:
                continue
            try:
                view = view[os.write(self._in, view):]
            except BlockingIOError:
                continue
            except (BrokenPipeError, OSError):
                return Outcome.DIED
        return Outcome.REPLY

    def _read_line(self, deadline: float) -> tuple[bytes | None, Outcome]:
        poller = select.poll()
        poller.register(self._out, select.POLLIN | select.POLLHUP | select.POLLERR)
        while True:
            end = self._buffer.find(b"\n", 0, self.max_reply_bytes + 1)
            if end >= 0:
                line = bytes(self._buffer[:end])
                del self._buffer[:end + 1]
                return line, Outcome.REPLY
            if len(self._buffer) > self.max_reply_bytes:  # never read (or keep) more than the cap
                self._buffer.clear()
                return None, Outcome.PROTOCOL
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None, Outcome.TIMEOUT
            if not poller.poll(remaining * 1000):
                continue
            try:
                chunk = os.read(self._out, min(1 << 16, self.max_reply_bytes + 1 - len(self._buffer)))
            except BlockingIOError:
                continue
            if not chunk:
                return None, Outcome.DIED
            self._buffer += chunk

    def kill_group(self) -> None:
        """SIGKILL the process group the worker was started in, then reap the direct child."""
        if self.popen.returncode is None:  # not reaped yet, so the group id is still ours
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.reap()

    def reap(self, timeout_s: float = 10.0) -> None:
        """Wait for the started process to exit and close the pipes."""
        try:
            self.popen.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
        for pipe in (self.popen.stdin, self.popen.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass
        self._stderr.close()

    def exit_description(self) -> str:
        """Why the worker ended, e.g. ``"killed by SIGSEGV"``; waits briefly for the exit status."""
        code = self.exit_code(timeout_s=2.0)
        if code is None:
            return "worker closed its pipe but is still running"
        if code < 0:
            return f"killed by {signal_name(-code)}"
        if code > 128:  # bwrap and the docker CLI report a child's signal as 128 + signo
            return f"exit status {code} (killed by {signal_name(code - 128)})"
        return f"exit status {code}"

    def stderr_tail(self, limit: int = 2000) -> str:
        """The end of what the jail printed on stderr (bwrap or docker errors, interpreter crashes)."""
        try:
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(size - limit, 0))
            return self._stderr.read().decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""


REPLY_FIELDS: dict[str, tuple[type, ...]] = {
    "status": (str,), "stdout": (str,), "stderr": (str,), "error": (str, type(None)),
    "traceback": (str, type(None)), "stdout_truncated": (bool,), "stderr_truncated": (bool,)}
REPLY_STATUSES = ("ok", "error", "cpu_limit", "memory_limit")
"""What a worker may answer; ``timeout`` and ``crashed`` are the host's to decide, never the jail's."""


def parse_line(line: bytes) -> object:
    """A JSON value, or ``None`` for anything that does not parse (including ``RecursionError`` on deep
    nesting, and invalid UTF-8)."""
    try:
        return json.loads(line)
    except (ValueError, RecursionError, MemoryError):
        return None


def reply_problem(reply: object, nonce: str) -> str | None:
    """Why ``reply`` is not an acceptable answer to request ``nonce``, or ``None`` when it is."""
    if not isinstance(reply, dict):
        return "the worker sent a line that is not a JSON object"
    if reply.get("id") != nonce:
        return "the worker answered with another request's id"
    if "protocol_error" in reply:
        return f"the worker reported a protocol error: {str(reply['protocol_error'])[:200]}"
    if reply.get("status") not in REPLY_STATUSES:
        return f"the worker sent an unknown status {str(reply.get('status'))[:40]!r}"
    for key, types in REPLY_FIELDS.items():
        if key in reply and not isinstance(reply[key], types):
            return f"the worker sent a {type(reply[key]).__name__} as {key!r}"
    return None


def signal_name(number: int) -> str:
    """``11`` -> ``"SIGSEGV"``; unknown numbers stay numeric."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def max_reply_bytes(limits: Limits) -> int:
    """Largest reply accepted: two streams capped in bytes (JSON-escaped: <= 6 bytes per byte) and error
    plus traceback capped in characters (<= 12 bytes per character as ``\\uXXXX`` pairs), plus slack."""
    return 36 * limits.output_bytes + REPLY_OVERHEAD_BYTES


def start_worker(backend: Backend, limits: Limits) -> WorkerProcess:
    """Launch a worker and wait for its hello; on failure, kill whatever did start."""
    worker = WorkerProcess(backend.launch_spec(), max_reply_bytes(limits))
    try:
        worker.wait_ready()
    except BaseException:
        backend.terminate(worker)
        raise
    return worker

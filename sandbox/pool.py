"""``SandboxPool``: warm sandboxes handed out per episode and wiped between episodes.

Why a pool: starting a jail costs ~20 ms (bwrap) to seconds (docker with the vfs driver); RL rollouts open
thousands of short episodes. A released sandbox is reset in the background (:meth:`Sandbox.reset`) before
anyone can acquire it again, so no state, file or process of one episode can reach the next (an in-process
"clear globals" could be tampered with by the code itself). docker and subprocess sandboxes get a fresh
worker in a fresh jail; a bwrap jail is recycled in place by default — its PID 1, which never sees an
episode's data, kills every other process, removes IPC objects and keys, empties the tmpfs and forks a
pristine interpreter, and the host checks the result — ~10x faster; ``BwrapConfig(recycle=False)`` restores
a new jail per episode.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import ThreadPoolExecutor

from .errors import SandboxClosed, SandboxError
from .registry import BackendConfig
from .sandbox import FileMap, Sandbox
from .types import ExecResult, Limits, WorkerInfo

log = logging.getLogger(__name__)


class Lease:
    """A pooled sandbox on loan: the :class:`Sandbox` API plus :meth:`release`."""

    def __init__(self, pool: SandboxPool, sandbox: Sandbox) -> None:
        self._pool = pool
        self._sandbox: Sandbox | None = sandbox

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def _live(self) -> Sandbox:
        if self._sandbox is None:
            raise SandboxClosed("this lease was released")
        return self._sandbox

    @property
    def backend_name(self) -> str:
        return self._live().backend_name

    @property
    def limits(self) -> Limits:
        return self._live().limits

    @property
    def worker_info(self) -> WorkerInfo:
        return self._live().worker_info

    def run(self, code: str, *, wall_s: float | None = None) -> ExecResult:
        """Run code in the leased sandbox (see :meth:`Sandbox.run`)."""
        return self._live().run(code, wall_s=wall_s)

    def put_files(self, files: FileMap, *, keep_on_reset: bool = False) -> None:
        """Ship more files (see :meth:`Sandbox.put_files`)."""
        self._live().put_files(files, keep_on_reset=keep_on_reset)

    def reset(self) -> None:
        """Fresh interpreter; the files given to ``acquire`` are shipped again."""
        self._live().reset()

    def release(self) -> None:
        """Give the sandbox back; it is reset in the background. Idempotent."""
        sandbox, self._sandbox = self._sandbox, None
        if sandbox is not None:
            self._pool._give_back(sandbox)


class SandboxPool:
    """``size`` warm sandboxes of one backend; :meth:`acquire` blocks until one is free.

    Args:
        size: number of sandboxes (each holds one worker, and under root one dedicated uid).
        backend: as for :class:`Sandbox`; one backend for the whole pool.
        limits: limits of every sandbox.
    """

    def __init__(self, size: int = 4, backend: str | BackendConfig = "auto", limits: Limits | None = None) -> None:
        if size < 1:
            raise ValueError(f"pool size must be at least 1, got {size}")
        self.size = size
        self.backend = backend
        self.limits = limits or Limits()
        self._idle: queue.SimpleQueue[Sandbox | None] = queue.SimpleQueue()  # None: the pool closed
        self._members: list[Sandbox] = []
        self._lock = threading.Lock()
        self._closed = False
        self._resetter = ThreadPoolExecutor(max_workers=size, thread_name_prefix="sandbox-pool-reset")
        try:
            for sandbox in self._resetter.map(lambda _: self._new_sandbox(), range(size)):
                self._idle.put(sandbox)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def backend_name(self) -> str:
        return self._members[0].backend_name

    @property
    def idle(self) -> int:
        """Sandboxes ready to be acquired now."""
        return self._idle.qsize()

    def acquire(self, files: FileMap | None = None, timeout_s: float | None = None) -> Lease:
        """Borrow a fresh sandbox, with ``files`` shipped into it (and re-shipped on ``lease.reset()``).

        Raises:
            SandboxError: no sandbox became free within ``timeout_s``.
        """
        if self._closed:
            raise SandboxClosed("the pool is closed")
        try:
            sandbox = self._idle.get(timeout=timeout_s)
        except queue.Empty:
            raise SandboxError(f"no sandbox became free within {timeout_s} s (pool size {self.size})") from None
        if sandbox is None or self._closed:
            self._idle.put(None)  # wake the next waiter too
            raise SandboxClosed("the pool is closed")
        try:
            if files:
                sandbox.put_files(files, keep_on_reset=True)
        except BaseException:
            self._give_back(sandbox)
            raise
        return Lease(self, sandbox)

    def close(self) -> None:
        """Kill every sandbox of the pool, leased or idle; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._resetter.shutdown(wait=True)
        for sandbox in self._members:
            sandbox.close()
        self._idle.put(None)

    def _new_sandbox(self) -> Sandbox:
        sandbox = Sandbox(self.backend, self.limits)
        with self._lock:
            self._members.append(sandbox)
        return sandbox

    def _give_back(self, sandbox: Sandbox) -> None:
        with self._lock:
            if self._closed:
                sandbox.close()
                return
            self._resetter.submit(self._reset_and_return, sandbox)

    def _reset_and_return(self, sandbox: Sandbox) -> None:
        try:
            sandbox.reset(files={})
        except SandboxError as exc:
            log.error("resetting a pooled sandbox failed (%s); replacing it", exc)
            with self._lock:
                self._members.remove(sandbox)
            sandbox.close()
            try:
                sandbox = self._new_sandbox()
            except SandboxError as again:
                log.error("could not replace the sandbox (%s); the pool shrinks to %d",
                          again, len(self._members))
                return
        if self._closed:
            sandbox.close()
            return
        self._idle.put(sandbox)

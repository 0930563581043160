"""``Sandbox``: a stateful, isolated Python interpreter (a notebook in a jail).

The class owns the lifecycle every backend shares: start a worker, ship files, run code under the
wall-clock limit, turn every way a call can end into an :class:`~sandbox.types.ExecResult`, and replace
the worker whenever it died or had to be killed. It never raises for what the *code* did.
"""

from __future__ import annotations

import atexit
import base64
import threading
import time
import weakref
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from .backend import Backend, Exchange, Outcome, Recycler, WorkerProcess, start_worker
from .errors import InvalidFileName, SandboxClosed, SandboxError
from .registry import BackendConfig, create_backend
from .types import MAX_SECONDS, ExecResult, ExecStatus, Limits, WorkerInfo
from .worker import cap_text  # the same cut the worker makes inside the jail (stdlib-only module)

FileMap = Mapping[str, str | bytes]
FILES_TIMEOUT_S = 60.0
_live: weakref.WeakSet[Sandbox] = weakref.WeakSet()


def encode_files(files: FileMap) -> list[dict[str, str]]:
    """Validate file names (relative, no ``..``) and encode contents for the worker (str as UTF-8)."""
    encoded = []
    for name, content in files.items():
        path = PurePosixPath(name)
        if not name or path.is_absolute() or ".." in path.parts:
            raise InvalidFileName(f"file name {name!r} must be relative and stay inside the working directory")
        data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        encoded.append({"path": str(path), "b64": base64.b64encode(data).decode("ascii")})
    return encoded


def clip(text: str | None, limit: int) -> str | None:
    """``text`` cut to ``limit`` characters, as the worker cuts error texts."""
    if text is None or len(text) <= limit:
        return text
    return text[:limit] + " ...[truncated]"


def result_from_reply(reply: dict[str, Any], duration_s: float, state_lost: bool,
                      output_bytes: int | None = None) -> ExecResult:
    """Build the typed result from the worker's reply (checked by :func:`~sandbox.backend.reply_problem`).

    With ``output_bytes``, the host enforces the output cap itself on what it read: stdout and stderr are
    cut to that many bytes (and flagged truncated), error and traceback to that many characters, whatever
    the worker claims.
    """
    try:
        status = ExecStatus(reply.get("status"))
    except ValueError:
        return ExecResult(ExecStatus.CRASHED, error=f"ProtocolError: unknown status {str(reply.get('status'))[:40]!r}",
                          duration_s=duration_s, state_lost=state_lost)
    stdout, stderr = str(reply.get("stdout", "")), str(reply.get("stderr", ""))
    out_cut, err_cut = reply.get("stdout_truncated") is True, reply.get("stderr_truncated") is True
    error, trace = reply.get("error"), reply.get("traceback")
    error, trace = None if error is None else str(error), None if trace is None else str(trace)
    if output_bytes is not None:
        stdout, cut = cap_text(stdout, output_bytes)
        out_cut = out_cut or cut
        stderr, cut = cap_text(stderr, output_bytes)
        err_cut = err_cut or cut
        error, trace = clip(error, output_bytes), clip(trace, output_bytes)
    if status is ExecStatus.OK and (out_cut or err_cut):
        status = ExecStatus.OUTPUT_LIMIT
    return ExecResult(status, stdout=stdout, stderr=stderr, error=error, traceback=trace,
                      duration_s=duration_s, stdout_truncated=out_cut, stderr_truncated=err_cut,
                      state_lost=state_lost)


def failure_result(exchange: Exchange, wall_s: float, duration_s: float) -> ExecResult:
    """The result of a call that got no reply: the worker timed out, died, or broke the protocol."""
    if exchange.outcome is Outcome.TIMEOUT:
        return ExecResult(ExecStatus.TIMEOUT, duration_s=duration_s, state_lost=True,
                          error=f"TimeoutError: wall-clock limit of {wall_s:g} s exceeded; "
                                "the worker was killed and its state is lost")
    what = "died" if exchange.outcome is Outcome.DIED else "broke the protocol"
    detail = f" ({exchange.detail})" if exchange.detail else ""
    return ExecResult(ExecStatus.CRASHED, duration_s=duration_s, state_lost=True,
                      error=f"WorkerCrashed: the worker {what}{detail}; its state is lost")


class Sandbox:
    """An isolated Python interpreter whose state persists across :meth:`run` calls.

    Args:
        backend: ``"auto"`` (bwrap, else docker, else subprocess), a backend name, or a backend config
            (:class:`~sandbox.BwrapConfig`, :class:`~sandbox.DockerConfig`, :class:`~sandbox.SubprocessConfig`).
        limits: resource limits, all enforced.
        files: files to ship into the working directory, ``{relative name: str or bytes}``; re-shipped
            after :meth:`reset` and after a worker is replaced.
    """

    def __init__(self, backend: str | BackendConfig = "auto", limits: Limits | None = None,
                 files: FileMap | None = None) -> None:
        self.limits = limits or Limits()
        self._files = encode_files(files or {})
        self._lock = threading.RLock()
        self._closed = False
        self._worker: WorkerProcess | None = None
        self._unreported_loss = False  # a worker died between calls; the next result says state_lost
        self._backend: Backend = create_backend(backend, self.limits)
        self.backend_name: str = self._backend.name
        try:
            self._spawn()
        except BaseException:
            self._backend.close()
            raise
        _live.add(self)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"Sandbox(backend={self.backend_name!r}, {state})"

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def worker_info(self) -> WorkerInfo:
        """Where the current worker lives on the host (starts one if none is running)."""
        with self._lock:
            self._check_open()
            self._ensure_worker()
            assert self._worker is not None
            return self._backend.info(self._worker)

    def run(self, code: str, *, wall_s: float | None = None) -> ExecResult:
        """Run ``code`` in the persistent namespace; never raises for what the code does.

        Args:
            code: Python source, executed like a notebook cell.
            wall_s: wall-clock limit of this call instead of ``limits.wall_s``.
        """
        wall_s = self.limits.wall_s if wall_s is None else wall_s
        # `not 0 < x <= MAX` also rejects NaN (every comparison with it is false) and infinity
        if isinstance(wall_s, bool) or not isinstance(wall_s, (int, float)) or not 0 < wall_s <= MAX_SECONDS:
            raise ValueError(f"wall_s must be a finite positive number of seconds up to {MAX_SECONDS}, got {wall_s!r}")
        with self._lock:
            self._check_open()
            self._ensure_worker()
            state_lost, self._unreported_loss = self._unreported_loss, False
            worker = self._worker
            assert worker is not None
            start = time.perf_counter()
            exchange = worker.request({"op": "run", "code": code}, wall_s)
            duration = time.perf_counter() - start
            if exchange.outcome is Outcome.REPLY and exchange.reply is not None:
                try:
                    return result_from_reply(exchange.reply, duration, state_lost, self.limits.output_bytes)
                except Exception as exc:  # belt and braces: the jail's bytes never raise out of run()
                    exchange = Exchange(Outcome.PROTOCOL, detail=f"unreadable reply ({type(exc).__name__})")
            self._discard_worker(worker)
            return failure_result(exchange, wall_s, duration)

    def put_files(self, files: FileMap, *, keep_on_reset: bool = False) -> None:
        """Write files into the working directory now.

        Args:
            files: ``{relative name: str or bytes}``.
            keep_on_reset: also re-ship them after :meth:`reset` and worker replacement, like the
                construction files.
        """
        encoded = encode_files(files)
        with self._lock:
            self._check_open()
            self._ensure_worker()
            self._ship(encoded)
            if keep_on_reset:
                paths = {item["path"] for item in encoded}
                self._files = [item for item in self._files if item["path"] not in paths] + encoded

    def reset(self, files: FileMap | None = None) -> None:
        """Replace the worker with a fresh interpreter in a fresh jail and re-ship the files.

        A backend that can recycle its jail (bwrap, :attr:`~sandbox.BwrapConfig.recycle`) resets it in
        place instead — no process, file, IPC object or key of the old interpreter is left, which the host
        checks — and anything it cannot vouch for gets a new jail as before.

        Args:
            files: if given, these files replace the ones shipped at construction, now and on later resets.
        """
        with self._lock:
            self._check_open()
            if files is not None:
                self._files = encode_files(files)
            self._unreported_loss = False  # the caller asked for the loss
            if self._worker is not None and self._recycle(self._worker):
                if self._files:
                    self._ship(self._files)
                return
            if self._worker is not None:
                self._discard_worker(self._worker)
            self._spawn()

    def close(self) -> None:
        """Kill the worker and everything it started; idempotent. Safe to call from another thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                if self._worker is not None:
                    self._discard_worker(self._worker)
            finally:
                self._backend.close()
                _live.discard(self)

    def _check_open(self) -> None:
        if self._closed:
            raise SandboxClosed("the sandbox is closed")

    def _spawn(self) -> None:
        self._worker = start_worker(self._backend, self.limits)
        if self._files:
            self._ship(self._files)

    def _ship(self, files: list[dict[str, str]]) -> None:
        assert self._worker is not None
        exchange = self._worker.request({"op": "files", "files": files}, FILES_TIMEOUT_S)
        reply = exchange.reply or {}
        if exchange.outcome is not Outcome.REPLY or reply.get("status") != "ok":
            self._discard_worker(self._worker)
            raise SandboxError(f"shipping files failed: {reply.get('error') or exchange.outcome.value}")

    def _recycle(self, worker: WorkerProcess) -> bool:
        """Reset ``worker``'s jail in place where the backend can; True when it now runs a fresh interpreter."""
        return isinstance(self._backend, Recycler) and self._backend.recycle(worker)

    def _ensure_worker(self) -> None:
        """Start a worker if there is none, replacing one that died since the last call."""
        if self._worker is not None and not self._worker.alive():
            self._unreported_loss = True
            self._discard_worker(self._worker)
        if self._worker is None:
            self._spawn()

    def _discard_worker(self, worker: WorkerProcess) -> None:
        if self._worker is worker:
            self._worker = None
        self._backend.terminate(worker)


@atexit.register
def _close_live_sandboxes() -> None:
    for sandbox in list(_live):
        try:
            sandbox.close()
        except Exception:  # best effort at interpreter exit
            pass

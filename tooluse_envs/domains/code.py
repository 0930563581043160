"""Code: problems solved by running Python in a sandbox (``tooluse/Code-v0``).

The ``python`` tool runs code in the episode's sandbox session, a stateful interpreter in a jail
(bubblewrap by default, see the ``sandbox`` package): variables persist across calls within the episode,
and each episode gets a fresh jail with the task's input files. Sandboxes come from a pool shared by all
Code envs of a process, so ``reset()`` takes a warm worker instead of starting a process.

In-domain: numeric and list puzzles, the data in the question or in a plain-text file; the teacher's
strategy (one call or several, reading the file first or opening it in Python) depends on the problem
(``code_problems``). Out-of-domain: four named axes (``code_tasks``).
"""

from __future__ import annotations

import atexit
import os
import threading
from typing import TYPE_CHECKING, Any

from tooluse_envs.domain import Domain, Session
from tooluse_envs.domains.code_tasks import generate_tasks
from tooluse_envs.errors import TaskError
from tooluse_envs.sandbox_package import project_sandbox
from tooluse_envs.tasks import Task
from tooluse_envs.tools import Tool

if TYPE_CHECKING:
    from sandbox import ExecResult, ExecStatus, Limits, SandboxPool
else:  # this distribution's sandbox, even where a user's own sandbox.py comes first on sys.path
    _sandbox = project_sandbox()
    ExecResult, ExecStatus, Limits, SandboxPool = (
        _sandbox.ExecResult,
        _sandbox.ExecStatus,
        _sandbox.Limits,
        _sandbox.SandboxPool,
    )

LIMITS = Limits(wall_s=10, cpu_s=5, memory_mb=512, output_bytes=16384)

PYTHON = Tool(
    "python",
    "Run Python 3 code in a persistent interpreter (variables survive between calls) whose working "
    "directory holds the task's files. Returns what the code printed, and the error if it raised.",
    {
        "type": "object",
        "properties": {"code": {"type": "string", "description": "Python source to run.", "minLength": 1}},
        "required": ["code"],
        "additionalProperties": False,
    },
)
READ_FILE = Tool(
    "read_file",
    "Read a text file from the working directory.",
    {
        "type": "object",
        "properties": {"path": {"type": "string", "description": "Relative path of the file."}},
        "required": ["path"],
        "additionalProperties": False,
    },
)

_pools: dict[tuple[str, int], SandboxPool] = {}
_pools_lock = threading.Lock()


_exit_hook_registered = False
_users: dict[tuple[str, int], int] = {}
"""How many open Code domains (envs) use each pool: the last one to close closes the pool."""


def acquire_pool(backend: str, size: int) -> SandboxPool:
    """The shared pool for ``(backend, size)``, counted as used by one more domain until ``release_pool``."""
    with _pools_lock:  # created and counted under one lock: a concurrent last release cannot close it between
        pool = _pool_for((backend, size))
        _users[(backend, size)] = _users.get((backend, size), 0) + 1
    return pool


def release_pool(backend: str, size: int) -> None:
    """One domain is done with the pool; the last one's release kills its jails now, not at process exit."""
    with _pools_lock:
        key = (backend, size)
        _users[key] = _users.get(key, 1) - 1
        if _users[key] > 0:
            return
        del _users[key]
        pool = _pools.pop(key, None)
    if pool is not None:
        pool.close()


def shared_pool(backend: str, size: int) -> SandboxPool:
    """The process's pool for this backend (started on first use, closed at exit)."""
    with _pools_lock:
        return _pool_for((backend, size))


def _pool_for(key: tuple[str, int]) -> SandboxPool:
    """The pool for ``key``, started if there is none (call with ``_pools_lock`` held)."""
    global _exit_hook_registered
    if key not in _pools:
        if not _exit_hook_registered:
            atexit.register(close_pools)
            _exit_hook_registered = True
        _pools[key] = SandboxPool(size=key[1], backend=key[0], limits=LIMITS)
    return _pools[key]


def _forget_pools_after_fork() -> None:
    """In a forked child (``AsyncVectorEnv``'s default on Linux), start with no pools.

    The parent's pools are its sandbox processes and threads: a child that used them would talk to the
    parent's sandboxes on the parent's pipes (and its threads do not exist in the child), and closing them
    would kill the parent's. The child starts its own pool on first use instead.
    """
    global _pools_lock
    _pools_lock = threading.Lock()  # the parent's may have been held by another thread when it forked
    _pools.clear()
    _users.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools_after_fork)


def close_pools() -> None:
    """Kill every pooled sandbox of this process."""
    with _pools_lock:
        for pool in _pools.values():
            pool.close()
        _pools.clear()
        _users.clear()


def render_result(result: ExecResult) -> str:
    """What the policy reads back from a run: output, then the error and any limit that fired."""
    parts = [result.stdout.rstrip("\n")] if result.stdout else []
    if result.stderr and result.error is None:
        parts.append("stderr:\n" + result.stderr.rstrip("\n"))
    if result.error is not None:
        parts.append(f"error: {result.error}")
    if result.stdout_truncated or result.stderr_truncated:
        parts.append("[output truncated]")
    if result.status in (ExecStatus.TIMEOUT, ExecStatus.CRASHED):
        parts.append("[the interpreter was restarted: variables from earlier calls are gone]")
    return "\n".join(parts) or "(no output)"


class CodeSession(Session):
    """One episode's leased sandbox."""

    def __init__(self, task: Task, tools: dict[str, Tool], pool: SandboxPool) -> None:
        super().__init__(task, tools)
        self.lease = pool.acquire(files=task.context.get("files") or None, timeout_s=120)

    def call(self, tool: Tool, arguments: dict[str, Any]) -> str:
        if tool.name == "python":
            return render_result(self.lease.run(arguments["code"]))
        if tool.name == "read_file":
            code = f"print(open({arguments['path']!r}, encoding='utf-8', errors='replace').read(), end='')"
            return render_result(self.lease.run(code))
        raise TaskError(f"the code domain has no tool {tool.name}")

    def close(self) -> None:
        self.lease.release()


class CodeDomain(Domain):
    """Python execution in a sandbox; the pool is shared by every Code env of the process."""

    name = "code"
    instructions = "Use the python tool to compute; print the values you need to see."

    def __init__(self, sandbox: str = "auto", pool_size: int = 4) -> None:
        self.backend = sandbox
        self.pool_size = pool_size
        self._pool: SandboxPool | None = None  # acquired at the first episode, released by close()

    def tools(self) -> dict[str, Tool]:
        return {"python": PYTHON, "read_file": READ_FILE}

    def open(self, task: Task) -> Session:
        if self._pool is None or _pools.get((self.backend, self.pool_size)) is not self._pool:
            self._pool = acquire_pool(self.backend, self.pool_size)  # first episode, or close_pools() ran
        return CodeSession(task, self.task_tools(task), self._pool)

    def close(self) -> None:
        """Release this env's share of the process's pool (the last env to close kills its jails)."""
        if self._pool is not None:
            self._pool = None
            release_pool(self.backend, self.pool_size)

    def generate(self, split: str) -> list[Task]:
        return generate_tasks(split)


DOMAIN_CLASS = CodeDomain

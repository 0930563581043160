"""Typed configuration and results: :class:`Limits`, :class:`ExecStatus`, :class:`ExecResult`.

Results are dataclasses with a status enum rather than tuples or strings, so callers (environments,
reward functions) branch on ``result.status`` instead of parsing text.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandbox. Every field is enforced, and a test proves each fires."""

    wall_s: float = 10.0
    """Wall-clock seconds per ``run``; past it the whole jail is killed and respawned (state is lost)."""
    cpu_s: float = 10.0
    """CPU seconds per ``run`` (RLIMIT_CPU, re-armed before each run; the code gets ``CPU_LIMIT``). The
    kernel counts whole seconds, so it fires after ``cpu_s`` to ``cpu_s + 1`` seconds of CPU."""
    cpu_total_s: float = 600.0
    """CPU seconds over a worker's lifetime (the hard RLIMIT_CPU); also bounds background processes."""
    memory_mb: int = 512
    """Address space per process in MiB (RLIMIT_AS); docker additionally caps the container's total."""
    output_bytes: int = 65536
    """Bytes kept of stdout and of stderr per ``run`` (and characters of the error and traceback); the
    rest is dropped inside the jail, so huge output never reaches the host."""
    max_procs: int = 64
    """Processes (and threads) the jail may hold: RLIMIT_NPROC on a dedicated uid, or docker's pids limit."""
    file_size_mb: int = 64
    """Largest file the code may write (RLIMIT_FSIZE)."""
    disk_mb: int = 256
    """Size of the jail's writable tmpfs (working directory), which lives in host memory."""

    def __post_init__(self) -> None:
        """Reject limits that cannot be enforced, so a typo never silently means "unlimited"."""
        for name in ("wall_s", "cpu_s", "cpu_total_s", "memory_mb", "output_bytes", "max_procs",
                     "file_size_mb", "disk_mb"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"Limits.{name} must be a positive number, got {value!r}")
        if self.max_procs < 4:
            raise ValueError("Limits.max_procs must be at least 4 (the jail itself uses up to three)")
        if self.memory_mb < 64:
            raise ValueError("Limits.memory_mb must be at least 64 (the interpreter needs ~30 MiB)")


class ExecStatus(str, enum.Enum):
    """How a ``run`` ended. Anything but ``OK`` and ``OUTPUT_LIMIT`` means the code did not finish cleanly."""

    OK = "ok"
    """The code ran to the end."""
    ERROR = "error"
    """The code raised; ``error`` holds ``"Type: message"``. State is kept."""
    TIMEOUT = "timeout"
    """The wall-clock limit fired; the jail was killed and will be respawned. State is lost."""
    CPU_LIMIT = "cpu_limit"
    """The per-run CPU limit fired and interrupted the code. State is kept."""
    MEMORY_LIMIT = "memory_limit"
    """The code ran out of its memory limit (``MemoryError``). State is kept."""
    OUTPUT_LIMIT = "output_limit"
    """The code finished but printed more than ``output_bytes``; output was truncated."""
    CRASHED = "crashed"
    """The worker died (signal, segfault, ``os._exit``, OOM kill); it will be respawned. State is lost."""


@dataclass(frozen=True)
class ExecResult:
    """The outcome of one ``Sandbox.run``."""

    status: ExecStatus
    stdout: str = ""
    stderr: str = ""
    error: str | None = None
    """``"ZeroDivisionError: division by zero"`` style: exception type and message; ``None`` when OK."""
    traceback: str | None = None
    """The formatted traceback of ``error`` (worker frames removed), also appended to ``stderr``."""
    duration_s: float = 0.0
    """Host-side wall time of the call, including protocol overhead."""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    state_lost: bool = False
    """True when the interpreter state from earlier runs is gone (timeout, crash, or a dead worker replaced)."""

    @property
    def ok(self) -> bool:
        """True when the code ran to the end (possibly with truncated output)."""
        return self.status in (ExecStatus.OK, ExecStatus.OUTPUT_LIMIT)

    @property
    def timed_out(self) -> bool:
        """True when the wall-clock limit fired."""
        return self.status is ExecStatus.TIMEOUT


@dataclass(frozen=True)
class WorkerInfo:
    """Where the current worker lives on the host; for monitoring and for tests that check cleanup."""

    backend: str
    pid: int
    """Host pid of the process the sandbox started (bwrap, the docker CLI, or the interpreter)."""
    uid: int | None = None
    """Dedicated host uid the jail runs under, when the sandbox allocated one (root only)."""
    container: str | None = None
    """Docker container name, for the docker backend."""

"""Typed configuration and results: :class:`Limits`, :class:`ExecStatus`, :class:`ExecResult`.

Results are dataclasses with a status enum rather than tuples or strings, so callers (environments,
reward functions) branch on ``result.status`` instead of parsing text.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

MAX_SECONDS = 1_000_000
"""Largest duration a limit may have (~11.6 days): beyond it a deadline is "never" in all but name."""
SECONDS_FIELDS = ("wall_s", "cpu_s", "cpu_total_s")
COUNT_FIELDS = {"memory_mb": 1 << 30, "output_bytes": 1 << 30, "max_procs": 1 << 22, "file_size_mb": 1 << 30,
                "disk_mb": 1 << 30}
"""Whole-number fields and their upper bounds (MiB and bytes to 1 Gi units; processes to Linux's pid_max)."""
MIN_PROCS = 5


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
    """Address space per process in MiB (RLIMIT_AS). Where a cgroup is available (docker always; bwrap
    with a usable cgroup), the jail's total — processes, tmpfs files, kernel objects — is also capped at
    ``memory_mb`` + 64 MiB; see :attr:`WorkerInfo.enforcement`."""
    output_bytes: int = 65536
    """Bytes kept of stdout and of stderr per ``run`` (and characters of the error and traceback); the
    rest is dropped inside the jail, so huge output never reaches the host, and the host cuts again on
    what it reads, so a worker taken over by the code cannot exceed it either."""
    max_procs: int = 64
    """Processes (and threads) the jail may hold: RLIMIT_NPROC on a dedicated uid, or docker's pids limit.
    At least 5: the jail itself uses up to four (bwrap, its init, the worker's supervisor and executor)."""
    file_size_mb: int = 64
    """Largest file the code may write (RLIMIT_FSIZE)."""
    disk_mb: int = 256
    """Size of each of the jail's writable tmpfs mounts (the working directory, and ``/tmp`` with
    ``/dev/shm`` in the bwrap jail), which live in host memory; under root bwrap also caps their inodes
    at one per 4 KiB of it."""

    def __post_init__(self) -> None:
        """Reject limits that cannot be enforced, so a typo never silently means "unlimited".

        Durations must be finite positive numbers (int or float; no NaN, no infinity) of at most
        ``MAX_SECONDS``; sizes and counts must be positive whole ``int``s (no fractions, no floats, no
        bools) of at most their bound in ``COUNT_FIELDS``, which keeps every value representable as an rlimit.
        """
        for name in SECONDS_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"Limits.{name} must be a number of seconds, got {value!r}")
            if (isinstance(value, float) and not math.isfinite(value)) or value <= 0:
                raise ValueError(f"Limits.{name} must be a finite positive number of seconds, got {value!r}")
            if value > MAX_SECONDS:
                raise ValueError(f"Limits.{name} must be at most {MAX_SECONDS} s, got {value!r}")
        for name, bound in COUNT_FIELDS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"Limits.{name} must be a whole number (an int), got {value!r}")
            if value <= 0:
                raise ValueError(f"Limits.{name} must be a positive number, got {value!r}")
            if value > bound:
                raise ValueError(f"Limits.{name} must be at most {bound}, got {value!r}")
        if self.max_procs < MIN_PROCS:
            raise ValueError(f"Limits.max_procs must be at least {MIN_PROCS} (the jail itself uses up to four "
                             "processes: bwrap, its init, the worker's supervisor and executor)")
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
    enforcement: str | None = None
    """How the jail's *total* memory is bounded: ``"cgroup"`` (a cgroup leaf of the jail, or docker's
    container cgroup, counts every byte: processes, tmpfs files, kernel objects), ``"construction"`` (no
    usable cgroup: the sum of per-process caps and tmpfs sizes), or ``"rlimits"`` (per process only: the
    subprocess backend, whose files live on the host's disk)."""
    memory_total_mb: int | None = None
    """The bound on the jail's total memory in MiB under ``enforcement``: the cgroup's memory limit, or
    ``max_procs * memory_mb`` plus the tmpfs sizes by construction (plus the kernel memory of their
    inodes where ``tmpfs_inodes`` caps them; without root it is outside the sum, as bwrap cannot cap a
    tmpfs's inodes); None when nothing bounds the total."""
    pids_max: int | None = None
    """Processes and threads the jail may hold in all (cgroup ``pids.max`` or RLIMIT_NPROC), if bounded."""
    cgroup: str | None = None
    """The jail's cgroup directory (memory hierarchy) on the host, when ``enforcement`` is a leaf of ours."""
    tmpfs_inodes: int | None = None
    """Inodes each of the jail's tmpfs mounts may hold (bwrap under root), or None when not capped."""

"""Isolated, stateful Python execution for tool-using agents.

``Sandbox`` runs code in a jail (bubblewrap, docker, or — with a warning — a plain subprocess) whose
interpreter state persists across calls; ``SandboxPool`` keeps warm sandboxes for many episodes.
The README's "The sandbox" section shows the API and what each backend enforces.
"""

from .bwrap import BwrapConfig
from .docker import DockerConfig
from .errors import (
    BackendUnavailable,
    InvalidFileName,
    NotAJailWarning,
    SandboxClosed,
    SandboxError,
    WorkerStartError,
)
from .pool import Lease, SandboxPool
from .registry import BACKEND_NAMES, BackendConfig, unavailable_reason
from .sandbox import Sandbox
from .subprocess_backend import SubprocessConfig
from .types import ExecResult, ExecStatus, Limits, WorkerInfo

__all__ = [
    "BACKEND_NAMES",
    "BackendConfig",
    "BackendUnavailable",
    "BwrapConfig",
    "DockerConfig",
    "ExecResult",
    "ExecStatus",
    "InvalidFileName",
    "Lease",
    "Limits",
    "NotAJailWarning",
    "Sandbox",
    "SandboxClosed",
    "SandboxError",
    "SandboxPool",
    "SubprocessConfig",
    "WorkerInfo",
    "WorkerStartError",
    "unavailable_reason",
]

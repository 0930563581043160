"""The sandbox's exception tree.

Only *infrastructure* failures raise: code that fails inside the jail is reported in an
:class:`~sandbox.types.ExecResult`, never raised, so a caller can hand any result back to a model.
"""

from __future__ import annotations


class SandboxError(Exception):
    """Base class for every error the sandbox package raises."""


class BackendUnavailable(SandboxError):
    """The requested isolation backend cannot run on this machine.

    The message always says how to install or enable it, because the usual fix is a package or a daemon.
    """

    def __init__(self, backend: str, reason: str, hint: str) -> None:
        super().__init__(f"sandbox backend {backend!r} is unavailable: {reason}. To enable it: {hint}")
        self.backend = backend
        self.reason = reason
        self.hint = hint


class WorkerStartError(SandboxError):
    """The in-jail worker did not come up (bad jail arguments, missing interpreter, daemon error)."""


class SandboxClosed(SandboxError):
    """The sandbox (or pool lease) was used after ``close()`` / ``release()``."""


class InvalidFileName(SandboxError, ValueError):
    """A file to ship into the jail has an absolute path or climbs out with ``..``."""


class NotAJailWarning(UserWarning):
    """Issued by the ``subprocess`` backend: resource limits only, no filesystem or network isolation."""

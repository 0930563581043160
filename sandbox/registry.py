"""Backend names, their option dataclasses, and ``backend="auto"``.

``auto`` prefers real jails — bwrap, then docker — and falls back to the subprocess backend only with a
logged warning (that backend warns again itself): the choice is never silent.
"""

from __future__ import annotations

import logging

from .backend import Backend
from .bwrap import BwrapBackend, BwrapConfig
from .bwrap import probe as probe_bwrap
from .docker import DockerBackend, DockerConfig
from .docker import probe as probe_docker
from .subprocess_backend import SubprocessBackend, SubprocessConfig
from .types import Limits

log = logging.getLogger("sandbox")
BackendConfig = BwrapConfig | DockerConfig | SubprocessConfig
BACKEND_NAMES = ("bwrap", "docker", "subprocess")
_DEFAULTS: dict[str, type[BackendConfig]] = {
    "bwrap": BwrapConfig, "docker": DockerConfig, "subprocess": SubprocessConfig}


def unavailable_reason(config: BackendConfig) -> str | None:
    """Why the backend of ``config`` cannot run on this machine, or ``None`` when it can."""
    if isinstance(config, BwrapConfig):
        return probe_bwrap(config.python)
    if isinstance(config, DockerConfig):
        return probe_docker(config.image, config.client)
    return None


def resolve(backend: str | BackendConfig) -> BackendConfig:
    """Turn ``"auto"`` or a backend name into that backend's options; options pass through."""
    if not isinstance(backend, str):
        return backend
    if backend == "auto":
        for name in ("bwrap", "docker"):
            config = _DEFAULTS[name]()
            reason = unavailable_reason(config)
            if reason is None:
                log.info("sandbox backend auto -> %s", name)
                return config
            log.info("sandbox backend auto: %s unavailable (%s)", name, reason)
        log.warning("sandbox backend auto -> subprocess: neither bwrap nor docker works here, so code "
                    "runs WITHOUT a jail (rlimits only)")
        return SubprocessConfig()
    if backend not in _DEFAULTS:
        raise ValueError(f"unknown sandbox backend {backend!r}; choose auto, {', '.join(BACKEND_NAMES)}")
    return _DEFAULTS[backend]()


def create_backend(backend: str | BackendConfig, limits: Limits) -> Backend:
    """Instantiate a backend (raises :class:`~sandbox.errors.BackendUnavailable` when it cannot run)."""
    config = resolve(backend)
    if isinstance(config, BwrapConfig):
        return BwrapBackend(limits, config)
    if isinstance(config, DockerConfig):
        return DockerBackend(limits, config)
    if isinstance(config, SubprocessConfig):
        return SubprocessBackend(limits, config)
    raise TypeError(f"backend must be a name or a backend config, got {type(config).__name__}")

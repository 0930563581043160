"""Gymnasium environments for training and benchmarking LLM tool use.

Importing the package only registers the environments (string entry points: no domain, sandbox or
server starts until ``gym.make``)::

    import gymnasium as gym
    import tooluse_envs

    gym.register_envs(tooluse_envs)
    env = gym.make("tooluse/SQL-v0", split="test_ood")

Without an import, ``gym.make("tooluse_envs:tooluse/SQL-v0")`` imports the package first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gymnasium.envs.registration import register
from gymnasium.envs.registration import registry as gym_registry

from tooluse_envs import registry

if TYPE_CHECKING:  # type checkers see its signature; at run time ``__getattr__`` imports it on first use
    from tooluse_envs.custom import make_env as make_env

__version__ = "0.1.0"

# {env id: domain name}, derived from tooluse_envs.registry (the one list of domains) for code that reads it.
ENV_IDS = registry.env_ids()


def register_all() -> None:
    """Register every environment id (idempotent; also the Gymnasium 0.x plugin hook)."""
    for env_id, domain in registry.env_ids().items():
        if env_id not in gym_registry:
            # No PassiveEnvChecker: when the first reset raises (an unknown task_id, say) it is left with no
            # reset data and the first step of every later episode crashes. The full ``check_env`` runs in
            # the test suite for every env id and split instead.
            register(
                id=env_id,
                entry_point="tooluse_envs.env:ToolUseEnv",
                kwargs={"domain": domain},
                disable_env_checker=True,
            )


register_all()


def __getattr__(name: str) -> Any:
    """Lazy access to the bring-your-own-tools entry point, keeping ``import tooluse_envs`` cheap."""
    if name == "make_env":
        from tooluse_envs.custom import make_env

        return make_env
    raise AttributeError(f"module 'tooluse_envs' has no attribute {name!r}")

"""Which env x split slots an evaluation plays, and how a slot's env is made (shared by local and Ray runs)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from tooluse_envs.protocols import Slot, get_protocols

DEFAULT_SPLITS = ("test_id", "test_ood")


def resolve_slots(envs: list[str], splits: list[str] | None, tasks_file: str | None = None) -> list[Slot]:
    """Protocol names expand to their evaluate slots (filtered by ``splits``); env ids get ``splits``
    (those the domain has tasks for, or every one given when a ``tasks_file`` supplies the tasks)."""
    import tooluse_envs

    slots: list[Slot] = []
    for name in envs:
        if name in tooluse_envs.ENV_IDS:
            wanted = splits or DEFAULT_SPLITS
            slots += [Slot(name, split) for split in wanted if tasks_file is not None or _has_tasks(name, split)]
        elif name.startswith(("tooluse/", "tooluse_envs:")):
            raise ValueError(f"unknown env id {name!r}; choose from {', '.join(tooluse_envs.ENV_IDS)}")
        else:
            slots += [s for p in get_protocols(name) for s in p.evaluate if splits is None or s.split in splits]
    unique = list({json.dumps(asdict(s), sort_keys=True): s for s in slots}.values())
    if not unique:
        raise ValueError(f"no env x split to evaluate for envs={envs} splits={splits}")
    return unique


def _has_tasks(env_id: str, split: str) -> bool:
    """Whether the env's domain has tasks in ``split`` (asked of the domain: BFCL and Mixed own no files)."""
    import tooluse_envs
    from tooluse_envs.domain import make_domain
    from tooluse_envs.errors import TaskError

    domain = make_domain(tooluse_envs.ENV_IDS[env_id])
    try:
        return bool(domain.load(split))
    except (TaskError, OSError):
        return False
    finally:
        domain.close()


def make_env(slot: Slot, config: Any) -> Any:
    """The env of ``slot`` with the run's reward, turn limit and task file (``config`` is an ``EvalConfig``)."""
    import gymnasium as gym

    import tooluse_envs

    gym.register_envs(tooluse_envs)
    kwargs = dict(slot.kwargs)
    if config.tasks_file is not None:
        kwargs["tasks_file"] = config.tasks_file
    return gym.make(slot.env_id, split=slot.split, reward=config.reward, max_turns=config.max_turns, **kwargs)

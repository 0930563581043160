"""Training methods by name, derived from the rewards registry: ``sft``, ``<reward>`` and ``sft+<reward>``.

``<reward>`` is GRPO with that reward (``mentor``, ``sparse``, ``strict``, ``toolrl``, ... — every name in
``tooluse_envs.rewards.REWARDS``), and ``sft+<reward>`` runs SFT on the teacher's trajectories first, as
the paper's "SFT then RL" rows do. A new reward added to ``REWARDS`` is a new method here with no other edit.
"""

from __future__ import annotations

from dataclasses import dataclass

from tooluse_envs.rewards import REWARDS


def rl_methods() -> tuple[str, ...]:
    """GRPO methods: one per registered reward."""
    return tuple(REWARDS)


def methods() -> tuple[str, ...]:
    """Every method ``mentor train --method`` accepts."""
    rl = rl_methods()
    return ("sft", *rl, *(f"sft+{name}" for name in rl))


@dataclass(frozen=True)
class Method:
    """Which phases a method runs: SFT first or not, then GRPO with ``reward`` (None: SFT only)."""

    name: str
    sft: bool
    reward: str | None

    @classmethod
    def parse(cls, name: str) -> Method:
        if name not in methods():
            raise ValueError(f"unknown method {name!r}; choose one of {', '.join(methods())}")
        if name == "sft":
            return cls(name, sft=True, reward=None)
        if name.startswith("sft+"):
            return cls(name, sft=True, reward=name.removeprefix("sft+"))
        return cls(name, sft=False, reward=name)

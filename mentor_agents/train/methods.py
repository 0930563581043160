"""Training methods by name, derived from the rewards registry: ``sft``, ``<reward>`` and ``sft+<reward>``.

``<reward>`` is GRPO with that reward (``mentor``, ``sparse``, ``strict``, ``toolrl``, ... — every name in
``tooluse_envs.rewards.REWARDS``), and ``sft+<reward>`` runs SFT on the teacher's trajectories first, as
the paper's "SFT then RL" rows do. A new reward added to ``REWARDS`` is a new method here with no other edit.

A reward that lives in another package is a method too, with no edit here: ``<reward>`` may be
``pkg.module:function`` or the name an installed package registers in the entry-point group
``tooluse_envs.rewards``; :func:`tooluse_envs.rewards.resolve_reward` resolves it (docs/add-a-method.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from tooluse_envs.rewards import REWARDS, resolve_reward, reward_plugins

PLUGIN_HELP = "pkg.module:function or an installed plugin's name (entry points tooluse_envs.rewards)"
"""How ``--method`` help names the rewards that are not built in."""


def rl_methods() -> tuple[str, ...]:
    """GRPO methods with a built-in reward: one per registered reward."""
    return tuple(REWARDS)


def methods() -> tuple[str, ...]:
    """Every method with a built-in reward that ``mentor train --method`` accepts (plugins are not listed)."""
    rl = rl_methods()
    return ("sft", *rl, *(f"sft+{name}" for name in rl))


@dataclass(frozen=True)
class Method:
    """Which phases a method runs: SFT first or not, then GRPO with ``reward`` (None: SFT only).

    ``reward`` is what GRPO passes to the env, and what ``config.json`` saves as ``grpo.reward``: a
    built-in's name, or the ``pkg.module:function`` import path of any other reward (an installed
    plugin's name is replaced by the path it points to, so a resumed run knows which code it trained with).
    """

    name: str
    sft: bool
    reward: str | None

    @classmethod
    def parse(cls, name: str) -> Method:
        """The method ``name`` names; an unknown one, or a reward that cannot be imported, raises ``ValueError``."""
        if name == "sft":
            return cls(name, sft=True, reward=None)
        spec = name.removeprefix("sft+")
        if spec and spec in REWARDS:
            return cls(name, sft=spec != name, reward=spec)
        if not spec or (":" not in spec and spec not in reward_plugins()):
            raise ValueError(
                f"unknown method {name!r}; choose one of {', '.join(methods())}, or <reward> / sft+<reward> "
                f"with <reward> {PLUGIN_HELP}"
            )
        try:
            path, _ = resolve_reward(spec)
        except ValueError as exc:  # RewardError: one line naming what could not be imported
            raise ValueError(f"--method {name}: {exc}") from exc
        return cls(name, sft=spec != name, reward=path)

"""Learning side of tooluse-mentor: policies, rollouts, SFT and GRPO trainers (MENTOR rewards), evaluation.

Where things live: ``policies/`` (model backends behind ``Policy`` and ``Sampler``), ``rollout`` (the
multi-turn engine), ``teachers`` (what is distilled), ``train/`` (SFT, GRPO, losses, checkpoints, the run
config and methods), ``eval/`` (``mentor eval``, metrics, leaderboard), ``distributed/`` (Ray actors for
both), ``cli/`` (the ``mentor`` command). Heavy dependencies (torch, transformers, ray) are imported by the
submodules that need them, so ``import mentor_agents`` stays cheap.
"""

from __future__ import annotations

__all__: list[str] = []

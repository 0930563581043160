"""Learning side of tooluse-mentor: policies, rollouts, SFT and GRPO trainers (MENTOR rewards).

Heavy dependencies (torch, transformers) are imported by the submodules that need them, so
``import mentor_agents`` stays cheap.
"""

from __future__ import annotations

__all__: list[str] = []

"""Policies: anything that turns prompts into assistant turns (``Policy.generate``).

``HFPolicy`` (transformers, CPU/GPU), ``ScriptedPolicy`` (oracle / no-tool baseline, no model),
``VLLMPolicy`` (GPU, lazy import) and ``OpenAIPolicy`` (any OpenAI-compatible endpoint).
"""

from __future__ import annotations

from mentor_agents.policies.base import Generation, Policy, Prompt, SamplingParams
from mentor_agents.policies.scripted import ScriptedPolicy

__all__ = ["Generation", "Policy", "Prompt", "SamplingParams", "ScriptedPolicy"]

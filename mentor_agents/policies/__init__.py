"""Policies: anything that turns prompts into assistant turns (``Policy.generate``).

``HFPolicy`` (transformers, CPU/GPU), ``ScriptedPolicy`` (oracle / no-tool baseline, no model),
``VLLMPolicy`` (GPU, lazy import) and ``OpenAIPolicy`` (any OpenAI-compatible endpoint). The two
that hold model weights, ``HFPolicy`` and ``VLLMPolicy``, are also ``Sampler``s: GRPO syncs the
learner's weights into them after each update.
"""

from __future__ import annotations

from mentor_agents.policies.base import Generation, Policy, Prompt, Sampler, SamplingParams, Weights
from mentor_agents.policies.scripted import ScriptedPolicy

__all__ = ["Generation", "Policy", "Prompt", "Sampler", "SamplingParams", "ScriptedPolicy", "Weights"]

"""The policy contract the rollout engine and trainers are written against."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, Union, runtime_checkable

FinishReason = Literal["stop", "length"]
Prompt = list[int] | list[dict[str, Any]]
"""Either token ids (token-in-token-out, what rollouts send) or a chat conversation."""


@dataclass(frozen=True)
class SamplingParams:
    """How to sample one assistant turn. ``temperature == 0`` means greedy (validation)."""

    temperature: float = 0.6
    top_p: float = 0.95
    max_new_tokens: int = 128
    seed: int | None = None


@dataclass
class Generation:
    """One sampled assistant turn.

    ``token_ids`` are exactly the sampled ids, the EOS token included when ``finish_reason == "stop"``,
    so they can be appended to the conversation without re-tokenising. ``logprobs[i]`` is the log
    probability of ``token_ids[i]`` under the temperature-scaled policy (the PPO "old" log-prob); a
    policy that cannot provide them (scripted, remote) returns an empty list.
    """

    text: str
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    finish_reason: FinishReason = "stop"


@runtime_checkable
class Policy(Protocol):
    """Anything that can produce assistant turns for a batch of prompts."""

    def generate(self, prompts: list[Prompt], sampling: SamplingParams) -> list[Generation]:
        """One generation per prompt, in order."""
        ...


Weights = Union[Mapping[str, Any], str, "os.PathLike[str]"]
"""A state dict (name -> tensor), or the path of a weights file (``.safetensors`` or a torch ``.pt``)."""


@runtime_checkable
class Sampler(Protocol):
    """What GRPO and evaluation sample from: token ids in, sampled ids and their log-probs out.

    The learner owns the weights; after each update it hands them to the sampler with
    ``sync_weights``. A sampler that shares the learner's tensors (``HFPolicy`` in the same process)
    has nothing to copy; one that holds its own copy (vLLM, a Ray actor) loads them.
    """

    def generate(self, prompts: list[Prompt], sampling: SamplingParams) -> list[Generation]:
        """One generation per prompt (token ids), with the log-prob of every sampled token."""
        ...

    def sync_weights(self, weights: Weights) -> None:
        """Make the next ``generate`` use these weights."""
        ...

"""Training presets: each model preset's hyperparameters, next to the MENTOR paper's and why they differ.

``mentor train --preset <name>`` starts every phase config from its preset's values; a ``--sft.*`` /
``--grpo.*`` flag still wins, and the resolved values land in the run's ``config.json``. The paper trains
0.5B-7B models on GPUs (lr 1e-6, group 10, 32 prompts a batch in mini-batches of 8, temperature 0.6,
top-p 0.99 in the tool rollout, at most 5 turns, ~8k response tokens); the presets below say where they
keep those values and why they leave them. The values are starting points set from the models' sizes,
not tuned on this benchmark. Building the models themselves is ``mentor_agents.models``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PAPER_GRPO: dict[str, Any] = {
    "lr": 1e-6,
    "group_size": 10,
    "prompts_per_step": 32,
    "ppo_mini_batch": 8,
    "ppo_epochs": 1,
    "temperature": 0.6,
    "top_p": 0.99,
    "max_turns": 5,
    "clip": 0.2,
    "kl_coef": 0.001,
    "entropy_coef": 0.001,
}
"""The MENTOR authors' GRPO settings (verl), for comparison; ``hf:<path>`` uses them as they are."""


@dataclass(frozen=True)
class Preset:
    """A model preset's training hyperparameters: SFTConfig / GRPOConfig fields it sets, and why."""

    name: str
    sft: dict[str, Any] = field(default_factory=dict)
    """SFTConfig fields this preset sets (the rest keep the dataclass defaults)."""
    grpo: dict[str, Any] = field(default_factory=dict)
    """GRPOConfig fields this preset sets."""
    why: str = ""
    """Where the values leave the paper's, and the reason."""

    def phase(self, prefix: str) -> dict[str, Any]:
        return dict(self.sft if prefix == "sft" else self.grpo)


PRESETS: dict[str, Preset] = {
    "tiny": Preset(
        "tiny",
        sft={"lr": 3e-3, "batch_size": 16, "warmup_steps": 10},
        grpo={
            "lr": 1e-4,
            "group_size": 4,
            "prompts_per_step": 4,
            "ppo_mini_batch": 1,
            "temperature": 0.6,
            "top_p": 0.95,
            "max_new_tokens": 96,
            "max_turns": 5,
        },
        why=(
            "0.7M parameters trained from scratch on 2 CPU cores in minutes: lr 3e-3 (SFT) and 1e-4 (GRPO), "
            "100x the paper's, because a random init has everything to learn in a few hundred steps; 4 prompts x "
            "4 samples a step with 4 updates of 1 prompt (the paper's 4 updates per batch at 1/8 the batch); "
            "96 tokens a turn (its answers are short)."
        ),
    ),
    "smollm2-135m": Preset(
        "smollm2-135m",
        sft={"lr": 2e-5, "batch_size": 8, "warmup_steps": 10, "precision": "bf16"},
        grpo={
            "lr": 5e-6,
            "group_size": 8,
            "prompts_per_step": 4,
            "ppo_mini_batch": 1,
            "temperature": 0.6,
            "top_p": 0.99,
            "max_new_tokens": 128,
            "max_turns": 5,
            "micro_batch": 8,
            "precision": "bf16",
        },
        why=(
            "135M parameters, pretrained and instruction-tuned, on 2 CPU cores: group 8 of 4 prompts a step "
            "(the paper's 10 of 32 would take hours a step here), 4 updates of 1 prompt (the paper's 4 per "
            "batch); lr 5e-6 for GRPO, 5x the paper's, because a small model tolerates it and a CPU budget "
            "buys tens of steps, not hundreds; SFT lr 2e-5, the usual full fine-tuning rate at this size; "
            "128 tokens a turn; top-p 0.99 as the authors' tool rollout; micro-batches of one whole group (8), because "
            "the group's ~1,300-token prompt runs once per micro-batch and is most of the learner's tokens (1.3-1.4x "
            "faster learner, same update); bf16 matmuls (fp32 weights and "
            "optimizer), measured 1.8-1.95x faster than fp32 for SFT and generation on this project's CPU box "
            "(AVX-512-BF16), 1.4x for the GRPO update; a CPU without bf16 is warned about and runs fp32."
        ),
    ),
    "hf": Preset(
        "hf",
        sft={"lr": 1e-5, "batch_size": 16},
        grpo={**PAPER_GRPO, "max_new_tokens": 1024, "micro_batch": 8},
        why=(
            "Any local model, meant for Qwen2.5-0.5B/1.5B-Instruct on a GPU: the paper's GRPO settings unchanged, "
            "1,024 tokens a turn (5 turns stay within the paper's ~8k response tokens)."
        ),
    ),
}


def preset_of(name: str) -> Preset:
    """The preset for a ``--preset`` value (``hf:<path>`` shares the ``hf`` entry)."""
    key = "hf" if name.startswith("hf:") else name
    if key not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of tiny, smollm2-135m, hf:<path>")
    return PRESETS[key]

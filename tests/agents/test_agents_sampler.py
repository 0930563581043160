"""The ``Sampler`` contract GRPO and evaluation use: generate from token ids, take the learner's weights."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from mentor_agents.models import build_tiny_model  # noqa: E402
from mentor_agents.policies import Sampler, SamplingParams  # noqa: E402
from mentor_agents.policies.hf import HFPolicy  # noqa: E402
from mentor_agents.policies.vllm_worker import WeightSyncExtension  # noqa: E402
from mentor_agents.train.grpo import GRPOConfig  # noqa: E402

GREEDY = SamplingParams(temperature=0.0, top_p=1.0, max_new_tokens=10, seed=0)
PROMPT = [[5, 6, 7, 8, 9]]


def test_hf_policy_is_a_sampler_that_takes_weights_from_a_state_dict_or_a_file(tokenizer, tmp_path):
    learner = build_tiny_model(tokenizer, seed=1)
    sampler = HFPolicy(build_tiny_model(tokenizer, seed=2), tokenizer, device="cpu", dtype=torch.float32)
    target = HFPolicy(learner, tokenizer, device="cpu", dtype=torch.float32)
    assert isinstance(sampler, Sampler)
    wanted = target.generate(PROMPT, SamplingParams(temperature=1.0, max_new_tokens=10, seed=3))[0]
    before = sampler.generate(PROMPT, SamplingParams(temperature=1.0, max_new_tokens=10, seed=3))[0]
    assert before.token_ids != wanted.token_ids  # different weights, different samples
    sampler.sync_weights(learner.state_dict())
    after = sampler.generate(PROMPT, SamplingParams(temperature=1.0, max_new_tokens=10, seed=3))[0]
    assert after.token_ids == wanted.token_ids and after.logprobs == pytest.approx(wanted.logprobs, abs=1e-6)

    from safetensors.torch import save_file

    fresh = HFPolicy(build_tiny_model(tokenizer, seed=4), tokenizer, device="cpu", dtype=torch.float32)
    save_file({k: v.clone() for k, v in learner.state_dict().items()}, str(tmp_path / "w.safetensors"))
    fresh.sync_weights(tmp_path / "w.safetensors")
    assert fresh.generate(PROMPT, GREEDY)[0].token_ids == target.generate(PROMPT, GREEDY)[0].token_ids


def test_syncing_the_learners_own_tensors_copies_nothing_and_foreign_names_are_refused(tokenizer):
    policy = HFPolicy(build_tiny_model(tokenizer, seed=1), tokenizer, device="cpu", dtype=torch.float32)
    state = policy.model.state_dict()
    pointers = {name: t.data_ptr() for name, t in state.items()}
    policy.sync_weights(state)
    assert {name: t.data_ptr() for name, t in policy.model.state_dict().items()} == pointers
    with pytest.raises(ValueError, match="does not have"):
        policy.sync_weights({"not.a.parameter": torch.zeros(1)})


class _StandInRunner:
    """What vLLM gives a worker: ``model_runner.model.load_weights(weights=[(name, tensor), ...])``."""

    def __init__(self, model):
        self.model = self
        self.target = model

    def load_weights(self, weights):
        self.target.load_state_dict(dict(weights), strict=False)


def test_vllm_worker_extension_loads_a_state_dict_or_a_file_into_the_workers_model(tokenizer, tmp_path):
    source, worker_model = build_tiny_model(tokenizer, seed=1), build_tiny_model(tokenizer, seed=2)
    worker = WeightSyncExtension()
    worker.model_runner = _StandInRunner(worker_model)
    assert worker.load_weights_from_state(source.state_dict()) == len(source.state_dict())
    for (name, a), b in zip(source.state_dict().items(), worker_model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    other = build_tiny_model(tokenizer, seed=3)
    torch.save(other.state_dict(), tmp_path / "w.pt")
    worker.load_weights_from_path(str(tmp_path / "w.pt"))
    pairs = zip(other.state_dict().values(), worker_model.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)


def test_vllm_sampler_is_refused_with_ray_workers_and_unknown_samplers():
    with pytest.raises(ValueError, match="ray_workers=0"):
        GRPOConfig(sampler="vllm", ray_workers=2)
    with pytest.raises(ValueError, match="'hf' or 'vllm'"):
        GRPOConfig(sampler="sglang")

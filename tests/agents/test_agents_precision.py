"""``precision``: auto/fp32 keep the old fp32 path bit for bit; bf16 autocasts the matmuls on a CPU too
(fp32 master weights and optimizer state); a CPU without bf16 support warns and runs fp32."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from mentor_agents.policies import SamplingParams  # noqa: E402
from mentor_agents.policies.hf import HFPolicy  # noqa: E402
from mentor_agents.teachers import OracleTeacher, conversation_ids  # noqa: E402
from mentor_agents.train import precision  # noqa: E402
from mentor_agents.train.common import make_optimizer, score_tokens  # noqa: E402
from mentor_agents.train.grpo import GRPOConfig, train_grpo  # noqa: E402
from mentor_agents.train.losses import entropy_from_logits, token_logprobs  # noqa: E402
from mentor_agents.train.metrics import read_metrics  # noqa: E402
from mentor_agents.train.sft import SFTConfig, sft_step, train_sft  # noqa: E402

MESSAGES = [{"role": "user", "content": "What is 17 times 23? Use the tools."}]


@pytest.fixture()
def bf16_cpu(monkeypatch):
    """The detector says yes, so bf16 runs on any CI CPU (emulated and slower where it lacks support)."""
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: True)


@pytest.fixture()
def no_bf16_cpu(monkeypatch):
    """The detector says no, and the once-per-process warning has not been given yet."""
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: False)
    monkeypatch.setattr(precision, "_fallback_warned", False)


@pytest.fixture(scope="module")
def examples(tokenizer):
    teacher = OracleTeacher()
    ids = [task.id for task in teacher.env.unwrapped.tasks[:4]]
    conversations = teacher.conversations(ids)
    teacher.env.close()
    return conversations, [conversation_ids(tokenizer, c.messages, c.tools) for c in conversations]


def _batch(examples):
    ids = torch.tensor(examples[0][0][:80])[None]
    return ids, torch.ones_like(ids)


def _linear_output_dtypes(model) -> list[torch.dtype]:
    seen: list[torch.dtype] = []
    for module in (model.model.layers[0].self_attn.q_proj, model.model.layers[-1].mlp.down_proj, model.lm_head):
        module.register_forward_hook(lambda _module, _inputs, output: seen.append(output.dtype))
    return seen


def test_resolve_precision_per_device(bf16_cpu):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")  # no GPU needed to name one
    assert precision.resolve_precision("auto", cpu) is None
    assert precision.resolve_precision("fp32", cpu) is None
    assert precision.resolve_precision("bf16", cpu) is torch.bfloat16
    assert precision.resolve_precision("auto", cuda) is torch.bfloat16
    assert precision.resolve_precision("bf16", cuda) is torch.bfloat16
    assert precision.resolve_precision("fp32", cuda) is None


def test_unknown_precision_names_the_choices(tokenizer, tiny_model, tmp_path):
    with pytest.raises(ValueError, match="'fp16'.*auto, bf16, fp32"):
        precision.resolve_precision("fp16", "cpu")
    with pytest.raises(ValueError, match="auto, bf16, fp32"):
        HFPolicy(tiny_model, tokenizer, device="cpu", precision="half")
    ids = torch.tensor([[1, 2, 3]])
    with pytest.raises(ValueError, match="auto, bf16, fp32"):
        score_tokens(tiny_model, ids, torch.ones_like(ids), precision="bfloat16")
    with pytest.raises(ValueError, match="fp32"):  # config validation or train_sft's own, before any step
        train_sft(SFTConfig(steps=1, precision="fp16"), tiny_model, tokenizer, [], tmp_path, progress=False)


@pytest.mark.skipif(not Path("/proc/cpuinfo").is_file(), reason="no /proc/cpuinfo (not Linux)")
def test_cpu_detector_agrees_with_proc_cpuinfo():
    cpuinfo = Path("/proc/cpuinfo")
    flags = set(cpuinfo.read_text().split())
    assert precision.cpu_has_bf16() == any(flag in flags for flag in precision.BF16_CPU_FLAGS)


@pytest.mark.parametrize("name", ["auto", "fp32"])
def test_auto_and_fp32_on_cpu_are_the_old_fp32_path(tiny_model, examples, name):
    ids, attn = _batch(examples[1])
    with torch.no_grad():
        logits = tiny_model(input_ids=ids, attention_mask=attn).logits[:, :-1]  # the code before `precision`
        old_logp, old_ent = token_logprobs(logits, ids[:, 1:], 0.6), entropy_from_logits(logits / 0.6)
        logp, ent = score_tokens(tiny_model, ids, attn, 0.6, entropy=True, precision=name)
    assert torch.equal(logp, old_logp) and ent is not None and torch.equal(ent, old_ent)


def test_auto_and_fp32_generation_match(tokenizer, tiny_model):
    sampling = SamplingParams(temperature=1.0, top_p=1.0, max_new_tokens=12, seed=3)
    runs = [
        HFPolicy(tiny_model, tokenizer, device="cpu", precision=name).generate([MESSAGES] * 3, sampling)
        for name in ("auto", "fp32")
    ]
    assert [(g.token_ids, g.logprobs) for g in runs[0]] == [(g.token_ids, g.logprobs) for g in runs[1]]


def test_bf16_computes_in_bf16_with_fp32_weights_and_optimizer_state(tiny_model, examples, bf16_cpu):
    ids, attn = _batch(examples[1])
    with torch.no_grad():
        fp32, _ = score_tokens(tiny_model, ids, attn, precision="fp32")
    seen = _linear_output_dtypes(tiny_model)
    with torch.no_grad():
        bf16, _ = score_tokens(tiny_model, ids, attn, precision="bf16")
    assert seen == [torch.bfloat16] * 3
    assert bf16.dtype == torch.float32
    gap = float((bf16 - fp32).abs().max())
    assert 0 < gap < 0.1, gap  # bf16 rounding, not a different model

    optimizer = make_optimizer(tiny_model, lr=1e-3)
    loss = sft_step(tiny_model, examples[1], "bf16")
    assert loss.dtype == torch.float32
    loss.backward()
    optimizer.step()
    assert {p.dtype for p in tiny_model.parameters()} == {torch.float32}
    assert {p.grad.dtype for p in tiny_model.parameters() if p.grad is not None} == {torch.float32}
    state = [t for s in optimizer.state.values() for t in s.values() if t.is_floating_point() and t.dim() > 0]
    assert state and {t.dtype for t in state} == {torch.float32}


def test_bf16_generation_returns_fp32_logprobs(tokenizer, tiny_model, bf16_cpu):
    policy = HFPolicy(tiny_model, tokenizer, device="cpu", precision="bf16")
    seen = _linear_output_dtypes(policy.model)
    sampling = SamplingParams(temperature=1.0, top_p=1.0, max_new_tokens=12, seed=3)
    generations = policy.generate([MESSAGES] * 3, sampling)
    assert set(seen) == {torch.bfloat16}
    assert {p.dtype for p in policy.model.parameters()} == {torch.float32}
    for g in generations:
        assert len(g.logprobs) == len(g.token_ids) > 0
        assert all(type(lp) is float and math.isfinite(lp) and lp <= 0 for lp in g.logprobs)


def test_no_bf16_cpu_warns_once_and_runs_fp32(tokenizer, tiny_model, examples, no_bf16_cpu):
    ids, attn = _batch(examples[1])
    with torch.no_grad():
        fp32, _ = score_tokens(tiny_model, ids, attn, precision="fp32")
        with pytest.warns(RuntimeWarning, match="AVX-512-BF16.*running fp32"):
            fallback, _ = score_tokens(tiny_model, ids, attn, precision="bf16")
        assert torch.equal(fallback, fp32)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # once per process: no second warning
            assert precision.resolve_precision("bf16", "cpu") is None
            policy = HFPolicy(tiny_model, tokenizer, device="cpu", precision="bf16")
    seen = _linear_output_dtypes(policy.model)
    sampling = SamplingParams(temperature=1.0, top_p=1.0, max_new_tokens=8, seed=3)
    fallback_gen = policy.generate([MESSAGES] * 2, sampling)
    fp32_gen = HFPolicy(tiny_model, tokenizer, device="cpu", precision="fp32").generate([MESSAGES] * 2, sampling)
    assert set(seen) == {torch.float32}
    assert [(g.token_ids, g.logprobs) for g in fallback_gen] == [(g.token_ids, g.logprobs) for g in fp32_gen]


def test_train_sft_bf16_reduces_the_loss_like_fp32(tokenizer, examples, tmp_path, bf16_cpu):
    from mentor_agents.models import build_tiny_model

    losses = {}
    for name in ("fp32", "bf16"):
        cfg = SFTConfig(steps=3, batch_size=4, lr=5e-3, warmup_steps=1, checkpoint_every=100, precision=name)
        model = build_tiny_model(tokenizer, seed=0)
        seen = _linear_output_dtypes(model)
        model = train_sft(cfg, model, tokenizer, examples[0], tmp_path / name, progress=False)
        assert set(seen) == {torch.bfloat16 if name == "bf16" else torch.float32}
        assert {p.dtype for p in model.parameters()} == {torch.float32}
        losses[name] = [row["loss"] for row in read_metrics(tmp_path / name / "metrics.jsonl")]
    for name, rows in losses.items():  # the same 4 conversations every step
        assert rows[-1] < 0.9 * rows[0], (name, rows)
    assert losses["bf16"] == pytest.approx(losses["fp32"], rel=0.05)


def test_train_grpo_bf16_samples_and_learns_in_bf16(tokenizer, tiny_model, tmp_path, bf16_cpu):
    cfg = GRPOConfig(
        steps=1, prompts_per_step=1, group_size=2, max_new_tokens=8, max_turns=1, micro_batch=2, precision="bf16"
    )
    seen = _linear_output_dtypes(tiny_model)
    model = train_grpo(cfg, tiny_model, tokenizer, tmp_path, progress=False)
    assert set(seen) == {torch.bfloat16}  # generation, learner and reference log-probs, update
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    (row,) = read_metrics(tmp_path / "metrics.jsonl")
    assert row["step"] == 1 and math.isfinite(row["loss"])
    # the learner's old log-probs and its first update's are the same bf16 computation: ratio 1
    assert row["ratio_min"] == pytest.approx(1.0, abs=1e-5) and row["ratio_max"] == pytest.approx(1.0, abs=1e-5)

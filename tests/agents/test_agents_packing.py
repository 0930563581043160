"""Sequence packing for SFT (``SFTConfig.pack_to``): same loss and gradients, far less padding."""

from __future__ import annotations

import copy
import dataclasses

import pytest

torch = pytest.importorskip("torch")

from mentor_agents.models import build_tiny_model  # noqa: E402
from mentor_agents.teachers import OracleTeacher, conversation_ids  # noqa: E402
from mentor_agents.train import precision  # noqa: E402
from mentor_agents.train.losses import masked_mean, token_logprobs  # noqa: E402
from mentor_agents.train.metrics import read_metrics  # noqa: E402
from mentor_agents.train.packing import attention_mask_for, pack_examples, pack_rows, score_packed  # noqa: E402
from mentor_agents.train.sft import SFTConfig, sft_step, train_sft  # noqa: E402


@pytest.fixture(scope="module")
def conversations():
    return OracleTeacher().conversations()[:32]


@pytest.fixture(scope="module")
def examples(tokenizer, conversations):
    return [conversation_ids(tokenizer, c.messages, c.tools) for c in conversations[:4]]


def _loss_and_grads(model, examples, precision_name: str, pack_to: int) -> tuple[float, list[torch.Tensor]]:
    model = copy.deepcopy(model)
    loss = sft_step(model, examples, precision_name, pack_to)
    loss.backward()
    return loss.item(), [p.grad.clone() for p in model.parameters()]


def _grad_error(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    """The largest per-tensor ``|a - b| / |a|`` (Frobenius norms)."""
    return max(float((x - y).norm() / x.norm().clamp(min=1e-30)) for x, y in zip(a, b, strict=True))


def test_pack_rows_first_fit_decreasing():
    # longest first: 8 -> row 0 (2 left), 5 -> row 1 (5 left), 3 -> row 1 (2 left), 2 -> row 0 (full)
    assert pack_rows([5, 3, 8, 2], 10) == [[2, 3], [0, 1]]
    assert pack_rows([5, 3, 8, 2], 100) == [[2, 0, 1, 3]]
    assert pack_rows([4, 4, 4], 4) == [[0], [1], [2]]  # ties in batch order
    assert pack_rows([12, 3], 10) == [[0], [1]]  # too long for a row: a row of its own, not cut
    with pytest.raises(ValueError):
        pack_rows([3], 0)


def test_pack_examples_layout():
    examples = [([1, 2, 3], [0, 1, 1]), ([4, 5], [1, 1]), ([6, 7, 8, 9], [0, 0, 1, 1])]
    packed = pack_examples(examples, 6)
    assert packed.rows == [[2, 1], [0]]
    assert packed.input_ids.tolist() == [[6, 7, 8, 9, 4, 5], [1, 2, 3, 0, 0, 0]]
    assert packed.position_ids.tolist() == [[0, 1, 2, 3, 0, 1], [0, 1, 2, 0, 1, 2]]
    # a conversation's first token is never a target (it would be predicted from the previous one)
    assert packed.loss_mask.tolist() == [[0, 0, 1, 1, 0, 1], [0, 1, 1, 0, 0, 0]]
    assert (packed.tokens, packed.padding) == (9, 3)
    allowed = packed.attention_mask[:, 0].int().tolist()
    assert allowed[0] == [
        [1, 0, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0],
        [1, 1, 1, 0, 0, 0],
        [1, 1, 1, 1, 0, 0],
        [0, 0, 0, 0, 1, 0],  # the second conversation does not see the first
        [0, 0, 0, 0, 1, 1],
    ]
    assert allowed[1][3:] == [[0, 0, 0, 1, 0, 0], [0, 0, 0, 1, 1, 0], [0, 0, 0, 1, 1, 1]]  # padding: own block
    with pytest.raises(ValueError, match="mask entries"):
        pack_examples([([1, 2], [1])], 4)


def test_packing_cuts_padding(examples):
    lengths = [len(ids) for ids, _ in examples]
    one_row = pack_examples(examples, sum(lengths))
    assert len(one_row.rows) == 1 and one_row.padding == 0
    several = pack_examples(examples, 2 * max(lengths))
    assert 1 < len(several.rows) < len(examples)
    unpacked_padding = len(examples) * max(lengths) - sum(lengths)
    assert several.padding < unpacked_padding and several.tokens == sum(lengths)


@pytest.mark.parametrize("precision_name", ["fp32", "bf16"])
def test_packed_loss_and_grads_match_unpacked(tokenizer, tiny_model, examples, monkeypatch, precision_name):
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: True)  # bf16 autocast even where emulated
    rtol_loss, rtol_grad = (1e-5, 1e-4) if precision_name == "fp32" else (1e-3, 5e-2)
    loss, grads = _loss_and_grads(tiny_model, examples, precision_name, 0)
    lengths = [len(ids) for ids, _ in examples]
    for pack_to in (sum(lengths), 2 * max(lengths), 1):  # one row; several; one per conversation (too long)
        packed_loss, packed_grads = _loss_and_grads(tiny_model, examples, precision_name, pack_to)
        assert packed_loss == pytest.approx(loss, rel=rtol_loss)
        assert _grad_error(grads, packed_grads) < rtol_grad


def test_eager_attention_packs_too(tiny_model, examples):
    tiny_model.config._attn_implementation = "eager"
    assert attention_mask_for(tiny_model, torch.ones(1, 1, 2, 2, dtype=torch.bool)).dtype == torch.float32
    loss, grads = _loss_and_grads(tiny_model, examples, "fp32", 0)
    packed_loss, packed_grads = _loss_and_grads(tiny_model, examples, "fp32", 10_000)
    assert packed_loss == pytest.approx(loss, rel=1e-5)
    assert _grad_error(grads, packed_grads) < 1e-4
    tiny_model.config._attn_implementation = "flash_attention_2"
    with pytest.raises(ValueError, match="4D attention mask"):
        sft_step(tiny_model, examples, "fp32", 10_000)


def test_the_block_mask_matters(tiny_model, examples):
    """Control: the same packed row with plain causal attention (conversations see each other) differs."""
    packed = pack_examples(examples, 10_000)
    with torch.no_grad():
        blocked = -masked_mean(score_packed(tiny_model, packed, "fp32"), packed.loss_mask[:, 1:]).item()
        logits = tiny_model(input_ids=packed.input_ids).logits[:, :-1]
        leaky = -masked_mean(token_logprobs(logits, packed.input_ids[:, 1:]), packed.loss_mask[:, 1:]).item()
        assert blocked == pytest.approx(sft_step(tiny_model, examples, "fp32").item(), rel=1e-5)
    assert abs(leaky - blocked) > 1e-4 * blocked


def test_packed_sft_trains_and_resumes(tokenizer, tiny_model, conversations, tmp_path):
    cfg = SFTConfig(steps=8, batch_size=4, lr=5e-3, warmup_steps=2, checkpoint_every=4, pack_to=256, share_prefix=False)
    train_sft(cfg, tiny_model, tokenizer, conversations, tmp_path, progress=False)
    rows = read_metrics(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in rows] == list(range(1, 9))
    assert rows[-1]["loss"] < 0.8 * rows[0]["loss"]
    part = tmp_path / "part"
    half = dataclasses.replace(cfg, steps=4)
    train_sft(half, build_tiny_model(tokenizer, 0), tokenizer, conversations, part, resume=False, progress=False)
    resumed = train_sft(cfg, build_tiny_model(tokenizer, 1), tokenizer, conversations, part, True, False)
    for a, b in zip(tiny_model.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert [r["loss"] for r in read_metrics(part / "metrics.jsonl")] == [r["loss"] for r in rows]

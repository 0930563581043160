"""GRPO update: direction, masking, and exact resume after SIGKILL."""

from __future__ import annotations

import copy
import subprocess
import sys
import textwrap

import pytest

torch = pytest.importorskip("torch")

from mentor_agents.policies import SamplingParams, ScriptedPolicy  # noqa: E402
from mentor_agents.rollout import make_envs, rollout  # noqa: E402
from mentor_agents.train.common import pad_right, score_tokens  # noqa: E402
from mentor_agents.train.grpo import GRPOConfig, train_grpo, update  # noqa: E402
from mentor_agents.train.losses import group_advantages, grpo_loss  # noqa: E402

SMALL = dict(
    prompts_per_step=2, group_size=2, max_new_tokens=8, max_turns=2, micro_batch=2, checkpoint_every=1, lr=1e-3
)


def _oracle_and_baseline(tokenizer, tasks, model):
    """A group of two rollouts of one task: the oracle (reward 1.1) and the no-tool guess (0.1), with
    old log-probs set to the current model's (as if the model had sampled them)."""
    envs = make_envs("tooluse/Calculator-v0", 1, split="train", reward="mentor", max_turns=5)
    trajs = []
    for mode in ("oracle", "no_tool"):
        trajs += rollout(envs, ScriptedPolicy(tokenizer, tasks, mode), tokenizer, SamplingParams(), [tasks[0].id])
    with torch.no_grad():
        for traj in trajs:
            ids = torch.tensor([traj.token_ids])
            logp, _ = score_tokens(model, ids, torch.ones_like(ids), temperature=0.6)
            traj.old_logprobs = [0.0] + logp[0].tolist()
    return trajs


def _sequence_logprob(model, traj) -> float:
    ids = torch.tensor([traj.token_ids])
    with torch.no_grad():
        logp, _ = score_tokens(model, ids, torch.ones_like(ids), temperature=0.6)
    return float((logp[0] * torch.tensor(traj.loss_mask[1:])).sum())


def test_one_step_moves_parameters_towards_the_better_rollout(tokenizer, tiny_model, train_tasks):
    trajs = _oracle_and_baseline(tokenizer, train_tasks[:1], tiny_model)
    assert [t.reward for t in trajs] == pytest.approx([1.1, 0.1])
    advantages = group_advantages(torch.tensor([t.reward for t in trajs]), group_size=2)
    before = [p.detach().clone() for p in tiny_model.parameters()]
    good_before, bad_before = (_sequence_logprob(tiny_model, t) for t in trajs)
    optimizer = torch.optim.AdamW(tiny_model.parameters(), lr=1e-3)
    stats = update(tiny_model, None, optimizer, trajs, advantages, GRPOConfig(**SMALL))
    assert stats["grad_norm"] > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, tiny_model.parameters(), strict=True))
    good_after, bad_after = (_sequence_logprob(tiny_model, t) for t in trajs)
    assert good_after > good_before and bad_after < bad_before


def test_tool_response_tokens_get_no_gradient(tokenizer, tiny_model, train_tasks):
    trajs = _oracle_and_baseline(tokenizer, train_tasks[1:2], tiny_model)[:1]
    ids = pad_right([trajs[0].token_ids], 0, torch.long, "cpu")
    mask = torch.tensor([trajs[0].loss_mask[1:]], dtype=torch.float32)
    logits = tiny_model(input_ids=ids).logits[:, :-1]
    logits.retain_grad()
    logp = torch.log_softmax(logits / 0.6, -1).gather(-1, ids[:, 1:, None])[..., 0]
    old = torch.tensor([trajs[0].old_logprobs[1:]])
    grpo_loss(logp, old, torch.tensor([1.0]), mask, old.clone(), None).loss.backward()
    per_position = logits.grad.abs().sum(-1)[0]
    assert per_position[mask[0] == 0].max() == 0
    assert per_position[mask[0] == 1].min() > 0
    assert (mask[0] == 0).sum() > trajs[0].prompt_len  # tool-response tokens are among the masked ones


def test_train_grpo_writes_metrics_and_checkpoint(tokenizer, tiny_model, tmp_path):
    cfg = GRPOConfig(steps=1, eval_every=1, eval_tasks=2, **SMALL)
    train_grpo(cfg, tiny_model, tokenizer, tmp_path, progress=False)
    rows = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len(rows) == 2 and '"reward/c"' in rows[1] and '"invalid_call_rate"' in rows[1]
    assert '"val/success"' in rows[0] and '"val/success"' in rows[1]  # step 0 (start) and step 1
    assert (tmp_path / "checkpoints" / "step_000001.pt").is_file()


KILLED_RUN = """
import os, signal, sys, torch
torch.set_num_threads(2)
import mentor_agents.train.grpo as grpo
from mentor_agents.models import build_tiny_model
from mentor_agents.tokenizer import load_tiny_tokenizer
real_save = grpo.save_checkpoint
def save_then_die(out_dir, step, *args, **kwargs):
    real_save(out_dir, step, *args, **kwargs)
    if step == 2:
        os.kill(os.getpid(), signal.SIGKILL)
grpo.save_checkpoint = save_then_die
tokenizer = load_tiny_tokenizer(sys.argv[1])
cfg = grpo.GRPOConfig(steps=3, **{small})
grpo.train_grpo(cfg, build_tiny_model(tokenizer, seed=0), tokenizer, sys.argv[2], progress=False)
"""


def test_resume_after_sigkill_matches_uninterrupted_run(tokenizer, tiny_cache, tmp_path):
    from mentor_agents.models import build_tiny_model

    straight = train_grpo(
        GRPOConfig(steps=3, **SMALL), build_tiny_model(tokenizer, seed=0), tokenizer, tmp_path / "a", progress=False
    )
    script = textwrap.dedent(KILLED_RUN).replace("{small}", repr(SMALL))
    proc = subprocess.run([sys.executable, "-c", script, str(tiny_cache), str(tmp_path / "b")], timeout=300)
    assert proc.returncode == -9  # really killed by SIGKILL, after the step-2 checkpoint
    resumed = train_grpo(
        GRPOConfig(steps=3, **SMALL),
        build_tiny_model(tokenizer, seed=1),  # different init: everything must come from the checkpoint
        tokenizer,
        tmp_path / "b",
        resume=True,
        progress=False,
    )
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    rows_a = (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()
    rows_b = (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()
    assert len(rows_a) == len(rows_b) == 3


@pytest.mark.parametrize(
    ("change", "message"),
    [({"ray_address": "auto"}, "ray_workers=0"), ({"rollout_batch": 0}, "must be at least 1")],
)
def test_ray_and_chunking_misconfigurations_are_refused_up_front(change, message):
    with pytest.raises(ValueError, match=message):
        GRPOConfig(**change)


def _two_groups(tokenizer, tasks, model):
    return _oracle_and_baseline(tokenizer, tasks[:1], model) + _oracle_and_baseline(tokenizer, tasks[1:2], model)


def test_one_update_per_batch_is_on_policy_so_the_clip_never_acts(tokenizer, tiny_model, train_tasks):
    trajs = _two_groups(tokenizer, train_tasks, tiny_model)
    advantages = group_advantages(torch.tensor([t.reward for t in trajs]), group_size=2)
    optimizer = torch.optim.AdamW(tiny_model.parameters(), lr=1e-2)
    stats = update(tiny_model, None, optimizer, trajs, advantages, GRPOConfig(**{**SMALL, "ppo_mini_batch": 2}))
    assert stats["updates"] == 1
    assert stats["approx_kl"] == pytest.approx(0.0, abs=1e-6) and stats["clip_frac"] == 0.0
    assert stats["ratio_min"] == pytest.approx(1.0, abs=1e-5) and stats["ratio_max"] == pytest.approx(1.0, abs=1e-5)


def test_mini_batches_and_epochs_make_later_updates_off_policy_and_clipped(tokenizer, tiny_model, train_tasks):
    trajs = _two_groups(tokenizer, train_tasks, tiny_model)
    advantages = group_advantages(torch.tensor([t.reward for t in trajs]), group_size=2)
    optimizer = torch.optim.AdamW(tiny_model.parameters(), lr=1e-2)
    cfg = GRPOConfig(**{**SMALL, "ppo_mini_batch": 1, "ppo_epochs": 2})
    stats = update(tiny_model, None, optimizer, trajs, advantages, cfg)
    assert stats["updates"] == 4  # 2 mini-batches of one group each, twice
    assert stats["approx_kl"] != 0.0 and stats["clip_frac"] > 0.0
    assert stats["ratio_max"] > 1.2 or stats["ratio_min"] < 0.8
    # the sampler's log-probs were the learner's own here, so the gap is numerical noise only
    assert stats["sampler_logprob_gap"] < 1e-4


def test_micro_batch_size_changes_the_speed_not_the_update(tokenizer, tiny_model, train_tasks):
    """A micro-batch of half a group runs the group's prompt twice, a whole group once (the preset's
    choice); gradient accumulation over the mini-batch's tokens makes both the same update (the two
    groups' trajectories differ in length, so a per-micro-batch mean would not)."""
    trajs = _two_groups(tokenizer, train_tasks, tiny_model)
    advantages = group_advantages(torch.tensor([t.reward for t in trajs]), group_size=2)
    deltas = []
    for micro_batch in (1, 2):
        model = copy.deepcopy(tiny_model)
        before = [p.detach().clone() for p in model.parameters()]
        optimizer = torch.optim.SGD(model.parameters(), lr=1.0)  # the parameter change is the gradient
        cfg = GRPOConfig(
            **{**SMALL, "micro_batch": micro_batch, "ppo_mini_batch": 2, "precision": "fp32", "max_grad_norm": 1e9}
        )
        stats = update(model, None, optimizer, trajs, advantages, cfg)
        assert stats["updates"] == 1 and stats["grad_norm"] > 0  # one update over both groups
        deltas.append(torch.cat([(p.detach() - b).flatten() for p, b in zip(model.parameters(), before, strict=True)]))
    assert deltas[0].abs().max() > 0
    torch.testing.assert_close(deltas[1], deltas[0], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ppo_mini_batch": 3}, "divide prompts_per_step"),
        ({"ppo_epochs": 0}, "ppo_epochs"),
        ({"dual_clip": 1.0}, "above 1"),
    ],
)
def test_ppo_update_misconfigurations_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        GRPOConfig(**change)

"""GRPO with MENTOR rewards, readable top to bottom: collect groups → advantages → PPO updates → log.

For each step: take ``prompts_per_step`` tasks, play ``group_size`` rollouts of each (temperature 0.6,
top-p 0.95, at most ``max_turns`` turns), score them with the reward named by ``reward`` (computed by the
env), normalise rewards within each group. Then, as verl does, the learner recomputes the batch's old
log-probs itself (the sampler's differ from the learner's by numerics) and takes one clipped update per
mini-batch of ``ppo_mini_batch`` prompts, ``ppo_epochs`` times: after the first update the batch is
off-policy, which is what the ratio clip is for. The loss is clipped ratio loss + KL to the frozen initial
model (k3) - entropy bonus, token-mean over sampled tokens only (prompt and tool-response tokens have
``loss_mask`` 0), with gradient accumulation over micro-batches. Defaults follow
the MENTOR authors' configuration (docs/rewards.md), scaled down so the ``tiny`` preset trains on a CPU.

Rollouts are played in fixed, seeded chunks (``rollout.RolloutChunk``), in this process or on Ray
actors (``ray_workers``); the chunking alone decides the tokens, so both give the same training run.
"""

from __future__ import annotations

import copy
import random
import time
import warnings
from pathlib import Path
from typing import Any

import torch

from mentor_agents.policies.base import Policy, Sampler, SamplingParams
from mentor_agents.policies.hf import HFPolicy
from mentor_agents.rollout import Trajectory, make_envs, play_chunks, rollout, split_into_chunks
from mentor_agents.shared_prefix import score_rows
from mentor_agents.train.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from mentor_agents.train.common import make_optimizer, make_scheduler, pad_right, score_tokens, torch_threads
from mentor_agents.train.config import GRPOConfig
from mentor_agents.train.logs import RunLogs
from mentor_agents.train.losses import group_advantages, grpo_loss
from mentor_agents.train.metrics import PLOT_KEYS, MetricsLog, plot_metrics, rollout_metrics


def task_order(env: Any, seed: int) -> list[str]:
    """All task ids of the env, shuffled once by ``seed`` (the data cursor walks this list)."""
    ids = [task.id for task in env.unwrapped.tasks]
    random.Random(seed).shuffle(ids)
    return ids


def _batches(trajs: list[Trajectory], size: int) -> list[range]:
    return [range(start, min(start + size, len(trajs))) for start in range(0, len(trajs), size)]


def score_trajectories(
    model: Any, trajs: list[Trajectory], cfg: GRPOConfig, entropy: bool = False
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Log-probs ``[B, T_max - 1]`` (and entropies) of ``trajs`` under ``model``, shared prefixes run once
    when ``cfg.share_prefix``; positions whose next token is not trainable may hold 0."""
    rows = [t.token_ids for t in trajs]
    if cfg.share_prefix:
        scored = score_rows(model, rows, [t.loss_mask for t in trajs], cfg.temperature, entropy, cfg.precision)
        if scored is not None:
            return scored
    device = next(model.parameters()).device
    ids = pad_right(rows, 0, torch.long, device)
    attn = pad_right([[1] * len(row) for row in rows], 0, torch.long, device)
    return score_tokens(model, ids, attn, cfg.temperature, entropy=entropy, precision=cfg.precision)


def learner_logprobs(
    model: Any, ref_model: Any | None, trajs: list[Trajectory], cfg: GRPOConfig
) -> tuple[list[torch.Tensor], list[torch.Tensor] | None]:
    """The batch's old log-probs as the learner computes them before any update, and the reference
    model's, once per batch (verl's ``compute_log_prob``/``compute_ref_log_prob``)."""
    old: list[torch.Tensor] = []
    ref: list[torch.Tensor] | None = [] if ref_model is not None else None
    model.eval()
    with torch.no_grad():
        for chunk in _batches(trajs, cfg.micro_batch):
            batch = [trajs[i] for i in chunk]
            logp, _ = score_trajectories(model, batch, cfg)
            old += [logp[row, : len(traj.token_ids) - 1] for row, traj in enumerate(batch)]
            if ref is not None:
                ref_logp, _ = score_trajectories(ref_model, batch, cfg)
                ref += [ref_logp[row, : len(traj.token_ids) - 1] for row, traj in enumerate(batch)]
    return old, ref


def _pad(rows: list[torch.Tensor]) -> torch.Tensor:
    return torch.nn.utils.rnn.pad_sequence(rows, batch_first=True, padding_value=0.0)


def _optimizer_update(
    model: Any,
    optimizer: Any,
    trajs: list[Trajectory],
    advantages: torch.Tensor,
    old: list[torch.Tensor],
    ref: list[torch.Tensor] | None,
    indices: range,
    cfg: GRPOConfig,
) -> dict[str, float]:
    """One optimizer step on one mini-batch, gradients accumulated over its micro-batches."""
    device = next(model.parameters()).device
    num_tokens = float(sum(max(0, sum(trajs[i].loss_mask[1:])) for i in indices))
    totals = dict.fromkeys(("loss", "pg_loss", "kl", "entropy", "clip_frac", "approx_kl"), 0.0)
    ratio_min, ratio_max = float("inf"), float("-inf")
    model.train()
    optimizer.zero_grad(set_to_none=True)
    for start in range(indices.start, indices.stop, cfg.micro_batch):
        chunk = range(start, min(start + cfg.micro_batch, indices.stop))
        mask = pad_right([trajs[i].loss_mask for i in chunk], 0, torch.float32, device)[:, 1:]
        logp, entropy = score_trajectories(model, [trajs[i] for i in chunk], cfg, entropy=cfg.entropy_coef > 0)
        ref_logp = _pad([ref[i] for i in chunk]) if ref is not None else None
        adv = advantages[chunk.start : chunk.stop].to(device)
        parts = grpo_loss(
            logp, _pad([old[i] for i in chunk]), adv, mask, ref_logp, entropy,
            cfg.clip, cfg.kl_coef, cfg.entropy_coef, num_tokens, cfg.dual_clip,
        )  # fmt: skip
        parts.loss.backward()
        values = (parts.loss, parts.policy, parts.kl, parts.entropy, parts.clip_frac, parts.approx_kl)
        for key, value in zip(totals, values, strict=True):
            totals[key] += float(value.detach())
        ratio_min, ratio_max = min(ratio_min, float(parts.ratio_min)), max(ratio_max, float(parts.ratio_max))
    totals["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm))
    optimizer.step()
    return {**totals, "ratio_min": ratio_min, "ratio_max": ratio_max}


def sampler_logprob_gap(trajs: list[Trajectory], old: list[torch.Tensor]) -> float:
    """Mean |sampler − learner| log-prob over sampled tokens: the numeric mismatch the ratio would
    otherwise carry into the first update (bf16 or vLLM samplers make it larger)."""
    total, count = 0.0, 0
    for traj, learner in zip(trajs, old, strict=True):
        mask = torch.tensor(traj.loss_mask[1:], dtype=torch.bool)
        sampler = torch.tensor(traj.old_logprobs[1:], dtype=torch.float32)
        total += float((sampler[mask] - learner.cpu()[mask]).abs().sum())
        count += int(mask.sum())
    return total / max(1, count)


def update(
    model: Any,
    ref_model: Any | None,
    optimizer: Any,
    trajs: list[Trajectory],
    advantages: torch.Tensor,
    cfg: GRPOConfig,
) -> dict[str, float]:
    """PPO over one batch: learner old log-probs, then ``ppo_epochs`` × one update per mini-batch.

    Returns the updates' mean loss parts (the ratio range over all of them) and how many there were.
    """
    old, ref = learner_logprobs(model, ref_model, trajs, cfg)
    rows = [
        _optimizer_update(model, optimizer, trajs, advantages, old, ref, indices, cfg)
        for _ in range(cfg.ppo_epochs)
        for indices in _batches(trajs, cfg.ppo_mini_batch * cfg.group_size)
    ]
    stats = {key: sum(row[key] for row in rows) / len(rows) for key in rows[0]}
    stats["ratio_min"] = min(row["ratio_min"] for row in rows)
    stats["ratio_max"] = max(row["ratio_max"] for row in rows)
    stats["updates"] = float(len(rows))
    stats["sampler_logprob_gap"] = sampler_logprob_gap(trajs, old)
    return stats


def build_sampler(cfg: GRPOConfig, learner: HFPolicy, tokenizer: Any, out_dir: Path) -> Sampler:
    """The rollout sampler: the learner's own ``HFPolicy``, or a vLLM engine started from its weights."""
    if cfg.sampler == "hf":
        return learner
    from mentor_agents.policies.vllm import VLLMPolicy  # raises with install advice without vLLM/GPU

    start = out_dir / "sampler_init"
    learner.model.save_pretrained(start)
    tokenizer.save_pretrained(start)
    return VLLMPolicy(str(start), tokenizer, seed=cfg.seed)


def validate(policy: Policy, tokenizer: Any, envs: list[Any], cfg: GRPOConfig) -> dict[str, float]:
    """Greedy rollouts on the first ``len(envs)`` tasks of the validation split (MENTOR validates greedy)."""
    task_ids = [task.id for task in envs[0].unwrapped.tasks[: len(envs)]]
    greedy = SamplingParams(temperature=0.0, top_p=1.0, max_new_tokens=cfg.max_new_tokens)
    trajs = rollout(envs[: len(task_ids)], policy, tokenizer, greedy, task_ids)
    return {f"val/{key}": value for key, value in rollout_metrics(trajs).items()}


def grpo_step(
    cfg: GRPOConfig,
    step: int,
    tasks: list[str],
    envs: list[Any],
    sampler: Sampler,
    tokenizer: Any,
    model: Any,
    ref_model: Any | None,
    optimizer: Any,
    scheduler: Any,
    collector: Any | None = None,
) -> tuple[list[Trajectory], dict[str, float], float]:
    """One training step on ``tasks`` (step ``step``, 0-based): what ``train_grpo`` runs per step.

    Returns the trajectories, ``update``'s stats and the rollout time in seconds.
    """
    started = time.perf_counter()
    # 1. collect: group_size rollouts of each of prompts_per_step tasks
    task_ids = [tid for tid in tasks for _ in range(cfg.group_size)]
    chunks = split_into_chunks(task_ids, cfg.rollout_chunks, seed=cfg.seed * 1_000_003 + step)
    sampling = SamplingParams(cfg.temperature, cfg.top_p, cfg.max_new_tokens)
    if collector is None:
        with torch_threads(cfg.rollout_threads):
            trajs = play_chunks(envs, sampler, tokenizer, sampling, chunks)
    else:
        collector.sync_weights(model)
        trajs = collector.collect(chunks, sampling)
    rollout_time = time.perf_counter() - started
    # 2. advantages: rewards normalised within each group
    advantages = group_advantages(torch.tensor([t.reward for t in trajs]), cfg.group_size)
    # 3. PPO: learner old log-probs, then clipped updates per mini-batch
    stats = update(model, ref_model, optimizer, trajs, advantages, cfg)
    sampler.sync_weights(model.state_dict())  # in-process HF: shared tensors, nothing to copy
    scheduler.step()
    return trajs, stats, rollout_time


def train_grpo(
    cfg: GRPOConfig,
    model: Any,
    tokenizer: Any,
    out_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    logs: RunLogs | None = None,
) -> Any:
    """Run GRPO for ``cfg.steps`` steps, checkpointing under ``out_dir``; returns the trained model.

    ``logs``: the run's logging and ``--log-to`` sinks (``train.logs``); alone, a run of its own without sinks.
    """
    out_dir = Path(out_dir)
    own_logs = logs is None  # called alone: this call's summary table too
    logs = logs or RunLogs(out_dir, progress=progress)
    policy = HFPolicy(model, tokenizer, dtype=torch.float32, precision=cfg.precision, share_prefix=cfg.share_prefix)
    model = policy.model
    optimizer = make_optimizer(model, cfg.lr)
    scheduler = make_scheduler(optimizer, cfg.warmup_steps)
    ref_path = out_dir / "reference_model.pt"
    step, cursor = 0, 0
    checkpoint = latest_checkpoint(out_dir) if resume else None
    if checkpoint is not None:
        step, cursor = load_checkpoint(checkpoint, model, optimizer, scheduler)
    ref_model = None
    if cfg.kl_coef > 0:  # the KL anchor is the model as training started (saved, so resume keeps it)
        ref_model = copy.deepcopy(model).eval().requires_grad_(False)
        if checkpoint is not None and ref_path.is_file():
            ref_model.load_state_dict(torch.load(ref_path, map_location="cpu"))
        else:
            out_dir.mkdir(parents=True, exist_ok=True)
            torch.save(model.state_dict(), ref_path)
    sampler = build_sampler(cfg, policy, tokenizer, out_dir)  # after a resume: from the resumed weights
    batch = cfg.prompts_per_step * cfg.group_size
    n_chunks = cfg.rollout_chunks
    if cfg.ray_workers > n_chunks:
        warnings.warn(
            f"{cfg.ray_workers} Ray workers but only {n_chunks} rollout chunk(s) per step: "
            f"set rollout_batch <= {max(1, batch // cfg.ray_workers)} to keep every worker busy",
            stacklevel=2,
        )
    env_kwargs: dict[str, Any] = dict(split=cfg.split, reward=cfg.reward, max_turns=cfg.max_turns)
    if cfg.tasks_file:
        env_kwargs["tasks_file"] = cfg.tasks_file
    envs = make_envs(cfg.env_id, 1 if cfg.ray_workers else -(-batch // n_chunks), **env_kwargs)
    order = task_order(envs[0], cfg.seed)
    eval_envs = []
    if cfg.eval_every:
        eval_kwargs = dict(split=cfg.eval_split, reward=cfg.reward, max_turns=cfg.max_turns)
        eval_envs = make_envs(cfg.env_id, cfg.eval_tasks, **eval_kwargs)
    collector = None
    if cfg.ray_workers:
        from mentor_agents.distributed.rollout_actors import ray_rollout_workers

        threads = cfg.rollout_threads or torch.get_num_threads()
        collector = ray_rollout_workers(
            model,
            tokenizer,
            cfg.env_id,
            cfg.rollout_workers,
            env_kwargs,
            threads,
            address=cfg.ray_address,
            precision=cfg.precision,
            share_prefix=cfg.share_prefix,
        )
    log = MetricsLog(out_dir, resume_step=step)
    try:
        with logs.phase("grpo", cfg.reward, out_dir, cfg.steps, step) as phase:
            if cfg.eval_every and step == 0:  # the starting point, e.g. the SFT model in sft+<method>
                row = {"step": 0, **validate(policy, tokenizer, eval_envs, cfg)}
                log.write(row)
                phase.write(row)
            while step < cfg.steps:
                started = time.perf_counter()
                tasks = [order[(cursor + i) % len(order)] for i in range(cfg.prompts_per_step)]
                cursor += cfg.prompts_per_step
                trajs, stats, rollout_time = grpo_step(
                    cfg, step, tasks, envs, sampler, tokenizer, model, ref_model, optimizer, scheduler, collector
                )
                step += 1
                # 4. log and checkpoint
                row = {"step": step, **stats, **rollout_metrics(trajs), "lr": float(scheduler.get_last_lr()[0])}
                row |= {"rollout_time": rollout_time, "step_time": time.perf_counter() - started}
                if cfg.eval_every and step % cfg.eval_every == 0:
                    row |= validate(policy, tokenizer, eval_envs, cfg)
                log.write(row)
                phase.write(row)
                phase.advance(reward=f"{row['reward_mean']:.3f}", success=f"{row['success']:.2f}")
                if step % cfg.checkpoint_every == 0 or step == cfg.steps:
                    save_checkpoint(out_dir, step, model, optimizer, scheduler, cursor)
    finally:  # actors and sandboxes are released on errors too
        if collector is not None:
            collector.shutdown()
        for env in envs + eval_envs:
            env.close()
    plot_metrics(log.path, keys=PLOT_KEYS, run_name=logs.run_name, phase="grpo")
    if own_logs:
        logs.finish()
    return model

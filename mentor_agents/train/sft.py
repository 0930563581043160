"""SFT on teacher trajectories: next-token loss on the assistant tokens only.

Each conversation becomes (ids, mask) exactly as a rollout would build it, so the student is trained
on the same token boundaries it will sample with. Loss is the token-mean NLL over assistant tokens.
With ``SFTConfig.pack_to`` the step's conversations are packed into rows of at most that many tokens,
each attending only within itself (``train.packing``): the same loss with far fewer padding tokens.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import torch

from mentor_agents.policies.hf import default_device_dtype
from mentor_agents.shared_prefix import score_rows
from mentor_agents.teachers import Conversation, conversation_ids
from mentor_agents.train.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from mentor_agents.train.common import make_optimizer, make_scheduler, pad_right, score_tokens
from mentor_agents.train.config import SFTConfig
from mentor_agents.train.logs import RunLogs
from mentor_agents.train.losses import masked_mean
from mentor_agents.train.metrics import MetricsLog, plot_metrics
from mentor_agents.train.packing import pack_examples, score_packed
from mentor_agents.train.precision import resolve_precision


def batch_order(n: int, cursor: int, size: int, seed: int) -> list[int]:
    """Example indices for the batch starting at ``cursor`` (epochs reshuffled by ``seed + epoch``)."""
    out = []
    for position in range(cursor, cursor + size):
        epoch, index = divmod(position, n)
        perm = list(range(n))
        random.Random(seed + epoch).shuffle(perm)
        out.append(perm[index])
    return out


def sft_step(
    model: Any,
    examples: list[tuple[list[int], list[int]]],
    precision: str = "auto",
    pack_to: int = 0,
    share_prefix: bool = False,
) -> torch.Tensor:
    """Token-mean NLL of the assistant tokens of a batch (graph kept for backward), forward under ``precision``.

    ``pack_to`` > 0: the conversations are packed into rows of at most that many tokens (one longer than
    that gets a row of its own), attention and positions kept per conversation (``train.packing``); the
    loss is the same up to float rounding. ``share_prefix``: a prefix common to the conversations runs
    once (``mentor_agents.shared_prefix``), same loss up to float rounding. Neither: one right-padded row
    per conversation.
    """
    device = next(model.parameters()).device
    mask = pad_right([e[1] for e in examples], 0, torch.float32, device)[:, 1:]
    if pack_to:
        packed = pack_examples(examples, pack_to, device)
        return -masked_mean(score_packed(model, packed, precision), packed.loss_mask[:, 1:])
    if share_prefix:
        scored = score_rows(model, [e[0] for e in examples], [e[1] for e in examples], precision=precision)
        if scored is not None:
            return -masked_mean(scored[0], mask)
    ids = pad_right([e[0] for e in examples], 0, torch.long, device)
    attn = pad_right([[1] * len(e[0]) for e in examples], 0, torch.long, device)
    logp, _ = score_tokens(model, ids, attn, precision=precision)
    return -masked_mean(logp, mask)


def train_sft(
    cfg: SFTConfig,
    model: Any,
    tokenizer: Any,
    conversations: list[Conversation],
    out_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    logs: RunLogs | None = None,
) -> Any:
    """Train on the teacher's conversations for ``cfg.steps`` steps; checkpoints under ``out_dir``.

    ``logs``: the run's logging and ``--log-to`` sinks (``train.logs``); alone, a run of its own without sinks.
    """
    out_dir = Path(out_dir)
    own_logs = logs is None  # called alone: this call's summary table too
    logs = logs or RunLogs(out_dir, progress=progress)
    examples = [conversation_ids(tokenizer, c.messages, c.tools) for c in conversations]
    device = default_device_dtype()[0]
    resolve_precision(cfg.precision, device)  # a ValueError or the fallback warning before any work
    model = model.to(device, dtype=torch.float32)  # fp32 master weights whatever the precision
    optimizer = make_optimizer(model, cfg.lr, cfg.weight_decay)
    scheduler = make_scheduler(optimizer, cfg.warmup_steps)
    step, cursor = 0, 0
    checkpoint = latest_checkpoint(out_dir) if resume else None
    if checkpoint is not None:
        step, cursor = load_checkpoint(checkpoint, model, optimizer, scheduler)
    log = MetricsLog(out_dir, resume_step=step)
    model.train()
    with logs.phase("sft", "sft", out_dir, cfg.steps, step) as phase:
        while step < cfg.steps:
            started = time.perf_counter()
            batch = [examples[i] for i in batch_order(len(examples), cursor, cfg.batch_size, cfg.seed)]
            cursor += cfg.batch_size
            optimizer.zero_grad(set_to_none=True)
            loss = sft_step(model, batch, cfg.precision, cfg.pack_to, cfg.share_prefix)
            loss.backward()
            grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm))
            optimizer.step()
            scheduler.step()
            step += 1
            tokens = sum(sum(e[1]) for e in batch)
            row = {"step": step, "loss": loss.item(), "grad_norm": grad_norm, "lr": scheduler.get_last_lr()[0]}
            row |= {"tokens": tokens, "step_time": time.perf_counter() - started}
            log.write(row)
            phase.write(row)
            phase.advance(loss=f"{row['loss']:.3f}")
            if step % cfg.checkpoint_every == 0 or step == cfg.steps:
                save_checkpoint(out_dir, step, model, optimizer, scheduler, cursor)
    plot_metrics(log.path, keys=("loss",), run_name=logs.run_name, phase="sft")
    if own_logs:
        logs.finish()
    return model

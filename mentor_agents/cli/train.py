"""``mentor train``: its flags, and running SFT, GRPO or SFT then GRPO into a run directory."""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

from mentor_agents.train.methods import methods

METHODS = methods()


def apply_overrides(config: Any, overrides: list[str]) -> Any:
    """``key=value`` strings onto a dataclass, cast to each field's type; unknown keys are skipped
    here because one list serves both configs, but a key no config knows is an error (see ``main``)."""
    fields = {f.name: f for f in dataclasses.fields(config)}
    changes = {}
    for item in overrides:
        key, _, value = item.partition("=")
        if key in fields:
            current = getattr(config, key)
            if "None" in str(fields[key].type) and value.lower() == "none":
                changes[key] = None
            elif current is None:  # the optional fields (e.g. ray_address) hold strings
                changes[key] = value
            elif isinstance(current, bool):
                changes[key] = value.lower() in ("1", "true", "yes")
            else:
                changes[key] = type(current)(value)
    return dataclasses.replace(config, **changes)


def _check_overrides(overrides: list[str]) -> None:
    from mentor_agents.train.grpo import GRPOConfig
    from mentor_agents.train.sft import SFTConfig

    known = {f.name for c in (GRPOConfig, SFTConfig) for f in dataclasses.fields(c)}
    for item in overrides:
        key, sep, _ = item.partition("=")
        if not sep or key not in known:
            raise SystemExit(f"--set {item!r}: expected key=value with key one of {sorted(known)}")


def train(args: argparse.Namespace) -> Path:
    """Run the requested method; returns the directory of the final model."""
    import torch

    from mentor_agents.models import load_preset
    from mentor_agents.teachers import OracleTeacher
    from mentor_agents.train.grpo import GRPOConfig, train_grpo
    from mentor_agents.train.sft import SFTConfig, train_sft

    if args.threads:
        torch.set_num_threads(args.threads)
    _check_overrides(args.set)
    out = Path(args.out)
    if out.exists() and any(out.iterdir()) and not args.resume:
        if not args.overwrite:
            raise SystemExit(f"{out} already holds a run: pass --resume to continue it or --overwrite to replace it")
        shutil.rmtree(out)
    sft_part, _, rl_part = args.method.partition("+") if "+" in args.method else ("", "", args.method)
    if args.method == "sft":
        sft_part, rl_part = "sft", ""
    grpo_cfg = None
    if rl_part:  # built (and its Ray cluster checked) before any training, so a bad config fails fast
        ray_flags = [f"ray_workers={args.ray_workers}", f"ray_address={args.ray_address}"]
        if args.tasks_file:
            ray_flags.append(f"tasks_file={args.tasks_file}")
        try:
            base = GRPOConfig(env_id=args.env, reward=rl_part, steps=args.steps, seed=args.seed)
            grpo_cfg = apply_overrides(base, [*ray_flags, *args.set])  # --set wins over the flags
            if grpo_cfg.ray_workers:
                from mentor_agents.distributed.cluster import check_capacity, ensure_ray

                threads = grpo_cfg.rollout_threads or torch.get_num_threads()
                ray = ensure_ray(grpo_cfg.ray_address)
                check_capacity(ray, grpo_cfg.rollout_workers, threads, fixed_cluster=grpo_cfg.ray_address is None)
        except ValueError as exc:
            raise SystemExit(f"mentor train: {exc}") from exc
    model, tokenizer = load_preset(args.preset, seed=args.seed)
    if sft_part:
        sft_cfg = apply_overrides(SFTConfig(steps=args.sft_steps if rl_part else args.steps, seed=args.seed), args.set)
        conversations = OracleTeacher(args.env, split="train", tasks_file=args.tasks_file).conversations()
        sft_out = out / "sft" if rl_part else out
        model = train_sft(sft_cfg, model, tokenizer, conversations, sft_out, args.resume, not args.quiet)
    if grpo_cfg is not None:
        grpo_out = out / "grpo" if sft_part else out
        model = train_grpo(grpo_cfg, model, tokenizer, grpo_out, args.resume, not args.quiet)
    final = out / "final_model"
    model.save_pretrained(final)
    tokenizer.save_pretrained(final)
    (out / "run.json").write_text(json.dumps({k: v for k, v in vars(args).items() if k != "func"}, indent=1))
    return final


def add_train_command(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("train", help="train a student")
    t.add_argument("--preset", default="tiny", help="tiny | smollm2-135m | hf:<path>")
    t.add_argument("--method", default="mentor", choices=METHODS)
    t.add_argument("--env", default="tooluse/Calculator-v0")
    t.add_argument("--steps", type=int, default=20, help="GRPO steps (SFT steps for --method sft)")
    t.add_argument("--sft-steps", type=int, default=200, help="SFT steps before GRPO for sft+<method>")
    t.add_argument("--out", required=True, help="run directory (checkpoints, metrics.jsonl, final_model)")
    t.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")
    t.add_argument("--overwrite", action="store_true", help="delete an existing run in --out and start afresh")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--tasks-file", default=None, help="train on these tasks and references (e.g. mentor teach output)")
    t.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    t.add_argument("--ray-workers", type=int, default=0, help="collect GRPO rollouts on N Ray actors")
    t.add_argument("--ray-address", default=None, help="existing Ray cluster for --ray-workers (default: local)")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field")
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    t.set_defaults(func=train)

"""``mentor teach``: its flags and report (the teaching itself is ``mentor_agents.teach``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mentor_agents.cli.eval import add_api_key_flags, apply_api_key
from mentor_agents.errors import UserError
from mentor_agents.teach import TEACHER_HELP, TeachConfig, teach
from mentor_agents.teachers import SELECTIONS
from tooluse_envs.tasks import SPLITS


def run_teach(args: argparse.Namespace) -> str:
    """The CLI entry: refuses to overwrite, prints the counts, fails when nothing was kept."""
    if Path(args.out).exists() and not args.overwrite:
        raise UserError(f"{args.out} exists; pass --overwrite to replace it")
    apply_api_key(args)  # an openai: teacher's key, if the flags give one
    try:
        config = TeachConfig(
            teacher=args.teacher,
            env_id=args.env,
            split=args.split,
            out=args.out,
            samples=args.samples,
            select=args.select,
            temperature=args.temperature,
            top_p=args.top_p,
            max_new_tokens=args.max_new_tokens,
            max_turns=args.max_turns,
            episodes=args.episodes,
            seed=args.seed,
            batch_size=args.batch_size,
            tasks_file=args.tasks_file,
            progress=not args.quiet,
        )
        if config.samples > 1 and config.temperature == 0:
            print("mentor teach: samples > 1 at temperature 0 repeat one greedy episode", file=sys.stderr)
        report = teach(config)
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    print(f"mentor teach: {report.summary()}", file=sys.stderr)
    if report.out is None:
        raise UserError(f"no task has a verified trajectory; {args.out} was not written")
    return report.out


def add_teach_command(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("teach", help="regenerate reference trajectories with a teacher model")
    p.add_argument("--teacher", required=True, help=TEACHER_HELP)
    p.add_argument("--env", default="tooluse/Calculator-v0", help="a built-in env id")
    p.add_argument("--split", default="train", choices=SPLITS)
    p.add_argument("--out", required=True, help="taught tasks (JSONL); load with --tasks-file")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.add_argument("--samples", type=int, default=1, help="episodes per task")
    p.add_argument("--select", default="first-correct", choices=SELECTIONS, help="which verified sample to keep")
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--max-turns", type=int, default=8)
    p.add_argument("--episodes", type=int, default=None, help="teach a seeded sample of N tasks (default: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=8, help="episodes generated together")
    p.add_argument("--tasks-file", default=None, help="teach these tasks instead of the split's")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_api_key_flags(p)
    p.set_defaults(func=run_teach)

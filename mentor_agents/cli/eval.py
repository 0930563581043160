"""``mentor eval`` and ``mentor leaderboard``.

mentor eval --agent oracle --env paper --episodes 50 --out runs/oracle.json
mentor eval --agent random --env tooluse/SQL-v0 --split test_ood --samples 4 --seed 1 --out runs/random-sql.json
mentor eval --agent smollm2-135m --env tooluse/Calculator-v0 --samples 4 --temperature 0.6 --out runs/s.json
mentor eval --agent hf:runs/tiny-mentor --env paper --ray --workers 2 --threads 1 --out runs/tiny-mentor.json
mentor eval --agent hf:runs/x --env tooluse/Calculator-v0 --reward mypkg.rewards:my_reward --out runs/x.json
mentor leaderboard runs/*.json --out leaderboard/

``add_eval_commands(subparsers)`` registers both on the ``mentor`` parser; this module also runs on
its own: ``python -m mentor_agents.cli.eval eval ...``.
"""

from __future__ import annotations

import argparse
import json
import sys

from mentor_agents.agents import AGENT_HELP, AgentOptions
from mentor_agents.apart_prefill import PREFILL_MODES
from mentor_agents.errors import UserError, add_debug_flag, run_command

API_KEY_HELP = "openai: agents' API key (visible in the process list: prefer --api-key-env); never written to results"
API_KEY_ENV_HELP = "read openai: agents' API key from this environment variable instead of OPENAI_API_KEY"


def add_api_key_flags(parser: argparse.ArgumentParser) -> None:
    """``--api-key`` / ``--api-key-env NAME``: a key for ``openai:`` models that need not be in OPENAI_API_KEY."""
    parser.add_argument("--api-key", default=None, metavar="KEY", help=API_KEY_HELP)
    parser.add_argument("--api-key-env", default=None, metavar="NAME", help=API_KEY_ENV_HELP)


def apply_api_key(args: argparse.Namespace) -> None:
    """Hand the key the flags give to the ``openai:`` agents this command builds (errors name the flag)."""
    from mentor_agents.agents import api_key_from, use_api_key

    try:
        use_api_key(api_key_from(args.api_key, args.api_key_env))
    except ValueError as exc:
        raise UserError(str(exc)) from exc


def add_tasks_flag(parser: argparse.ArgumentParser | argparse._ArgumentGroup, help_text: str) -> None:
    """``--tasks FILE``, the issue's name, with ``--tasks-file`` kept as its alias (both set ``tasks_file``)."""
    parser.add_argument("--tasks", "--tasks-file", dest="tasks_file", default=None, metavar="FILE", help=help_text)


def run_eval(args: argparse.Namespace) -> str:
    from mentor_agents.distributed.cluster import RayNotInstalled
    from mentor_agents.eval.run import EvalConfig, ResumeMismatch, run_evaluation
    from tooluse_envs.errors import ToolUseError

    apply_api_key(args)
    options = AgentOptions(args.temperature, args.top_p, args.max_new_tokens, args.batch_size, args.prefill)
    try:
        config = EvalConfig(
            agent=args.agent,
            envs=args.env,
            splits=args.split,
            episodes=args.episodes,
            sample_seed=args.sample_seed,
            samples=args.samples,
            seed=args.seed,
            reward=args.reward,
            max_turns=args.max_turns,
            options=options,
            out=args.out,
            ray=args.ray,
            ray_address=args.ray_address,
            workers=args.workers,
            threads=args.threads,
            progress=not args.quiet,
            **({"tasks_file": args.tasks_file} if args.tasks_file else {}),  # e.g. mentor teach output
        )
        results = run_evaluation(config, overwrite=args.overwrite)
    except (ResumeMismatch, ValueError, RayNotInstalled, ToolUseError) as exc:  # ToolUseError: a bad --tasks line
        raise UserError(str(exc)) from exc
    if args.quiet:
        return args.out
    from mentor_agents.eval.schema import summary_lines

    for line in summary_lines(results, args.samples):
        print(line, file=sys.stderr)
    return args.out


def run_leaderboard(args: argparse.Namespace) -> str:
    from mentor_agents.eval.leaderboard import build_leaderboard

    paths = build_leaderboard(args.runs, args.out, title=args.title)
    return json.dumps({k: str(v) for k, v in paths.items()})


def _add_eval(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("eval", help="evaluate an agent on envs x splits (resumable)")
    e.add_argument("--agent", required=True, help=AGENT_HELP)
    e.add_argument("--env", nargs="+", default=["paper"], help="env ids and/or protocols: paper, cross-domain[/<d>]")
    e.add_argument("--split", nargs="+", default=None, help="splits (default: the protocol's, or test_id test_ood)")
    e.add_argument(
        "--episodes",
        type=int,
        default=None,
        help="N tasks of each env x split: a seeded sample stratified over BFCL categories, OOD axes and templates "
        "(default: all)",
    )
    e.add_argument("--sample-seed", type=int, default=0, help="seed of the --episodes sample (recorded in results)")
    e.add_argument("--samples", type=int, default=1, help="samples per task (k of pass@k, pass^k)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument(
        "--reward",
        default="outcome",
        help="reward reported besides success: a built-in (tooluse_envs.rewards.REWARDS), pkg.module:function "
        "or an installed plugin's name (entry points tooluse_envs.rewards); its import path goes in the results",
    )
    e.add_argument("--max-turns", type=int, default=8)
    e.add_argument("--temperature", type=float, default=0.0, help="model agents; >0 with --samples > 1")
    e.add_argument("--top-p", type=float, default=1.0)
    e.add_argument("--max-new-tokens", type=int, default=256)
    e.add_argument("--batch-size", type=int, default=8, help="episodes per rollout batch (model agents)")
    e.add_argument(
        "--prefill",
        choices=PREFILL_MODES,
        default="batched",
        help="HF models: prefill a turn's prompts as one padded batch, each apart (then decode them together), "
        "or auto: whichever runs fewer token positions (apart on BFCL's prompts of very different lengths)",
    )
    e.add_argument("--out", required=True, help="results JSON; episodes stream to <out>.episodes.jsonl")
    e.add_argument("--overwrite", action="store_true", help="discard an existing episodes file instead of resuming")
    e.add_argument("--ray", action="store_true", help="run episodes on Ray actors (local cluster)")
    e.add_argument("--ray-address", default=None, help="connect to this Ray cluster (implies --ray)")
    e.add_argument("--workers", type=int, default=2, help="Ray actors")
    e.add_argument("--threads", type=int, default=0, help="torch threads of model agents, here or per Ray actor")
    e.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    add_tasks_flag(
        e,
        "play this JSONL task file's tasks instead of the split's (e.g. mentor teach output; "
        "each line checked against tasks/task.schema.json); alias --tasks-file",
    )
    add_api_key_flags(e)
    e.set_defaults(func=run_eval)


def _add_leaderboard(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser(
        "leaderboard",
        help="Markdown, HTML and a PNG from results JSON files; one ranked table per protocol (same slots, "
        "episodes, k, reward), a warning for runs comparable to no other",
    )
    b.add_argument("runs", nargs="+", help="results JSON files (runs/*.json)")
    b.add_argument("--out", required=True, help="directory for leaderboard.md, leaderboard.html, similarity.png")
    b.add_argument("--title", default="tooluse-mentor leaderboard")
    b.set_defaults(func=run_leaderboard)


def add_eval_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``eval`` and ``leaderboard`` on the ``mentor`` command's subparsers."""
    _add_eval(subparsers)
    _add_leaderboard(subparsers)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mentor", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    add_eval_commands(sub)
    add_debug_flag(parser, top=True)
    for command in sub.choices.values():
        add_debug_flag(command)
    return run_command(parser, argv)


if __name__ == "__main__":
    sys.exit(main())

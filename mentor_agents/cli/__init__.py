"""``mentor``: train a student with SFT, GRPO (MENTOR or another reward) or SFT then GRPO.

mentor train --preset tiny --method mentor --grpo.steps 50 --out runs/tiny-mentor
mentor train --preset tiny --method sft+mentor --sft.steps 300 --grpo.steps 50 --out runs/x --resume
mentor train ... --grpo.group_size 2 --sft.lr 1e-3   # every SFTConfig/GRPOConfig field (mentor train --help)
mentor train --method mentor --grpo.ray_workers 2 --grpo.rollout_batch 8 --grpo.rollout_threads 1 --out runs/ray
mentor eval --agent hf:runs/x --env tooluse/Calculator-v0 --split test_id test_ood --out runs/x-eval.json
mentor teach --teacher openai:http://127.0.0.1:8000/v1 --env tooluse/Calculator-v0 --samples 4 --out taught.jsonl
mentor train --preset tiny --method sft+mentor --tasks-file taught.jsonl --out runs/taught   # a teacher's references
mentor leaderboard runs/*.json --out leaderboard/
mentor bench --preset smollm2-135m --methods base sft sparse mentor --seeds 0 1 2 --grpo.steps 50 --out runs/bench
mentor serve --model hf:runs/x --port 8000                              # OpenAI-compatible API

A mistake (an unknown preset or env, an unreadable file, an unreachable URL) prints one line,
``mentor <command>: <what went wrong and what to do>``, and exits 2; ``mentor --debug <command> ...``
shows the traceback instead (docs/errors.md).
"""

from __future__ import annotations

import argparse
import sys

from mentor_agents.cli.bench import add_bench_command
from mentor_agents.cli.eval import add_eval_commands
from mentor_agents.cli.serve import add_serve_command
from mentor_agents.cli.teach import add_teach_command
from mentor_agents.cli.train import add_train_command
from mentor_agents.errors import add_debug_flag, run_command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mentor", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    add_train_command(sub)
    add_eval_commands(sub)
    add_serve_command(sub)
    add_teach_command(sub)
    add_bench_command(sub)
    add_debug_flag(parser, top=True)
    for command in sub.choices.values():
        add_debug_flag(command)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one ``mentor`` command; 0 on success, 2 on a user error (one line on stderr, see ``errors``)."""
    return run_command(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())

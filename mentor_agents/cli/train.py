"""``mentor train``: its flags, and running SFT, GRPO or SFT then GRPO into a run directory.

Run-level flags (``--preset``, ``--method``, ``--env``, ``--seed``, ``--tasks-file``) are given once;
every field of ``SFTConfig`` is a ``--sft.<field>`` flag, every field of ``GRPOConfig`` a ``--grpo.<field>``
flag and every field of ``LoRAConfig`` a ``--lora.<field>`` flag (``mentor_agents.train.config``). The
resolved config goes to ``<out>/config.json`` before training, and ``--resume`` refuses a config that
differs from it. ``--out``, ``--resume``, ``--overwrite``, ``--quiet``, ``--threads`` and ``--log-to`` only
say how to run and are not part of the config.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mentor_agents.errors import UserError
from mentor_agents.train.config import NO_FLAG, LoRAConfig, TrainConfig, phase_classes
from mentor_agents.train.flags import add_dataclass_flags, flags_given
from mentor_agents.train.methods import PLUGIN_HELP, methods

METHODS = methods()

REMOVED = {
    "--steps": "--grpo.steps (or --sft.steps with --method sft)",
    "--sft-steps": "--sft.steps",
    "--set": "one typed flag per field: --sft.KEY VALUE or --grpo.KEY VALUE (see mentor train --help)",
    "--ray-workers": "--grpo.ray_workers",
    "--ray-address": "--grpo.ray_address",
}
"""Flags ``mentor train`` no longer has, and what replaced them."""

PHASE_TITLES = {
    "sft": "SFT phase (--method sft and sft+<reward>; SFTConfig)",
    "grpo": "GRPO phase (--method <reward> and sft+<reward>; GRPOConfig; env_id, tasks_file and reward "
    "come from --env, --tasks-file and --method)",
}

LORA_TITLE = "LoRA (both phases; LoRAConfig; --lora.rank 0 trains every weight; adapters are merged into final_model)"

DESCRIPTION = """\
Train a student: --method sft, <reward> (GRPO with that reward) or sft+<reward> (SFT, then GRPO).
<reward> is a built-in reward, pkg.module:function (your own reward, importable from PYTHONPATH) or the
name an installed package registers in the entry-point group tooluse_envs.rewards (docs/add-a-method.md).

Every SFTConfig field is a --sft.<field> flag and every GRPOConfig field a --grpo.<field> flag; --env,
--tasks-file and --seed are given once for the run. --lora.rank R trains LoRA adapters (both phases)
instead of every weight and merges them into final_model. The resolved config is written to
<out>/config.json before training, and --resume refuses to continue a run whose config differs (except for
checkpoint_every, ray_workers, ray_address, and a larger steps for the last phase).

  mentor train --method sft --sft.steps 300 --out runs/sft
  mentor train --method sft+mentor --sft.steps 300 --grpo.steps 50 --grpo.lr 5e-5 --out runs/x
  mentor train --method mentor --grpo.ray_workers 2 --grpo.rollout_threads 1 --out runs/ray
  mentor train --preset smollm2-135m --method sft+mentor --lora.rank 16 --sft.lr 2e-4 --out runs/lora
  mentor train --method sft+mypkg.rewards:my_reward --sft.steps 300 --grpo.steps 50 --out runs/mine
"""


class _Removed(argparse.Action):
    """A removed flag: exit naming its replacement instead of argparse's bare 'unrecognized arguments'."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: str | None = None) -> None:
        replacement = REMOVED[str(option_string)]
        if option_string == "--set" and isinstance(values, str) and "=" in values:
            key, _, value = values.partition("=")
            replacement = f"--sft.{key} {value} or --grpo.{key} {value} (one typed flag per field)"
        raise UserError(f"{option_string} is now {replacement}")


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """The ``--sft.<field>``, ``--grpo.<field>`` and ``--lora.<field>`` flags, from the config dataclasses."""
    for prefix, cls in phase_classes().items():
        add_dataclass_flags(parser, cls, prefix, exclude=NO_FLAG[prefix], title=PHASE_TITLES[prefix])
    add_dataclass_flags(parser, LoRAConfig, "lora", title=LORA_TITLE)


def check_env(env_id: str, flag: str = "--env") -> None:
    """A ``UserError`` unless ``env_id`` is a registered env (checked before any model is loaded)."""
    import difflib

    import gymnasium

    import tooluse_envs

    if env_id in tooluse_envs.ENV_IDS or env_id in gymnasium.registry or ":" in env_id:  # module:Env is imported
        return
    near = difflib.get_close_matches(env_id, list(tooluse_envs.ENV_IDS), n=1, cutoff=0.7)
    hint = f"did you mean {near[0]}? " if near else ""
    raise UserError(f"{flag} {env_id}: unknown env id; {hint}choose from {', '.join(tooluse_envs.ENV_IDS)}")


def check_preset(preset: str, flag: str = "--preset") -> None:
    """A ``UserError`` unless ``preset`` is a known preset or ``hf:`` names a directory."""
    import difflib

    from mentor_agents.presets import PRESETS

    if preset.startswith("hf:"):
        if not Path(preset[3:]).is_dir():
            raise UserError(f"{flag} {preset}: {preset[3:]} is not a directory (hf:<path> names a local model)")
        return
    if preset not in PRESETS or preset == "hf":
        near = difflib.get_close_matches(preset, ["tiny", "smollm2-135m"], n=1, cutoff=0.5)
        hint = f"did you mean {near[0]}? " if near else ""
        raise UserError(f"{flag} {preset}: unknown preset; {hint}choose one of tiny, smollm2-135m, hf:<path>")


def resolve(args: argparse.Namespace) -> TrainConfig:
    """The run's config from parsed ``mentor train`` flags; a bad combination raises ``UserError``."""
    given = {prefix: flags_given(args, cls, prefix) for prefix, cls in phase_classes().items()}
    given["lora"] = flags_given(args, LoRAConfig, "lora")
    check_preset(args.preset)
    try:
        return TrainConfig.resolve(args.preset, args.method, args.env, args.seed, args.tasks_file, **given)
    except (TypeError, ValueError) as exc:
        raise UserError(str(exc)) from exc


def check_tasks_file(env_id: str, path: str) -> None:
    """Make the env on the own-tasks file once, so a broken line is one error naming file and line before
    ``--out`` is touched (the checks that need the domain, e.g. unknown tools, run when the env is made)."""
    import gymnasium as gym

    from tooluse_envs.errors import ConfigError, TaskError

    try:
        gym.make(env_id, tasks_file=path).close()
    except (TaskError, ConfigError) as exc:
        raise UserError(f"--tasks {exc}") from exc


def train(args: argparse.Namespace) -> Path:
    """Run the requested method; returns the directory of the final model."""
    from mentor_agents.train.logs import check_sinks, parse_log_to
    from mentor_agents.train.run import prepare_out, run_training

    cfg = resolve(args)  # every flag checked before anything is loaded or --out touched
    check_env(cfg.env)
    log_to = parse_log_to(args.log_to)
    check_sinks(log_to)  # pip install tensorboard/wandb named before --out is touched
    import torch  # without the [train] extra: one line naming it (errors.missing_extra), before --out is touched

    if args.threads:
        torch.set_num_threads(args.threads)
    if cfg.tasks_file:
        check_tasks_file(cfg.env, cfg.tasks_file)
    out = Path(args.out)
    prepare_out(out, cfg, args.resume, args.overwrite)
    return run_training(cfg, out, args.resume, not args.quiet, log_to=log_to)


def add_train_command(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser(
        "train",
        help="train a student",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    run = t.add_argument_group("run config (saved in <out>/config.json)")
    run.add_argument("--preset", default="tiny", help="tiny | smollm2-135m | hf:<path> (default: tiny)")
    methods_help = (
        "sft, <reward> (GRPO) or sft+<reward>: " + ", ".join(METHODS) + f"; or <reward> = {PLUGIN_HELP} "
        "(docs/add-a-method.md) (default: mentor)"
    )
    run.add_argument("--method", default="mentor", metavar="METHOD", help=methods_help)  # checked by resolve()
    run.add_argument("--env", default="tooluse/Calculator-v0", help="environment id (default: %(default)s)")
    seed_help = "model init, and each phase's seed unless --sft.seed / --grpo.seed (default: 0)"
    run.add_argument("--seed", type=int, default=0, help=seed_help)
    run.add_argument(  # --tasks is the name; --tasks-file stays as its alias
        "--tasks",
        "--tasks-file",
        dest="tasks_file",
        default=None,
        metavar="FILE",
        help="train on these tasks and references (JSONL, e.g. mentor teach output); alias --tasks-file",
    )
    ex = t.add_argument_group("execution (not part of the config)")
    ex.add_argument("--out", required=True, help="run directory (config.json, checkpoints, metrics, final_model)")
    ex.add_argument("--resume", action="store_true", help="continue the run in --out (refused if the config differs)")
    ex.add_argument("--overwrite", action="store_true", help="delete an existing run in --out and start afresh")
    ex.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    quiet_help = "no progress bars (nor the progress lines logged instead when stderr is not a terminal)"
    ex.add_argument("--quiet", action="store_true", help=quiet_help)
    log_help = (
        "also write metrics to SINK: csv (<out>/metrics.csv), tensorboard (<out>/tensorboard; pip install "
        "tensorboard) or wandb (offline unless WANDB_MODE says otherwise; pip install wandb); repeat the flag "
        "or give a comma list (metrics.jsonl is written either way)"
    )
    ex.add_argument("--log-to", action="append", default=[], metavar="SINK", help=log_help)
    for flag in REMOVED:
        t.add_argument(flag, nargs="?", action=_Removed, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    t.set_defaults(func=train)
    add_config_flags(t)

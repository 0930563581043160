"""Running a resolved ``TrainConfig`` into a run directory: SFT, GRPO or SFT then GRPO, then the final model.

The one code path behind ``mentor train`` and every cell of ``mentor bench``. A run directory holds
``config.json`` (written before training, so a crashed run still says what it was), checkpoints and
metrics per phase (``sft/`` and ``grpo/`` when both run), and ``final_model/`` (a loadable HF directory).
With ``lora.rank > 0`` both phases train the same LoRA adapters (``train.lora``), merged into the weights
before ``final_model`` is saved, so it is a plain HF model either way.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from mentor_agents.errors import UserError
from mentor_agents.train.config import CONFIG_FILE, TrainConfig
from mentor_agents.train.logs import RunLogs


def prepare_out(out: Path, cfg: TrainConfig, resume: bool, overwrite: bool) -> None:
    """Refuse to clobber or silently continue a run: resuming needs the same config (``config.json``).

    Raises ``UserError`` with the reason (the messages name ``mentor train``'s flags).
    """
    if not out.exists() or not any(out.iterdir()):
        return
    if not resume:
        if not overwrite:
            raise UserError(f"{out} already holds a run: pass --resume to continue it or --overwrite to replace it")
        shutil.rmtree(out)
        return
    if not (out / CONFIG_FILE).is_file():
        raise UserError(
            f"cannot --resume {out}: it has no {CONFIG_FILE} (a run from before configs were "
            "saved, or not a run directory), so its config cannot be checked; use --overwrite or another --out"
        )
    try:
        saved = TrainConfig.load(out)
    except (TypeError, ValueError) as exc:
        raise UserError(f"cannot --resume {out}: its {CONFIG_FILE} is unreadable ({exc})") from exc
    changes = saved.changes(cfg)
    if changes:
        listed = "\n  ".join(changes)
        raise UserError(
            f"--resume {out} with a different config (saved in {out / CONFIG_FILE}):\n  {listed}\n"
            "pass the same flags as the run had, or start another run with a new --out or --overwrite"
        )


def run_training(
    cfg: TrainConfig, out: Path, resume: bool = False, progress: bool = True, log_to: Iterable[str] = ()
) -> Path:
    """Train ``cfg`` into ``out`` (continuing its checkpoints when ``resume``); returns ``out/final_model``.

    Call :func:`prepare_out` first. A Ray cluster too small for ``grpo.ray_workers`` is refused before
    any training (``UserError``). ``log_to``: the ``--log-to`` metric sinks (``train.logs``); phases,
    checkpoints and the closing summary table are logged (logger ``mentor_agents``) either way, and
    ``out/metrics_combined.png`` plots the whole run (with the ``[plot]`` extra).
    """
    from mentor_agents.train.logs import check_sinks, ensure_handler, parse_log_to

    sinks = parse_log_to(log_to)
    check_sinks(sinks)  # a missing tensorboard/wandb before any model is loaded
    ensure_handler()
    _check_ray(cfg)
    cfg.save(out)  # before training: a crashed run still says what it was
    logs = RunLogs(out, log_to=sinks, progress=progress, config=cfg.to_dict())
    try:
        final = _train_phases(cfg, out, resume, logs)
    finally:
        logs.close()  # sinks flushed on errors too; a no-op after finish()
    return final


def _check_ray(cfg: TrainConfig) -> None:
    """A Ray cluster too small for ``grpo.ray_workers`` is a ``UserError`` (checked before any training)."""
    import torch

    if cfg.grpo is not None and cfg.grpo.ray_workers:  # checked before any training, so a bad cluster fails fast
        from mentor_agents.distributed.cluster import check_capacity, ensure_ray

        try:
            threads = cfg.grpo.rollout_threads or torch.get_num_threads()
            ray = ensure_ray(cfg.grpo.ray_address)
            check_capacity(ray, cfg.grpo.rollout_workers, threads, fixed_cluster=cfg.grpo.ray_address is None)
        except ValueError as exc:
            raise UserError(str(exc)) from exc


def _train_phases(cfg: TrainConfig, out: Path, resume: bool, logs: RunLogs) -> Path:
    """SFT and/or GRPO, LoRA merged, ``final_model`` saved; then the combined plot and the summary table."""
    import torch

    from mentor_agents.models import load_preset
    from mentor_agents.teachers import OracleTeacher
    from mentor_agents.train.grpo import train_grpo
    from mentor_agents.train.metrics import COMBINED_PNG, plot_run
    from mentor_agents.train.sft import train_sft

    phases: list[tuple[str, Path]] = []
    model, tokenizer = load_preset(cfg.preset, seed=cfg.seed)
    lora_handle = None
    if cfg.lora.enabled:  # adapters before any training: checkpoints of both phases hold them
        from mentor_agents.train.lora import add_lora

        model, lora_handle = add_lora(model, cfg.lora, seed=cfg.seed)
        torch.manual_seed(cfg.seed)  # adapter dropout draws from the global RNG (checkpoints restore it)
    if cfg.sft is not None:
        conversations = OracleTeacher(cfg.env, split="train", tasks_file=cfg.tasks_file).conversations()
        sft_out = out / "sft" if cfg.grpo is not None else out
        model = train_sft(cfg.sft, model, tokenizer, conversations, sft_out, resume, logs.progress, logs)
        phases.append(("sft", sft_out / "metrics.jsonl"))
    if cfg.grpo is not None:
        grpo_out = out / "grpo" if cfg.sft is not None else out
        model = train_grpo(cfg.grpo, model, tokenizer, grpo_out, resume, logs.progress, logs)
        phases.append(("grpo", grpo_out / "metrics.jsonl"))
    if lora_handle is not None:
        from mentor_agents.train.lora import merge_lora

        model = merge_lora(model, lora_handle)
    final = out / "final_model"
    model.save_pretrained(final)
    tokenizer.save_pretrained(final)
    plot_run(phases, out / COMBINED_PNG, run_name=logs.run_name)
    logs.finish()
    return final

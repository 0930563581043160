"""``mentor bench``: the distillation benchmark grid, methods x seeds at equal compute, and its report.

  mentor bench --preset smollm2-135m --methods base sft sparse mentor mentor_no_match --seeds 0 1 2 \\
      --grpo.steps 50 --episodes 200 --env paper --out runs/bench        # rerun the same line to continue
  mentor bench --out runs/bench --report-only                            # bench.json/.md/.html from what finished

Every cell is trained through ``mentor train``'s own code path (:func:`train_cell` calls
``mentor_agents.train.run``), then evaluated with ``mentor eval``'s ``run_evaluation``; the grid
itself is ``mentor_agents.bench``. ``--sft.*`` / ``--grpo.*`` set the grid's one SFT config and its one
GRPO config (shared by every RL cell); ``seed`` is per cell (``--seeds``) and has no flag here.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from mentor_agents.apart_prefill import PREFILL_MODES
from mentor_agents.bench.grid import DEFAULT_METHODS, STARTS, method_choices
from mentor_agents.errors import UserError
from mentor_agents.train.config import NO_FLAG, LoRAConfig, TrainConfig, phase_classes
from mentor_agents.train.flags import add_dataclass_flags, flags_given
from mentor_agents.train.methods import PLUGIN_HELP

DESCRIPTION = """\
Train and evaluate a grid of methods x seeds at equal compute, then report mean ± 95% CI per slot.

Methods: base (the preset's model, untrained), sft, and any reward (GRPO with that reward): a built-in
name, pkg.module:function or an installed plugin's name, as mentor train --method takes them. All RL
cells share one GRPO config (same steps, prompts per step, group size, tokens); the sft cell's steps are
matched to the RL cells' trajectories unless --sft.steps is given. --start sft starts every RL cell
from the same seed's sft model. Each cell is <out>/<method>/seed<k>/ with final_model/ (loadable with
mentor eval --agent hf:...) and eval.json; the grid's config is <out>/bench_config.json, and rerunning
continues where it stopped (a different config is refused; more methods or seeds extend the grid).
Outputs: bench.json (schema-validated), bench.md, bench.html, learning_curves.png, similarity_vs_success.png.
--workers N runs N processes on the grid at once (each takes the next free cell; on a CPU, one torch thread
each is the stable setting); running the same command in several shells does the same.

  mentor bench --preset smollm2-135m --methods base sft sparse mentor --seeds 0 1 2 --grpo.steps 50 --out runs/bench
  mentor bench --preset tiny --methods base sft sparse mentor --seeds 0 1 --grpo.steps 2 --episodes 8 \\
      --env tooluse/Calculator-v0 --out runs/bench-smoke
  mentor bench --out runs/bench --report-only
"""

PHASE_TITLES = {
    "sft": "SFT config of the sft cell (SFTConfig; steps: matched to the RL cells unless given)",
    "grpo": "GRPO config shared by every RL cell (GRPOConfig; reward = the method, seed = the cell's)",
}


def train_cell(cfg: TrainConfig, out: Path, progress: bool) -> Path:
    """Run (or resume) ``cfg`` into ``out`` through ``mentor train``'s own code path; returns its final model dir.

    An empty ``out`` starts afresh; a stopped run continues from its checkpoint, and a run with another
    config is refused (``prepare_out``).
    """
    from mentor_agents.train import run as train_run

    train_run.prepare_out(out, cfg, resume=True, overwrite=False)
    return train_run.run_training(cfg, out, resume=True, progress=progress)


def worker_command(argv: list[str], threads: int) -> list[str]:
    """``argv`` of one extra worker: the same grid, ``--workers 1``, its thread count, no progress bars."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--workers", "--threads"):
            skip = True
        elif not arg.startswith(("--workers=", "--threads=")):
            kept.append(arg)
    return [sys.executable, "-m", "mentor_agents.cli", *kept, "--workers", "1", "--threads", str(threads), "--quiet"]


PARENT_ENV = "MENTOR_BENCH_PARENT_PID"
"""Set for the extra workers: the pid of the ``mentor bench`` that started them."""


def die_with_parent() -> None:
    """In an extra worker: end when the ``mentor bench`` that started it ends (Linux ``PR_SET_PDEATHSIG``),
    and at once if it has already gone. Done here, after exec, rather than between fork and exec, where a
    process that already runs threads (torch's) must not do more than exec."""
    parent = os.environ.get(PARENT_ENV)
    if not parent:
        return
    import ctypes
    import signal

    try:
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != int(parent):  # the parent died before the signal was armed
        raise SystemExit(f"mentor bench: the process that started this worker ({parent}) has ended")


def worker_threads(args: argparse.Namespace) -> int:
    """Torch threads per worker: ``--threads``, or the cores shared out between the workers (0: torch's default)."""
    if args.workers < 1:
        raise UserError(f"--workers {args.workers}: give at least 1")
    return int(args.threads or (max(1, (os.cpu_count() or 1) // args.workers) if args.workers > 1 else 0))


def start_workers(args: argparse.Namespace, out: Path, threads: int) -> list[tuple[subprocess.Popen[bytes], Path]]:
    """Start ``--workers`` - 1 extra processes on the grid, each logging to ``<out>/workers/worker<k>.log``."""
    workers = args.workers
    if workers == 1:
        return []
    argv = getattr(args, "argv", None)
    if not argv:
        raise UserError("--workers needs the command line to start more workers with (run it as `mentor bench`)")
    command = worker_command(list(argv), threads)
    (out / "workers").mkdir(parents=True, exist_ok=True)
    started = []
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), PARENT_ENV: str(os.getpid())}
    for k in range(1, workers):
        log = out / "workers" / f"worker{k}.log"
        with log.open("ab") as sink:
            proc = subprocess.Popen(command, stdout=sink, stderr=sink, env=env)
        print(f"mentor bench: worker {k} started (pid {proc.pid}), log {log}", file=sys.stderr)
        started.append((proc, log))
    return started


def finish_workers(workers: list[tuple[subprocess.Popen[bytes], Path]], stop: bool = False) -> list[str]:
    """Wait for the extra workers (``stop``: terminate them first); the logs of those that failed."""
    failed = []
    for proc, log in workers:
        if stop:
            proc.terminate()
        if proc.wait() != 0 and not stop:
            failed.append(str(log))
    return failed


def run_bench(args: argparse.Namespace) -> str:
    die_with_parent()
    from mentor_agents.bench.grid import EvalSettings, Grid, GridMismatch, grid_lock, prepare, run_grid
    from mentor_agents.bench.report import matplotlib_missing, write_report

    out = Path(args.out)
    if args.report_only:
        try:
            grid = Grid.load(out)
        except FileNotFoundError as exc:
            raise UserError(f"{out} holds no bench_config.json: nothing to report") from exc
    else:
        given = {prefix: flags_given(args, cls, prefix) for prefix, cls in phase_classes().items()}
        settings = EvalSettings(
            envs=args.env,
            episodes=args.episodes,
            sample_seed=args.sample_seed,
            max_turns=args.max_turns,
            max_new_tokens=args.max_new_tokens,
            batch_size=args.batch_size,
            reward=args.reward,
            prefill=args.prefill,
        )
        try:
            grid = Grid.resolve(
                args.preset,
                args.methods,
                args.seeds,
                args.start,
                args.train_env,
                args.tasks_file,
                sft=given["sft"],
                grpo=given["grpo"],
                eval=settings,
                lora=flags_given(args, LoRAConfig, "lora"),
            )
        except (TypeError, ValueError) as exc:
            raise UserError(str(exc)) from exc

        def report_so_far(grid: Grid, out: Path) -> None:
            write_report(grid, out, plots=False)

        threads = worker_threads(args)
        if threads:
            import torch

            torch.set_num_threads(threads)
        try:
            with grid_lock(out):  # saved before the extra workers start, so they find it and agree
                grid = prepare(grid, out)
        except GridMismatch as exc:
            raise UserError(str(exc)) from exc
        helpers = start_workers(args, out, threads)
        try:
            grid = run_grid(grid, out, train_cell, threads, not args.quiet, after_cell=report_so_far)
        except BaseException as exc:
            finish_workers(helpers, stop=True)
            if isinstance(exc, GridMismatch):
                raise UserError(str(exc)) from exc
            raise
        failed = finish_workers(helpers)
        if failed:
            raise RuntimeError(f"{len(failed)} bench worker(s) failed; see {', '.join(failed)}")
    with grid_lock(out):
        written = write_report(grid, out)
    if matplotlib_missing():
        print("mentor bench: matplotlib is not installed (the [plot] extra): no PNGs", file=sys.stderr)
    return json.dumps({k: str(v) for k, v in written.items()})


def add_bench_command(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser(
        "bench",
        help="benchmark grid: methods x seeds at equal compute, mean ± CI report (resumable)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    g = b.add_argument_group("grid (saved in <out>/bench_config.json)")
    g.add_argument("--preset", default="tiny", help="tiny | smollm2-135m | hf:<path> (default: tiny)")
    g.add_argument(
        "--methods",
        nargs="+",
        default=list(DEFAULT_METHODS),
        metavar="METHOD",
        help=f"from {', '.join(method_choices())}, or a reward {PLUGIN_HELP} (default: {' '.join(DEFAULT_METHODS)})",
    )
    g.add_argument(
        "--seeds", nargs="+", type=int, default=[0, 1, 2], help="a cell per method and seed (default: 0 1 2)"
    )
    g.add_argument(
        "--start", choices=STARTS, default="instruct", help="RL from the preset's model, or from the sft cell's"
    )
    g.add_argument("--train-env", default="tooluse/Calculator-v0", help="env trained on (default: %(default)s)")
    g.add_argument("--tasks-file", default=None, help="train on these tasks and references (mentor teach output)")
    e = b.add_argument_group("evaluation of every cell (greedy, one sample per task)")
    e.add_argument("--env", nargs="+", default=["paper"], help="env ids and/or protocols (default: paper)")
    e.add_argument("--episodes", type=int, default=200, help="stratified tasks per env x split (default: 200)")
    e.add_argument("--sample-seed", type=int, default=0, help="seed of that sample: the same tasks for every cell")
    e.add_argument("--max-turns", type=int, default=8)
    e.add_argument("--max-new-tokens", type=int, default=256)
    e.add_argument("--batch-size", type=int, default=8, help="episodes per rollout batch")
    e.add_argument(
        "--prefill",
        choices=PREFILL_MODES,
        default="batched",
        help="as mentor eval --prefill; auto is faster on BFCL (default: batched, as grids before the option)",
    )
    e.add_argument(
        "--reward", default="mentor", help="reward reported besides success, as mentor eval --reward (default: mentor)"
    )
    x = b.add_argument_group("execution (not part of the config)")
    x.add_argument("--out", required=True, help="grid directory: bench_config.json, <method>/seed<k>/, the report")
    x.add_argument("--report-only", action="store_true", help="rebuild the report from the finished cells in --out")
    x.add_argument(
        "--threads", type=int, default=0, help="torch CPU threads per worker (0: torch's default, or cores / workers)"
    )
    x.add_argument("--workers", type=int, default=1, help="processes running cells at once (default: 1)")
    x.add_argument("--quiet", action="store_true", help="no progress bars (one line per cell still)")
    for prefix, cls in phase_classes().items():
        exclude = (*NO_FLAG[prefix], "seed")
        add_dataclass_flags(b, cls, prefix, exclude=exclude, title=PHASE_TITLES[prefix])
    add_dataclass_flags(b, LoRAConfig, "lora", title="LoRA adapters for every trained cell (LoRAConfig; rank 0: off)")
    b.set_defaults(func=run_bench)

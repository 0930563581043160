"""The benchmark grid: methods x seeds at equal compute, each cell trained then evaluated, resumable.

A :class:`Grid` is resolved once from the preset and the flags and saved as ``<out>/bench_config.json``
before anything runs. Equal compute is built into it: every RL cell gets the *same* GRPO config (steps,
prompts per step, group size, tokens per turn, turns, every other knob) and differs only in ``reward``
and ``seed``; the SFT cell's steps are chosen so that it sees as many examples as an RL cell samples
trajectories (``ceil(grpo.steps x prompts_per_step x group_size / sft.batch_size)``) unless
``--sft.steps`` is given. ``base`` trains nothing: the preset's model itself, saved like the others.

Each cell ``<out>/<method>/seed<k>/`` is a ``mentor train`` run directory (``config.json``, checkpoints,
``metrics.jsonl``, ``final_model/``) plus ``trained.json`` (written once training has finished) and
``eval.json`` (a ``mentor eval`` results file, greedy, on the grid's eval settings). The files are the
state: a cell with a valid ``eval.json`` is done and never touched again; a trained cell is only
(re-)evaluated, resuming its episodes file; a cell whose training stopped resumes from its last
checkpoint. With ``start="sft"`` the RL cells start from the same seed's ``sft`` cell's model (GRPO
only, so SFT is trained once per seed rather than once per reward).

Several workers may run one grid at once (``mentor bench`` started again on the same ``--out``, e.g. one
process per core with ``--threads 1``): a worker claims a cell with an exclusive ``flock`` on
``<out>/.claims/<method>-seed<k>.lock`` for as long as it works on it, and skips cells claimed by others
or whose ``sft`` cell has not finished training. The kernel drops a dead worker's locks, so a killed
worker never leaves a stale claim behind.

Training goes through a ``train_fn`` the caller supplies (the ``mentor bench`` command passes one that
runs ``mentor train``'s own code path); this module does not import the command line.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mentor_agents.bench.eta import time_left
from mentor_agents.train.config import NO_FLAG, NOT_COMPARED, GRPOConfig, LoRAConfig, SFTConfig, TrainConfig
from mentor_agents.train.methods import Method, rl_methods
from tooluse_envs.rewards import reward_plugins

GRID_VERSION = 1
"""Version of the ``bench_config.json`` layout."""

BENCH_CONFIG = "bench_config.json"
TRAINED = "trained.json"
"""Written in a cell once its training has finished (its ``final_model`` is complete)."""
EVAL = "eval.json"
EPISODES = "eval.episodes.jsonl"
"""The episodes file ``mentor eval`` writes next to ``eval.json``."""
BASELINES = ("base", "sft")
"""Methods that are not a reward: ``base`` (no training) and ``sft``."""
STARTS = ("instruct", "sft")
DEFAULT_METHODS = (
    "base",
    "sft",
    "sparse",
    "mentor",
    "mentor_no_match",
    "mentor_partial",
    "mentor_f1",
    "strict",
    "toolrl",
)
"""The issue's grid: the paper's baselines and MENTOR's reward ablations."""

RL_SHARED_EXCLUDED = ("env_id", "tasks_file", "reward", "seed")
"""GRPOConfig fields not in the grid's shared RL config: set per run (env) or per cell (reward, seed)."""

TrainFn = Callable[[TrainConfig, Path, bool], Path]
"""``train_fn(config, cell_dir, progress)``: run (or resume) ``mentor train`` with ``config`` into
``cell_dir`` and return its ``final_model`` directory."""


class GridMismatch(ValueError):
    """``<out>`` holds a grid whose ``bench_config.json`` differs from the one asked for."""


def method_choices() -> tuple[str, ...]:
    return (*BASELINES, *rl_methods())


def _is_plugin(name: str) -> bool:
    """Whether ``name`` names a reward that is not built in: ``pkg.module:function`` or an installed plugin."""
    return ":" in name or name in reward_plugins()


def check_methods(methods: Iterable[str]) -> list[str]:
    """The methods, validated: known names, no duplicates (``sft+<reward>`` is ``--start sft``).

    Besides the built-in ones, a method may be any reward ``mentor train --method`` takes
    (``pkg.module:function``, an installed plugin's name): it is imported now, so one that cannot be fails
    before anything trains.
    """
    out: list[str] = []
    choices = method_choices()
    for name in methods:
        if name.startswith("sft+") and (name[4:] in rl_methods() or _is_plugin(name[4:])):
            raise ValueError(
                f"method {name!r}: a grid runs SFT-then-RL cells with --start sft and the plain reward name "
                f"({name[4:]!r}); every RL cell then starts from the same seed's sft cell"
            )
        if name not in choices and not _is_plugin(name):
            raise ValueError(f"unknown method {name!r}; choose from {', '.join(choices)}, or pkg.module:function")
        if name not in choices:
            Method.parse(name)  # import it: a plugin that cannot be imported is one line, before any training
        if name in out:
            raise ValueError(f"method {name!r} given twice")
        out.append(name)
    if not out:
        raise ValueError("no methods given")
    return out


@dataclass
class EvalSettings:
    """How every cell is evaluated: greedy, one sample per task, the same stratified sample of tasks."""

    envs: list[str] = field(default_factory=lambda: ["paper"])
    """Env ids or protocols (``paper``: Calculator ID/OOD, BFCL, Search)."""
    episodes: int | None = 200
    """Tasks per env x split: a seeded sample stratified over axes, categories and templates (None: all)."""
    sample_seed: int = 0
    """Seed of that sample: the same tasks for every cell, so cells compare on the same tasks."""
    max_turns: int = 8
    """Assistant turns per episode (``mentor eval``'s default)."""
    max_new_tokens: int = 256
    """Tokens per assistant turn."""
    batch_size: int = 8
    """Episodes per rollout batch."""
    reward: str = "mentor"
    """Reward reported besides success."""
    prefill: str = "batched"
    """How the model prefills a turn (``HFPolicy``'s ``prefill``): ``auto`` is faster on BFCL on a CPU;
    ``batched``, the default, is how grids were evaluated before the option existed (they agree to rounding)."""

    def config(self, agent: str, out: Path, threads: int = 0, progress: bool = True) -> Any:
        """The ``EvalConfig`` of one cell (temperature 0: greedy, so the run seed changes nothing)."""
        from mentor_agents.agents import AgentOptions
        from mentor_agents.eval.run import EvalConfig

        return EvalConfig(
            agent=agent,
            envs=list(self.envs),
            episodes=self.episodes,
            sample_seed=self.sample_seed,
            samples=1,
            seed=0,
            reward=self.reward,
            max_turns=self.max_turns,
            options=AgentOptions(0.0, 1.0, self.max_new_tokens, self.batch_size, self.prefill),
            out=str(out),
            threads=threads,
            progress=progress,
        )


@dataclass(frozen=True)
class Cell:
    """One method x seed of the grid, in ``<out>/<method>/seed<seed>``."""

    method: str
    seed: int
    path: Path

    @property
    def name(self) -> str:
        return f"{self.method}/seed{self.seed}"

    @property
    def final_model(self) -> Path:
        return self.path / "final_model"

    @property
    def eval_path(self) -> Path:
        return self.path / EVAL

    @property
    def train_record(self) -> Path:
        """``trained.json``: written when the cell's training finished (its wall time, its init)."""
        return self.path / TRAINED

    def trained(self) -> bool:
        return self.train_record.is_file()

    def evaluated(self) -> bool:
        """Whether ``eval.json`` exists and validates (it is written atomically, so it is whole or absent)."""
        if not self.eval_path.is_file():
            return False
        from mentor_agents.eval.run import validate_results

        try:
            validate_results(json.loads(self.eval_path.read_text()))
        except Exception:  # unreadable or invalid: evaluate again (the episodes file keeps what was played)
            return False
        return True

    def status(self) -> str:
        """``done`` (evaluated), ``trained``, ``training`` (stopped part-way: resumes) or ``pending``."""
        if self.evaluated():
            return "done"
        if self.trained():
            return "trained"
        if self.path.is_dir() and any(self.path.iterdir()):
            return "training"
        return "pending"


@dataclass
class Grid:
    """The resolved grid: what ``bench_config.json`` holds, and the source of every cell's config."""

    preset: str = "tiny"
    methods: list[str] = field(default_factory=lambda: list(DEFAULT_METHODS))
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    start: str = "instruct"
    """``instruct``: every method starts from the preset's model; ``sft``: RL cells start from the sft cell."""
    train_env: str = "tooluse/Calculator-v0"
    tasks_file: str | None = None
    sft: dict[str, Any] | None = None
    """SFTConfig of the sft cell, ``seed`` aside (None: no cell runs SFT)."""
    grpo: dict[str, Any] | None = None
    """GRPOConfig shared by every RL cell, ``env_id``/``tasks_file``/``reward``/``seed`` aside."""
    compute: dict[str, Any] = field(default_factory=dict)
    """The equal-compute numbers and the rule that set the SFT steps."""
    eval: EvalSettings = field(default_factory=EvalSettings)
    lora: dict[str, Any] = field(default_factory=dict)
    """LoRAConfig fields given for every trained cell (empty: full fine-tuning)."""

    # --- resolving -------------------------------------------------------------------------------------

    @classmethod
    def resolve(
        cls,
        preset: str = "tiny",
        methods: Iterable[str] = DEFAULT_METHODS,
        seeds: Iterable[int] = (0, 1, 2),
        start: str = "instruct",
        train_env: str = "tooluse/Calculator-v0",
        tasks_file: str | None = None,
        sft: dict[str, Any] | None = None,
        grpo: dict[str, Any] | None = None,
        eval: EvalSettings | None = None,
        lora: dict[str, Any] | None = None,
    ) -> Grid:
        """The grid from the flags: ``sft`` / ``grpo`` / ``lora`` hold the ``--sft.*`` / ``--grpo.*`` /
        ``--lora.*`` values given (LoRA applies to every trained cell alike).

        Raises ``ValueError`` for an unknown method, a phase flag no cell uses, a per-cell field given
        for the whole grid (``seed``), ``--start sft`` without an ``sft`` cell, or a bad eval setting.
        """
        methods = check_methods(methods)
        seeds = list(seeds)
        if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
            raise ValueError(f"seeds must be distinct non-negative integers, not {seeds}")
        if start not in STARTS:
            raise ValueError(f"start must be one of {', '.join(STARTS)}, not {start!r}")
        if start == "sft" and "sft" not in methods:
            raise ValueError("--start sft: the RL cells start from each seed's sft cell, so add sft to --methods")
        rl = [m for m in methods if m not in BASELINES]
        sft_given, grpo_given = dict(sft or {}), dict(grpo or {})
        for prefix, given, used, who in (
            ("sft", sft_given, "sft" in methods, "no sft cell"),
            ("grpo", grpo_given, bool(rl), "no RL method"),
        ):
            fixed = [k for k in given if k == "seed" or k in NO_FLAG[prefix]]
            if fixed:
                raise ValueError(
                    f"--{prefix}.{fixed[0]}: set per cell by the grid (seed from --seeds, env from --train-env)"
                )
            if given and not used:
                raise ValueError(f"--{prefix}.{next(iter(given))}: the grid has {who}")
        grpo_cfg = None
        if rl:
            grpo_cfg = TrainConfig.resolve(preset, rl[0], train_env, 0, tasks_file, grpo=grpo_given).grpo
        sft_cfg, rule = None, None
        if "sft" in methods:
            sft_cfg = TrainConfig.resolve(preset, "sft", train_env, 0, tasks_file, sft=sft_given).sft
            assert sft_cfg is not None
            if "steps" in sft_given:
                rule = "given: --sft.steps"
            elif grpo_cfg is not None:
                trajectories = grpo_cfg.steps * grpo_cfg.prompts_per_step * grpo_cfg.group_size
                steps = max(1, math.ceil(trajectories / sft_cfg.batch_size))
                sft_cfg = dataclasses.replace(sft_cfg, steps=steps)
                rule = (
                    "matched: sft.steps = ceil(grpo.steps x grpo.prompts_per_step x grpo.group_size / "
                    "sft.batch_size), so SFT sees as many examples as an RL cell samples trajectories"
                )
            else:
                rule = "default: the preset's sft.steps (no RL cell to match)"
        settings = eval or EvalSettings()
        settings.config("hf:unused", Path("unused"))  # EvalConfig's own checks: counts, reward
        from mentor_agents.eval.slots import resolve_slots

        resolve_slots(list(settings.envs), None)  # an unknown env or protocol fails now, not after training
        grid = cls(
            preset=preset,
            methods=methods,
            seeds=seeds,
            start=start,
            train_env=train_env,
            tasks_file=tasks_file,
            sft=_without(sft_cfg, ("seed",)),
            grpo=_without(grpo_cfg, RL_SHARED_EXCLUDED),
            eval=settings,
            lora=dict(lora or {}),
        )
        LoRAConfig(**grid.lora)  # a bad --lora.* value fails now, not after the first cell
        grid.compute = grid._compute(rule)
        return grid

    def _compute(self, sft_rule: str | None) -> dict[str, Any]:
        """What equal compute means for this grid, in numbers."""
        out: dict[str, Any] = {"start": self.start}
        if self.grpo is not None:
            g = self.grpo
            trajectories = g["steps"] * g["prompts_per_step"] * g["group_size"]
            out["rl"] = {
                "rule": "every RL cell runs this one GRPO config; only reward and seed differ",
                "steps": g["steps"],
                "prompts_per_step": g["prompts_per_step"],
                "group_size": g["group_size"],
                "trajectories": trajectories,
                "optimizer_updates": g["steps"] * g["ppo_epochs"] * (g["prompts_per_step"] // g["ppo_mini_batch"]),
                "max_turns": g["max_turns"],
                "max_new_tokens": g["max_new_tokens"],
                "max_generated_tokens": trajectories * g["max_turns"] * g["max_new_tokens"],
            }
        if self.sft is not None:
            s = self.sft
            out["sft"] = {
                "rule": sft_rule,
                "steps": s["steps"],
                "batch_size": s["batch_size"],
                "examples": s["steps"] * s["batch_size"],
            }
            if self.start == "sft" and self.grpo is not None:
                out["sft"]["note"] = "with start=sft every RL cell also has its seed's SFT phase behind it"
        return out

    # --- cells -----------------------------------------------------------------------------------------

    def cells(self, out: str | Path) -> list[Cell]:
        """Every cell in run order: seed by seed (so paired comparisons fill in early), base and sft first."""
        order = [m for m in self.methods if m in BASELINES] + [m for m in self.methods if m not in BASELINES]
        return [Cell(m, s, Path(out) / m / f"seed{s}") for s in self.seeds for m in order]

    def init_of(self, cell: Cell) -> Path | None:
        """The model an RL cell starts from with ``start="sft"`` (the seed's sft cell); None: the preset's."""
        if self.start == "sft" and cell.method not in BASELINES:
            return cell.path.parent.parent / "sft" / f"seed{cell.seed}" / "final_model"
        return None

    def train_config(self, cell: Cell) -> TrainConfig | None:
        """The ``mentor train`` config of a cell (None for ``base``, which trains nothing)."""
        if cell.method == "base":
            return None
        if cell.method == "sft":
            assert self.sft is not None
            sft = SFTConfig(**self.sft, seed=cell.seed)
            return TrainConfig(
                self.preset, "sft", self.train_env, cell.seed, self.tasks_file, sft, None, LoRAConfig(**self.lora)
            )
        assert self.grpo is not None
        reward = Method.parse(cell.method).reward  # a plugin's import path, as mentor train saves it
        assert reward is not None
        grpo = GRPOConfig(**self.grpo, env_id=self.train_env, tasks_file=self.tasks_file, reward=reward, seed=cell.seed)
        init = self.init_of(cell)
        preset = self.preset if init is None else f"hf:{init.resolve()}"
        lora = LoRAConfig(**self.lora)
        return TrainConfig(preset, cell.method, self.train_env, cell.seed, self.tasks_file, None, grpo, lora)

    # --- saving and comparing ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"version": GRID_VERSION}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = dataclasses.asdict(value) if f.name == "eval" else value
        return json.loads(json.dumps(out))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Grid:
        if data.get("version") != GRID_VERSION:
            raise ValueError(f"bench config version {data.get('version')!r}; this mentor reads {GRID_VERSION}")
        values = {k: v for k, v in data.items() if k != "version"}
        values["eval"] = EvalSettings(**values["eval"])
        return cls(**values)

    def save(self, out: str | Path) -> Path:
        path = Path(out) / BENCH_CONFIG
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1) + "\n")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, out: str | Path) -> Grid:
        return cls.from_dict(json.loads((Path(out) / BENCH_CONFIG).read_text()))

    def changes(self, new: Grid) -> list[str]:
        """What ``new`` changes that a continued grid must not: ``"grpo.lr: 0.0001 -> 0.0002"`` per key.

        A grid may grow (more methods, more seeds: the cells already there stay valid); it may not
        drop a method or seed, nor change anything that decides what a cell computes.
        """
        old_flat, new_flat = _flat(self.to_dict()), _flat(new.to_dict())
        lines = []
        for key in sorted(old_flat.keys() | new_flat.keys()):
            if key in NOT_COMPARED:  # checkpointing and Ray placement do not change results
                continue
            if key in ("methods", "seeds"):
                dropped = [v for v in old_flat[key] if v not in new_flat[key]]
                if dropped:
                    lines.append(f"{key}: {json.dumps(dropped)} dropped (a grid may grow, not shrink)")
            elif old_flat.get(key, "(unset)") != new_flat.get(key, "(unset)"):
                before, after = (json.dumps(f.get(key, "(unset)")) for f in (old_flat, new_flat))
                lines.append(f"{key}: {before} -> {after}")
        return lines

    def grown(self, new: Grid) -> Grid:
        """``new`` with this grid's methods and seeds first (after :meth:`changes` found nothing else), so
        the grid keeps its order, grows by what ``new`` adds, and takes ``new``'s execution-only settings."""
        methods = self.methods + [m for m in new.methods if m not in self.methods]
        seeds = self.seeds + [s for s in new.seeds if s not in self.seeds]
        return dataclasses.replace(new, methods=methods, seeds=seeds)


def _without(cfg: Any, keys: Iterable[str]) -> dict[str, Any] | None:
    if cfg is None:
        return None
    return {k: v for k, v in dataclasses.asdict(cfg).items() if k not in set(keys)}


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


# --- running ----------------------------------------------------------------------------------------------


def prepare(grid: Grid, out: str | Path) -> Grid:
    """Check ``grid`` against the one saved in ``out`` and save the grid that will run.

    A new ``out`` gets ``bench_config.json``; the same config continues; added methods or seeds grow it;
    anything else raises :class:`GridMismatch` listing the changes.
    """
    out = Path(out)
    path = out / BENCH_CONFIG
    if path.is_file():
        try:
            saved = Grid.load(out)
        except (TypeError, ValueError, KeyError) as exc:
            raise GridMismatch(f"{path} is unreadable ({exc})") from exc
        changes = saved.changes(grid)
        if changes:
            listed = "\n  ".join(changes)
            raise GridMismatch(
                f"{out} holds a grid with a different config (saved in {path}):\n  {listed}\n"
                "pass the flags it was started with (more --methods or --seeds may be added), use --report-only "
                "to rebuild its report, or choose another --out"
            )
        grid = saved.grown(grid)
    elif out.is_dir() and any(entry.name != CLAIMS for entry in out.iterdir()):
        raise GridMismatch(f"{out} is not empty and holds no {BENCH_CONFIG}: choose another --out")
    grid.save(out)
    return grid


def save_base(grid: Grid, cell: Cell) -> Path:
    """The ``base`` cell: the preset's model (seeded init for ``tiny``), saved as a loadable model dir."""
    from mentor_agents.models import load_preset

    model, tokenizer = load_preset(grid.preset, seed=cell.seed)
    model.save_pretrained(cell.final_model)
    tokenizer.save_pretrained(cell.final_model)
    return cell.final_model


SEEDED_PRESETS = ("tiny",)
"""Presets whose untrained weights depend on the seed; any other preset's ``base`` is one model for all seeds."""


def evaluated_twin(grid: Grid, cell: Cell) -> Path | None:
    """The ``eval.json`` of another seed's ``base`` cell when ``cell`` is a ``base`` cell of a preset whose
    weights do not depend on the seed: greedy decoding of the same model on the same tasks gives the same
    episodes, so a pretrained base is evaluated once (saving a cell's evaluation per extra seed)."""
    if cell.method != "base" or grid.preset in SEEDED_PRESETS:
        return None
    for other in grid.cells(cell.path.parent.parent):
        if other.method == "base" and other.seed != cell.seed and other.evaluated():
            return other.eval_path
    return None


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run_cell(
    grid: Grid, cell: Cell, train_fn: TrainFn, threads: int = 0, progress: bool = True
) -> dict[str, float | None]:
    """Train (or resume) and evaluate one cell; returns the wall seconds of each part (None: not run)."""
    from mentor_agents.eval import run as eval_run

    walls: dict[str, float | None] = {"train": None, "eval": None}
    if not cell.trained():
        init = grid.init_of(cell)
        if init is not None and not (init.parent / TRAINED).is_file():
            raise RuntimeError(f"{cell.name} starts from {init}, which has not finished training")
        started = time.perf_counter()
        resumed = cell.status() == "training"  # then wall_s below times only this stretch
        cfg = grid.train_config(cell)
        cell.path.mkdir(parents=True, exist_ok=True)
        if cfg is None:
            save_base(grid, cell)
        else:
            train_fn(cfg, cell.path, progress)
        walls["train"] = time.perf_counter() - started
        marker = {
            "method": cell.method,
            "seed": cell.seed,
            "init": str(init) if init is not None else grid.preset,
            "wall_s": walls["train"],
            "resumed": resumed,
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        cell.train_record.write_text(json.dumps(marker, indent=1) + "\n")
    same = evaluated_twin(grid, cell)
    if not cell.evaluated() and same is not None:
        episodes = same.with_name(EPISODES)
        if episodes.is_file():  # the task-by-task comparisons read it
            shutil.copyfile(episodes, cell.path / EPISODES)
        shutil.copyfile(same, cell.eval_path)
        _say(f"  {cell.name}: the same untrained model as {same.parent.name}; its greedy evaluation reused")
    if not cell.evaluated():
        started = time.perf_counter()
        begun_with = partial_eval_threads(cell)
        if begun_with and begun_with != (threads or None):
            _say(f"  {cell.name}: continuing its partial evaluation at {begun_with} torch thread(s), as it began")
            threads = begun_with
        # hf:<cell dir> loads its final_model and records the cell's config.json in the results' "agent"
        config = grid.eval.config(f"hf:{cell.path.resolve()}", cell.eval_path, threads, progress)
        try:
            eval_run.run_evaluation(config)
        except eval_run.ResumeMismatch as exc:  # e.g. the grid moved: its absolute model path changed
            _say(f"  {cell.name}: its partial evaluation cannot be continued ({exc}); evaluating afresh")
            eval_run.run_evaluation(config, overwrite=True)
        walls["eval"] = time.perf_counter() - started
    _release_memory()
    return walls


def partial_eval_threads(cell: Cell) -> int | None:
    """The torch thread count a cell's stopped evaluation was playing with (None: none begun).

    The count is part of an evaluation's fingerprint (it changes a model's last bits, now and then a
    token), so a partial evaluation only continues under the same count: a grid restarted with another
    ``--threads`` or ``--workers`` finishes it as it began rather than discarding its episodes.
    """
    try:
        with (cell.path / EPISODES).open() as handle:
            threads = json.loads(handle.readline())["header"]["config"].get("torch_threads")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return threads if isinstance(threads, int) and threads > 0 else None


def _release_memory() -> None:
    """Free the cell's models before the next cell loads its own (a long grid on one GPU)."""
    import gc

    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


CLAIMS = ".claims"
"""Directory under ``<out>`` of the lock files that let several workers share one grid."""

WAIT_POLL_S = 20.0
"""How often a worker with nothing runnable looks again (its next cells are claimed or wait on an sft cell)."""


@contextmanager
def _flock(path: Path, blocking: bool) -> Iterator[bool]:
    """Hold an exclusive ``flock`` on ``path`` (yields False when ``blocking`` is off and another holds it).

    Why ``flock`` rather than a pid file: the kernel releases it when its holder dies, however it dies.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield True
    finally:
        os.close(fd)  # closing the only descriptor releases the lock


def claim_path(out: Path, cell: Cell) -> Path:
    return out / CLAIMS / f"{cell.method}-seed{cell.seed}.lock"


def claimed(out: Path, cell: Cell) -> Any:
    """Context manager: True while this worker holds ``cell``; False when another worker does."""
    return _flock(claim_path(out, cell), blocking=False)


def grid_lock(out: Path) -> Any:
    """Serialises what every worker writes to the grid's shared files (the config, the report)."""
    return _flock(out / CLAIMS / "grid.lock", blocking=True)


def _waits_on(grid: Grid, cell: Cell) -> Cell | None:
    """The sft cell whose training ``cell`` must wait for (None: it can start now)."""
    init = grid.init_of(cell)
    if init is None or (init.parent / TRAINED).is_file():
        return None
    return Cell("sft", cell.seed, init.parent)


def run_grid(
    grid: Grid,
    out: str | Path,
    train_fn: TrainFn,
    threads: int = 0,
    progress: bool = True,
    after_cell: Callable[[Grid, Path], Any] | None = None,
    poll_s: float = WAIT_POLL_S,
) -> Grid:
    """Run every cell not done yet, one line per cell on stderr; returns the grid that ran (maybe grown).

    Cells run in :meth:`Grid.cells` order, skipping those another worker holds; after each cell the scan
    starts again from the top, so a cell that became runnable (its sft cell finished) is taken next. A
    worker left with only cells that others hold waits for them, and returns once every cell is done.
    ``after_cell(grid, out)`` runs after each cell (``mentor bench`` rewrites ``bench.json`` there, so a
    long grid can be watched and a stopped one still has its results so far).
    """
    out = Path(out)
    with grid_lock(out):
        grid = prepare(grid, out)
    cells = grid.cells(out)
    start = time.perf_counter()
    done_before = sum(cell.evaluated() for cell in cells)
    _say(f"bench {out}: {len(cells)} cells ({done_before} done before), preset {grid.preset}, start {grid.start}")

    def say_time_left() -> None:
        estimate = time_left(cells, lambda cell: evaluated_twin(grid, cell) is not None)
        if estimate.cells_left:
            _say(f"  {estimate.describe()}")

    say_time_left()
    said: set[str] = set()
    finished_here: set[str] = set()

    def say_once(key: str, text: str) -> None:
        if key not in said:
            said.add(key)
            _say(text)

    while True:
        ran, waiting = False, []
        for index, cell in enumerate(cells, 1):
            head = f"[{index}/{len(cells)}] {cell.name}"
            if cell.evaluated():
                say_once(f"done {cell.name}", f"{head}: done")
                continue
            blocker = _waits_on(grid, cell)
            if blocker is not None:  # its sft cell comes earlier in the order: another worker holds it
                waiting.append(cell)
                say_once(f"wait {cell.name}", f"{head}: waits for {blocker.name} to finish training")
                continue
            with claimed(out, cell) as mine:
                if not mine:
                    waiting.append(cell)
                    say_once(f"held {cell.name}", f"{head}: another worker is on it")
                    continue
                if cell.evaluated():  # finished by another worker since this scan began
                    continue
                if cell.name in finished_here:  # ran to the end, yet its eval.json does not validate
                    raise RuntimeError(f"{cell.name}: evaluated, but {cell.eval_path} does not validate")
                finished_here.add(cell.name)
                if cell.status() == "training":
                    _say(f"{head}: resuming its training")
                walls = run_cell(grid, cell, train_fn, threads, progress)
            said.add(f"done {cell.name}")
            parts = [f"{part} {wall:.1f}s" for part, wall in walls.items() if wall is not None]
            score = _mean_headline(cell.eval_path)
            shown = f", mean score {score:.3f}" if score is not None else ""
            _say(f"{head}: {', '.join(parts)}{shown} (grid {time.perf_counter() - start:.0f}s)")
            say_time_left()
            if after_cell is not None:
                with grid_lock(out):
                    after_cell(grid, out)
            ran = True
            break
        if ran:
            continue
        if not waiting:
            return grid
        time.sleep(poll_s)


def _mean_headline(path: Path) -> float | None:
    values = [s["headline"]["value"] for s in json.loads(path.read_text())["results"]]
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None

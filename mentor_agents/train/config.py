"""The configs of training: ``SFTConfig`` and ``GRPOConfig`` (one per phase), ``LoRAConfig`` (whether and
how both phases train low-rank adapters) and ``TrainConfig`` (a whole run).

Every phase field is a ``--sft.<field>`` / ``--grpo.<field>`` flag of ``mentor train`` (``train.flags``),
every ``LoRAConfig`` field a ``--lora.<field>`` flag.
:class:`TrainConfig` is what ``mentor train`` resolves from its flags and writes to ``<out>/config.json``
before training; ``--resume`` compares it with the new one (:meth:`TrainConfig.changes`). No torch here,
so the ``mentor`` command line loads without the ``[train]`` extra.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mentor_agents.presets import preset_of
from mentor_agents.train.methods import Method

CONFIG_VERSION = 1
"""Version of the ``config.json`` layout (``"version"`` in the file)."""

CONFIG_FILE = "config.json"

FROM_RUN = {"sft": ("seed",), "grpo": ("env_id", "tasks_file", "reward", "seed")}
"""Phase fields filled from run-level values (``--env``, ``--tasks-file``, ``--method``, ``--seed``)."""

NO_FLAG = {"sft": (), "grpo": ("env_id", "tasks_file", "reward")}
"""Phase fields with no flag of their own: set once for the run (``seed`` keeps ``--<phase>.seed``)."""

NOT_COMPARED = ("sft.checkpoint_every", "grpo.checkpoint_every", "grpo.ray_workers", "grpo.ray_address")
"""Config keys ``--resume`` may change: they do not change results (checkpoints hold the whole state, and
Ray and in-process rollouts are bit-identical). Besides these, the last phase's ``steps`` may grow: the
learning rate is warmup-then-constant, so N steps resumed to M equal M steps from the start."""


PRECISIONS = ("auto", "bf16", "fp32")


def check_precision(precision: str) -> str:
    """``precision`` itself if it is one of ``PRECISIONS`` (see ``train.precision``), else a ``ValueError``."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    return precision


# --- the phases ---------------------------------------------------------------------------------------


@dataclass
class SFTConfig:
    """SFT hyper-parameters."""

    steps: int = 200
    """Optimizer steps."""
    batch_size: int = 16
    """Conversations per step."""
    lr: float = 3e-3
    """AdamW learning rate (tiny model from scratch; use ~1e-5 for a pretrained model)."""
    warmup_steps: int = 10
    """Linear warmup steps."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    max_grad_norm: float = 1.0
    """Gradient clipping."""
    seed: int = 0
    """Seeds the example order."""
    checkpoint_every: int = 50
    """Save a checkpoint every this many steps (and at the end)."""
    pack_to: int = 0
    """Pack each step's conversations into rows of at most this many tokens, attention kept within each
    conversation (0: one padded row per conversation). Same loss, far fewer padding tokens."""
    precision: str = "auto"
    """Matmul precision of forward and backward: ``auto`` (bf16 autocast on a GPU, fp32 on a CPU), ``bf16``
    (autocast on either; a CPU without AMX/AVX-512-BF16 is warned about and runs fp32) or ``fp32``.
    Weights and optimizer state stay fp32 throughout."""
    share_prefix: bool = True
    """Run the batch's common prefix (one env's system prompt and tool schemas, ~1,100 of ~1,300 SmolLM2
    tokens on Calculator) through the model once, with gradients, instead of once per conversation. Same
    loss and gradients up to float summation order. An alternative to ``pack_to``: set it false to pack."""

    def __post_init__(self) -> None:
        if min(self.steps, self.batch_size) < 1:
            raise ValueError("steps and batch_size must be at least 1")
        if self.pack_to < 0:
            raise ValueError("pack_to must be 0 (off) or a row length in tokens")
        if self.pack_to and self.share_prefix:
            raise ValueError(
                "pack_to and share_prefix are two ways to cut the batch's cost; choose one "
                "(--sft.share_prefix false --sft.pack_to N packs)"
            )
        check_precision(self.precision)


@dataclass
class GRPOConfig:
    """GRPO hyper-parameters (MENTOR's value in brackets where it differs)."""

    env_id: str = "tooluse/Calculator-v0"
    """Environment id."""
    split: str = "train"
    """Task split to train on."""
    tasks_file: str | None = None
    """Train on this JSONL task file's tasks and references (e.g. ``mentor teach`` output) instead of the split."""
    reward: str = "mentor"
    """Reward passed to the env: a name from tooluse_envs.rewards.REWARDS or the ``pkg.module:function``
    import path of any other reward (``--method``'s, an installed plugin's name replaced by its path)."""
    steps: int = 20
    """Training steps: one batch of rollouts each, then its PPO updates."""
    prompts_per_step: int = 4
    """Tasks per step [32]."""
    ppo_mini_batch: int = 1
    """Tasks per optimizer update [8]: prompts_per_step / ppo_mini_batch updates per epoch [32/8 = 4]."""
    ppo_epochs: int = 1
    """Passes over each step's batch [1]."""
    dual_clip: float | None = None
    """Dual-clip bound c > 1 for negative advantages (verl's clip_ratio_c, e.g. 3.0); None: off."""
    group_size: int = 4
    """Rollouts per task [10]."""
    lr: float = 1e-4
    """AdamW learning rate [1e-6: the tiny model from scratch needs more]."""
    warmup_steps: int = 0
    """Linear warmup steps."""
    clip: float = 0.2
    """PPO ratio clip."""
    kl_coef: float = 0.001
    """Weight of the k3 KL to the frozen initial model (0 disables the reference model)."""
    entropy_coef: float = 0.001
    """Weight of the entropy bonus."""
    temperature: float = 0.6
    """Sampling temperature (the trainer scores at the same temperature)."""
    top_p: float = 0.95
    """Nucleus sampling."""
    max_new_tokens: int = 96
    """Tokens per assistant turn."""
    max_turns: int = 5
    """Assistant turns per episode."""
    micro_batch: int = 8
    """Trajectories per forward/backward (gradient accumulation over the batch: the update does not depend
    on it). With ``share_prefix`` a group's prompt is scored once per micro-batch, so a multiple of
    ``group_size`` scores each prompt once; smaller ones trade that for memory."""
    max_grad_norm: float = 1.0
    """Gradient clipping."""
    seed: int = 0
    """Seeds the task order and every rollout (each step and turn gets its own derived seed)."""
    checkpoint_every: int = 10
    """Save a checkpoint every this many steps (and at the end)."""
    eval_every: int = 0
    """Greedy validation every this many steps (0: never), logged as ``val/*``."""
    eval_split: str = "test_id"
    """Split validated on."""
    eval_tasks: int = 32
    """Validation tasks (the split's first ones, so every validation is comparable)."""
    rollout_batch: int = 32
    """Episodes generated together as one batch under one seed: each step's episodes are cut into
    ceil(episodes / rollout_batch) near-equal chunks. Tokens depend on this, not on where a chunk runs,
    so in-process and any number of Ray workers train identically. With Ray, make it at most
    episodes-per-step / ray_workers, or some workers get no chunk."""
    rollout_threads: int = 0
    """Torch CPU threads while generating rollouts, in this process and in each Ray actor (which reserves
    that many CPUs); 0: this process's count. Equal counts keep Ray and in-process rollouts bit-identical."""
    ray_workers: int = 0
    """Collect rollouts on this many Ray actors, weights synced every step (0: in this process)."""
    ray_address: str | None = None
    """An existing Ray cluster for ``ray_workers`` (None: start or reuse a local one)."""
    sampler: str = "hf"
    """What generates rollouts in this process: ``hf`` (the learner's own model, nothing to copy) or
    ``vllm`` (a vLLM engine on the GPU, weights synced after every step)."""
    precision: str = "auto"
    """Matmul precision of generation, log-prob passes and updates: ``auto`` (bf16 autocast on a GPU, fp32
    on a CPU), ``bf16`` (autocast on either; a CPU without AMX/AVX-512-BF16 is warned about and runs fp32)
    or ``fp32``. Weights and optimizer state stay fp32 throughout."""
    share_prefix: bool = True
    """Run a prefix common to several sequences (a task's group: its whole prompt; one env: its tool
    schemas) through the model once, in generation and in the log-prob and update passes. Same result up
    to float summation order; off: every row computes its whole sequence."""

    def __post_init__(self) -> None:
        if min(self.prompts_per_step, self.group_size, self.rollout_batch, self.micro_batch) < 1:
            raise ValueError("prompts_per_step, group_size, rollout_batch and micro_batch must be at least 1")
        if self.rollout_threads < 0 or self.ray_workers < 0:
            raise ValueError("rollout_threads and ray_workers must not be negative")
        if self.ray_address and not self.ray_workers:
            raise ValueError("ray_address is set but ray_workers=0: set ray_workers to collect rollouts on Ray")
        if self.ppo_mini_batch < 1 or self.prompts_per_step % self.ppo_mini_batch:
            raise ValueError(
                f"ppo_mini_batch ({self.ppo_mini_batch}) must be at least 1 and divide prompts_per_step "
                f"({self.prompts_per_step})"
            )
        if self.ppo_epochs < 1:
            raise ValueError("ppo_epochs must be at least 1")
        if self.dual_clip is not None and self.dual_clip <= 1:
            raise ValueError(f"dual_clip must be above 1 (verl uses 3.0), not {self.dual_clip}")
        if self.sampler not in ("hf", "vllm"):
            raise ValueError(f"sampler must be 'hf' or 'vllm', not {self.sampler!r}")
        check_precision(self.precision)
        if self.sampler == "vllm" and self.ray_workers:
            raise ValueError("sampler='vllm' generates in this process: set ray_workers=0")

    @property
    def rollout_chunks(self) -> int:
        """Chunks each step's ``prompts_per_step * group_size`` episodes are cut into."""
        return -(-(self.prompts_per_step * self.group_size) // self.rollout_batch)

    @property
    def rollout_workers(self) -> int:
        """Ray actors actually started: one without a chunk would only hold CPUs."""
        return min(self.ray_workers, self.rollout_chunks)


# --- LoRA (both phases) ---------------------------------------------------------------------------------


@dataclass
class LoRAConfig:
    """LoRA adapters (peft) trained instead of all weights, by both phases; merged into ``final_model``."""

    rank: int = 0
    """Adapter rank r (0: off, every weight is trained)."""
    alpha: float = 16.0
    """Scaling numerator: the adapter's update is scaled by alpha / rank."""
    dropout: float = 0.0
    """Dropout on the adapters' input while training."""
    targets: str = "all-linear"
    """Modules given adapters: ``all-linear`` (every linear layer but the output head) or a comma list of
    module names, e.g. ``q_proj,v_proj``."""

    def __post_init__(self) -> None:
        if self.rank < 0:
            raise ValueError(f"lora.rank must be 0 (off) or a positive rank, not {self.rank}")
        if self.alpha <= 0:
            raise ValueError(f"lora.alpha must be positive, not {self.alpha}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"lora.dropout must be in [0, 1), not {self.dropout}")
        if not self.target_modules():
            raise ValueError("lora.targets must be all-linear or a comma list of module names")

    @property
    def enabled(self) -> bool:
        return self.rank > 0

    def target_modules(self) -> str | list[str]:
        """peft's ``target_modules``: ``"all-linear"`` or the listed names."""
        if self.targets.strip() == "all-linear":
            return "all-linear"
        return [name.strip() for name in self.targets.split(",") if name.strip()]


# --- the whole run --------------------------------------------------------------------------------------


def phase_classes() -> dict[str, type]:
    """The phase config classes by flag prefix."""
    return {"sft": SFTConfig, "grpo": GRPOConfig}


@dataclasses.dataclass
class TrainConfig:
    """Everything that decides a training run's result; written to ``<out>/config.json``."""

    preset: str = "tiny"
    """Model preset: tiny | smollm2-135m | hf:<path>."""
    method: str = "mentor"
    """sft, <reward> (GRPO) or sft+<reward>, as given; <reward> may be ``pkg.module:function`` or an installed
    plugin's name (``grpo.reward`` then holds its import path)."""
    env: str = "tooluse/Calculator-v0"
    """Environment id (GRPO's ``env_id``; SFT's teacher conversations come from its train split)."""
    seed: int = 0
    """Seeds the model's initialisation, and each phase's ``seed`` unless that is given."""
    tasks_file: str | None = None
    """Train on this JSONL task file's tasks and references instead of the env's split."""
    sft: SFTConfig | None = None
    """The SFT phase (None: the method runs none)."""
    grpo: GRPOConfig | None = None
    """The GRPO phase (None: the method runs none)."""
    lora: LoRAConfig = dataclasses.field(default_factory=LoRAConfig)
    """LoRA adapters for both phases (rank 0: full fine-tuning)."""

    def __post_init__(self) -> None:
        if self.lora.enabled and self.grpo is not None and self.grpo.sampler == "vllm":
            raise ValueError("--lora.rank > 0 needs --grpo.sampler hf (vLLM syncs plain weights, not adapters)")

    @classmethod
    def resolve(
        cls,
        preset: str = "tiny",
        method: str = "mentor",
        env: str = "tooluse/Calculator-v0",
        seed: int = 0,
        tasks_file: str | None = None,
        sft: dict[str, Any] | None = None,
        grpo: dict[str, Any] | None = None,
        lora: dict[str, Any] | None = None,
    ) -> TrainConfig:
        """The run's config from run-level values and each phase's explicitly given fields.

        Each phase starts from the preset's values (``mentor_agents.presets``); run-level values fill the
        phase fields in :data:`FROM_RUN`; fields given for the phase win over both. Fields
        given for a phase the method does not run, or a phase config's own check, raise ``ValueError``.
        ``lora`` holds the given ``LoRAConfig`` fields (none: rank 0, full fine-tuning).
        """
        parsed = Method.parse(method)
        classes = phase_classes()
        run = {"env_id": env, "tasks_file": tasks_file, "reward": parsed.reward, "seed": seed}
        configs: dict[str, Any] = {}
        for prefix, runs, given in (("sft", parsed.sft, sft or {}), ("grpo", parsed.reward is not None, grpo or {})):
            if given and not runs:
                flag = f"--{prefix}.{next(iter(given))}"
                runs_it = "sft or sft+<reward>" if prefix == "sft" else "<reward> or sft+<reward>"
                raise ValueError(f"{flag}: --method {method} has no {prefix.upper()} phase (--method {runs_it} has)")
            if runs:
                from_run = {k: run[k] for k in FROM_RUN[prefix]}
                configs[prefix] = classes[prefix](**(from_run | preset_of(preset).phase(prefix) | given))
        lora_cfg = LoRAConfig(**(lora or {}))
        unused = sorted(set(lora or {}) - {"rank"})
        if unused and not lora_cfg.enabled:
            raise ValueError(f"--lora.{unused[0]} is given but --lora.rank is 0 (LoRA off): set --lora.rank too")
        return cls(preset, method, env, seed, tasks_file, configs.get("sft"), configs.get("grpo"), lora_cfg)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with ``"version"``."""
        out: dict[str, Any] = {"version": CONFIG_VERSION}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            grouped = isinstance(value, (SFTConfig, GRPOConfig, LoRAConfig))
            out[f.name] = dataclasses.asdict(value) if grouped else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        if data.get("version") != CONFIG_VERSION:
            raise ValueError(f"config version {data.get('version')!r}; this mentor reads version {CONFIG_VERSION}")
        classes = phase_classes()
        values = {k: v for k, v in data.items() if k != "version"}
        for prefix, phase in classes.items():
            if values.get(prefix) is not None:
                values[prefix] = phase(**values[prefix])
        values["lora"] = LoRAConfig(**(values.get("lora") or {}))  # a run from before LoRA: rank 0
        return cls(**values)

    def save(self, out_dir: str | Path) -> Path:
        path = Path(out_dir) / CONFIG_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1) + "\n")
        return path

    @classmethod
    def load(cls, out_dir: str | Path) -> TrainConfig:
        return cls.from_dict(json.loads((Path(out_dir) / CONFIG_FILE).read_text()))

    def flat(self) -> dict[str, Any]:
        """``{"preset": ..., "sft.lr": ..., "grpo": None, "lora.rank": ...}``: one key per value, groups dotted."""
        out: dict[str, Any] = {}
        for key, value in self.to_dict().items():
            if isinstance(value, dict):
                out.update({f"{key}.{k}": v for k, v in value.items()})
            else:
                out[key] = value
        return out

    def changes(self, new: TrainConfig) -> list[str]:
        """What ``new`` changes that a resumed run must not: ``"grpo.lr: 0.0001 -> 0.0002"`` per key.

        Keys in :data:`NOT_COMPARED` are skipped, and the last phase's ``steps`` may grow.
        """
        old_flat, new_flat = self.flat(), new.flat()
        last = "grpo" if new.grpo is not None else "sft"
        unset = object()
        lines = []
        for prefix in ("sft", "grpo"):  # a phase run by one config only: one line, not one per field
            phases = (getattr(self, prefix), getattr(new, prefix))
            if (phases[0] is None) != (phases[1] is None):
                shown = ["null" if p is None else f"({type(p).__name__})" for p in phases]
                lines.append(f"{prefix}: {shown[0]} -> {shown[1]}")
                for flat in (old_flat, new_flat):
                    for key in [k for k in flat if k == prefix or k.startswith(f"{prefix}.")]:
                        flat[key] = unset
        for key in sorted(old_flat.keys() | new_flat.keys()):
            before, after = old_flat.get(key, unset), new_flat.get(key, unset)
            if before is unset and after is unset:
                continue
            if before == after or key in NOT_COMPARED:
                continue
            if key == f"{last}.steps" and isinstance(before, int) and isinstance(after, int) and after > before:
                continue
            shown = ["(unset)" if v is unset else json.dumps(v) for v in (before, after)]
            lines.append(f"{key}: {shown[0]} -> {shown[1]}")
        return sorted(lines)

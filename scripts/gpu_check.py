#!/usr/bin/env python
"""GPU readiness check: generation tokens/s and GRPO step time on one GPU, offline, in a few minutes.

Two models, both randomly initialised (no weights are downloaded or read):

* ``tiny``: the project's ``tiny`` preset (2-layer Llama-style, hidden 128) with its own BPE tokenizer.
* ``qwen2.5-0.5b-config``: a ``Qwen2ForCausalLM`` built from Qwen2.5-0.5B-Instruct's published config
  (written out below), paired with the tiny tokenizer. VOCAB HANDLING: the model's vocabulary is set to
  the tokenizer's size (under 4,096 ids, not 151,936), so generation and GRPO use every id the model can
  emit; the real 151,936-id embedding/LM head is timed separately as one forward+backward on random ids,
  next to the same forward+backward with the tokenizer-sized vocab. Nothing here equals a run of the real
  Qwen checkpoint: random weights write no tool calls, so episodes mostly end after one turn
  (``mean_turns`` says), and the prompts are the tiny tokenizer's (it compresses the system prompt with
  the tool schemas to ~60 tokens; Qwen's tokenizer makes ~1.2k of it).

Per model it measures (1) ``HFPolicy.generate`` tokens/s with bf16 weights under bf16 autocast (fp32 on
CPU), and (2) the wall time of ``mentor_agents.train.grpo.grpo_step``, the function ``train_grpo`` runs per
step, set up as ``train_grpo`` sets it up (fp32 master weights, ``precision="auto"`` = bf16 autocast on a
GPU, in-process HF sampler, frozen reference model, AdamW): 4 tasks x 8 samples, at most 5 turns x 128
new tokens, 4 updates; with the share of the step spent generating, in env steps, recomputing log-probs
and updating. CUDA is synchronised around every timed region. One untimed warm-up precedes each
measurement.

``--small`` is the CPU smoke (CI): the same code paths with small batches, and the Qwen model keeps its
architecture (heads, KV heads, RoPE, norms, tying, the 151,936-id vocab for the separate forward+backward)
but with hidden 112, MLP 608 and 2 layers instead of 896/4864/24.

Run from the repository root: ``PYTHONPATH=. python scripts/gpu_check.py [--device cuda|cpu] [--small]
[--json OUT] [--budget-s S]`` (``scripts/gpu_check.sh`` wraps it with an 8-minute limit). The JSON is
rewritten after every measurement (``"complete": false`` until the end), so a run cut short keeps what it
measured; past ``--budget-s`` every measurement stops after its first timed round. A measurement that
raises is recorded as ``{"error": ...}`` and the run goes on. Exit codes: 0 all measured, 1 some
measurement failed (listed under ``failures``), 2 the device is not available, 3 Python modules are
missing (listed).
"""

from __future__ import annotations

import argparse
import copy
import datetime
import functools
import gc
import importlib
import json
import os
import platform
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # runs without ``pip install -e .`` (the GPU machine may not have it)
    sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is downloaded; fail fast rather than wait on a network
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REQUIRED_MODULES = (
    "torch",
    "transformers",
    "tokenizers",
    "jinja2",
    "safetensors",
    "gymnasium",
    "jsonschema",
    "numpy",
    "tqdm",
)
"""Third-party modules the check imports (``mentor_agents`` ``[train]`` extra and ``tooluse_envs``)."""

PROJECT_MODULES = ("tooluse_envs", "mentor_agents")

QWEN_VOCAB = 151_936
QWEN25_05B_INSTRUCT = dict(
    vocab_size=QWEN_VOCAB,
    hidden_size=896,
    intermediate_size=4864,
    num_hidden_layers=24,
    num_attention_heads=14,
    num_key_value_heads=2,
    hidden_act="silu",
    max_position_embeddings=32768,
    rope_theta=1000000.0,
    rms_norm_eps=1e-6,
    tie_word_embeddings=True,
    use_sliding_window=False,
    max_window_layers=21,
    attention_dropout=0.0,
    initializer_range=0.02,
)
"""Qwen2.5-0.5B-Instruct's ``config.json`` (architecture fields), as ``transformers.Qwen2Config`` kwargs."""

SMALL_QWEN = dict(hidden_size=112, intermediate_size=608, num_hidden_layers=2)
"""``--small``: Qwen2.5-0.5B's width and depth divided (heads, KV heads and everything else kept)."""

VOCAB_HANDLING = "tokenizer_vocab+full_vocab_fwd_bwd"
VOCAB_HANDLING_TEXT = (
    "the Qwen-config model's vocab is set to the tiny tokenizer's size ({n} ids) for generation and GRPO; "
    "the full 151,936-id vocab is timed separately as forward+backward on random ids"
)
CAVEAT = (
    "random weights, tiny tokenizer: these numbers measure this code on this device at these shapes; "
    "they are NOT the numbers of a real Qwen2.5-0.5B run (different vocab, prompts and turns per episode)"
)


@dataclass
class Plan:
    """How much each measurement does."""

    gen_batch: int
    """Prompts generated together."""
    gen_new_tokens: int
    """New tokens per prompt."""
    gen_rounds: int
    """Timed generate calls (after one untimed warm-up)."""
    grpo: dict[str, Any]
    """GRPOConfig overrides."""
    grpo_rounds: int
    """Timed GRPO steps (after one untimed warm-up step)."""
    fwd_bwd_shape: tuple[int, int]
    """(batch, sequence) of the forward+backward timing."""
    fwd_bwd_rounds: int
    """Timed forward+backward passes (after one untimed warm-up)."""
    qwen_overrides: dict[str, Any] = field(default_factory=dict)
    """Changes to Qwen2.5-0.5B's config."""


GPU_PLAN = Plan(
    gen_batch=32,
    gen_new_tokens=128,
    gen_rounds=3,
    grpo=dict(prompts_per_step=4, group_size=8, max_turns=5, max_new_tokens=128),
    grpo_rounds=2,
    fwd_bwd_shape=(8, 1024),
    fwd_bwd_rounds=3,
)
SMALL_PLAN = Plan(
    gen_batch=4,
    gen_new_tokens=16,
    gen_rounds=1,
    grpo=dict(prompts_per_step=2, group_size=2, max_turns=2, max_new_tokens=16),
    grpo_rounds=1,
    fwd_bwd_shape=(2, 64),
    fwd_bwd_rounds=1,
    qwen_overrides=SMALL_QWEN,
)


class DeviceUnavailable(RuntimeError):
    """The asked-for device cannot be used (exit code 2)."""


def missing_modules() -> list[str]:
    """``"name: error"`` for every required module that does not import."""
    missing = []
    for name in REQUIRED_MODULES + PROJECT_MODULES:
        try:
            importlib.import_module(name)
        except Exception as exc:  # a broken install counts as missing too
            missing.append(f"{name} ({type(exc).__name__}: {exc})")
    return missing


# --- timing helpers ---------------------------------------------------------------------------------------


class Clock:
    """Wall time that waits for the GPU (``torch.cuda.synchronize``) at both ends of every measurement."""

    def __init__(self, device: Any, budget_s: float = float("inf")) -> None:
        import torch

        self.cuda = device.type == "cuda"
        self._torch = torch
        self.deadline = time.perf_counter() + budget_s

    def over(self) -> bool:
        """Past the time budget: measurements stop after their first timed round."""
        return time.perf_counter() > self.deadline

    def sync(self) -> None:
        if self.cuda:
            self._torch.cuda.synchronize()

    def now(self) -> float:
        self.sync()
        return time.perf_counter()

    def wrap(self, function: Callable[..., Any], total: list[float]) -> Callable[..., Any]:
        """``function`` that adds its synchronised run time to ``total[0]``."""

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = self.now()
            try:
                return function(*args, **kwargs)
            finally:
                total[0] += self.now() - start

        return timed


class Timed:
    """Proxies an object; calls of its method ``method`` add their synchronised time to ``seconds``."""

    def __init__(self, inner: Any, method: str, clock: Clock) -> None:
        self.inner, self.method, self.clock, self.total = inner, method, clock, [0.0]

    @property
    def seconds(self) -> float:
        return self.total[0]

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        return self.clock.wrap(attr, self.total) if name == self.method else attr


@contextmanager
def patched(module: Any, name: str, clock: Clock, total: list[float]) -> Iterator[bool]:
    """Time ``module.name`` while the block runs (yields False, and times nothing, if it does not exist)."""
    original = getattr(module, name, None)
    if original is None:
        yield False
        return
    setattr(module, name, clock.wrap(original, total))
    try:
        yield True
    finally:
        setattr(module, name, original)


def free_memory() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def peak_memory_gib(device: Any) -> float | None:
    import torch

    if device.type != "cuda":
        return None
    return round(torch.cuda.max_memory_allocated(device) / 2**30, 2)


def reset_peak(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def count_params(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())


# --- the models -------------------------------------------------------------------------------------------


def qwen_config(tokenizer: Any, vocab_size: int, overrides: dict[str, Any]) -> Any:
    """Qwen2.5-0.5B-Instruct's config with ``overrides``, the vocab set to ``vocab_size``."""
    from transformers import Qwen2Config

    kwargs = {**QWEN25_05B_INSTRUCT, **overrides, "vocab_size": vocab_size}
    return Qwen2Config(
        **kwargs,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def rope_theta(config: Any) -> float | None:
    """transformers 4 keeps ``rope_theta``; 5 moves it into ``rope_parameters``."""
    value = getattr(config, "rope_theta", None)
    if value is None:
        value = (getattr(config, "rope_parameters", None) or {}).get("rope_theta")
    return value


def build_qwen(config: Any, tokenizer: Any, seed: int = 0) -> Any:
    """A randomly initialised ``Qwen2ForCausalLM`` (on the CPU, seeded: the same weights on every machine)."""
    import torch
    from transformers import Qwen2ForCausalLM

    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def describe_qwen(config: Any, small: bool) -> dict[str, Any]:
    keys = [k for k in QWEN25_05B_INSTRUCT if k not in ("rope_theta",)]
    out = {k: getattr(config, k, None) for k in keys}
    out["rope_theta"] = rope_theta(config)
    out["architecture"] = "Qwen2ForCausalLM"
    out["shrunk_for_small"] = dict(SMALL_QWEN) if small else None
    return out


# --- the measurements -------------------------------------------------------------------------------------


def env_prompts(n: int) -> tuple[list[Any], list[dict[str, Any]]]:
    """The first messages (system prompt with tools + question) of ``n`` calculator train episodes."""
    import gymnasium as gym

    import tooluse_envs

    gym.register_envs(tooluse_envs)
    env = gym.make("tooluse/Calculator-v0", split="train")
    prompts, tools = [], []
    for i in range(n):
        _, info = env.reset(seed=i)
        prompts.append(info["messages"])
        tools = info["tools"]
    env.close()
    return prompts, tools


def measure_generation(
    model: Any, tokenizer: Any, device: Any, plan: Plan, clock: Clock, log: Callable[[str], None]
) -> dict[str, Any]:
    """``HFPolicy.generate`` tokens/s on a copy of ``model``: bf16 weights + bf16 autocast on a GPU, fp32 on CPU."""
    import torch

    from mentor_agents.policies import SamplingParams
    from mentor_agents.policies.hf import HFPolicy
    from mentor_agents.tokenizer import encode, render

    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    reset_peak(device)
    policy = HFPolicy(copy.deepcopy(model), tokenizer, device=device, dtype=dtype, batch_size=plan.gen_batch)
    prompts, tools = env_prompts(plan.gen_batch)
    prompt_tokens = [len(encode(tokenizer, render(tokenizer, p, tools, generation_prompt=True))) for p in prompts]
    warm = SamplingParams(temperature=1.0, top_p=1.0, max_new_tokens=min(8, plan.gen_new_tokens), seed=0)
    policy.generate(prompts, warm, tools)
    seconds, tokens = [], []
    for round_ in range(plan.gen_rounds):
        if round_ and clock.over():
            log("time budget spent: fewer generation rounds")
            break
        sampling = SamplingParams(temperature=1.0, top_p=1.0, max_new_tokens=plan.gen_new_tokens, seed=1 + round_)
        start = clock.now()
        generations = policy.generate(prompts, sampling, tools)
        seconds.append(clock.now() - start)
        tokens.append(sum(len(g.token_ids) for g in generations))
    out = {
        "batch": plan.gen_batch,
        "max_new_tokens": plan.gen_new_tokens,
        "mean_prompt_tokens": round(statistics.fmean(prompt_tokens), 1),
        "weights_dtype": str(dtype).replace("torch.", ""),
        "autocast": "bf16" if device.type == "cuda" else "none (fp32)",
        "sampling": "temperature 1.0, top_p 1.0",
        "rounds": len(seconds),
        "round_s": [round(s, 4) for s in seconds],
        "generated_tokens": tokens,
        "tokens_per_s": round(sum(tokens) / sum(seconds), 1),
        "peak_gpu_memory_gib": peak_memory_gib(device),
    }
    log(f"generation: {out['tokens_per_s']:.1f} tokens/s ({plan.gen_batch} prompts x <= {plan.gen_new_tokens} tokens)")
    del policy
    free_memory()
    return out


def measure_grpo_step(
    model: Any, tokenizer: Any, device: Any, plan: Plan, clock: Clock, log: Callable[[str], None]
) -> dict[str, Any]:
    """Warm-up + ``plan.grpo_rounds`` calls of ``grpo_step``, set up as ``train_grpo`` sets it up.

    ``model`` is trained in place (``HFPolicy`` moves it to ``device`` in fp32).
    """
    import torch

    from mentor_agents.policies.hf import HFPolicy
    from mentor_agents.rollout import make_envs
    from mentor_agents.train import grpo
    from mentor_agents.train.common import make_optimizer, make_scheduler

    cfg = grpo.GRPOConfig(**plan.grpo)
    reset_peak(device)
    # train_grpo's set-up: fp32 master weights, autocast per cfg.precision, in-process HF sampler, no Ray
    policy = HFPolicy(model, tokenizer, device=device, dtype=torch.float32)
    model = policy.model
    optimizer = make_optimizer(model, cfg.lr)
    scheduler = make_scheduler(optimizer, cfg.warmup_steps)
    ref_model = copy.deepcopy(model).eval().requires_grad_(False) if cfg.kl_coef > 0 else None
    batch = cfg.prompts_per_step * cfg.group_size
    env_kwargs = dict(split=cfg.split, reward=cfg.reward, max_turns=cfg.max_turns)
    envs = [Timed(env, "step", clock) for env in make_envs(cfg.env_id, -(-batch // cfg.rollout_chunks), **env_kwargs)]
    sampler = Timed(policy, "generate", clock)
    order = grpo.task_order(envs[0], cfg.seed)
    recompute, updating = [0.0], [0.0]
    rows: list[dict[str, Any]] = []
    trajs_all: list[Any] = []
    try:
        with (
            patched(grpo, "learner_logprobs", clock, recompute) as has_recompute,
            patched(grpo, "_optimizer_update", clock, updating) as has_update,
        ):
            for step in range(1 + plan.grpo_rounds):  # step 0: warm-up, not counted
                if step > 1 and clock.over():
                    log("time budget spent: fewer GRPO steps")
                    break
                before = (sampler.seconds, sum(e.seconds for e in envs), recompute[0], updating[0])
                tasks = [order[(step * cfg.prompts_per_step + i) % len(order)] for i in range(cfg.prompts_per_step)]
                start = clock.now()
                trajs, stats, rollout_s = grpo.grpo_step(
                    cfg, step, tasks, envs, sampler, tokenizer, model, ref_model, optimizer, scheduler
                )
                total = clock.now() - start
                if step == 0:
                    log(f"grpo warm-up step: {total:.2f}s")
                    continue
                after = (sampler.seconds, sum(e.seconds for e in envs), recompute[0], updating[0])
                gen_s, env_s, rec_s, upd_s = (a - b for a, b in zip(after, before, strict=True))
                rows.append(
                    {
                        "step_s": total,
                        "rollout_s": rollout_s,
                        "generation_s": gen_s,
                        "env_s": env_s,
                        "logprob_recompute_s": rec_s,
                        "ppo_updates_s": upd_s,
                        "updates": stats.get("updates"),
                        "generated_tokens": sum(t.generated_tokens for t in trajs),
                    }
                )
                trajs_all += trajs
                log(f"grpo step {step}: {total:.2f}s")
    finally:
        for env in envs:
            env.close()
    step_s = statistics.fmean(r["step_s"] for r in rows)

    def share(key: str) -> float:
        return round(sum(r[key] for r in rows) / sum(r["step_s"] for r in rows), 3)

    turns = [t.episode.get("turns", 0) for t in trajs_all]
    learning = share("logprob_recompute_s") + share("ppo_updates_s")
    out = {
        "config": {
            **plan.grpo,
            "episodes_per_step": batch,
            "ppo_mini_batch": cfg.ppo_mini_batch,
            "micro_batch": cfg.micro_batch,
            "rollout_batch": cfg.rollout_batch,
            "kl_coef": cfg.kl_coef,
            "reference_model": ref_model is not None,
            "precision": getattr(cfg, "precision", None),
            "sampler": "hf (in-process HFPolicy, fp32 master weights under autocast)",
        },
        "warmup_steps_untimed": 1,
        "rounds": len(rows),
        "step_s": [round(r["step_s"], 4) for r in rows],
        "mean_step_s": round(step_s, 4),
        "updates_per_step": statistics.fmean(float(r["updates"] or 0) for r in rows),
        "share_generation": share("generation_s"),
        "share_env_steps": share("env_s"),
        "share_logprob_recompute": share("logprob_recompute_s") if has_recompute else None,
        "share_ppo_updates": share("ppo_updates_s") if has_update else None,
        "share_learning": round(learning, 3) if has_recompute and has_update else None,
        "share_other": round(1 - share("generation_s") - share("env_s") - learning, 3),
        "rollout_tokens_per_s": round(
            sum(r["generated_tokens"] for r in rows) / max(1e-9, sum(r["generation_s"] for r in rows)), 1
        ),
        "mean_turns": round(statistics.fmean(turns), 2),
        "multi_turn_episodes": round(sum(n > 1 for n in turns) / len(turns), 3),
        "mean_tool_calls": round(statistics.fmean(len(t.episode.get("tool_calls", [])) for t in trajs_all), 2),
        "mean_generated_tokens": round(statistics.fmean(t.generated_tokens for t in trajs_all), 1),
        "mean_sequence_tokens": round(statistics.fmean(len(t.token_ids) for t in trajs_all), 1),
        "peak_gpu_memory_gib": peak_memory_gib(device),
    }
    del policy, sampler, optimizer, scheduler, ref_model, envs
    free_memory()
    return out


def measure_fwd_bwd(model: Any, device: Any, plan: Plan, clock: Clock, seed: int = 0) -> dict[str, Any]:
    """One forward+backward of the learner's kind (fp32 weights, bf16 autocast on a GPU, log-probs of the
    next token in fp32 from all logits) on random ids, ``plan.fwd_bwd_shape``."""
    import torch

    vocab = model.get_input_embeddings().num_embeddings
    batch, seq = plan.fwd_bwd_shape
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab, (batch, seq), generator=generator).to(device)
    model.train()
    reset_peak(device)

    def once() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            logits = model(input_ids=ids).logits[:, :-1]
        logp = torch.log_softmax(logits.float(), -1).gather(-1, ids[:, 1:, None])
        (-logp.mean()).backward()
        model.zero_grad(set_to_none=True)

    once()
    seconds = []
    for round_ in range(plan.fwd_bwd_rounds):
        if round_ and clock.over():
            break
        start = clock.now()
        once()
        seconds.append(clock.now() - start)
    return {
        "vocab_size": vocab,
        "params": count_params(model),
        "batch": batch,
        "sequence": seq,
        "round_s": [round(s, 4) for s in seconds],
        "fwd_bwd_s": round(statistics.fmean(seconds), 4),
        "tokens_per_s": round(batch * seq / statistics.fmean(seconds), 1),
        "peak_gpu_memory_gib": peak_memory_gib(device),
    }


# --- the run ------------------------------------------------------------------------------------------------


def environment(device: Any) -> dict[str, Any]:
    import torch
    import transformers

    info: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "device": device.type,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "cuda": torch.version.cuda,
        "host": platform.node(),
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info["device_name"] = torch.cuda.get_device_name(device)
        info["device_memory_gib"] = round(props.total_memory / 2**30, 1)
        info["capability"] = f"{props.major}.{props.minor}"
    else:
        info["device_name"] = platform.processor() or platform.machine()
        info["cpu_threads"] = torch.get_num_threads()
    return info


def resolve_device(name: str) -> Any:
    import torch

    if name == "cuda":
        if not torch.cuda.is_available():
            raise DeviceUnavailable(
                f"--device cuda, but torch {torch.__version__} sees no CUDA device "
                f"(built with CUDA {torch.version.cuda}); on a machine without a GPU run "
                "`scripts/gpu_check.py --device cpu --small` for the CPU smoke"
            )
        return torch.device("cuda", 0)
    return torch.device("cpu")


def table(result: dict[str, Any]) -> str:
    header = (
        f"{'model':<24} {'params':>8} {'gen tok/s':>10} {'step s':>8} {'gen%':>5} {'env%':>5} "
        f"{'learn%':>6} {'other%':>6} {'turns':>5} {'fwd+bwd s':>10}"
    )
    lines = [header, "-" * len(header)]

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.0f}"

    for name, m in result["models"].items():
        gen, step, fb = m.get("generation", {}), m.get("grpo_step", {}), m.get("fwd_bwd", {})
        lines.append(
            f"{name:<24} {m.get('params', 0) / 1e6:>7.1f}M {gen.get('tokens_per_s', float('nan')):>10.1f} "
            f"{step.get('mean_step_s', float('nan')):>8.3f} {pct(step.get('share_generation')):>5} "
            f"{pct(step.get('share_env_steps')):>5} {pct(step.get('share_learning')):>6} "
            f"{pct(step.get('share_other')):>6} {step.get('mean_turns', float('nan')):>5.2f} "
            f"{fb.get('fwd_bwd_s', float('nan')):>10.4f}"
        )
    full = result["models"].get("qwen2.5-0.5b-config", {}).get("full_vocab_fwd_bwd")
    if full:
        own = result["models"]["qwen2.5-0.5b-config"].get("fwd_bwd", {})
        lines.append(
            f"full {full['vocab_size']:,}-id vocab, forward+backward [{full['batch']}x{full['sequence']}]: "
            f"{full['fwd_bwd_s']:.4f}s ({full['params'] / 1e6:.1f}M params) "
            f"vs {own.get('fwd_bwd_s', float('nan')):.4f}s "
            f"with the tokenizer's {own.get('vocab_size', 0):,} ids"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from mentor_agents.models import build_tiny_model
    from mentor_agents.tokenizer import load_tiny_tokenizer

    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {message}", flush=True)

    device = resolve_device(args.device)
    plan = SMALL_PLAN if args.small else GPU_PLAN
    if device.type == "cpu" and not args.small:
        log("warning: the full-size plan on a CPU takes very long; --small is the CPU smoke")
    clock = Clock(device, args.budget_s)
    tokenizer = load_tiny_tokenizer(args.cache_dir)
    vocab_text = VOCAB_HANDLING_TEXT.format(n=len(tokenizer))
    result: dict[str, Any] = {
        "script": "scripts/gpu_check.py",
        **environment(device),
        "small": bool(args.small),
        "plan": asdict(plan),
        "vocab_handling": VOCAB_HANDLING,
        "vocab_handling_text": vocab_text,
        "tokenizer_vocab": len(tokenizer),
        "caveat": CAVEAT,
        "complete": False,
        "models": {},
    }

    def save() -> None:
        result["wall_s"] = round(time.perf_counter() - started, 1)
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(result, indent=1) + "\n")

    log(f"device {result['device_name']} ({device}), torch {result['torch']}, transformers {result['transformers']}")
    log(f"vocab handling: {vocab_text}")
    if args.small:
        log("--small: small batches; the Qwen model keeps its architecture but has hidden 112, MLP 608, 2 layers")

    qwen_cfg = qwen_config(tokenizer, len(tokenizer), plan.qwen_overrides)
    builders: list[tuple[str, Callable[[], Any], dict[str, Any]]] = [
        ("tiny", lambda: build_tiny_model(tokenizer, seed=0), {"preset": "tiny", "init": "random (seed 0)"}),
        (
            "qwen2.5-0.5b-config",
            lambda: build_qwen(qwen_cfg, tokenizer),
            {"init": "random (seed 0)", "config": describe_qwen(qwen_cfg, args.small)},
        ),
    ]
    failures: list[str] = []

    def phase(entry: dict[str, Any], key: str, what: Callable[[], Any]) -> Any:
        """``what()`` stored under ``entry[key]``; an exception is recorded there instead, and the run goes on."""
        try:
            value = what()
        except Exception as exc:
            entry[key] = {"error": f"{type(exc).__name__}: {exc}"}
            failures.append(f"{entry['name']}/{key}: {type(exc).__name__}: {exc}")
            log(f"{entry['name']}/{key} FAILED:\n{traceback.format_exc()}")
            free_memory()
            return None
        entry[key] = value
        save()
        return value

    for name, build, meta in builders:
        log(f"== {name}")
        entry: dict[str, Any] = {"name": name, **meta}
        result["models"][name] = entry
        built: list[Any] = []

        def make(build: Callable[[], Any] = build, built: list[Any] = built) -> dict[str, Any]:
            start = time.perf_counter()
            built.append(build())
            return {"params": count_params(built[0]), "build_s": round(time.perf_counter() - start, 2)}

        info = phase(entry, "model", make)
        if info is None:
            continue
        model = built.pop()
        entry["params"] = info["params"]
        phase(entry, "generation", functools.partial(measure_generation, model, tokenizer, device, plan, clock, log))
        step = phase(
            entry, "grpo_step", functools.partial(measure_grpo_step, model, tokenizer, device, plan, clock, log)
        )
        if step is not None:
            log(
                f"grpo step: {step['mean_step_s']:.3f}s, generation {100 * step['share_generation']:.0f}%, "
                f"learning {100 * (step['share_learning'] or 0):.0f}%, mean turns {step['mean_turns']} "
                "(random weights write no tool calls: mostly one turn)"
            )
        model.to(device, dtype=torch.float32)  # the learner's (already there unless the GRPO step failed)
        fb = phase(entry, "fwd_bwd", functools.partial(measure_fwd_bwd, model, device, plan, clock))
        if fb is not None:
            log(f"forward+backward, vocab {fb['vocab_size']:,}: {fb['fwd_bwd_s']:.4f}s")
        del model
        free_memory()
        if name == "qwen2.5-0.5b-config":

            def full_vocab() -> dict[str, Any]:
                full_cfg = qwen_config(tokenizer, QWEN_VOCAB, plan.qwen_overrides)
                full = build_qwen(full_cfg, tokenizer).to(device, dtype=torch.float32)
                return measure_fwd_bwd(full, device, plan, clock)

            fb = phase(entry, "full_vocab_fwd_bwd", full_vocab)
            free_memory()
            if fb is not None:
                log(f"forward+backward, full vocab {QWEN_VOCAB:,}: {fb['fwd_bwd_s']:.4f}s")
    result["complete"] = True
    result["failures"] = failures
    save()
    print()
    print(table(result))
    print(f"vocab handling: {vocab_text}")
    print(
        "mean turns per episode: "
        + ", ".join(f"{n} {m.get('grpo_step', {}).get('mean_turns', '?')}" for n, m in result["models"].items())
        + " (random weights write no tool calls, so a step is mostly one turn of generation)"
    )
    print(f"caveat: {CAVEAT}")
    print(f"total {result['wall_s']:.1f}s" + (f"; numbers written to {args.json}" if args.json else ""))
    if failures:
        print(f"FAILED: {'; '.join(failures)}", file=sys.stderr)
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda", help="where to run (default cuda)")
    parser.add_argument("--small", action="store_true", help="CPU smoke: small batches, a shrunk Qwen-config model")
    parser.add_argument("--json", metavar="OUT", help="write every number, the device and versions here")
    parser.add_argument(
        "--budget-s",
        type=float,
        default=360.0,
        help="after this many seconds every measurement stops after its first timed round (default 360)",
    )
    parser.add_argument(
        "--cache-dir", help="tiny tokenizer cache (default $TOOLUSE_MENTOR_CACHE or ~/.cache/tooluse-mentor)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    missing = missing_modules()
    if missing:
        print("gpu_check: cannot run, these Python modules do not import:", file=sys.stderr)
        for line in missing:
            print(f"  - {line}", file=sys.stderr)
        print(
            "install the project's [train] extra (torch, transformers, tokenizers, jinja2, safetensors) and its "
            "dependencies (gymnasium, jsonschema, numpy, tqdm), and run from the repository root with PYTHONPATH=.",
            file=sys.stderr,
        )
        return 3
    try:
        result = run(args)
    except DeviceUnavailable as exc:
        print(f"gpu_check: {exc}", file=sys.stderr)
        return 2
    return 1 if result["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())

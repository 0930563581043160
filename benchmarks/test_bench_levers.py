"""The CPU training levers, each alone and all together, against the fp32 path, side by side in one run.

Levers: ``bf16`` autocast (``precision``), ``shared-prefix`` (``share_prefix``: a prefix common to several
rows runs once), ``static-cache`` (``HFPolicy(kv_cache="static")``: the KV cache preallocated and written in
place; generation only), ``prefix_kv`` (``HFPolicy(prefix_kv=...)``: while decoding, ``shared`` keeps one
copy of a group's prefix keys and values and attends to it by cascade attention, ``copied`` expands it to
every row; generation only) and ``lora`` (rank-16 adapters, only they train; update and SFT only). Baseline
``fp32``: fp32 matmuls, no sharing, transformers' dynamic cache, every weight trained: the path before the
levers. ``all``: bf16 and shared prefixes with a shared prefix KV while decoding, the ``smollm2-135m`` preset's
defaults (the static cache was slower here, so it is an option, not a default); ``all`` also decodes with
the growing KV cache (``HFPolicy(kv_cache="growing")``, room for the turn allocated once, tokens written in
place); ``all-dynamic-cache`` is ``all`` on transformers' dynamic cache (a copy of every row's cache each
step), ``all-copied-kv`` that and the prefix KV copied to every row (the default before both);
``all+lora`` adds LoRA. Each row stores
``speedup_vs_fp32`` (the fp32 row's median / its own, same session).

Shapes are those of the target GRPO step (4 prompts x 8 samples, <= 128 new tokens a turn, Calculator
prompts of ~1,200 SmolLM2 tokens, most of them tool schemas):

* ``test_generation_turn``: one assistant turn for the 32 rows, EOS disabled so every variant decodes
  exactly ``NEW_TOKENS`` (sampled at temperature 0.6, top-p 0.99). extra_info: ``prefill_s`` and
  ``decode_step_s`` (``HFPolicy.timings``), from which a 128-token turn is ``prefill_s + 127 * decode_step_s``.
* ``test_logprob_pass``: the learner's no-grad log-prob pass (GRPO's old and reference log-probs) over
  one micro-batch: 4 samples of one task (teacher trajectories, so every variant scores the same tokens).
* ``test_update``: forward, backward and AdamW step on that micro-batch (``grpo._optimizer_update``).
* ``test_sft_step``: one SFT step on 4 teacher conversations of 4 Calculator tasks (one system prompt; with 8,
  the padded fp32 step was killed for memory at 23.8 GB on the 24 GB box).
  extra_info: ``tokens_per_s`` (every token of the batch) and ``trained_tokens_per_s`` (assistant tokens).
* ``test_grpo_learner``: the learner's half of a GRPO step (``grpo.update``: old and reference log-probs,
  one update per prompt) over 4 groups of 8 copies of a teacher trajectory, with micro-batches of half a
  group or a whole one (``split``); extra_info ``speedup_vs_half_group`` and the process's peak RSS so far
  (a peak: it tells the variants apart only when the lighter one ran first).
* ``test_grpo_step``: one real ``grpo_step`` with every default lever (``all``): 4 x 8 episodes of up to 5
  turns, then the PPO updates, for both ``split`` values; extra_info splits rollout and update time.
  The ``all`` rows of the first three tests add ``est_grpo_step_s`` for a one-turn step with micro-batches
  of 4 (the preset's value when they were written): turn + 16 log-prob passes (old and reference for 8
  micro-batches) + 8 updates.
* ``test_sft_batch_size``: the SFT step with every default lever at 4 and at 8 conversations (SmolLM2 only).

Presets: ``tiny`` (always; a smoke run) and ``smollm2-135m`` (timed runs only: ~30 minutes on 2 cores; skipped
under ``--benchmark-disable`` so ``make test`` stays short). One round each for SmolLM2 (a round is tens of
seconds), after a warm-up forward in both precisions at load. Threads: torch's default (2 on the CI box).
Run: ``pytest benchmarks/test_bench_levers.py --benchmark-only``.
"""

from __future__ import annotations

import copy
import resource
import time

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from bench_utils import oracle_conversations, preset_params, record_speedup, timed_model  # noqa: E402

from mentor_agents.policies import SamplingParams  # noqa: E402
from mentor_agents.policies.hf import HFPolicy  # noqa: E402
from mentor_agents.rollout import Trajectory, make_envs  # noqa: E402
from mentor_agents.teachers import conversation_ids  # noqa: E402
from mentor_agents.tokenizer import encode, render  # noqa: E402
from mentor_agents.train import grpo  # noqa: E402
from mentor_agents.train.common import make_optimizer, make_scheduler  # noqa: E402
from mentor_agents.train.config import LoRAConfig  # noqa: E402
from mentor_agents.train.lora import add_lora  # noqa: E402
from mentor_agents.train.precision import cpu_has_bf16  # noqa: E402
from mentor_agents.train.sft import sft_step  # noqa: E402

PROMPTS, GROUP, NEW_TOKENS = 4, 8, 16
SFT_CONVERSATIONS = 4  # 8 padded fp32 SmolLM2 conversations (full-vocab logits kept for backward) ran out of 24 GB
MICRO_BATCH = 4
SPLITS = ["half-group", "whole-group"]
"""GRPO micro-batches of half a group (the ``smollm2-135m`` preset's 4 of 8 before) or a whole one: the
prompt, shared by the group, runs once per micro-batch, so half groups run it twice per pass."""
LORA = LoRAConfig(rank=16)
SHAPES = {
    "tiny": dict(prompts=2, group=4, new_tokens=8),
    "smollm2-135m": dict(prompts=PROMPTS, group=GROUP, new_tokens=NEW_TOKENS),
}
ROUNDS = {"tiny": (3, 1), "smollm2-135m": (1, 0)}

BASE = dict(precision="fp32", share_prefix=False, kv_cache="dynamic", prefix_kv="shared", lora=False)
DEFAULTS = dict(kv_cache="growing")  # what HFPolicy decodes with unless told otherwise
LEVERS = {
    "fp32": {},
    "bf16": dict(precision="bf16"),
    "shared-prefix": dict(share_prefix=True),
    "static-cache": dict(kv_cache="static"),
    "lora": dict(lora=True),
    "all": dict(precision="bf16", share_prefix=True, **DEFAULTS),
    "all-dynamic-cache": dict(precision="bf16", share_prefix=True, kv_cache="dynamic"),
    "all-copied-kv": dict(precision="bf16", share_prefix=True, prefix_kv="copied", kv_cache="dynamic"),
    "all+lora": dict(precision="bf16", share_prefix=True, lora=True),
}


def variants(*names: str) -> list:
    """The named variants as params; bf16 ones skipped on a CPU without AMX/AVX-512-BF16."""
    out = []
    for name in names:
        bf16 = LEVERS[name].get("precision") == "bf16"
        marks = pytest.mark.skipif(bf16 and not cpu_has_bf16(), reason="CPU without AMX/AVX-512-BF16")
        out.append(pytest.param(name, marks=marks))
    return out


def settings(name: str) -> dict:
    return {**BASE, **LEVERS[name]}


_fp32_median: dict[str, float] = {}
_all_medians: dict[str, dict[str, float]] = {}


def _compare(benchmark, variant: str, preset: str, part: str | None = None) -> None:
    """Store the speed-up over this group's fp32 row; remember the ``all`` medians for the step estimate."""
    record_speedup(benchmark, _fp32_median, variant == "fp32")
    if benchmark.stats is None:
        return
    median = benchmark.stats.stats.median
    if variant == "all" and part is not None:
        parts = _all_medians.setdefault(preset, {})
        parts[part] = median
        if {"turn", "logprobs", "update"} <= parts.keys():
            turn = parts["turn"]
            benchmark.extra_info["est_grpo_step_s"] = round(turn + 16 * parts["logprobs"] + 8 * parts["update"], 1)


@pytest.fixture(scope="module", params=preset_params())
def preset(request, tmp_path_factory):
    skip = "SmolLM2 levers: timed runs only (~30 minutes on 2 cores)"
    model, tokenizer = timed_model(request, tmp_path_factory, skip)
    conversations = oracle_conversations(SFT_CONVERSATIONS)
    examples = [conversation_ids(tokenizer, c.messages, c.tools) for c in conversations]
    return request.param, model, tokenizer, examples


def _model_for(model, variant: dict):
    model = copy.deepcopy(model)
    if variant["lora"]:
        model, _ = add_lora(model, LORA)
    return model


def _prompts(tokenizer, prompts: int, group: int) -> list[list[int]]:
    """``group`` copies of each of ``prompts`` Calculator train prompts, as GRPO samples them."""
    env = make_envs("tooluse/Calculator-v0", 1, split="train")[0]
    rows = []
    for seed in range(prompts):
        _, info = env.reset(seed=seed)
        rows += [encode(tokenizer, render(tokenizer, info["messages"], info["tools"], True))] * group
    env.close()
    return rows


@pytest.mark.parametrize(
    "variant", variants("fp32", "bf16", "shared-prefix", "static-cache", "all-copied-kv", "all-dynamic-cache", "all")
)
def test_generation_turn(benchmark, preset, variant):
    name, model, tokenizer, _ = preset
    shape, v = SHAPES[name], settings(variant)
    benchmark.group = f"generation turn {name} {shape['prompts']}x{shape['group']} (CPU)"
    policy = HFPolicy(
        model, tokenizer, "cpu", torch.float32, precision=v["precision"], share_prefix=v["share_prefix"],
        kv_cache=v["kv_cache"], prefix_kv=v["prefix_kv"],
    )  # fmt: skip
    policy.stop_ids = set()  # no EOS: every variant decodes the same number of tokens
    rows = _prompts(tokenizer, shape["prompts"], shape["group"])
    new_tokens = shape["new_tokens"]
    timings: list[dict[str, float]] = []

    def turn() -> None:
        generations = policy.generate(rows, SamplingParams(0.6, 0.99, new_tokens, seed=0))
        assert all(len(g.token_ids) == new_tokens for g in generations)
        timings.append(dict(policy.timings))

    benchmark.pedantic(turn, rounds=ROUNDS[name][0], warmup_rounds=ROUNDS[name][1])
    last = timings[-1]  # HFPolicy.timings: prefill vs decode of the call
    decode_step = last["decode_s"] / max(1.0, last["decode_steps"])
    benchmark.extra_info |= {"prefill_s": round(last["prefill_s"], 2), "decode_step_s": round(decode_step, 3)}
    benchmark.extra_info["est_128_token_turn_s"] = round(last["prefill_s"] + 127 * decode_step, 1)
    if benchmark.stats is not None and variant == "all":  # the step estimate uses a 128-token turn
        _all_medians.setdefault(name, {})["turn"] = benchmark.extra_info["est_128_token_turn_s"]
    _compare(benchmark, variant, name)


def _group_trajectories(examples, group: int, task: int = 0) -> list[Trajectory]:
    """``group`` samples of one task (the teacher's trajectory each time) with rewards 1, 0, 1, 0, ..."""
    ids, mask = examples[task]
    return [
        Trajectory("fixed", ids, mask, [0.0] * len(ids), prompt_len=mask.index(1), reward=float(i % 2 == 0))
        for i in range(group)
    ]


def _cfg(v: dict) -> grpo.GRPOConfig:
    return grpo.GRPOConfig(
        prompts_per_step=1, group_size=MICRO_BATCH, micro_batch=MICRO_BATCH, ppo_mini_batch=1,
        precision=v["precision"], share_prefix=v["share_prefix"],
    )  # fmt: skip


@pytest.mark.parametrize("variant", variants("fp32", "bf16", "shared-prefix", "all"))
def test_logprob_pass(benchmark, preset, variant):
    name, model, _, examples = preset
    benchmark.group = f"log-prob pass {name} {MICRO_BATCH} samples (CPU)"
    v = settings(variant)
    trajs, cfg = _group_trajectories(examples, MICRO_BATCH), _cfg(v)
    model = _model_for(model, v)

    def logprobs() -> list:
        old, _ = grpo.learner_logprobs(model, None, trajs, cfg)
        return old

    old = benchmark.pedantic(logprobs, rounds=ROUNDS[name][0], warmup_rounds=ROUNDS[name][1])
    assert all(torch.isfinite(o).all() for o in old)
    benchmark.extra_info["tokens"] = sum(len(t.token_ids) for t in trajs)
    _compare(benchmark, variant, name, "logprobs")


@pytest.mark.parametrize("variant", variants("fp32", "bf16", "shared-prefix", "lora", "all", "all+lora"))
def test_update(benchmark, preset, variant):
    name, model, _, examples = preset
    benchmark.group = f"update {name} {MICRO_BATCH} samples (CPU)"
    v = settings(variant)
    trajs, cfg = _group_trajectories(examples, MICRO_BATCH), _cfg(v)
    model = _model_for(model, v)
    optimizer = make_optimizer(model, 1e-6)
    old, _ = grpo.learner_logprobs(model, None, trajs, cfg)
    advantages = grpo.group_advantages(torch.tensor([t.reward for t in trajs]), MICRO_BATCH)

    def update() -> dict:
        return grpo._optimizer_update(model, optimizer, trajs, advantages, old, None, range(len(trajs)), cfg)

    stats = benchmark.pedantic(update, rounds=ROUNDS[name][0], warmup_rounds=ROUNDS[name][1])
    assert stats["grad_norm"] > 0
    _compare(benchmark, variant, name, "update")


@pytest.mark.parametrize("variant", variants("fp32", "bf16", "shared-prefix", "lora", "all", "all+lora"))
def test_sft_step(benchmark, preset, variant):
    name, model, _, examples = preset
    benchmark.group = f"sft step {name} {len(examples)} conversations (CPU)"
    v = settings(variant)
    model = _model_for(model, v).train()
    optimizer = make_optimizer(model, 1e-5)

    def step() -> float:
        optimizer.zero_grad(set_to_none=True)
        loss = sft_step(model, examples, v["precision"], share_prefix=v["share_prefix"])
        loss.backward()
        optimizer.step()
        return loss.item()

    loss = benchmark.pedantic(step, rounds=ROUNDS[name][0], warmup_rounds=ROUNDS[name][1])
    assert loss == loss  # not NaN
    _tokens_per_s(benchmark, examples)
    _compare(benchmark, variant, name)


def _tokens_per_s(benchmark, examples) -> None:
    if benchmark.stats is not None:
        median = benchmark.stats.stats.median
        benchmark.extra_info["tokens_per_s"] = round(sum(len(ids) for ids, _ in examples) / median, 1)
        benchmark.extra_info["trained_tokens_per_s"] = round(sum(sum(m) for _, m in examples) / median, 1)


@pytest.mark.parametrize("conversations", [SFT_CONVERSATIONS, 2 * SFT_CONVERSATIONS])
def test_sft_batch_size(benchmark, preset, conversations):
    """SFT with every default lever (``all``) at the table's 4 conversations and at the preset's batch of 8
    (the shared system prompt runs once per batch either way)."""
    name, model, tokenizer, _ = preset
    if name != "smollm2-135m":
        pytest.skip(reason="the batch-size rows are about the SmolLM2 preset's batch of 8")
    benchmark.group = f"sft batch size {name} (CPU)"
    examples = [conversation_ids(tokenizer, c.messages, c.tools) for c in oracle_conversations(conversations)]
    precision = "bf16" if cpu_has_bf16() else "fp32"
    model = copy.deepcopy(model).train()
    optimizer = make_optimizer(model, 1e-5)

    def step() -> float:
        optimizer.zero_grad(set_to_none=True)
        loss = sft_step(model, examples, precision, share_prefix=True)
        loss.backward()
        optimizer.step()
        return loss.item()

    loss = benchmark.pedantic(step, rounds=1, warmup_rounds=1)  # the warm-up pays this shape's first-call costs
    assert loss == loss  # not NaN
    benchmark.extra_info["conversations"] = conversations
    _tokens_per_s(benchmark, examples)


_half_group_median: dict[str, float] = {}


def _step_config(name: str, split: str, **fields) -> grpo.GRPOConfig:
    """The target step's GRPO config (4 prompts x 8 samples for SmolLM2, one update per prompt), with
    micro-batches of half a group or a whole one."""
    shape = SHAPES[name]
    return grpo.GRPOConfig(
        prompts_per_step=shape["prompts"], group_size=shape["group"], ppo_mini_batch=1, lr=5e-6,
        micro_batch=shape["group"] // 2 if split == "half-group" else shape["group"],
        precision="bf16" if cpu_has_bf16() else "fp32", **fields,
    )  # fmt: skip


def _compare_split(benchmark, split: str) -> None:
    """``speedup_vs_half_group``: the half-group row's median / this row's (same group, same session)."""
    if benchmark.stats is None:
        return
    if split == "half-group":
        _half_group_median[benchmark.group] = benchmark.stats.stats.median
    elif benchmark.group in _half_group_median:
        ratio = _half_group_median[benchmark.group] / benchmark.stats.stats.median
        benchmark.extra_info["speedup_vs_half_group"] = round(ratio, 2)


@pytest.mark.parametrize("split", SPLITS)
def test_grpo_learner(benchmark, preset, split):
    """The learner's half of a step (old and reference log-probs, one update per prompt) on fixed trajectories."""
    name, model, _, examples = preset
    shape, cfg = SHAPES[name], _step_config(name, split)
    benchmark.group = f"grpo learner {name} {shape['prompts']}x{shape['group']} (CPU)"
    trajs = [t for task in range(shape["prompts"]) for t in _group_trajectories(examples, shape["group"], task)]
    advantages = grpo.group_advantages(torch.tensor([t.reward for t in trajs]), shape["group"])
    model = copy.deepcopy(model)
    ref = copy.deepcopy(model).eval().requires_grad_(False)
    optimizer = make_optimizer(model, cfg.lr)

    def learner() -> dict:
        return grpo.update(model, ref, optimizer, trajs, advantages, cfg)

    stats = benchmark.pedantic(learner, rounds=ROUNDS[name][0], warmup_rounds=ROUNDS[name][1])
    assert stats["updates"] == shape["prompts"] and stats["grad_norm"] > 0
    benchmark.extra_info |= {
        "micro_batch": cfg.micro_batch,
        "tokens": sum(len(t.token_ids) for t in trajs),
        "max_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
    }
    _compare_split(benchmark, split)


@pytest.mark.parametrize("split", SPLITS)
def test_grpo_step(benchmark, preset, split):
    """One real step with the preset's levers: sampled episodes (up to 5 turns of 128 tokens), then PPO."""
    name, model, tokenizer, _ = preset
    shape, cfg = SHAPES[name], _step_config(name, split, max_turns=5, max_new_tokens=128, top_p=0.99)
    benchmark.group = f"grpo step {name} {shape['prompts']}x{shape['group']} (CPU)"
    model = copy.deepcopy(model)
    policy = HFPolicy(model, tokenizer, dtype=torch.float32, precision=cfg.precision)
    ref = copy.deepcopy(model).eval().requires_grad_(False)
    optimizer = make_optimizer(model, cfg.lr)
    scheduler = make_scheduler(optimizer, 0)
    envs = make_envs("tooluse/Calculator-v0", cfg.prompts_per_step * cfg.group_size, split="train", max_turns=5)
    order = grpo.task_order(envs[0], 0)
    result: dict = {}

    def step() -> None:
        started = time.perf_counter()
        trajs, stats, rollout_s = grpo.grpo_step(
            cfg, 0, order[: cfg.prompts_per_step], envs, policy, tokenizer, model, ref, optimizer, scheduler
        )
        result.update(
            rollout_s=round(rollout_s, 1),
            update_s=round(time.perf_counter() - started - rollout_s, 1),
            generated_tokens=sum(t.generated_tokens for t in trajs),
            assistant_turns=sum(sum(m["role"] == "assistant" for m in t.messages) for t in trajs),
            tokens=sum(len(t.token_ids) for t in trajs),
        )

    try:
        benchmark.pedantic(step, rounds=1, warmup_rounds=0)
    finally:
        for env in envs:
            env.close()
    assert result["generated_tokens"] > 0
    benchmark.extra_info |= result | {"precision": cfg.precision, "micro_batch": cfg.micro_batch}
    _compare_split(benchmark, split)

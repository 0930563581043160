"""Trainer throughput on CPU for the ``tiny`` and ``smollm2-135m`` presets.

``test_generation_tokens_per_second``: ``HFPolicy.generate`` on a fixed batch, tokens/s.

``test_grpo_step_time``: one round is one call of ``mentor_agents.train.grpo.grpo_step``, the function
``train_grpo`` runs once per training step, set up the way ``train_grpo`` sets it up (in-process HF sampler,
no Ray): seeded rollout chunks of ``group_size`` multi-turn episodes of each of ``prompts_per_step`` tasks,
with the real env answering every tool call → group advantages → the learner's old log-probs and the frozen
reference model's log-probs, recomputed once per batch → ``ppo_epochs × prompts_per_step / ppo_mini_batch``
clipped updates → sampler sync and scheduler step. Successive rounds are successive training steps (next
tasks, next seeds, updated weights), as in a run.

* ``tiny``: the DEFAULT ``GRPOConfig()`` (4 tasks × 4 samples, at most 5 turns of at most 96 new tokens,
  kl_coef 0.001 so the reference model runs, ppo_mini_batch 1 → 4 updates). The randomly initialised tiny
  model never writes a tool call, so every episode would end after one turn; the step starts instead from the
  tiny model after a short SFT on oracle trajectories (``SFT_WARM_START``, untimed), as ``--method
  sft+mentor`` does, so episodes call tools and run several turns.
* ``smollm2-135m``: a default step would take many minutes on 2 CPUs, so a smaller explicit config
  (``GRPO_STEP``: 1 task × 2 samples, at most 2 turns of at most 48 new tokens, the reference model, 1
  update). Base SmolLM2-135M-Instruct answers in prose and has not written a tool call in our runs (nor in
  the leaderboard's 200 episodes), so its episodes end after the first turn, whatever ``max_turns`` allows;
  ``mean_turns`` in extra_info says what happened. Its prompt (system prompt with the tool schemas) is
  ~1,200 tokens, which is what makes the learner's forward/backward passes expensive.

``extra_info`` records the config actually run (``config``), what the episodes looked like (mean turns,
generated tokens, tool calls per episode) and where the step's time went: ``share_generation``
(``policy.generate``), ``share_env_steps`` (``env.step``, tool execution included), ``share_logprob_recompute``
(old + reference log-probs), ``share_ppo_updates`` (forward/backward/optimizer), ``share_learning`` (the
last two), ``share_other`` (the rest: chat-template rendering and tokenising tool turns, advantages, sync).

Run: ``pytest benchmarks/test_bench_agents.py --benchmark-only``. With ``--benchmark-disable``
(``make test``) each runs once as a smoke test.
"""

from __future__ import annotations

import copy
import statistics
import time

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from bench_utils import load_model, preset_params, record_rate  # noqa: E402

from mentor_agents.policies import SamplingParams  # noqa: E402
from mentor_agents.policies.hf import HFPolicy  # noqa: E402
from mentor_agents.rollout import make_envs  # noqa: E402
from mentor_agents.teachers import OracleTeacher  # noqa: E402
from mentor_agents.train import grpo  # noqa: E402
from mentor_agents.train.common import make_optimizer, make_scheduler  # noqa: E402
from mentor_agents.train.sft import SFTConfig, train_sft  # noqa: E402

# (batch of prompts, new tokens) for the generation benchmark: SmolLM2 is ~200x larger
GENERATION = {"tiny": (16, 32), "smollm2-135m": (2, 16)}
# GRPOConfig overrides per preset: none for tiny (the defaults); a smaller multi-turn step for SmolLM2
GRPO_STEP = {
    "tiny": {},
    "smollm2-135m": dict(prompts_per_step=1, group_size=2, max_turns=2, max_new_tokens=48),
}
GRPO_ROUNDS = {"tiny": 5, "smollm2-135m": 2}
# the untimed warm start before the tiny GRPO step: SFT on the first oracle conversations (None: no SFT)
SFT_WARM_START = {
    "tiny": (SFTConfig(steps=150, batch_size=8, lr=5e-3, warmup_steps=5, checkpoint_every=10**6), 256),
    "smollm2-135m": None,
}
PRESETS = preset_params()


@pytest.fixture(scope="module", params=PRESETS)
def preset(request, tmp_path_factory):
    return (request.param, *load_model(request.param, tmp_path_factory.mktemp("cache")))


class Timed:
    """Wraps an object and adds the time spent in one of its methods to ``seconds``."""

    def __init__(self, inner, method: str) -> None:
        self.inner, self.method, self.seconds = inner, method, 0.0

    def __getattr__(self, name):
        attr = getattr(self.inner, name)
        if name != self.method:
            return attr

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start

        return timed


def timed_function(function, seconds: list[float]):
    """``function`` that adds its run time to ``seconds[0]``."""

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            seconds[0] += time.perf_counter() - start

    return timed


def test_generation_tokens_per_second(benchmark, preset):
    name, model, tokenizer = preset
    batch, new_tokens = GENERATION[name]
    benchmark.group = f"{name} (CPU)"
    policy = HFPolicy(model, tokenizer, device="cpu")
    messages = [{"role": "user", "content": "What is 17 times 23? Use the tools."}]
    sampling = SamplingParams(temperature=1.0, top_p=1.0, max_new_tokens=new_tokens, seed=0)

    def generate() -> int:
        return sum(len(g.token_ids) for g in policy.generate([messages] * batch, sampling))

    tokens = benchmark.pedantic(generate, rounds=3, iterations=1)
    record_rate(benchmark, "tokens_per_s", tokens)


def _warm_start(name: str, model, tokenizer, out_dir):
    """A copy of the preset's model to train (the fixture's stays untouched), SFT'd first for tiny."""
    model = copy.deepcopy(model)
    if SFT_WARM_START[name] is None:
        return model
    sft_cfg, n_conversations = SFT_WARM_START[name]
    teacher = OracleTeacher()
    task_ids = [task.id for task in teacher.env.unwrapped.tasks[:n_conversations]]
    conversations = teacher.conversations(task_ids)
    teacher.env.close()
    return train_sft(sft_cfg, model, tokenizer, conversations, out_dir, progress=False)


def test_grpo_step_time(benchmark, preset, tmp_path, monkeypatch):
    """One ``grpo_step`` per round, exactly as ``train_grpo`` runs it (see the module docstring): tiny with
    the default GRPOConfig (4×4 episodes, ≤5 turns × ≤96 tokens, reference model, 4 updates) after an
    untimed 150-step SFT warm start; SmolLM2 base with 1×2 episodes, ≤2 turns × ≤48 tokens, reference
    model, 1 update (its episodes end after turn 1: it writes no tool call)."""
    name, model, tokenizer = preset
    benchmark.group = f"{name} (CPU)"
    cfg = grpo.GRPOConfig(**GRPO_STEP[name])
    model = _warm_start(name, model, tokenizer, tmp_path / "sft")

    # the set-up train_grpo does before its loop (in-process HF sampler, no Ray, fresh run)
    policy = HFPolicy(model, tokenizer, dtype=torch.float32)
    model = policy.model
    optimizer = make_optimizer(model, cfg.lr)
    scheduler = make_scheduler(optimizer, cfg.warmup_steps)
    ref_model = copy.deepcopy(model).eval().requires_grad_(False) if cfg.kl_coef > 0 else None
    batch = cfg.prompts_per_step * cfg.group_size
    env_kwargs = dict(split=cfg.split, reward=cfg.reward, max_turns=cfg.max_turns)
    envs = [Timed(env, "step") for env in make_envs(cfg.env_id, -(-batch // cfg.rollout_chunks), **env_kwargs)]
    order = grpo.task_order(envs[0], cfg.seed)

    # where the time goes: generation and env steps by wrapping the sampler and the envs, learning by
    # wrapping the two functions grpo.update calls (looked up in the module at call time)
    sampler = Timed(policy, "generate")
    recompute, updating = [0.0], [0.0]
    monkeypatch.setattr(grpo, "learner_logprobs", timed_function(grpo.learner_logprobs, recompute))
    monkeypatch.setattr(grpo, "_optimizer_update", timed_function(grpo._optimizer_update, updating))
    ref_forwards = [0]
    if ref_model is not None:
        ref_model.register_forward_hook(lambda *_: ref_forwards.__setitem__(0, ref_forwards[0] + 1))
    state = {"step": 0, "cursor": 0, "seconds": 0.0, "updates": [], "trajs": []}

    def step() -> None:
        started = time.perf_counter()
        tasks = [order[(state["cursor"] + i) % len(order)] for i in range(cfg.prompts_per_step)]
        trajs, stats, _ = grpo.grpo_step(
            cfg, state["step"], tasks, envs, sampler, tokenizer, model, ref_model, optimizer, scheduler
        )
        state["seconds"] += time.perf_counter() - started
        state["step"] += 1
        state["cursor"] += cfg.prompts_per_step
        state["updates"].append(stats["updates"])
        state["trajs"] += trajs

    try:
        benchmark.pedantic(step, rounds=GRPO_ROUNDS[name], iterations=1)
    finally:
        for env in envs:
            env.close()
    steps, total, trajs = state["step"], state["seconds"], state["trajs"]
    env_time = sum(env.seconds for env in envs)
    turns = [t.episode["turns"] for t in trajs]
    benchmark.extra_info["config"] = {
        "prompts_per_step": cfg.prompts_per_step,
        "group_size": cfg.group_size,
        "episodes_per_step": batch,
        "max_turns": cfg.max_turns,
        "max_new_tokens": cfg.max_new_tokens,
        "updates_per_step": statistics.fmean(state["updates"]),
        "reference_model": ref_forwards[0] > 0,
        "reference_forwards_per_step": ref_forwards[0] / steps,
        "sft_warm_start_steps": SFT_WARM_START[name][0].steps if SFT_WARM_START[name] else 0,
        "steps_run": steps,
    }
    benchmark.extra_info["mean_turns"] = round(statistics.fmean(turns), 2)
    benchmark.extra_info["multi_turn_episodes"] = round(sum(n > 1 for n in turns) / len(turns), 3)
    benchmark.extra_info["mean_generated_tokens"] = round(statistics.fmean(t.generated_tokens for t in trajs), 1)
    benchmark.extra_info["mean_sequence_tokens"] = round(statistics.fmean(len(t.token_ids) for t in trajs), 1)
    calls = [len(t.episode["tool_calls"]) for t in trajs]
    benchmark.extra_info["mean_tool_calls"] = round(statistics.fmean(calls), 2)
    benchmark.extra_info["mean_step_s"] = round(total / steps, 3)
    shares = {
        "generation": sampler.seconds,
        "env_steps": env_time,
        "logprob_recompute": recompute[0],
        "ppo_updates": updating[0],
        "learning": recompute[0] + updating[0],
    }
    shares["other"] = total - sampler.seconds - env_time - shares["learning"]
    for key, seconds in shares.items():
        benchmark.extra_info[f"share_{key}"] = round(seconds / total, 3)

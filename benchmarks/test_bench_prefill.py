"""Prefill of BFCL prompts: one left-padded batch against each prompt apart (``HFPolicy(prefill=...)``).

The workload is the first assistant turn of an evaluation batch on BFCL ``test_ood``: the first ``ROWS``
tasks of the ``paper`` protocol's 100-task stratified sample (sample seed 0, what ``mentor bench`` plays),
whose prompts carry each task's own function docs and so differ in length and share little. Greedy, EOS
disabled so every variant decodes exactly ``NEW_TOKENS``; the policy's default precision (what
``mentor eval`` runs with). Rows: ``batched`` (the baseline: one padded forward, with the shared-prefix
plan), ``apart`` (one forward per prompt, then one decode batch) and ``auto`` (whichever runs fewer
positions). extra_info: ``prefilled`` (what the row did; for ``auto``, what it chose), ``prefill_s`` and
``decode_s`` (``HFPolicy.timings``), the token positions each way runs (``apart_prefill``'s counts) and
``speedup_vs_batched`` (same session).

Presets: ``tiny`` (a smoke run) and ``smollm2-135m`` (timed runs only, a few minutes on 2 cores; skipped
under ``--benchmark-disable``). Run: ``pytest benchmarks/test_bench_prefill.py --benchmark-only``.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from bench_utils import preset_params, record_speedup, timed_model  # noqa: E402

from mentor_agents.apart_prefill import apart_positions, batched_positions  # noqa: E402
from mentor_agents.eval.run import EvalConfig, load_task_set, make_env  # noqa: E402
from mentor_agents.eval.slots import resolve_slots  # noqa: E402
from mentor_agents.policies import SamplingParams  # noqa: E402
from mentor_agents.policies.hf import HFPolicy  # noqa: E402
from mentor_agents.shared_prefix import plan_prefixes  # noqa: E402
from mentor_agents.tokenizer import encode, render  # noqa: E402

ROWS = {"tiny": 6, "smollm2-135m": 20}
NEW_TOKENS = {"tiny": 4, "smollm2-135m": 32}
_baseline: dict[str, float] = {}


def bfcl_prompts(tokenizer, rows: int) -> list[list[int]]:
    """The first turn's prompt ids of the first ``rows`` BFCL ``test_ood`` tasks ``mentor bench`` plays."""
    config = EvalConfig(agent="oracle", envs=["paper"], episodes=100, progress=False)
    slots = [s for s in resolve_slots(config.envs, config.splits) if "BFCL" in s.env_id]
    tasks = load_task_set(slots, config).tasks[0][:rows]
    env = make_env(slots[0], config)
    out = []
    for task in tasks:
        _, info = env.reset(seed=0, options={"task_id": task.id})
        out.append(encode(tokenizer, render(tokenizer, info["messages"], info["tools"], generation_prompt=True)))
    env.close()
    return out


@pytest.fixture(scope="module", params=preset_params())
def preset(request, tmp_path_factory):
    skip = "SmolLM2 prefill: timed runs only (a few minutes on 2 cores)"
    model, tokenizer = timed_model(request, tmp_path_factory, skip)
    return request.param, model, tokenizer, bfcl_prompts(tokenizer, ROWS[request.param])


@pytest.mark.parametrize("mode", ["batched", "apart", "auto"])
def test_prefill_mode(benchmark, preset, mode):
    name, model, tokenizer, prompts = preset
    benchmark.group = f"prefill BFCL first turn [{name}]"
    policy = HFPolicy(model, tokenizer, batch_size=len(prompts), prefill=mode)
    policy.stop_ids = set()  # no EOS: every variant decodes the same number of tokens
    greedy = SamplingParams(temperature=0.0, top_p=1.0, max_new_tokens=NEW_TOKENS[name])
    rounds = 1 if name != "tiny" else 3
    generations = benchmark.pedantic(policy.generate, args=(prompts, greedy), rounds=rounds, iterations=1)
    assert all(len(g.token_ids) == NEW_TOKENS[name] for g in generations)
    if mode != "auto":
        assert policy.last_prefill == mode
    benchmark.extra_info.update(
        prefilled=policy.last_prefill,
        prefill_s=round(policy.timings["prefill_s"], 2),
        decode_s=round(policy.timings["decode_s"], 2),
        apart_positions=apart_positions(prompts),
        batched_positions=batched_positions(prompts, plan_prefixes(prompts)),
    )
    record_speedup(benchmark, _baseline, mode == "batched", key="speedup_vs_batched")

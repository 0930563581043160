"""GRPO with rollouts collected on Ray actors: it trains, and it is reproducible for a fixed worker count."""

from __future__ import annotations

import json

import pytest

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'tooluse-mentor[ray]')")
torch = pytest.importorskip("torch")


@pytest.mark.slow
def test_grpo_with_ray_rollout_workers_trains_reproducibly(tmp_path, monkeypatch):
    from mentor_agents.grpo import GRPOConfig, train_grpo
    from mentor_agents.models import build_tiny_model
    from mentor_agents.tokenizer import load_tiny_tokenizer

    monkeypatch.setenv("TOOLUSE_MENTOR_CACHE", str(tmp_path / "cache"))
    tokenizer = load_tiny_tokenizer(tmp_path / "cache")
    cfg = GRPOConfig(steps=2, prompts_per_step=2, group_size=2, max_new_tokens=8, max_turns=1, ray_workers=2)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        runs = []
        for name in ("a", "b"):
            model = train_grpo(cfg, build_tiny_model(tokenizer, seed=0), tokenizer, tmp_path / name, progress=False)
            runs.append({k: v.detach().clone() for k, v in model.state_dict().items()})
    finally:
        ray.shutdown()
    rows = [json.loads(line) for line in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2] and all(r["generated_tokens"] > 0 for r in rows)
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])
    untrained = build_tiny_model(tokenizer, seed=0).state_dict()
    assert any(not torch.equal(untrained[k], runs[0][k]) for k in untrained)

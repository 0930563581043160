"""``mentor train`` end to end on tiny settings."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")

from mentor_agents.cli import main  # noqa: E402
from mentor_agents.cli.train import METHODS, apply_overrides  # noqa: E402
from mentor_agents.train.grpo import GRPOConfig  # noqa: E402
from tooluse_envs.rewards import REWARDS  # noqa: E402

TINY = ["--quiet", "--set", "prompts_per_step=1", "--set", "group_size=2", "--set", "max_new_tokens=8"]
TINY += ["--set", "max_turns=2", "--set", "batch_size=2", "--set", "checkpoint_every=1"]


def test_methods_cover_every_mentor_reward():
    for name in ("sft", "sparse", "mentor", "strict", "toolrl", "mentor_partial", "mentor_f1", "mentor_no_match"):
        assert name in METHODS and (name == "sft" or f"sft+{name}" in METHODS)


def test_overrides_are_typed():
    cfg = apply_overrides(
        GRPOConfig(), ["group_size=3", "lr=0.5", "reward=sparse", "ray_workers=2", "ray_address=auto"]
    )
    assert cfg.ray_address == "auto" and apply_overrides(cfg, ["ray_address=none"]).ray_address is None
    assert (cfg.group_size, cfg.lr, cfg.reward) == (3, 0.5, "sparse")
    with pytest.raises(SystemExit):
        main(["train", "--out", "unused", "--set", "no_such_field=1"])


def test_sft_then_mentor_trains_and_resumes(tmp_path, tiny_cache, monkeypatch):
    monkeypatch.setenv("TOOLUSE_MENTOR_CACHE", str(tiny_cache))
    out = tmp_path / "run"
    args = ["train", "--preset", "tiny", "--method", "sft+mentor", "--sft-steps", "2", "--out", str(out), *TINY]
    assert main([*args, "--steps", "1"]) == 0
    assert (out / "sft" / "metrics.jsonl").is_file() and (out / "final_model" / "config.json").is_file()
    assert main([*args, "--steps", "2", "--resume"]) == 0
    rows = [json.loads(line) for line in (out / "grpo" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]
    assert len((out / "sft" / "metrics.jsonl").read_text().splitlines()) == 2  # SFT was not redone


@pytest.mark.parametrize("method", [m for m in METHODS if not m.startswith("sft+")])
def test_every_method_runs_end_to_end_with_its_own_reward(tmp_path, tiny_cache, monkeypatch, method):
    monkeypatch.setenv("TOOLUSE_MENTOR_CACHE", str(tiny_cache))
    calls = {name: 0 for name in REWARDS}
    for name, fn in list(REWARDS.items()):  # spies: which reward did the env really compute?

        def spy(episode, reference, _fn=fn, _name=name):
            calls[_name] += 1
            return _fn(episode, reference)

        monkeypatch.setitem(REWARDS, name, spy)
    out = tmp_path / method
    assert main(["train", "--preset", "tiny", "--method", method, "--steps", "1", "--out", str(out), *TINY]) == 0
    row = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert row["step"] == 1 and (out / "final_model" / "config.json").is_file()
    if method != "sft":  # SFT optimises no reward (its validation episodes may score one)
        assert calls[method] == 2 and sum(calls.values()) == 2  # one group of 2 rollouts, scored by it alone
        assert "reward_mean" in row


def test_an_existing_run_is_neither_clobbered_nor_silently_continued(tmp_path, tiny_cache, monkeypatch):
    monkeypatch.setenv("TOOLUSE_MENTOR_CACHE", str(tiny_cache))
    out = tmp_path / "run"
    args = ["train", "--preset", "tiny", "--method", "sft", "--steps", "1", "--out", str(out), *TINY]
    assert main(args) == 0
    with pytest.raises(SystemExit, match="--resume"):
        main(args)
    assert main([*args, "--overwrite"]) == 0


def test_a_bad_grpo_config_fails_before_sft_runs(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(SystemExit, match="ray_workers=0"):
        main(["train", "--method", "sft+mentor", "--ray-address", "auto", "--out", str(out), "--quiet"])
    assert not (out / "sft").exists()

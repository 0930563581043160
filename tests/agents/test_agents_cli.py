"""``mentor train`` end to end on tiny settings, and its typed ``--sft.*`` / ``--grpo.*`` flags."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

pytest.importorskip("torch")

from mentor_agents.cli import build_parser, main  # noqa: E402
from mentor_agents.cli.train import METHODS, REMOVED, resolve  # noqa: E402
from mentor_agents.errors import UserError  # noqa: E402
from mentor_agents.train.config import NO_FLAG  # noqa: E402
from mentor_agents.train.grpo import GRPOConfig  # noqa: E402
from mentor_agents.train.methods import Method  # noqa: E402
from mentor_agents.train.sft import SFTConfig  # noqa: E402
from tooluse_envs.rewards import REWARDS  # noqa: E402

TINY_SFT = ["--sft.batch_size", "2", "--sft.checkpoint_every", "1"]
TINY_GRPO = ["--grpo.prompts_per_step", "1", "--grpo.group_size", "2", "--grpo.max_new_tokens", "8"]
TINY_GRPO += ["--grpo.max_turns", "2", "--grpo.checkpoint_every", "1"]


def tiny(method: str) -> list[str]:
    """Flags that keep a run of ``method`` short: only its own phases' flags are accepted."""
    parsed = Method.parse(method)
    return ["--quiet", *(TINY_SFT if parsed.sft else []), *(TINY_GRPO if parsed.reward else [])]


def parse(*flags: str):
    return resolve(build_parser().parse_args(["train", "--out", "unused", *flags]))


def metric_steps(path) -> list[int]:
    return [json.loads(line)["step"] for line in path.read_text().splitlines()]


def test_methods_cover_every_mentor_reward():
    for name in ("sft", "sparse", "mentor", "strict", "toolrl", "mentor_partial", "mentor_f1", "mentor_no_match"):
        assert name in METHODS and (name == "sft" or f"sft+{name}" in METHODS)


def test_every_phase_config_field_is_a_flag(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for prefix, cls in (("sft", SFTConfig), ("grpo", GRPOConfig)):
        for f in dataclasses.fields(cls):
            assert (f"--{prefix}.{f.name} " in text) == (f.name not in NO_FLAG[prefix]), f"--{prefix}.{f.name}"
    assert "AdamW learning rate" in text and "(default: 0.0001)" in text  # docstring and default as help


def test_lr_flags_reach_only_their_own_phase():
    sft_only = parse("--method", "sft+mentor", "--sft.lr", "0.5")
    assert sft_only.sft.lr == 0.5 and sft_only.grpo.lr == GRPOConfig().lr
    grpo_only = parse("--method", "sft+mentor", "--grpo.lr", "0.25")
    assert grpo_only.grpo.lr == 0.25 and grpo_only.sft.lr == SFTConfig().lr
    assert (parse("--method", "sft").grpo, parse("--method", "mentor").sft) == (None, None)


def test_flag_values_are_typed():
    cfg = parse("--grpo.dual_clip", "3", "--grpo.group_size", "3", "--grpo.ray_workers", "2")
    assert (cfg.grpo.dual_clip, cfg.grpo.group_size, cfg.grpo.ray_workers) == (3.0, 3, 2)
    assert isinstance(cfg.grpo.dual_clip, float) and isinstance(cfg.grpo.group_size, int)
    assert parse("--grpo.dual_clip", "3", "--grpo.dual_clip", "none").grpo.dual_clip is None
    with_ray = parse("--grpo.ray_workers", "1", "--grpo.ray_address", "auto")
    assert with_ray.grpo.ray_address == "auto"


@pytest.mark.parametrize(
    ("flag", "value"), [("--grpo.lr", "fast"), ("--grpo.group_size", "2.5"), ("--sft.steps", "none")]
)
def test_a_bad_value_exits_naming_its_flag(capsys, flag, value):
    with pytest.raises(SystemExit):
        parse("--method", "sft+mentor", flag, value)
    assert flag in capsys.readouterr().err


def test_run_level_values_reach_both_phases_unless_a_phase_sets_its_own():
    cfg = parse("--method", "sft+sparse", "--env", "tooluse/Other-v0", "--tasks-file", "t.jsonl", "--seed", "5")
    assert (cfg.grpo.env_id, cfg.grpo.tasks_file, cfg.grpo.reward) == ("tooluse/Other-v0", "t.jsonl", "sparse")
    assert (cfg.seed, cfg.sft.seed, cfg.grpo.seed) == (5, 5, 5)
    own = parse("--method", "sft+sparse", "--seed", "5", "--grpo.seed", "3")
    assert (own.seed, own.sft.seed, own.grpo.seed) == (5, 5, 3)
    for flag in ("--grpo.env_id", "--grpo.tasks_file", "--grpo.reward"):  # only from --env/--tasks-file/--method
        with pytest.raises(SystemExit):
            parse(flag, "x")


@pytest.mark.parametrize(("method", "flag"), [("sft", "--grpo.lr"), ("mentor", "--sft.steps"), ("sft", "--grpo.seed")])
def test_a_flag_of_a_phase_the_method_does_not_run_is_refused(method, flag):
    with pytest.raises(UserError, match=rf"{flag}: --method {method} has no"):
        parse("--method", method, flag, "1")


@pytest.mark.parametrize("flag", sorted(REMOVED))
def test_a_removed_flag_names_its_replacement(flag, capsys):
    assert main(["train", "--out", "unused", flag, "3"]) == 2
    assert re.fullmatch(rf"mentor train: {re.escape(flag)} is now .*--(sft|grpo)\..*\n", capsys.readouterr().err)


def test_removed_flag_messages_are_specific(capsys):
    assert main(["train", "--out", "unused", "--steps", "3"]) == 2
    assert "--steps is now --grpo.steps (or --sft.steps with --method sft)" in capsys.readouterr().err
    assert main(["train", "--out", "unused", "--set", "lr=0.5"]) == 2
    assert "--sft.lr 0.5 or --grpo.lr 0.5" in capsys.readouterr().err


def test_method_sft_trains_sft_steps_and_saves_its_config_first(tmp_path, tiny_cache, monkeypatch):
    import mentor_agents.train.sft as sft

    monkeypatch.setenv("TOOLUSE_MENTOR_CACHE", str(tiny_cache))
    out = tmp_path / "run"
    seen = {}
    train_sft = sft.train_sft

    def spy(cfg, *args, **kwargs):  # the config is on disk before training starts
        seen["config"] = json.loads((out / "config.json").read_text())
        return train_sft(cfg, *args, **kwargs)

    monkeypatch.setattr(sft, "train_sft", spy)
    args = ["train", "--preset", "tiny", "--method", "sft", "--sft.steps", "7", "--sft.lr", "0.002", "--seed", "4"]
    assert main([*args, "--out", str(out), *tiny("sft"), "--sft.checkpoint_every", "50"]) == 0
    assert metric_steps(out / "metrics.jsonl") == [1, 2, 3, 4, 5, 6, 7]
    assert json.loads((out / "checkpoints" / "latest.json").read_text())["path"].endswith("step_000007.pt")
    saved = json.loads((out / "config.json").read_text())
    assert saved == seen["config"]
    assert {k: saved[k] for k in ("version", "preset", "method", "env", "seed", "tasks_file", "grpo")} == {
        "version": 1,
        "preset": "tiny",
        "method": "sft",
        "env": "tooluse/Calculator-v0",
        "seed": 4,
        "tasks_file": None,
        "grpo": None,
    }
    assert saved["sft"] == dataclasses.asdict(SFTConfig(steps=7, lr=0.002, seed=4, batch_size=2, checkpoint_every=50))


def test_sft_then_mentor_trains_and_resumes_only_with_the_same_config(tmp_path, tiny_cache, monkeypatch, capsys):
    monkeypatch.setenv("TOOLUSE_MENTOR_CACHE", str(tiny_cache))
    out = tmp_path / "run"
    args = ["train", "--preset", "tiny", "--method", "sft+mentor", "--sft.steps", "2", "--out", str(out)]
    args += tiny("sft+mentor")
    assert main([*args, "--grpo.steps", "1"]) == 0
    assert (out / "sft" / "metrics.jsonl").is_file() and (out / "final_model" / "config.json").is_file()
    assert json.loads((out / "config.json").read_text())["grpo"]["steps"] == 1
    capsys.readouterr()
    assert main([*args, "--grpo.steps", "1", "--grpo.lr", "0.0002", "--resume"]) == 2
    refused = capsys.readouterr().err
    assert "grpo.lr: 0.0001 -> 0.0002" in refused and "sft." not in refused  # only what changed is listed
    assert main([*args, "--sft.steps", "3", "--grpo.steps", "1", "--resume"]) == 2
    assert "sft.steps: 2 -> 3" in capsys.readouterr().err  # SFT is over: its steps cannot grow
    assert main([*args, "--grpo.steps", "1", "--resume"]) == 0  # the same config: nothing left to do
    assert metric_steps(out / "grpo" / "metrics.jsonl") == [1]
    assert main([*args, "--grpo.steps", "2", "--resume"]) == 0  # the last phase may run longer
    assert metric_steps(out / "grpo" / "metrics.jsonl") == [1, 2]
    assert len((out / "sft" / "metrics.jsonl").read_text().splitlines()) == 2  # SFT was not redone
    assert json.loads((out / "config.json").read_text())["grpo"]["steps"] == 2


def test_resume_refuses_a_run_directory_without_a_config(tmp_path, capsys):
    out = tmp_path / "old-run"
    (out / "checkpoints").mkdir(parents=True)
    assert main(["train", "--method", "sft", "--out", str(out), "--resume", "--quiet"]) == 2
    assert "no config.json" in capsys.readouterr().err


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
    steps = ["--sft.steps", "1"] if method == "sft" else ["--grpo.steps", "1"]
    assert main(["train", "--preset", "tiny", "--method", method, *steps, "--out", str(out), *tiny(method)]) == 0
    row = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert row["step"] == 1 and (out / "final_model" / "config.json").is_file()
    if method != "sft":  # SFT optimises no reward (its validation episodes may score one)
        assert calls[method] == 2 and sum(calls.values()) == 2  # one group of 2 rollouts, scored by it alone
        assert "reward_mean" in row


def test_an_existing_run_is_neither_clobbered_nor_silently_continued(tmp_path, tiny_cache, monkeypatch, capsys):
    monkeypatch.setenv("TOOLUSE_MENTOR_CACHE", str(tiny_cache))
    out = tmp_path / "run"
    args = ["train", "--preset", "tiny", "--method", "sft", "--sft.steps", "1", "--out", str(out), *tiny("sft")]
    assert main(args) == 0
    assert main(args) == 2
    assert "--resume" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0


def test_a_bad_grpo_config_fails_before_sft_runs(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--method", "sft+mentor", "--grpo.ray_address", "auto", "--out", str(out), "--quiet"]) == 2
    assert "ray_workers=0" in capsys.readouterr().err
    assert not out.exists()

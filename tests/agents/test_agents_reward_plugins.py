"""A distillation method as a plugin: ``mentor train --method sft+pkg.module:fn``, ``mentor eval --reward
pkg.module:fn``, installed rewards (entry points ``tooluse_envs.rewards``), ``mentor bench`` cells, and the
path of docs/add-a-method.md from a new reward to a leaderboard row."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

from mentor_agents.bench.grid import EvalSettings, Grid, check_methods
from mentor_agents.cli import main
from mentor_agents.eval.run import EvalConfig
from mentor_agents.train.config import TrainConfig
from mentor_agents.train.methods import Method

PLUGIN = '''
calls = []


def my_reward(episode, reference):
    """1 for a correct answer, 0.2 for any boxed answer, else 0: a plain float."""
    calls.append(episode.task_id)
    if episode.correct:
        return 1.0
    return 0.2 if episode.has_answer else 0.0
'''


@pytest.fixture()
def mypkg(tmp_path, monkeypatch):
    """A package ``mypkg_plugin_test`` (rewards module) on ``sys.path`` and ``PYTHONPATH``, as a user's own is."""
    root = tmp_path / "src"
    (root / "mypkg_plugin_test").mkdir(parents=True)
    (root / "mypkg_plugin_test" / "__init__.py").write_text("")
    (root / "mypkg_plugin_test" / "rewards.py").write_text(textwrap.dedent(PLUGIN))
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("PYTHONPATH", str(root))
    yield root
    for name in [m for m in sys.modules if m.startswith("mypkg_plugin_test")]:
        del sys.modules[name]


SPEC = "mypkg_plugin_test.rewards:my_reward"


def fake_entry_points(**kwargs):
    assert kwargs == {"group": "tooluse_envs.rewards"}
    return metadata.EntryPoints([metadata.EntryPoint("my_reward", SPEC, "tooluse_envs.rewards")])


def test_a_method_may_name_a_reward_by_import_path(mypkg):
    assert Method.parse(f"sft+{SPEC}") == Method(f"sft+{SPEC}", sft=True, reward=SPEC)
    assert Method.parse(SPEC) == Method(SPEC, sft=False, reward=SPEC)
    cfg = TrainConfig.resolve(method=f"sft+{SPEC}")
    assert cfg.method == f"sft+{SPEC}" and cfg.grpo is not None and cfg.grpo.reward == SPEC


def test_an_installed_reward_is_saved_as_its_import_path(mypkg, monkeypatch, tmp_path):
    monkeypatch.setattr(metadata, "entry_points", fake_entry_points)
    cfg = TrainConfig.resolve(method="sft+my_reward")
    assert cfg.method == "sft+my_reward" and cfg.grpo is not None and cfg.grpo.reward == SPEC
    cfg.save(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["method"] == "sft+my_reward" and saved["grpo"]["reward"] == SPEC
    assert TrainConfig.load(tmp_path).changes(TrainConfig.resolve(method="sft+my_reward")) == []


def test_a_plugin_moved_elsewhere_is_a_config_change_on_resume(mypkg, monkeypatch):
    monkeypatch.setattr(metadata, "entry_points", fake_entry_points)
    before = TrainConfig.resolve(method="my_reward")
    moved = metadata.EntryPoint("my_reward", "mypkg_plugin_test.rewards:calls.append", "tooluse_envs.rewards")
    monkeypatch.setattr(metadata, "entry_points", lambda **kw: metadata.EntryPoints([moved]))
    after = TrainConfig.resolve(method="my_reward")
    assert before.changes(after) == [f'grpo.reward: "{SPEC}" -> "mypkg_plugin_test.rewards:calls.append"']


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("sft+no_such_pkg.rewards:fn", "mentor train: --method sft+no_such_pkg.rewards:fn: reward "),
        ("mypkg_plugin_test.rewards:gone", "has no attribute 'gone'"),
        ("sft+mentr", "mentor train: unknown method 'sft+mentr'; choose one of sft, outcome"),
    ],
)
def test_a_reward_that_cannot_be_loaded_is_one_line(mypkg, tmp_path, capsys, method, expected):
    out = tmp_path / "run"
    assert main(["train", "--method", method, "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()  # checked before --out is touched


def test_mentor_eval_refuses_an_unloadable_reward_in_one_line(tmp_path, capsys):
    out = tmp_path / "e.json"
    argv = ["eval", "--agent", "oracle", "--env", "tooluse/Calculator-v0", "--episodes", "1", "--out", str(out)]
    assert main([*argv, "--reward", "no_such_pkg:fn", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mentor eval: reward 'no_such_pkg:fn': cannot import 'no_such_pkg'") and err.count("\n") == 1
    assert not out.exists()


def test_eval_results_record_the_reward_and_its_path(mypkg, monkeypatch, tmp_path):
    monkeypatch.setattr(metadata, "entry_points", fake_entry_points)
    out = tmp_path / "o.json"
    argv = ["eval", "--agent", "oracle", "--env", "tooluse/Calculator-v0", "--split", "test_id", "--episodes", "2"]
    assert main([*argv, "--reward", "my_reward", "--quiet", "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    assert results["config"]["reward"] == "my_reward" and results["config"]["reward_path"] == SPEC
    assert results["results"][0]["metrics"]["reward_mean"] == 1.0  # the oracle is always right
    assert len(sys.modules["mypkg_plugin_test.rewards"].calls) == 2
    assert EvalConfig(agent="oracle", reward="mentor").reward_path() is None  # built-ins: fingerprint unchanged


def test_bench_takes_a_plugin_method_and_trains_its_cell_with_the_path(mypkg, monkeypatch, tmp_path):
    monkeypatch.setattr(metadata, "entry_points", fake_entry_points)
    assert check_methods(["base", SPEC, "my_reward"]) == ["base", SPEC, "my_reward"]
    with pytest.raises(ValueError, match="--start sft"):
        check_methods([f"sft+{SPEC}"])
    with pytest.raises(ValueError, match="cannot import 'no_such_pkg'"):
        check_methods(["no_such_pkg:fn"])
    settings = EvalSettings(envs=["tooluse/Calculator-v0"], episodes=2, reward="my_reward")
    grid = Grid.resolve("tiny", ["my_reward"], [0], grpo={"steps": 1}, eval=settings)
    cfg = grid.train_config(grid.cells(tmp_path)[0])
    assert cfg is not None and cfg.method == "my_reward" and cfg.grpo is not None and cfg.grpo.reward == SPEC


@pytest.mark.slow
def test_a_new_reward_goes_from_idea_to_a_leaderboard_row(mypkg, tmp_path, monkeypatch):
    """docs/add-a-method.md, end to end on the tiny preset: train sft+<plugin> (2 SFT steps, 1 GRPO step)
    scored by a reward that returns a float, evaluate it with that reward, build the leaderboard."""
    pytest.importorskip("torch")
    monkeypatch.setenv("TOOLUSE_MENTOR_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "runs" / "mine"
    train = ["train", "--preset", "tiny", "--method", f"sft+{SPEC}", "--out", str(run), "--quiet"]
    train += ["--sft.steps", "2", "--sft.batch_size", "2", "--grpo.steps", "1", "--grpo.prompts_per_step", "1"]
    train += ["--grpo.group_size", "2", "--grpo.max_new_tokens", "8", "--grpo.max_turns", "1", "--threads", "1"]
    assert main(train) == 0
    calls = sys.modules["mypkg_plugin_test.rewards"].calls
    assert len(calls) == 2  # one group of 2 rollouts, scored by the plugin
    config = json.loads((run / "config.json").read_text())
    assert config["method"] == f"sft+{SPEC}" and config["grpo"]["reward"] == SPEC
    last = json.loads((run / "grpo" / "metrics.jsonl").read_text().splitlines()[-1])
    assert "reward/reward" in last and "reward_mean" in last  # the float's one component

    results = tmp_path / "runs" / "mine.json"
    evaluate = ["eval", "--agent", f"hf:{run}", "--env", "tooluse/Calculator-v0", "--split", "test_id"]
    evaluate += ["--episodes", "2", "--reward", SPEC, "--max-new-tokens", "8", "--max-turns", "1", "--quiet"]
    assert main([*evaluate, "--threads", "1", "--out", str(results)]) == 0
    doc = json.loads(results.read_text())
    assert doc["config"]["reward"] == SPEC and doc["config"]["reward_path"] == SPEC and len(calls) == 4
    assert doc["agent"]["run"]["grpo"]["reward"] == SPEC  # the model's own run config travels with its results

    board = tmp_path / "leaderboard"
    assert main(["leaderboard", str(results), "--out", str(board)]) == 0
    assert f"hf:{run}" in (board / "leaderboard.md").read_text()


def test_a_local_ray_cluster_puts_plugin_directories_on_its_workers_path(mypkg, monkeypatch):
    """Ray actors build their envs from the same spec, so they must import the same module: a package on
    this process's ``sys.path`` only goes on the workers' ``PYTHONPATH``."""
    from mentor_agents.distributed import cluster

    monkeypatch.delenv("PYTHONPATH")
    Method.parse(f"sft+{SPEC}")  # resolving the method imports the plugin, as mentor train does first
    started = {}

    class FakeRay:
        @staticmethod
        def is_initialized():
            return False

        @staticmethod
        def init(**kwargs):
            started.update(kwargs)

    monkeypatch.setattr(cluster, "import_ray", lambda: FakeRay)
    monkeypatch.setattr(cluster, "_connected_address", None)
    cluster.ensure_ray(None)
    paths = started["runtime_env"]["env_vars"]["PYTHONPATH"].split(os.pathsep)
    assert paths[0] == str(Path(cluster.__file__).resolve().parents[2]) and str(mypkg.resolve()) in paths

"""The ``eval`` and ``leaderboard`` subcommands: registration, output files and model agents."""

from __future__ import annotations

import argparse
import json

import pytest

from mentor_agents.cli.eval import add_eval_commands, main
from mentor_agents.eval.run import validate_results


def test_commands_register_on_a_host_parser():
    parser = argparse.ArgumentParser(prog="mentor")
    add_eval_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["eval", "--agent", "oracle", "--env", "paper", "tooluse/SQL-v0", "--out", "x.json"])
    assert args.env == ["paper", "tooluse/SQL-v0"] and args.func.__name__ == "run_eval"
    assert parser.parse_args(["leaderboard", "a.json", "--out", "d"]).func.__name__ == "run_leaderboard"


def test_eval_command_writes_valid_results(tmp_path, capsys):
    out = tmp_path / "o.json"
    argv = ["eval", "--agent", "oracle", "--env", "tooluse/SQL-v0", "--episodes", "2", "--quiet", "--out", str(out)]
    assert main(argv) == 0
    validate_results(json.loads(out.read_text()))
    assert main([*argv, "--seed", "3"]) == 2
    assert "another config" in capsys.readouterr().err
    assert main(["eval", "--agent", "gpt-9", "--out", str(tmp_path / "x.json"), "--quiet"]) == 2
    assert "mentor eval: unknown agent" in capsys.readouterr().err


@pytest.mark.slow
def test_untrained_tiny_agent_runs_through_the_rollout_engine(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    monkeypatch.setenv("TOOLUSE_MENTOR_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "tiny.json"
    argv = ["eval", "--agent", "tiny", "--env", "tooluse/Calculator-v0", "--split", "test_id", "--episodes", "2"]
    argv += ["--max-new-tokens", "8", "--max-turns", "2", "--batch-size", "2", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    metrics = json.loads(out.read_text())["results"][0]["metrics"]
    assert metrics["n_episodes"] == 2 and metrics["tokens_generated"] > 0


@pytest.mark.slow
def test_a_model_agent_resumes_by_replaying_its_unfinished_batch_whole(tmp_path, monkeypatch):
    """Batched generation makes an episode depend on its batch, so a half-logged batch is replayed whole
    and only its missing rows are kept: the result equals an uninterrupted run."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    monkeypatch.setenv("TOOLUSE_MENTOR_CACHE", str(tmp_path / "cache"))
    argv = ["eval", "--agent", "tiny", "--env", "tooluse/Calculator-v0", "--split", "test_id", "--episodes", "4"]
    argv += ["--max-new-tokens", "6", "--max-turns", "1", "--batch-size", "2", "--temperature", "1.0", "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "full.json")]) == 0
    log = tmp_path / "cut.episodes.jsonl"
    log.write_text("".join((tmp_path / "full.episodes.jsonl").read_text().splitlines(keepends=True)[:2]))
    assert main([*argv, "--out", str(tmp_path / "cut.json")]) == 0  # header + 1 row of the first batch

    def rows(name):
        lines = (tmp_path / f"{name}.episodes.jsonl").read_text().splitlines()[1:]
        return sorted(json.dumps({k: v for k, v in json.loads(x).items() if k != "wall_s"}) for x in lines)

    assert rows("cut") == rows("full") and len(rows("cut")) == 4
    assert json.loads((tmp_path / "cut.json").read_text())["execution"]["resumed_episodes"] == 1


@pytest.mark.slow
def test_prefill_apart_plays_the_episodes_of_the_batched_prefill_and_is_part_of_the_config(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    monkeypatch.setenv("TOOLUSE_MENTOR_CACHE", str(tmp_path / "cache"))
    argv = ["eval", "--agent", "tiny", "--env", "tooluse/BFCL-v0", "--split", "test_ood", "--episodes", "3"]
    argv += ["--max-new-tokens", "6", "--max-turns", "2", "--batch-size", "3", "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "batched.json")]) == 0
    assert main([*argv, "--prefill", "apart", "--out", str(tmp_path / "apart.json")]) == 0

    def rows(name):
        lines = (tmp_path / f"{name}.episodes.jsonl").read_text().splitlines()[1:]
        return sorted(json.dumps({k: v for k, v in json.loads(x).items() if k != "wall_s"}) for x in lines)

    assert rows("apart") == rows("batched") and len(rows("apart")) == 3
    config = {name: json.loads((tmp_path / f"{name}.json").read_text())["config"] for name in ("apart", "batched")}
    options = {name: c["options"] for name, c in config.items()}
    assert options["apart"]["prefill"] == "apart"
    assert "prefill" not in options["batched"]  # as before the option existed: older episode files still resume
    assert main([*argv, "--prefill", "auto", "--out", str(tmp_path / "apart.json")]) == 2  # another config

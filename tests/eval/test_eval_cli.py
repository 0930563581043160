"""The ``eval`` and ``leaderboard`` subcommands: registration, output files and model agents."""

from __future__ import annotations

import argparse
import json

import pytest

from mentor_agents.eval_cli import add_eval_commands, main
from mentor_agents.evaluate import validate_results


def test_commands_register_on_a_host_parser():
    parser = argparse.ArgumentParser(prog="mentor")
    add_eval_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["eval", "--agent", "oracle", "--env", "paper", "tooluse/SQL-v0", "--out", "x.json"])
    assert args.env == ["paper", "tooluse/SQL-v0"] and args.func.__name__ == "run_eval"
    assert parser.parse_args(["leaderboard", "a.json", "--out", "d"]).func.__name__ == "run_leaderboard"


def test_eval_command_writes_valid_results(tmp_path):
    out = tmp_path / "o.json"
    argv = ["eval", "--agent", "oracle", "--env", "tooluse/SQL-v0", "--episodes", "2", "--quiet", "--out", str(out)]
    assert main(argv) == 0
    validate_results(json.loads(out.read_text()))
    with pytest.raises(SystemExit, match="another config"):
        main([*argv, "--seed", "3"])
    with pytest.raises(SystemExit, match="unknown agent"):
        main(["eval", "--agent", "gpt-9", "--out", str(tmp_path / "x.json"), "--quiet"])


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

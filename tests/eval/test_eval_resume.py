"""A ``mentor eval`` killed with SIGKILL resumes on rerun: no episode lost, none counted twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from eval_helpers import episode_rows, evaluate, metrics_without_time

ARGS = ["--agent", "random", "--env", "tooluse/Search-v0", "--split", "test_ood", "--episodes", "500", "--samples", "4"]
TOTAL = 500 * 4  # ~1 s of random-agent episodes after the kill point (40): enough margin to kill mid-run


def _cli(out, *extra: str) -> list[str]:
    return [sys.executable, "-m", "mentor_agents.cli.eval", "eval", *ARGS, "--out", str(out), "--quiet", *extra]


def test_sigkill_then_rerun_loses_and_doubles_nothing(tmp_path):
    out = tmp_path / "killed.json"
    jsonl = tmp_path / "killed.episodes.jsonl"
    proc = subprocess.Popen(_cli(out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not jsonl.exists() or jsonl.read_text().count("\n") < 40):
        assert proc.poll() is None, "the evaluation ended before it could be killed; make it longer"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    written = len(jsonl.read_text().splitlines()) - 1
    assert 0 < written < TOTAL and not out.exists()

    subprocess.run(_cli(out), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = episode_rows(jsonl)
    keys = [(r["task_id"], r["sample"]) for r in rows]
    assert len(keys) == len(set(keys)) == TOTAL
    resumed = json.loads(out.read_text())
    assert resumed["execution"]["resumed_episodes"] >= written - 1  # at most one torn line dropped
    fresh = evaluate(
        tmp_path / "fresh.json", "random", envs=["tooluse/Search-v0"], splits=["test_ood"], episodes=500, samples=4
    )
    assert metrics_without_time(resumed) == metrics_without_time(fresh)

"""The leaderboard renders as Markdown, a PNG, and an HTML page a headless Chromium can load and sort."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from mentor_agents.eval_cli import main
from mentor_agents.leaderboard import build_leaderboard

ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", "test-artifacts")) / "eval"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_markdown_rows_and_columns(baseline_runs, tmp_path):
    written = build_leaderboard(list(baseline_runs.values()), tmp_path)
    md = written["markdown"].read_text().splitlines()
    assert md[0].startswith("| Agent | Calculator ID | Calculator OOD | BFCL OOD | Search OOD | Mean success")
    assert [line.split("|")[1].strip() for line in md[2:]][0] == "oracle"  # best first
    assert {line.split("|")[1].strip() for line in md[2:]} == {"oracle", "no-tool", "random"}


def test_png_scatter(baseline_runs, tmp_path):
    pytest.importorskip("matplotlib")
    written = build_leaderboard(list(baseline_runs.values()), tmp_path)
    assert written["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_writes_all_three(baseline_runs, tmp_path, capsys):
    assert main(["leaderboard", *map(str, baseline_runs.values()), "--out", str(tmp_path / "lb")]) == 0
    assert (tmp_path / "lb" / "leaderboard.html").is_file() and (tmp_path / "lb" / "leaderboard.md").is_file()


def _chromium(*args: str, user_dir: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    cmd = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={user_dir}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=True)


@pytest.mark.skipif(
    not (shutil.which("chromium") or shutil.which("chromium-browser")),
    reason="chromium is not installed (run .ci/setup_browser.sh)",
)
def test_html_in_headless_chromium(baseline_runs, tmp_path):
    page = build_leaderboard(list(baseline_runs.values()), tmp_path / "lb")["html"]
    url = page.resolve().as_uri()
    dom = _chromium("--dump-dom", f"{url}#sort=tool_calls_per_task", user_dir=tmp_path / "profile").stdout
    agents = re.findall(r'<tr data-agent="([^"]+)"', dom)
    assert sorted(agents) == ["no-tool", "oracle", "random"]
    assert 'data-sorted="tool_calls_per_task:desc"' in dom, "the inline sort script did not run"
    assert agents[-1] == "no-tool"  # fewest tool calls last after sorting by calls, descending
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = (ARTIFACTS / "leaderboard.png").resolve()
    _chromium(f"--screenshot={shot}", "--window-size=1400,500", url, user_dir=tmp_path / "profile2")
    assert shot.read_bytes()[:4] == b"\x89PNG"
    print(f"leaderboard screenshot: {shot}")

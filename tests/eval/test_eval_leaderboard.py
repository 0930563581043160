"""The leaderboard renders as Markdown, a PNG, and an HTML page a headless Chromium can load and sort."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from mentor_agents.cli.eval import main
from mentor_agents.eval.leaderboard import build_leaderboard

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
    md = written["markdown"].read_text().split("\n\n")[0].splitlines()
    assert md[0].startswith("| Agent | Calculator ID | Calculator OOD | BFCL OOD (AST) | Search OOD | Mean score")
    assert [line.split("|")[1].strip() for line in md[2:]][0] == "oracle"  # best first
    assert {line.split("|")[1].strip() for line in md[2:]} == {"oracle", "no-tool", "random"}


def _table(markdown: str, caption: str | None = None) -> dict[str, dict[str, str]]:
    """The first Markdown table, or the one after the paragraph ``caption``, as {agent: {column: cell}}."""
    blocks = markdown.split("\n\n")
    if caption is not None:
        blocks = blocks[next(i for i, b in enumerate(blocks) if b.startswith(caption)) + 1 :]
    block = blocks[0].strip().splitlines()
    head = [cell.strip() for cell in block[0].strip("|").split("|")]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in block[2:]]
    return {row[0]: dict(zip(head[1:], row[1:], strict=True)) for row in rows}


def test_the_no_tool_agent_scores_on_bfcl_irrelevance_detection_only(baseline_runs, tmp_path):
    """Calling nothing is right on every irrelevance task; that shows as irrelevance detection, while the
    BFCL column (BFCL's AST summary) and every call-needing category give it nothing."""
    markdown = build_leaderboard(list(baseline_runs.values()), tmp_path)["markdown"].read_text()
    main_table = _table(markdown)
    assert main_table["no-tool"]["BFCL OOD (AST)"] == "0.0%" and main_table["oracle"]["BFCL OOD (AST)"] == "100.0%"
    bfcl = _table(markdown, "BFCL as BFCL reports it")
    no_tool = bfcl["no-tool"]
    assert no_tool["Irrelevance detection"] == "100.0%" and no_tool["irrelevance"] == "100.0%"
    assert no_tool["live_irrelevance"] == "100.0%" and no_tool["Relevance detection"] == "–"
    for column in ("AST (non-live + live)", "Non-live AST", "Live AST", "simple", "live_multiple", "parallel"):
        assert no_tool[column] == "0.0%", column
    assert set(bfcl["oracle"].values()) == {"100.0%", "–"}


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


def test_ood_success_is_tabled_per_axis(baseline_runs, tmp_path):
    doc = json.loads(baseline_runs["random"].read_text())
    ood = next(slot for slot in doc["results"] if slot["label"] == "Calculator OOD")
    ood["breakdown"]["axis"] = {
        "magnitude": {"n_tasks": 3, "n_episodes": 3, "success": 1 / 3},
        "unseen_tool": {"n_tasks": 2, "n_episodes": 2, "success": 0.5},
    }
    path = tmp_path / "random.json"
    path.write_text(json.dumps(doc))
    markdown = build_leaderboard([path, baseline_runs["oracle"]], tmp_path / "lb")["markdown"].read_text()
    axes = _table(markdown, "Out-of-domain success per axis")
    assert axes["random"]["Calculator OOD · magnitude"] == "33.3%"
    assert axes["random"]["Calculator OOD · unseen_tool"] == "50.0%"
    calculator = {k: v for k, v in axes["random"].items() if k.startswith("Calculator OOD")}
    assert set(calculator.values()) <= {"33.3%", "50.0%", "–"}  # axes only the other run has: not evaluated
    assert set(axes["oracle"].values()) <= {"100.0%", "–"}

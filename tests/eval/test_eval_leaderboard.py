"""The leaderboard renders as Markdown, a PNG, and an HTML page a headless Chromium can load and sort; it ranks
runs only against runs of the same protocol, shows mean reward, and keeps the PNG's labels apart."""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from eval_helpers import evaluate

from mentor_agents.cli.eval import main
from mentor_agents.eval.leaderboard import _overlap, build_leaderboard, place_labels

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


def _tables(markdown: str) -> list[str]:
    """The Markdown's table blocks, in order."""
    return [block.strip() for block in markdown.split("\n\n") if block.strip().startswith("|")]


def test_markdown_rows_and_columns(baseline_runs, tmp_path):
    written = build_leaderboard(list(baseline_runs.values()), tmp_path)
    markdown = written["markdown"].read_text()
    assert markdown.startswith(
        "## Protocol: Calculator ID, Calculator OOD, BFCL OOD, Search OOD · 10 episodes per slot"
    )
    assert "Not comparable" not in markdown and "Not ranked" not in markdown  # one protocol: one ranking
    md = _tables(markdown)[0].splitlines()
    assert md[0].startswith(
        "| Agent | Calculator ID | Calculator OOD | BFCL OOD (AST) | Search OOD | Mean score | Mean reward"
    )
    assert [line.split("|")[1].strip() for line in md[2:]][0] == "oracle"  # best first
    assert {line.split("|")[1].strip() for line in md[2:]} == {"oracle", "no-tool", "random"}


def _table(markdown: str, caption: str | None = None) -> dict[str, dict[str, str]]:
    """The first Markdown table, or the first after the paragraph ``caption``, as {agent: {column: cell}}."""
    blocks = markdown.split("\n\n")
    if caption is not None:
        blocks = blocks[next(i for i, b in enumerate(blocks) if b.startswith(caption)) + 1 :]
    block = _tables("\n\n".join(blocks))[0].splitlines()
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


CALCULATOR = "tooluse/Calculator-v0"


def test_runs_of_different_protocols_are_ranked_apart(baseline_runs, tmp_path, caplog):
    """The same agent over other slots, another episode count or another k is not ranked in the paper
    table: each protocol has its own table under a heading that states it, and a run no other run shares
    a protocol with gets a table marked as not ranked, with a warning on stderr (logging) too."""
    two = [
        evaluate(tmp_path / f"{a}-calc.json", a, envs=[CALCULATOR], splits=["test_id"]) for a in ("oracle", "random")
    ]
    assert all(doc["config"]["episodes"] == 4 for doc in two)
    evaluate(tmp_path / "oracle-k2.json", "oracle", envs=[CALCULATOR], splits=["test_id"], samples=2)
    runs = [*baseline_runs.values(), tmp_path / "oracle-calc.json", tmp_path / "random-calc.json"]
    with caplog.at_level(logging.WARNING, logger="mentor_agents.eval.leaderboard"):
        written = build_leaderboard([*runs, tmp_path / "oracle-k2.json"], tmp_path / "lb")
    markdown = written["markdown"].read_text()
    headings = [line for line in markdown.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Protocol: Calculator ID, Calculator OOD, BFCL OOD, Search OOD · 10 episodes per slot · k = 1 · "
        "reward outcome · at most 8 turns",
        "## Protocol: Calculator ID · 4 episodes per slot · k = 1 · reward outcome · at most 8 turns",
        "## Protocol: Calculator ID · 4 episodes per slot · k = 2 · reward outcome · at most 8 turns",
    ]
    sections = markdown.split("\n## ")[1:]  # one per protocol: its main table comes first
    tables = [[line.split("|")[1].strip() for line in _tables(s)[0].splitlines()[2:]] for s in sections]
    assert tables == [
        ["oracle", "no-tool", "random"],
        ["oracle [oracle-calc]", "random [random-calc]"],
        ["oracle (k=2)"],
    ]
    assert markdown.startswith("> **Not comparable:** These 6 runs follow 3 protocols; each table ranks only")
    unranked = "oracle (k=2): no other run here has this protocol, so it is not ranked against the others."
    assert f"> **Not ranked:** {unranked}" in markdown
    assert markdown.count("Not ranked") == 1  # the groups of several runs are ranked, within themselves
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("6 runs follow 3 protocols" in w for w in warnings) and any(unranked in w for w in warnings)
    page = written["html"].read_text()
    assert page.count("<table id='board") == 3 and page.count("class='board'") == 3
    assert f"Not ranked: {unranked}" in page and page.count("<h2 class='protocol'>") == 3


def test_the_order_of_slots_does_not_split_a_protocol(tmp_path, caplog):
    envs = [CALCULATOR, "tooluse/Search-v0"]
    evaluate(tmp_path / "oracle.json", "oracle", envs=envs, splits=["test_id"])
    evaluate(tmp_path / "random.json", "random", envs=envs[::-1], splits=["test_id"])
    with caplog.at_level(logging.WARNING, logger="mentor_agents.eval.leaderboard"):
        markdown = build_leaderboard([tmp_path / "oracle.json", tmp_path / "random.json"], tmp_path / "lb")
    text = markdown["markdown"].read_text()
    assert text.count("## Protocol") == 1 and "Not comparable" not in text and not caplog.records
    assert set(_table(text)) == {"oracle", "random"}


def test_mean_reward_is_the_mean_of_the_slots_reward_means(tmp_path):
    """Under MENTOR's reward the oracle's every episode scores 0.7 + 0.3 + 0.1; the column is the mean over
    the run's slots of each slot's mean episode reward, whatever the reward."""
    docs = {
        agent: evaluate(tmp_path / f"{agent}.json", agent, envs=[CALCULATOR], reward="mentor")
        for agent in ("oracle", "random")
    }
    table = _table(
        build_leaderboard([tmp_path / "oracle.json", tmp_path / "random.json"], tmp_path / "lb")["markdown"].read_text()
    )
    assert table["oracle"]["Mean reward"] == "1.100"
    slots = [slot["metrics"]["reward_mean"] for slot in docs["random"]["results"]]
    assert len(slots) == 2 and table["random"]["Mean reward"] == f"{sum(slots) / len(slots):.3f}"


def _boxes(anchors, sizes, offsets):
    return [
        (x + dx, y + dy, x + dx + w, y + dy + h)
        for (x, y), (w, h), (dx, dy) in zip(anchors, sizes, offsets, strict=True)
    ]


def test_labels_of_coinciding_points_do_not_overlap():
    anchors = [(100.0, 100.0)] * 7 + [(101.0, 99.0), (300.0, 50.0)]
    sizes = [(40.0 + 5 * i, 10.0) for i in range(len(anchors))]
    markers = [(x - 5, y - 5, x + 5, y + 5) for x, y in anchors]
    offsets = place_labels(anchors, sizes, markers, gap=6.0)
    boxes = _boxes(anchors, sizes, offsets)
    for a, b in itertools.combinations(boxes, 2):
        assert not _overlap(a, b), (a, b)
    assert not any(_overlap(box, marker) for box in boxes for marker in markers)
    assert offsets[0] == (6.0, 6.0)  # the first label: up and right of its point, clear of its marker
    assert offsets[-1][0] > 0 and offsets[-1][1] > 0  # a lone point keeps the upper right
    assert max(abs(dy) for _, dy in offsets) < 100  # fanned out near their points, not flung away


def test_png_with_runs_on_one_spot(baseline_runs, tmp_path):
    pytest.importorskip("matplotlib")
    oracle = baseline_runs["oracle"]
    written = build_leaderboard([oracle, oracle, oracle], tmp_path)  # three labels on one point
    assert written["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list(_table(written["markdown"].read_text())) == ["oracle", "oracle [oracle]", "oracle [oracle] #2"]


def test_labels_stay_inside_the_plot_where_there_is_room():
    """A point at the right edge gets its label on its left rather than cut off; an obstacle (a legend)
    is kept clear."""
    legend = (0.0, 150.0, 120.0, 200.0)
    offsets = place_labels(
        [(395.0, 100.0), (20.0, 170.0)], [(60.0, 10.0)] * 2, [legend], gap=6.0, bounds=(0, 0, 400, 200)
    )
    right_edge, under_legend = _boxes([(395.0, 100.0), (20.0, 170.0)], [(60.0, 10.0)] * 2, offsets)
    assert right_edge[2] <= 400 and right_edge[0] < 395
    assert not _overlap(under_legend, legend) and under_legend[3] <= 200

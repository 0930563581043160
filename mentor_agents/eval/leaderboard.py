"""``mentor leaderboard``: results JSON files -> Markdown table, static HTML page and a PNG scatter.

The HTML page is one self-contained file (inline CSS and a few lines of JS to sort columns; no
network), so it can be attached to a CI run or opened from disk. ``#sort=<column>`` in the URL sorts
on load, which is also how the headless-browser test checks that the script runs. The PNG is the
paper's view of "strategic competence": the tool-name distribution's similarity to the teacher's
(1 - JSD) against success, one point per run, with each env x split as a small marker. A file that
is not a results file of this version (not JSON, another ``schema_version``) is a ``UserError`` naming it.

Each env x split column shows the slot's ``headline``: success, except on BFCL where it is BFCL's AST
summary (``eval.bfcl``). Two more tables follow the main one: success per OOD axis of every
``test_ood`` slot, and BFCL per category with BFCL's summaries, irrelevance detection apart, so an agent
that never calls a tool shows its BFCL score where it belongs.

Runs are ranked only against runs of the same protocol (``Protocol``: the same env x split slots, episodes
per slot, k samples per task, reward and turn limit): one table per protocol, headed by it. Scores of
another slot set or sample size are not comparable (one model ranked above itself, 5.0% over two slots vs
3.6% over four), so a run whose protocol no other run shares gets its own table, marked as not ranked
against the others, and a warning is logged. "Mean reward" is the mean over the run's slots of their mean
episode reward (``metrics.reward_mean``), under the protocol's reward. Labels in the PNG are placed so no
two overlap (``place_labels``).
"""

from __future__ import annotations

import html
import itertools
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mentor_agents.errors import UserError
from mentor_agents.eval.schema import load_results

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Protocol:
    """What makes two runs' scores comparable: the same slots (a set), tasks per slot, samples per task (k),
    reward (and the code behind a plugin's name), turn limit and task file. ``labels`` only names the slots.

    Decoding settings (temperature, top-p, tokens per turn) are not part of it: they belong to the agent
    being ranked, as its model does, so a greedy and a sampled run of the same protocol share a table."""

    slots: tuple[str, ...]
    """Each slot's env id, split and env kwargs as sorted JSON; sorted, so the order of ``--env`` is no matter."""
    episodes: int | None
    samples: int
    reward: str
    max_turns: int
    reward_path: str | None = None
    tasks_file: str | None = None
    labels: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def of(cls, doc: dict[str, Any]) -> Protocol:
        """The protocol of a results document (its ``config``)."""
        config = doc["config"]
        slots = sorted(json.dumps(slot, sort_keys=True) for slot in config["slots"])
        return cls(
            slots=tuple(slots),
            episodes=config["episodes"],
            samples=config["samples"],
            reward=config["reward"],
            max_turns=config["max_turns"],
            reward_path=config.get("reward_path"),
            tasks_file=config.get("tasks_file"),
            labels=tuple(slot["label"] for slot in doc["results"]),
        )

    def describe(self) -> str:
        """One line: "Calculator ID, Calculator OOD · 50 episodes per slot · k = 1 · reward mentor · 8 turns"."""
        episodes = "all tasks" if self.episodes is None else f"{self.episodes} episodes"
        parts = [", ".join(self.labels), f"{episodes} per slot", f"k = {self.samples}", f"reward {self.reward}"]
        parts.append(f"at most {self.max_turns} turns")
        if self.tasks_file is not None:
            parts.append(f"tasks {self.tasks_file}")
        return " · ".join(parts)


@dataclass
class Row:
    """One run on the board."""

    label: str
    success: dict[str, float | None]
    """Headline score per env x split label ("Calculator ID", "BFCL OOD", ...); None: not computable."""
    summary: dict[str, float] = field(default_factory=dict)
    """Means over the run's slots (headline score, pass@k, tool calls, invalid rate, entropy, JS sim.)."""
    axes: dict[str, float] = field(default_factory=dict)
    """Success per "<slot label> · <axis>" of the run's test_ood slots."""
    bfcl: dict[str, float | None] = field(default_factory=dict)
    """BFCL's summaries and per-category accuracy, by column name (see ``BFCL_SUMMARY_COLUMNS``)."""
    similarity: dict[str, float] = field(default_factory=dict)
    """JS similarity per slot label (for the scatter)."""
    episodes: int = 0
    protocol: Protocol | None = None
    """What the run's scores may be ranked against (None: rows built by other reports, e.g. the bench's)."""


SUMMARY_COLUMNS = [
    ("success", "Mean score", "{:.1%}"),
    ("reward_mean", "Mean reward", "{:.3f}"),
    ("pass_at_k", "pass@k", "{:.1%}"),
    ("pass_hat_k", "pass^k", "{:.1%}"),
    ("tool_calls_per_task", "Calls/task", "{:.2f}"),
    ("unique_tools_per_task", "Unique tools", "{:.2f}"),
    ("invalid_call_rate", "Invalid calls", "{:.1%}"),
    ("tool_entropy", "Tool entropy", "{:.2f}"),
    ("js_similarity", "JS sim. to teacher", "{:.3f}"),
]


BFCL_SUMMARY_COLUMNS = [
    ("ast", "AST (non-live + live)"),
    ("non_live", "Non-live AST"),
    ("live", "Live AST"),
    ("irrelevance", "Irrelevance detection"),
    ("relevance", "Relevance detection"),
]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _slot_extras(slot: dict) -> tuple[dict[str, float], dict[str, float | None]]:
    """Per-axis success of a test_ood slot and the BFCL columns of a BFCL slot."""
    axes = {}
    if slot["split"] == "test_ood":
        for axis, group in slot["breakdown"].get("axis", {}).items():
            axes[f"{slot['label']} · {axis}"] = group["success"]
    bfcl: dict[str, float | None] = {}
    if "bfcl" in slot:
        bfcl.update({key: slot["bfcl"]["summary"][key] for key, _ in BFCL_SUMMARY_COLUMNS})
        bfcl.update({name: c["accuracy"] for name, c in slot["bfcl"]["categories"].items()})
    return axes, bfcl


def load_rows(paths: list[str | Path]) -> tuple[list[Row], list[str]]:
    """Validated rows sorted by mean success (best first), and the slot columns in first-seen order."""
    rows, columns = [], []
    for path in paths:
        doc = load_results(path)  # a file that is not a results file: UserError naming it
        samples = doc["config"]["samples"]
        slots = doc["results"]
        for slot in slots:
            if slot["label"] not in columns:
                columns.append(slot["label"])
        metrics = [s["metrics"] for s in slots]
        summary = {key: _mean([m[key] for m in metrics]) for key, _, _ in SUMMARY_COLUMNS if "_k" not in key}
        headlines = [s["headline"]["value"] for s in slots]
        summary["success"] = _mean([v for v in headlines if v is not None])
        axes: dict[str, float] = {}
        bfcl: dict[str, float | None] = {}
        for slot in slots:
            slot_axes, slot_bfcl = _slot_extras(slot)
            axes.update(slot_axes)
            bfcl.update(slot_bfcl)
        for key in ("pass_at_k", "pass_hat_k"):  # of the headline: on BFCL, BFCL's AST summary of pass@k
            values = [s["headline"][key][str(samples)] for s in slots]
            summary[key] = _mean([v for v in values if v is not None])
        rows.append(
            Row(
                label=doc["agent"]["spec"] + (f" (k={samples})" if samples > 1 else ""),
                success={s["label"]: s["headline"]["value"] for s in slots},
                summary=summary,
                axes=axes,
                bfcl=bfcl,
                similarity={s["label"]: s["metrics"]["js_similarity"] for s in slots},
                episodes=sum(m["n_episodes"] for m in metrics),
                protocol=Protocol.of(doc),
            )
        )
        rows[-1].label = _unique(rows[-1].label, [r.label for r in rows[:-1]], Path(path).stem)
    rows.sort(key=lambda r: -r.summary["success"])
    return rows, columns


def _unique(label: str, taken: list[str], stem: str) -> str:
    """The label, else with its file's stem, else numbered too: every row (table row, PNG point) is named once."""
    if label not in taken:
        return label
    named = f"{label} [{stem}]"
    if named not in taken:
        return named
    return next(f"{named} #{n}" for n in itertools.count(2) if f"{named} #{n}" not in taken)


@dataclass
class Group:
    """The runs of one protocol, best first, and their slot columns: one table, ranked within itself only."""

    protocol: Protocol | None
    rows: list[Row]
    columns: list[str]
    ranked: bool = True
    """False for a run no other run shares its protocol with, when the board holds other runs."""

    def heading(self) -> str:
        return "Protocol: " + (self.protocol.describe() if self.protocol else "unknown")

    def warning(self) -> str | None:
        """What to say about this table: None when it ranks comparable runs."""
        if self.ranked:
            return None
        labels = ", ".join(row.label for row in self.rows)
        return f"{labels}: no other run here has this protocol, so it is not ranked against the others."


def group_rows(rows: list[Row], columns: list[str]) -> list[Group]:
    """Rows grouped by protocol: the largest group first (ties: the best run first), each keeping the rows'
    order and the slot columns its runs have, in ``columns``' order."""
    by_protocol: dict[Protocol | None, list[Row]] = {}
    for row in rows:
        by_protocol.setdefault(row.protocol, []).append(row)
    order = sorted(by_protocol.values(), key=lambda group: -len(group))  # stable: ties keep the best-first order
    several = len(order) > 1
    groups = []
    for members in order:
        used = [c for c in columns if any(c in row.success for row in members)]
        groups.append(Group(members[0].protocol, members, used, ranked=not (several and len(members) == 1)))
    return groups


def protocol_notes(groups: list[Group]) -> list[str]:
    """The board's warnings: runs of several protocols (first; the pages open with it), then each run comparable
    to no other one (the pages say it above that run's table; the log says them all)."""
    if len(groups) < 2:
        return []
    runs = sum(len(group.rows) for group in groups)
    notes = [f"These {runs} runs follow {len(groups)} protocols; each table ranks only the runs of its own protocol."]
    return notes + [w for group in groups if (w := group.warning()) is not None]


def _cell(value: float | None) -> tuple[str, float]:
    return ("–", -1.0) if value is None else (f"{value:.1%}", value)


def _cells(row: Row, columns: list[str]) -> list[tuple[str, float | str]]:
    """(text, sort value) per column."""
    out: list[tuple[str, float | str]] = [(row.label, row.label)]
    for col in columns:
        out.append(_cell(row.success.get(col)))
    for key, _, fmt in SUMMARY_COLUMNS:
        out.append((fmt.format(row.summary[key]), row.summary[key]))
    out.append((str(row.episodes), float(row.episodes)))
    return out


def headers(columns: list[str]) -> list[str]:
    return ["Agent", *(_title(c) for c in columns), *(title for _, title, _ in SUMMARY_COLUMNS), "Episodes"]


def _title(column: str) -> str:
    """BFCL slot columns hold BFCL's AST summary, not success: the header says so."""
    return f"{column} (AST)" if column.startswith("BFCL ") else column


def axis_columns(rows: list[Row]) -> list[str]:
    return sorted({key for row in rows for key in row.axes})


def bfcl_columns(rows: list[Row]) -> list[tuple[str, str]]:
    """(key, title): BFCL's summaries first, then every category seen, in BFCL's order."""
    from mentor_agents.eval.bfcl import IRRELEVANCE, LIVE_AST, NON_LIVE_AST

    seen = {key for row in rows for key in row.bfcl}
    if not seen:
        return []
    categories = [c for c in (*NON_LIVE_AST, *LIVE_AST, *IRRELEVANCE) if c in seen]
    return [*BFCL_SUMMARY_COLUMNS, *((c, c) for c in categories)]


def _table(head: list[str], body: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    return lines + ["| " + " | ".join(cells) + " |" for cells in body]


def to_markdown(groups: list[Group]) -> str:
    """Per protocol: a heading, the main table, then OOD success per axis and BFCL per category when the
    runs have them. Warnings about protocols come first, as quotes."""
    lines = [f"> **Not comparable:** {note}" for note in protocol_notes(groups)[:1]]
    for group in groups:
        lines += ["", f"## {group.heading()}", ""] if lines else [f"## {group.heading()}", ""]
        if (warning := group.warning()) is not None:
            lines += [f"> **Not ranked:** {warning}", ""]
        lines += _group_markdown(group.rows, group.columns)
    return "\n".join(lines) + "\n"


def _group_markdown(rows: list[Row], columns: list[str]) -> list[str]:
    lines = _table(headers(columns), [[text for text, _ in _cells(row, columns)] for row in rows])
    if axes := axis_columns(rows):
        lines += ["", "Out-of-domain success per axis (test_ood tasks tagged axis:<name>):", ""]
        lines += _table(["Agent", *axes], [[row.label, *(_cell(row.axes.get(a))[0] for a in axes)] for row in rows])
    if bfcl := bfcl_columns(rows):
        lines += ["", "BFCL as BFCL reports it (AST summaries; irrelevance detection apart; – = not evaluated):", ""]
        body = [[row.label, *(_cell(row.bfcl.get(key))[0] for key, _ in bfcl)] for row in rows]
        lines += _table(["Agent", *(title for _, title in bfcl)], body)
    return lines


_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse}th,td{padding:.35em .7em;border-bottom:1px solid #ddd;text-align:right}
th:first-child,td:first-child{text-align:left}th{cursor:pointer;background:#f4f4f4;user-select:none}
th.asc::after{content:" \\25B2"}th.desc::after{content:" \\25BC"}tr:hover td{background:#fafafa}
caption{caption-side:bottom;padding-top:1em;color:#666;font-size:.9em;text-align:left}
.warning{background:#fff4e5;border-left:4px solid #e69500;padding:.5em 1em}"""

_SCRIPT = """(function(){
const m=location.hash.match(/sort=([^&]+)/);
document.querySelectorAll('table.board').forEach(table=>{
  const body=table.tBodies[0], ths=[...table.tHead.rows[0].cells];
  function sortBy(i, desc){
    const rows=[...body.rows];
    rows.sort((a,b)=>{const x=a.cells[i].dataset.v, y=b.cells[i].dataset.v;
      const nx=parseFloat(x), ny=parseFloat(y);
      const c=(isNaN(nx)||isNaN(ny))?x.localeCompare(y):nx-ny; return desc?-c:c;});
    rows.forEach(r=>body.appendChild(r));
    ths.forEach(t=>t.classList.remove('asc','desc')); ths[i].classList.add(desc?'desc':'asc');
    table.dataset.sorted=ths[i].dataset.key+(desc?':desc':':asc');
  }
  ths.forEach((th,i)=>th.addEventListener('click',()=>sortBy(i, !th.classList.contains('desc'))));
  if(m){const i=ths.findIndex(t=>t.dataset.key===decodeURIComponent(m[1])); if(i>=0) sortBy(i, i>0);}
});
})();"""

NOTE = (
    "Scores are pass@1 success (mean over samples), except BFCL columns: BFCL's AST summary, irrelevance "
    "detection reported apart (table below); mean reward is the mean episode reward under the protocol's "
    "reward; pass@k and pass^k use the unbiased estimators at k = samples; JS sim. is 1 - Jensen-Shannon "
    "divergence (base 2) of the tool-name distribution to the teacher's. Each table ranks the runs of one "
    "protocol only. Click a column to sort."
)


def to_html(groups: list[Group], title: str) -> str:
    """A static page: the protocol warnings, then per protocol a heading and its sortable table (``data-v``
    holds each cell's sort value, ``data-key`` each column's key) with its per-axis and BFCL tables."""
    notes = "".join(f"<p class='warning'>{html.escape(note)}</p>\n" for note in protocol_notes(groups)[:1])
    sections = "".join(_html_group(group, i) for i, group in enumerate(groups))
    return (
        f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>\n{notes}{sections}"
        f"<p class='note'>{NOTE}</p>\n<script>{_SCRIPT}</script></body></html>\n"
    )


def _html_group(group: Group, index: int) -> str:
    """One protocol's section; the first table keeps the id ``board`` (``board-2``, ... after it)."""
    suffix = "" if index == 0 else f"-{index + 1}"
    columns = group.columns
    keys = ["agent", *columns, *(k for k, _, _ in SUMMARY_COLUMNS), "episodes"]
    head = "".join(
        f'<th data-key="{html.escape(k)}">{html.escape(h)}</th>' for k, h in zip(keys, headers(columns), strict=True)
    )
    body = []
    for row in group.rows:
        tds = "".join(f'<td data-v="{html.escape(str(v))}">{html.escape(t)}</td>' for t, v in _cells(row, columns))
        body.append(f'<tr data-agent="{html.escape(row.label)}">{tds}</tr>')
    warning = group.warning()
    out = f"<h2 class='protocol'>{html.escape(group.heading())}</h2>\n"
    out += f"<p class='warning'>Not ranked: {html.escape(warning)}</p>\n" if warning is not None else ""
    out += (
        f"<table id='board{suffix}' class='board'><thead><tr>{head}</tr></thead>"
        f"<tbody>\n{chr(10).join(body)}\n</tbody></table>\n"
    )
    return out + _extra_tables(group.rows, suffix)


def _static_table(table_id: str, title: str, head: list[str], body: list[list[str]]) -> str:
    ths = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>" for cells in body)
    table = f"<table id='{table_id}'><thead><tr>{ths}</tr></thead><tbody>{trs}</tbody></table>"
    return f"<h3>{html.escape(title)}</h3>\n{table}\n"


def _extra_tables(rows: list[Row], suffix: str = "") -> str:
    """The per-axis and BFCL tables (not sortable: few rows, and the main table's script stays simple)."""
    out = ""
    if axes := axis_columns(rows):
        body = [[row.label, *(_cell(row.axes.get(a))[0] for a in axes)] for row in rows]
        out += _static_table(f"axes{suffix}", "Out-of-domain success per axis", ["Agent", *axes], body)
    if bfcl := bfcl_columns(rows):
        body = [[row.label, *(_cell(row.bfcl.get(key))[0] for key, _ in bfcl)] for row in rows]
        out += _static_table(f"bfcl{suffix}", "BFCL per category", ["Agent", *(t for _, t in bfcl)], body)
    return out


Box = tuple[float, float, float, float]
"""x0, y0, x1, y1."""


def _overlap(a: Box, b: Box) -> bool:
    """Whether two boxes share area (touching edges do not count)."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _candidates(width: float, height: float, gap: float, rings: int) -> Iterator[tuple[float, float]]:
    """Lower-left corners, relative to an anchor, around it: eight per ring, upper right first (where a lone
    label reads best), each ring one label height (and a gap) further out than the last."""
    for ring in range(rings):
        d = gap + ring * (height + gap)
        right, left, up, down = d, -d - width, d, -d - height
        middle, centre = -height / 2, -width / 2
        yield from ((right, up), (right, down), (left, up), (left, down))
        yield from ((right, middle), (left, middle), (centre, up), (centre, down))


def place_labels(
    anchors: list[tuple[float, float]],
    sizes: list[tuple[float, float]],
    obstacles: list[Box] | None = None,
    gap: float = 4.0,
    bounds: Box | None = None,
    rings: int = 60,
) -> list[tuple[float, float]]:
    """Offsets (lower-left corner relative to the anchor, in the anchors' units) that keep every label's box
    clear of the others' and of ``obstacles`` (markers, legends): greedy, in order, each label takes the first
    free candidate around its anchor (``_candidates``) that lies within ``bounds`` (the plot area, so no label
    is cut off at the edge), else the first free one anywhere. Labels of points that coincide fan out instead
    of printing over each other. Only if ``rings`` rings hold no free spot does a label take the last one."""
    taken: list[Box] = list(obstacles or [])
    offsets = []
    for (x, y), (width, height) in zip(anchors, sizes, strict=True):
        free_outside: tuple[float, float] | None = None
        chosen: tuple[float, float] | None = None
        for dx, dy in _candidates(width, height, gap, rings):
            box = (x + dx, y + dy, x + dx + width, y + dy + height)
            if any(_overlap(box, other) for other in taken):
                continue
            if bounds is None or _inside(box, bounds):
                chosen = (dx, dy)
                break
            free_outside = free_outside or (dx, dy)
        dx, dy = chosen or free_outside or (dx, dy)
        taken.append((x + dx, y + dy, x + dx + width, y + dy + height))
        offsets.append((dx, dy))
    return offsets


def _inside(box: Box, bounds: Box) -> bool:
    return bounds[0] <= box[0] and bounds[1] <= box[1] and box[2] <= bounds[2] and box[3] <= bounds[3]


def _far(offset: tuple[float, float], size: tuple[float, float], gap: float) -> bool:
    """Whether a label's box is far enough from its anchor to need a leader line."""
    (dx, dy), (width, height) = offset, size
    nearest_x = min(max(0.0, dx), dx + width)
    nearest_y = min(max(0.0, dy), dy + height)
    return (nearest_x**2 + nearest_y**2) ** 0.5 > 2 * gap


def _label_runs(fig: Any, ax: Any, points: list[tuple[float, float, str]], fontsize: float = 8) -> None:
    """Annotate each run's point with its label where ``place_labels`` finds room (points: the figure's
    final layout must be set, as anchors are taken in display space)."""
    renderer = fig.canvas.get_renderer()
    scale = 72.0 / fig.dpi  # display pixels -> points, the unit of "offset points"
    anchors, sizes = [], []
    for x, y, label in points:
        px, py = ax.transData.transform((x, y))
        anchors.append((px * scale, py * scale))
        probe = ax.text(0, 0, label, fontsize=fontsize)
        extent = probe.get_window_extent(renderer=renderer)
        probe.remove()
        sizes.append((extent.width * scale, extent.height * scale))
    marker = 5.5  # half the width of a run's marker (s=90 points^2), in points
    obstacles = [(cx - marker, cy - marker, cx + marker, cy + marker) for cx, cy in anchors]
    obstacles += [_points_box(legend.get_window_extent(renderer), scale) for legend in _legends(ax)]
    gap = marker + 1.5  # so the nearest spots clear the point's own marker
    bounds = _points_box(ax.get_window_extent(renderer), scale)
    offsets = place_labels(anchors, sizes, obstacles, gap=gap, bounds=bounds)
    for (x, y, label), offset, size in zip(points, offsets, sizes, strict=True):
        arrow = {"arrowstyle": "-", "lw": 0.5, "color": "grey"} if _far(offset, size, gap) else None
        ax.annotate(
            label, (x, y), textcoords="offset points", xytext=offset, ha="left", va="bottom",
            fontsize=fontsize, arrowprops=arrow,
        )  # fmt: skip


def _points_box(extent: Any, scale: float) -> Box:
    """A matplotlib display-space ``Bbox`` as a ``Box`` in points."""
    return (extent.x0 * scale, extent.y0 * scale, extent.x1 * scale, extent.y1 * scale)


def _legends(ax: Any) -> list[Any]:
    """The axes' legends: the one ``ax.legend`` made last and any added as artists before it."""
    found = [artist for artist in ax.artists if type(artist).__name__ == "Legend"]
    return found + ([ax.get_legend()] if ax.get_legend() is not None else [])


def plot_similarity(rows: list[Row], path: Path) -> Path | None:
    """Similarity to the teacher vs success; None when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    markers = "osD^v<>p*h"
    slot_marker: dict[str, str] = {}
    points: list[tuple[float, float, str]] = []
    for i, row in enumerate(rows):
        color = f"C{i % 10}"
        for col, sim in sorted(row.similarity.items()):
            marker = slot_marker.setdefault(col, markers[len(slot_marker) % len(markers)])
            rate = row.success.get(col)
            if rate is not None:
                ax.scatter(sim, rate, s=18, alpha=0.45, color=color, marker=marker)
        x, y = row.summary["js_similarity"], row.summary["success"]
        ax.scatter(x, y, s=90, color=color, edgecolor="black", zorder=3, label=row.label)
        points.append((x, y, row.label))
    ax.set_xlabel("tool-distribution similarity to the teacher (1 - JSD)")
    ax.set_ylabel("score (pass@1; BFCL: AST summary)")
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.05, 1.05)
    ax.grid(alpha=0.3)
    ax.set_title("Strategic competence: similarity to the teacher vs success")
    ax.add_artist(ax.legend(fontsize=7, loc="upper left"))
    slot_handles = [
        plt.Line2D([], [], linestyle="", marker=m, color="grey", alpha=0.6, label=col) for col, m in slot_marker.items()
    ]
    if slot_handles:  # the small markers: one per env x split
        ax.legend(handles=slot_handles, fontsize=6, loc="center left", title="per slot", title_fontsize=6)
    fig.tight_layout()  # before the labels: their places are worked out in the final layout's display space
    _label_runs(fig, ax, points)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def build_leaderboard(paths: list[str | Path], out: str | Path, title: str = "tooluse-mentor leaderboard") -> dict:
    """Write ``leaderboard.md``, ``leaderboard.html`` and (with matplotlib) ``similarity.png`` into ``out``."""
    if not paths:
        raise UserError("no results files given")
    rows, columns = load_rows(paths)
    groups = group_rows(rows, columns)
    for note in protocol_notes(groups):
        logger.warning("mentor leaderboard: %s", note)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {"markdown": out / "leaderboard.md", "html": out / "leaderboard.html"}
    written["markdown"].write_text(to_markdown(groups))
    written["html"].write_text(to_html(groups, title))
    png = plot_similarity(rows, out / "similarity.png")
    if png is not None:
        written["png"] = png
    return written

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
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

from mentor_agents.errors import UserError
from mentor_agents.eval.schema import load_results


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


SUMMARY_COLUMNS = [
    ("success", "Mean score", "{:.1%}"),
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
            )
        )
        rows[-1].label = _unique(rows[-1].label, [r.label for r in rows[:-1]], Path(path).stem)
    rows.sort(key=lambda r: -r.summary["success"])
    return rows, columns


def _unique(label: str, taken: list[str], stem: str) -> str:
    return label if label not in taken else f"{label} [{stem}]"


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


def to_markdown(rows: list[Row], columns: list[str]) -> str:
    """The main table, then OOD success per axis and BFCL per category when the runs have them."""
    lines = _table(headers(columns), [[text for text, _ in _cells(row, columns)] for row in rows])
    if axes := axis_columns(rows):
        lines += ["", "Out-of-domain success per axis (test_ood tasks tagged axis:<name>):", ""]
        lines += _table(["Agent", *axes], [[row.label, *(_cell(row.axes.get(a))[0] for a in axes)] for row in rows])
    if bfcl := bfcl_columns(rows):
        lines += ["", "BFCL as BFCL reports it (AST summaries; irrelevance detection apart; – = not evaluated):", ""]
        body = [[row.label, *(_cell(row.bfcl.get(key))[0] for key, _ in bfcl)] for row in rows]
        lines += _table(["Agent", *(title for _, title in bfcl)], body)
    return "\n".join(lines) + "\n"


_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse}th,td{padding:.35em .7em;border-bottom:1px solid #ddd;text-align:right}
th:first-child,td:first-child{text-align:left}th{cursor:pointer;background:#f4f4f4;user-select:none}
th.asc::after{content:" \\25B2"}th.desc::after{content:" \\25BC"}tr:hover td{background:#fafafa}
caption{caption-side:bottom;padding-top:1em;color:#666;font-size:.9em;text-align:left}"""

_SCRIPT = """(function(){
const table=document.getElementById('board'), body=table.tBodies[0], ths=[...table.tHead.rows[0].cells];
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
const m=location.hash.match(/sort=([^&]+)/);
if(m){const i=ths.findIndex(t=>t.dataset.key===decodeURIComponent(m[1])); if(i>=0) sortBy(i, i>0);}
})();"""


def to_html(rows: list[Row], columns: list[str], title: str) -> str:
    """A static page; ``data-v`` holds each cell's sort value, ``data-key`` each column's key."""
    keys = ["agent", *columns, *(k for k, _, _ in SUMMARY_COLUMNS), "episodes"]
    head = "".join(
        f'<th data-key="{html.escape(k)}">{html.escape(h)}</th>' for k, h in zip(keys, headers(columns), strict=True)
    )
    body = []
    for row in rows:
        tds = "".join(f'<td data-v="{html.escape(str(v))}">{html.escape(t)}</td>' for t, v in _cells(row, columns))
        body.append(f'<tr data-agent="{html.escape(row.label)}">{tds}</tr>')
    note = (
        "Scores are pass@1 success (mean over samples), except BFCL columns: BFCL's AST summary, irrelevance "
        "detection reported apart (table below); pass@k and pass^k use the unbiased estimators at k = samples; "
        "JS sim. is 1 - Jensen-Shannon divergence (base 2) of the tool-name distribution to the teacher's. "
        "Click a column to sort."
    )
    return (
        f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>\n"
        f"<table id='board'><caption>{note}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>\n{chr(10).join(body)}\n</tbody></table>\n{_extra_tables(rows)}<script>{_SCRIPT}</script>"
        "</body></html>\n"
    )


def _static_table(table_id: str, title: str, head: list[str], body: list[list[str]]) -> str:
    ths = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>" for cells in body)
    table = f"<table id='{table_id}'><thead><tr>{ths}</tr></thead><tbody>{trs}</tbody></table>"
    return f"<h2>{html.escape(title)}</h2>\n{table}\n"


def _extra_tables(rows: list[Row]) -> str:
    """The per-axis and BFCL tables (not sortable: few rows, and the main table's script stays simple)."""
    out = ""
    if axes := axis_columns(rows):
        body = [[row.label, *(_cell(row.axes.get(a))[0] for a in axes)] for row in rows]
        out += _static_table("axes", "Out-of-domain success per axis", ["Agent", *axes], body)
    if bfcl := bfcl_columns(rows):
        body = [[row.label, *(_cell(row.bfcl.get(key))[0] for key, _ in bfcl)] for row in rows]
        out += _static_table("bfcl", "BFCL per category", ["Agent", *(t for _, t in bfcl)], body)
    return out


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
    at_point: dict[tuple[float, float], list[str]] = {}  # agents that land on the same spot share one label
    for i, row in enumerate(rows):
        color = f"C{i % 10}"
        for col, sim in sorted(row.similarity.items()):
            marker = slot_marker.setdefault(col, markers[len(slot_marker) % len(markers)])
            rate = row.success.get(col)
            if rate is not None:
                ax.scatter(sim, rate, s=18, alpha=0.45, color=color, marker=marker)
        x, y = row.summary["js_similarity"], row.summary["success"]
        ax.scatter(x, y, s=90, color=color, edgecolor="black", zorder=3, label=row.label)
        at_point.setdefault((round(x, 3), round(y, 3)), []).append(row.label)
    for (x, y), labels in at_point.items():
        ax.annotate(", ".join(labels), (x, y), textcoords="offset points", xytext=(6, 6), fontsize=8)
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
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def build_leaderboard(paths: list[str | Path], out: str | Path, title: str = "tooluse-mentor leaderboard") -> dict:
    """Write ``leaderboard.md``, ``leaderboard.html`` and (with matplotlib) ``similarity.png`` into ``out``."""
    if not paths:
        raise UserError("no results files given")
    rows, columns = load_rows(paths)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {"markdown": out / "leaderboard.md", "html": out / "leaderboard.html"}
    written["markdown"].write_text(to_markdown(rows, columns))
    written["html"].write_text(to_html(rows, columns, title))
    png = plot_similarity(rows, out / "similarity.png")
    if png is not None:
        written["png"] = png
    return written

"""How long the rest of a grid will take, judged from the cells that have finished.

A SmolLM2 grid runs for hours in resumable pieces, so "how much is left?" is the first thing its runner
asks. Every finished cell records its training wall time (``trained.json``) and its evaluation's
(``eval.json``: ``execution.wall_s``), so the estimate is the median of those per kind of cell (``sft``,
RL, and the untrained ``base``), for the parts the unfinished cells still need. A training that was
resumed timed only its last stretch and is left out; a resumed evaluation's time is scaled to all its
episodes; a cell stopped part-way through a part is charged the whole part. Medians, because a cell run
beside other jobs runs slow. It is serial cell time at this machine's past rates (with ``--workers N``
the wall clock is shorter), and it names the kinds it has no measurement for yet.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def cell_kind(method: str) -> str:
    """``base`` (no training), ``sft``, or ``rl`` (every reward method): cells of one kind cost alike."""
    return method if method in ("base", "sft") else "rl"


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _number(value: Any) -> float | None:
    """``value`` as a finite, non-negative float; None for anything else (a damaged record)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def train_seconds(train_record: Path) -> float | None:
    """The training wall time a finished cell recorded (None: not trained, not recorded, or resumed: a
    resumed training timed only its last stretch)."""
    record = _dict(_read(train_record))
    return None if record.get("resumed") else _number(record.get("wall_s"))


def eval_seconds(eval_path: Path) -> float | None:
    """An evaluation's wall time scaled to all its episodes: a resumed one timed only the episodes it played."""
    return _eval_seconds(_dict(_read(eval_path)))


def _eval_seconds(results: dict[str, Any]) -> float | None:
    execution = _dict(results.get("execution"))
    wall, slots = _number(execution.get("wall_s")), results.get("results")
    if not wall or not isinstance(slots, list):
        return None
    counts = [_number(_dict(_dict(slot).get("metrics")).get("n_episodes")) for slot in slots]
    if not counts or None in counts:
        return None
    episodes = sum(c for c in counts if c is not None)
    played = episodes - (_number(execution.get("resumed_episodes", 0)) or 0.0)
    if episodes <= 0 or played <= 0:
        return None
    return _number(wall * (episodes / played))


@dataclass(frozen=True)
class TimeLeft:
    """Seconds the unfinished cells need at the finished cells' rates, and what could not be estimated."""

    seconds: float
    cells_left: int
    unmeasured: list[str]
    """``"<part> of <kind> cells"`` for each part some unfinished cell needs and no finished cell measured."""

    def describe(self) -> str:
        if self.cells_left == 0:
            return "no cells left"
        if self.seconds == 0 and self.unmeasured:
            return f"{self.cells_left} cell(s) left, no estimate yet (no finished cell has measured what they need)"
        text = f"{self.cells_left} cell(s) left, about {self.seconds / 3600:.1f} h at the finished cells' rates"
        if self.unmeasured:
            text += f" (not counting {', '.join(self.unmeasured)}: none has finished yet)"
        return text


def time_left(cells: Sequence[Any], reuses_evaluation: Callable[[Any], bool] = lambda cell: False) -> TimeLeft:
    """Estimate for ``cells`` (the grid's ``Cell`` objects: ``method``, ``train_record``, ``eval_path``,
    ``trained()``, ``evaluated()``); ``reuses_evaluation(cell)``: the cell will copy a twin's evaluation
    (it costs nothing)."""
    train: dict[str, list[float]] = {}
    evaluate: dict[str, list[float]] = {}
    counted: set[tuple[str, str]] = set()
    done = {id(cell): cell.evaluated() for cell in cells}  # validates eval.json: once per cell
    for cell in cells:
        kind = cell_kind(cell.method)
        seconds = train_seconds(cell.train_record)
        if seconds is not None:
            train.setdefault(kind, []).append(seconds)
        if not done[id(cell)]:
            continue
        results = _dict(_read(cell.eval_path))
        once = (str(results.get("created_at")), str(_dict(results.get("execution")).get("wall_s")))
        seconds = _eval_seconds(results)
        if seconds is not None and once not in counted:  # a reused evaluation is a copy: count it once
            counted.add(once)
            evaluate.setdefault(kind, []).append(seconds)
    total, left, unmeasured = 0.0, 0, []
    for cell in cells:
        if done[id(cell)]:
            continue
        left += 1
        kind = cell_kind(cell.method)
        parts = [] if cell.trained() else [("training", train)]
        if not reuses_evaluation(cell):
            parts.append(("evaluation", evaluate))
        for part, measured in parts:
            if measured.get(kind):
                total += statistics.median(measured[kind])
            elif f"{part} of {kind} cells" not in unmeasured:
                unmeasured.append(f"{part} of {kind} cells")
    return TimeLeft(total, left, unmeasured)

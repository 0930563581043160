"""The grid's time-left estimate: medians of the finished cells' recorded wall times, per kind of cell."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mentor_agents.bench.eta import eval_seconds, time_left, train_seconds


@dataclass
class FakeCell:
    """What the estimate reads of a grid cell, backed by the same two files."""

    method: str
    path: Path

    @property
    def train_record(self) -> Path:
        return self.path / "trained.json"

    @property
    def eval_path(self) -> Path:
        return self.path / "eval.json"

    def trained(self) -> bool:
        return self.train_record.is_file()

    def evaluated(self) -> bool:
        return self.eval_path.is_file()


def _results(wall_s: float, resumed: int = 0, created: str = "t", slots: int = 4, episodes: int = 100) -> dict:
    return {
        "created_at": created,
        "execution": {"wall_s": wall_s, "resumed_episodes": resumed},
        "results": [{"metrics": {"n_episodes": episodes}}] * slots,
    }


def _cell(
    root: Path, name: str, train_s: float | None = None, results: dict | None = None, resumed: bool = False
) -> FakeCell:
    method = name.split("/")[0]
    cell = FakeCell(method, root / name)
    cell.path.mkdir(parents=True)
    if train_s is not None:
        cell.train_record.write_text(json.dumps({"wall_s": train_s, "resumed": resumed}))
    if results is not None:
        cell.eval_path.write_text(json.dumps(results))
    return cell


def test_unfinished_cells_cost_the_median_of_their_kinds_missing_parts(tmp_path):
    cells = [
        _cell(tmp_path, "sft/seed0", 100, _results(1000, created="a")),
        _cell(tmp_path, "sparse/seed0", 300, _results(2000, created="b")),
        _cell(tmp_path, "mentor/seed0", 500, _results(4000, created="c")),
        _cell(tmp_path, "mentor_no_match/seed0", 400, _results(3000, created="d")),
        _cell(tmp_path, "sft/seed1"),  # nothing yet: sft training + sft evaluation
        _cell(tmp_path, "sparse/seed1", 350),  # trained: RL evaluation only
    ]
    estimate = time_left(cells)
    assert estimate.cells_left == 2 and estimate.unmeasured == []
    assert estimate.seconds == pytest.approx(100 + 1000 + 3000)  # RL evaluations: median of 2000, 3000, 4000
    assert "2 cell(s) left, about 1.1 h" in estimate.describe()


def test_a_reused_evaluation_costs_nothing_and_its_copies_count_once(tmp_path):
    same = _results(900, created="base-eval")
    cells = [
        _cell(tmp_path, "base/seed0", 20, same),
        _cell(tmp_path, "base/seed1", 20, same),  # a copy of seed 0's evaluation
        _cell(tmp_path, "base/seed2", 20, _results(300, created="another")),
        _cell(tmp_path, "base/seed3"),  # reuses an evaluation: training only
        _cell(tmp_path, "base/seed4"),
    ]
    estimate = time_left(cells, lambda cell: cell.path.name == "seed3")
    assert estimate.seconds == pytest.approx(20 + 20 + 600)  # evaluations 900 (once) and 300: median 600


def test_a_resumed_training_is_not_a_measurement(tmp_path):
    cells = [
        _cell(tmp_path, "sft/seed0", 1000, _results(100, created="a")),
        _cell(tmp_path, "sft/seed1", 50, _results(100, created="b"), resumed=True),  # its last stretch only
        _cell(tmp_path, "sft/seed2"),
    ]
    assert time_left(cells).seconds == pytest.approx(1000 + 100)


def test_a_resumed_evaluation_is_scaled_to_all_its_episodes(tmp_path):
    path = tmp_path / "eval.json"
    path.write_text(json.dumps(_results(500, resumed=300, slots=4, episodes=100)))
    assert eval_seconds(path) == pytest.approx(500 * 400 / 100)
    path.write_text(json.dumps(_results(500, resumed=400)))  # nothing played in the timed run
    assert eval_seconds(path) is None


def test_kinds_with_no_finished_cell_are_named_not_guessed(tmp_path):
    cells = [_cell(tmp_path, "sft/seed0", 100, _results(1000)), _cell(tmp_path, "mentor/seed0")]
    estimate = time_left(cells)
    assert estimate.seconds == 0
    assert estimate.unmeasured == ["training of rl cells", "evaluation of rl cells"]
    assert "no estimate yet" in estimate.describe()
    cells.append(_cell(tmp_path, "sft/seed1"))
    assert "not counting training of rl cells, evaluation of rl cells" in time_left(cells).describe()
    assert time_left(cells[:1]).describe() == "no cells left"


def test_numbers_beyond_a_float_are_no_time(tmp_path):
    path = tmp_path / "record.json"
    path.write_text(json.dumps({"wall_s": 10**400}))
    assert train_seconds(path) is None
    path.write_text(json.dumps(_results(1e308, resumed=99, slots=1)))  # scaled by 100: beyond a float
    assert eval_seconds(path) is None


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
RECORDS = st.fixed_dictionaries(
    {},
    optional={
        "wall_s": JSON,
        "execution": st.fixed_dictionaries({}, optional={"wall_s": JSON, "resumed_episodes": JSON}) | JSON,
        "resumed": JSON,
        "results": st.lists(st.fixed_dictionaries({"metrics": st.fixed_dictionaries({"n_episodes": JSON})}) | JSON),
    },
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(record=RECORDS | JSON, raw=st.booleans())
def test_damaged_records_give_no_time_rather_than_an_error(tmp_path, record, raw):
    path = tmp_path / "record.json"
    path.write_text("{not json" if raw else json.dumps(record))
    for seconds in (train_seconds(path), eval_seconds(path)):
        assert seconds is None or seconds >= 0

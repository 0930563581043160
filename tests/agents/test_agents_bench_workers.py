"""Several workers on one ``mentor bench`` grid: each cell runs exactly once, an RL cell waits for its seed's
sft cell, a dead worker's claim is released by the kernel, and ``--workers 2`` runs a tiny grid end to end."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")

import mentor_agents.bench.grid as grid_mod  # noqa: E402
from mentor_agents.bench.grid import TRAINED, Cell, Grid, claim_path, claimed, run_grid  # noqa: E402
from mentor_agents.cli import main  # noqa: E402
from mentor_agents.cli.bench import worker_command  # noqa: E402

TINY_GRPO = {"steps": 1, "prompts_per_step": 1, "group_size": 2, "max_new_tokens": 8, "max_turns": 1}


class FakeCells:
    """Stands in for training + evaluation: records who ran which cell and when, marks the cell done."""

    def __init__(self, workers: int) -> None:
        self.lock = threading.Lock()
        self.log: list[tuple[str, str, float, float]] = []
        self.first = threading.Barrier(workers, timeout=30)  # each worker's first cell waits for the others'
        self.seen: set[str] = set()

    def run_cell(self, grid: Grid, cell: Cell, train_fn, threads=0, progress=True):
        started = time.monotonic()
        if grid.init_of(cell) is not None:
            assert (grid.init_of(cell).parent / TRAINED).is_file(), f"{cell.name} ran before its sft cell"
        cell.path.mkdir(parents=True, exist_ok=True)
        me = threading.current_thread().name
        if me not in self.seen:
            self.seen.add(me)
            self.first.wait()  # so every worker holds a cell at once, however the threads are scheduled
        time.sleep(0.02)
        (cell.path / TRAINED).write_text("{}")
        (cell.path / "done").write_text("")
        with self.lock:
            self.log.append((threading.current_thread().name, cell.name, started, time.monotonic()))
        return {"train": 0.0, "eval": 0.0}


def test_two_workers_run_every_cell_once_and_rl_cells_after_their_sft_cell(tmp_path, monkeypatch):
    fake = FakeCells(workers=2)
    monkeypatch.setattr(grid_mod, "run_cell", fake.run_cell)
    monkeypatch.setattr(grid_mod, "_mean_headline", lambda path: None)
    monkeypatch.setattr(Cell, "evaluated", lambda self: (self.path / "done").is_file())
    grid = Grid.resolve("tiny", ["base", "sft", "sparse", "mentor"], [0, 1], start="sft", grpo=TINY_GRPO)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            run_grid(grid, tmp_path, train_fn=None, poll_s=0.02)  # type: ignore[arg-type]
        except BaseException as exc:  # pragma: no cover - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, name=f"w{k}") for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and not any(t.is_alive() for t in threads)
    ran = [name for _, name, _, _ in fake.log]
    assert sorted(ran) == sorted(c.name for c in grid.cells(tmp_path))  # every cell, each exactly once
    assert {who for who, *_ in fake.log} == {"w0", "w1"}  # both workers took cells
    # FakeCells.run_cell asserted, as each RL cell started, that its seed's sft cell had finished training
    # (a failed assertion ends that worker and lands in ``errors``)


def test_a_claimed_cell_is_skipped_and_a_dead_workers_claim_is_released(tmp_path):
    cell = Cell("sft", 0, tmp_path / "sft" / "seed0")
    with claimed(tmp_path, cell) as mine:
        assert mine
        with claimed(tmp_path, cell) as again:  # another open file description: a second worker
            assert not again
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, fcntl, os; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
            "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)",
            str(claim_path(tmp_path, cell)),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with claimed(tmp_path, cell) as mine:
            assert not mine
        holder.kill()
        holder.wait(timeout=10)
        with claimed(tmp_path, cell) as mine:
            assert mine  # no stale claim: the kernel dropped the killed holder's lock
    finally:
        holder.kill()


def test_extra_workers_get_the_same_grid_one_worker_and_their_threads():
    argv = ["bench", "--preset", "tiny", "--workers", "3", "--threads=4", "--out", "x", "--workers=3"]
    command = worker_command(argv, threads=1)
    assert command[:3] == [sys.executable, "-m", "mentor_agents.cli"]
    assert command[3:] == ["bench", "--preset", "tiny", "--out", "x", "--workers", "1", "--threads", "1", "--quiet"]


def test_bench_with_two_workers_runs_a_tiny_grid_end_to_end(tmp_path, tiny_cache, monkeypatch, capsys):
    monkeypatch.setenv("TOOLUSE_MENTOR_CACHE", str(tiny_cache))
    out = tmp_path / "grid"
    args = ["bench", "--preset", "tiny", "--methods", "base", "--seeds", "0", "1", "2", "--out", str(out)]
    args += ["--env", "tooluse/Calculator-v0", "--episodes", "2", "--max-new-tokens", "8", "--max-turns", "1"]
    assert main([*args, "--batch-size", "2", "--quiet", "--workers", "2", "--threads", "1"]) == 0
    err = capsys.readouterr().err
    assert "worker 1 started" in err
    log = (out / "workers" / "worker1.log").read_text()
    doc = json.loads((out / "bench.json").read_text())
    assert doc["progress"] == {"done": 3, "total": 3}
    # each cell was run by exactly one of the two processes
    here = {line.split("]")[1].split(":")[0].strip() for line in err.splitlines() if "(grid " in line}
    there = {line.split("]")[1].split(":")[0].strip() for line in log.splitlines() if "(grid " in line}
    assert here | there == {"base/seed0", "base/seed1", "base/seed2"} and not here & there
    assert all(Path(out, c, "eval.json").is_file() for c in here | there)


def test_a_reused_base_evaluation_brings_its_episodes_for_the_task_paired_tables(tmp_path, monkeypatch):
    monkeypatch.setattr(Cell, "evaluated", lambda self: self.eval_path.is_file())  # no schema check here
    grid = Grid.resolve("smollm2-135m", ["base"], [0, 1])
    first, second = grid.cells(tmp_path)
    for cell in (first, second):
        cell.path.mkdir(parents=True)
        (cell.path / TRAINED).write_text("{}")
    first.eval_path.write_text('{"results": []}')
    (first.path / grid_mod.EPISODES).write_text('{"header": {}}\n')
    grid_mod.run_cell(grid, second, train_fn=None)  # type: ignore[arg-type]
    assert second.eval_path.read_text() == '{"results": []}'
    assert (second.path / grid_mod.EPISODES).read_text() == '{"header": {}}\n'


def test_a_cell_whose_results_never_validate_stops_the_worker_instead_of_looping(tmp_path, monkeypatch):
    runs: list[str] = []

    def run_cell(grid, cell, train_fn, threads=0, progress=True):
        runs.append(cell.name)
        return {"train": None, "eval": 0.0}  # wrote nothing that validates

    monkeypatch.setattr(grid_mod, "run_cell", run_cell)
    monkeypatch.setattr(grid_mod, "_mean_headline", lambda path: None)
    monkeypatch.setattr(Cell, "evaluated", lambda self: False)
    grid = Grid.resolve("tiny", ["base"], [0])
    with pytest.raises(RuntimeError, match="does not validate"):
        run_grid(grid, tmp_path, train_fn=None, poll_s=0.01)  # type: ignore[arg-type]
    assert runs == ["base/seed0"]


def test_extra_workers_need_the_command_line(tmp_path):
    import argparse

    from mentor_agents.cli.bench import start_workers
    from mentor_agents.errors import UserError

    with pytest.raises(UserError, match="--workers needs the command line"):
        start_workers(argparse.Namespace(workers=2), tmp_path, threads=1)


def test_a_partial_evaluation_continues_at_the_thread_count_it_began_with(tmp_path, monkeypatch, capsys):
    import mentor_agents.eval.run as eval_run

    seen: list[int] = []
    monkeypatch.setattr(eval_run, "run_evaluation", lambda config, overwrite=False: seen.append(config.threads))
    monkeypatch.setattr(Cell, "evaluated", lambda self: False)
    grid = Grid.resolve("tiny", ["base"], [0])
    (cell,) = grid.cells(tmp_path)
    cell.path.mkdir(parents=True)
    (cell.path / TRAINED).write_text("{}")
    (cell.path / grid_mod.EPISODES).write_text(json.dumps({"header": {"config": {"torch_threads": 1}}}) + "\n")
    grid_mod.run_cell(grid, cell, train_fn=None, threads=2)  # type: ignore[arg-type]
    assert seen == [1]  # not 2: its episodes so far were played at 1 thread, and it resumes instead of restarting
    assert "at 1 torch thread(s), as it began" in capsys.readouterr().err
    (cell.path / grid_mod.EPISODES).unlink()
    grid_mod.run_cell(grid, cell, train_fn=None, threads=2)  # type: ignore[arg-type]
    assert seen == [1, 2]  # nothing begun: the grid's own count

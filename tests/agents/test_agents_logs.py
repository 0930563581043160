"""Run logs (``mentor_agents.train.logs``): ``--log-to`` sinks, logging messages, progress, plots.

The sinks are checked on hand-written rows (fast); one tiny ``mentor train`` run checks that phases,
checkpoints and the summary table are logged, that tqdm stays off when stderr is not a terminal, and
that the csv and the per-phase and combined plots are written where the docs say.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import sys
import types
from pathlib import Path

import pytest

from mentor_agents.errors import UserError
from mentor_agents.train import logs as run_logs
from mentor_agents.train.logs import LogProgress, NoProgress, RunLogs, parse_log_to, progress_bar


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def test_log_to_takes_repeats_and_comma_lists_and_refuses_unknown_sinks():
    assert parse_log_to(["csv,tensorboard", "wandb", "csv"]) == ("csv", "tensorboard", "wandb")
    assert parse_log_to([]) == ()
    with pytest.raises(UserError, match="--log-to tb: unknown sink; choose from csv, tensorboard, wandb"):
        parse_log_to(["csv,tb"])


def test_csv_sink_writes_one_row_per_step_and_widens_the_header_for_new_keys(tmp_path):
    logs = RunLogs(tmp_path, log_to=["csv"], progress=False)
    with logs.phase("sft", "sft", tmp_path / "sft", steps=2) as phase:
        phase.write({"step": 1, "loss": 2.0})
        phase.write({"step": 2, "loss": 1.5})
    with logs.phase("grpo", "mentor", tmp_path / "grpo", steps=2) as phase:
        phase.write({"step": 1, "loss": 0.1, "reward_mean": 0.25})
        phase.write({"step": 2, "loss": 0.2, "reward_mean": 0.5, "val/success": 1.0})
    table = logs.finish().splitlines()
    assert table[1].split() == ["sft", "2/2", table[1].split()[2], "loss", "1.5000", "1.5000"]
    assert table[2].split()[3:] == ["reward_mean", "0.5000", "0.5000"]  # an RL loss has no "best": not listed
    assert [line.split()[-3:] for line in table[3:]] == [["val/success", "1.0000", "1.0000"]]
    header, rows = read_csv(tmp_path / "metrics.csv")
    assert header == ["phase", "step", "loss", "reward_mean", "val/success"]
    assert [(r["phase"], r["step"]) for r in rows] == [("sft", "1"), ("sft", "2"), ("grpo", "1"), ("grpo", "2")]
    assert float(rows[1]["loss"]) == 1.5 and rows[1]["reward_mean"] == ""  # SFT logged no reward
    assert float(rows[3]["val/success"]) == 1.0 and rows[2]["val/success"] == ""


def test_csv_sink_drops_the_resumed_phase_rows_past_the_checkpoint(tmp_path):
    logs = RunLogs(tmp_path, log_to=["csv"], progress=False)
    with logs.phase("sft", "sft", tmp_path, steps=3) as phase:
        for step in (1, 2, 3):
            phase.write({"step": step, "loss": 1.0 / step})
    logs.finish()
    resumed = RunLogs(tmp_path, log_to=["csv"], progress=False)
    with resumed.phase("sft", "sft", tmp_path, steps=3, start_step=1) as phase:  # checkpoint at step 1
        phase.write({"step": 2, "loss": 0.4})
    _, rows = read_csv(tmp_path / "metrics.csv")
    assert [(r["step"], float(r["loss"])) for r in rows] == [("1", 1.0), ("2", 0.4)]


@pytest.mark.parametrize("sink", ["tensorboard", "wandb"])
def test_a_missing_optional_sink_package_is_a_user_error_naming_the_install(tmp_path, monkeypatch, sink):
    monkeypatch.setitem(sys.modules, sink, None)  # import raises ImportError, as when not installed
    with pytest.raises(UserError, match=rf"--log-to {sink} needs the {sink} package.*pip install {sink}"):
        RunLogs(tmp_path, log_to=[sink])
    assert not (tmp_path / "tensorboard").exists()


def test_train_refuses_a_missing_sink_before_touching_out(tmp_path, monkeypatch, capsys):
    pytest.importorskip("torch")
    import mentor_agents.models
    from mentor_agents.cli import main

    monkeypatch.setitem(sys.modules, "wandb", None)
    monkeypatch.setattr(mentor_agents.models, "load_preset", lambda *a, **k: pytest.fail("a model was loaded"))
    out = tmp_path / "run"
    assert main(["train", "--method", "sft", "--out", str(out), "--log-to", "csv,wandb", "--quiet"]) == 2
    assert "mentor train: --log-to wandb needs the wandb package" in capsys.readouterr().err
    assert not out.exists()


class FakeWandbRun:
    def __init__(self) -> None:
        self.logged: list[dict] = []
        self.defined: list[tuple[str, str | None]] = []
        self.finished = False

    def define_metric(self, name: str, step_metric: str | None = None) -> None:
        self.defined.append((name, step_metric))

    def log(self, data: dict) -> None:
        self.logged.append(data)

    def finish(self) -> None:
        self.finished = True


def test_wandb_sink_logs_phase_metrics_on_their_own_step_offline_by_default(tmp_path, monkeypatch):
    run = FakeWandbRun()
    inits: list[dict] = []
    fake = types.ModuleType("wandb")
    fake.init = lambda **kwargs: inits.append(kwargs) or run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "wandb", fake)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    logs = RunLogs(tmp_path / "my-run", log_to=["wandb"], progress=False, config={"seed": 3})
    with logs.phase("grpo", "mentor", tmp_path, steps=1) as phase:
        phase.write({"step": 1, "reward_mean": 0.5, "note": "text", "ok": True})
    logs.finish()
    assert inits[0]["mode"] == "offline" and inits[0]["name"] == "my-run" and inits[0]["config"] == {"seed": 3}
    assert ("grpo/*", "grpo/step") in run.defined
    assert run.logged == [{"grpo/reward_mean": 0.5, "grpo/step": 1}]  # strings and bools have no curve
    assert run.finished
    monkeypatch.setenv("WANDB_MODE", "online")
    RunLogs(tmp_path / "other", log_to=["wandb"]).close()
    assert inits[1]["mode"] == "online"


def test_tensorboard_sink_tags_each_phase_on_its_own_steps(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    scalars: list[tuple[str, float, int]] = []
    opened: list[str] = []

    class Writer:
        def __init__(self, log_dir: str) -> None:
            opened.append(log_dir)

        def add_scalar(self, tag: str, value: float, global_step: int) -> None:
            scalars.append((tag, value, global_step))

        def close(self) -> None:
            opened.append("closed")

    fake = types.ModuleType("torch.utils.tensorboard")
    fake.SummaryWriter = Writer  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tensorboard", types.ModuleType("tensorboard"))
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", fake)
    logs = RunLogs(tmp_path, log_to=["tensorboard"], progress=False)
    with logs.phase("sft", "sft", tmp_path, steps=1) as phase:
        phase.write({"step": 1, "loss": 2.5, "ok": True})
    logs.finish()
    assert opened == [str(tmp_path / "tensorboard"), "closed"]
    assert scalars == [("sft/loss", 2.5, 1)]


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_tqdm_only_on_a_terminal(monkeypatch):
    tqdm = pytest.importorskip("tqdm").tqdm
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert isinstance(progress_bar(10, "sft"), LogProgress)
    assert isinstance(progress_bar(10, "sft", enabled=False), NoProgress)
    monkeypatch.setattr(sys, "stderr", TTY())
    bar = progress_bar(10, "sft")
    assert isinstance(bar, tqdm)
    bar.close()


def test_progress_lines_stand_in_for_the_bar(caplog):
    caplog.set_level(logging.INFO, logger="mentor_agents")
    bar = LogProgress(20, "grpo[mentor]")
    for step in range(20):
        bar.set_postfix(reward=f"{step / 20:.2f}")
        bar.update(1)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 10  # one per tenth of the way
    assert lines[-1].startswith("grpo[mentor]: 20/20 step (reward=0.95)")


def test_tiny_training_logs_phases_checkpoints_summary_without_tqdm(tmp_path, tiny_cache, monkeypatch, caplog):
    pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    import tqdm

    from mentor_agents.cli import main

    bars: list[str] = []

    class NoTqdm(tqdm.tqdm):  # counts the bars opened here (stderr is captured: not a terminal)
        def __init__(self, *args, **kwargs):
            bars.append(str(kwargs.get("desc")))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(tqdm, "tqdm", NoTqdm)
    monkeypatch.setenv("TOOLUSE_MENTOR_CACHE", str(tiny_cache))
    caplog.set_level(logging.INFO, logger="mentor_agents")
    out = tmp_path / "tiny-run"
    args = ["train", "--preset", "tiny", "--method", "sft", "--sft.steps", "2", "--sft.batch_size", "2"]
    assert main([*args, "--sft.checkpoint_every", "1", "--out", str(out), "--log-to", "csv"]) == 0
    text = [r.getMessage() for r in caplog.records]
    assert any("tiny-run: sft phase starts: method sft, 2 steps" in m and str(out) in m for m in text), text
    saved = [m for m in text if m.startswith("checkpoint saved")]
    assert saved == [f"checkpoint saved: step {s} -> {out / 'checkpoints' / f'step_00000{s}.pt'}" for s in (1, 2)]
    assert any(m.startswith("sft[sft]: 2/2 step (loss=") for m in text)  # progress as log lines
    assert any("tiny-run: sft phase ends: step 2/2 (2 this run)" in m for m in text)
    (summary,) = [m for m in text if "run summary" in m]
    loss = [json.loads(line)["loss"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert "2/2" in summary and summary.split()[-3:] == ["loss", f"{loss[-1]:.4f}", f"{min(loss):.4f}"]
    assert not [b for b in bars if b.startswith("sft")]
    _, rows = read_csv(out / "metrics.csv")
    assert [float(r["loss"]) for r in rows] == pytest.approx(loss)
    assert (out / "metrics.png").stat().st_size > 0 and (out / "metrics_combined.png").stat().st_size > 0


def test_plots_have_integer_steps_a_titled_run_and_smoothed_curves_over_faint_points(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    from mentor_agents.train.metrics import plot_metrics, plot_run, smooth

    assert smooth([2.0, 2.0, 2.0]) == pytest.approx([2.0, 2.0, 2.0])  # debiased: no pull toward 0
    assert 0.0 < smooth([0.0, 10.0])[1] < 10.0
    figures: list[Figure] = []
    savefig = Figure.savefig

    def spy(fig, *args, **kwargs):
        figures.append(fig)
        return savefig(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    grpo = tmp_path / "grpo" / "metrics.jsonl"
    grpo.parent.mkdir()
    grpo.write_text("".join(json.dumps({"step": s, "reward_mean": s % 3 / 3, "success": 0.5}) + "\n" for s in range(7)))
    sft = tmp_path / "sft" / "metrics.jsonl"
    sft.parent.mkdir()
    sft.write_text("".join(json.dumps({"step": s, "loss": 3.0 / s}) + "\n" for s in range(1, 4)))
    png = plot_metrics(grpo, run_name="my-run", phase="grpo")
    assert png == grpo.with_name("metrics.png") and png.stat().st_size > 0
    fig = figures[-1]
    assert fig._suptitle.get_text() == "my-run - grpo"
    assert [ax.get_ylabel() for ax in fig.axes] == ["reward_mean", "success"]  # no loss logged: no panel
    raw, smoothed = fig.axes[0].get_lines()
    assert raw.get_alpha() < 0.5 and raw.get_linestyle() == "None" and smoothed.get_linestyle() == "-"
    assert list(smoothed.get_ydata()) == pytest.approx(smooth(list(raw.get_ydata())))
    locator = fig.axes[0].xaxis.get_major_locator()
    assert isinstance(locator, MaxNLocator) and locator._integer
    combined = plot_run([("sft", sft), ("grpo", grpo)], tmp_path / "metrics_combined.png", run_name="my-run")
    assert combined is not None and combined.stat().st_size > 0
    assert figures[-1]._suptitle.get_text() == "my-run - sft + grpo"


def test_eval_reports_progress_per_slot(tmp_path, caplog, monkeypatch):
    from mentor_agents.eval.run import EvalConfig, run_evaluation

    monkeypatch.setattr(run_logs, "stderr_is_tty", lambda: False)
    caplog.set_level(logging.INFO, logger="mentor_agents")
    config = EvalConfig(
        agent="oracle", envs=["tooluse/Calculator-v0"], splits=["test_id", "test_ood"], episodes=2,
        out=str(tmp_path / "eval.json"),
    )  # fmt: skip
    run_evaluation(config)
    text = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("eval oracle Calculator ID: 2/2 ep") for m in text), text
    assert any(m.startswith("eval oracle Calculator OOD: 2/2 ep") for m in text), text

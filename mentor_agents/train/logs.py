"""Run logs: ``logging`` messages, progress, and the metric sinks ``mentor train --log-to`` selects.

Why it is built this way:

* Messages go through Python ``logging`` (logger ``mentor_agents``): a phase's start and end, each
  checkpoint saved (``train.checkpoint``) and an end-of-run summary table, so a long run leaves a
  readable record wherever stderr goes, and a library user routes it with ``logging`` as usual.
* A tqdm bar redraws itself with carriage returns: fine on a terminal, noise in a log file or CI. So the
  bar is drawn only when stderr is a TTY; otherwise a logging line every tenth of the way stands in.
* ``<phase>/metrics.jsonl`` (``train.metrics.MetricsLog``) stays the record of a run; the sinks here are
  extra views of the same rows: ``csv`` (stdlib, ``<run>/metrics.csv``), ``tensorboard`` and ``wandb``.
  The last two are optional packages, imported only when asked for; one that is missing is a
  ``UserError`` naming the ``pip install`` that fixes it, raised before anything is trained.
"""

from __future__ import annotations

import csv
import importlib
import logging
import math
import os
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from mentor_agents.errors import UserError

LOGGER_NAME = "mentor_agents"
logger = logging.getLogger(LOGGER_NAME)

SINKS = ("csv", "tensorboard", "wandb")
"""The ``--log-to`` choices."""

SUMMARY_METRICS = {
    "loss": min,
    "reward_mean": max,
    "success": max,
    "val/reward_mean": max,
    "val/success": max,
}
"""Metrics the end-of-run table reports, with what "best" means for each."""

_HANDLER_NAME = "mentor_agents.stderr"


def parse_log_to(values: Iterable[str] | None) -> tuple[str, ...]:
    """``--log-to`` values (repeated and/or comma-separated) as unique sink names, in the order given.

    An unknown name is a ``UserError``, so a typo fails before training rather than after it.
    """
    names: list[str] = []
    for value in values or ():
        for name in (part.strip().lower() for part in value.split(",")):
            if not name:
                continue
            if name not in SINKS:
                raise UserError(f"--log-to {name}: unknown sink; choose from {', '.join(SINKS)}")
            if name not in names:
                names.append(name)
    return tuple(names)


def require(module: str, sink: str) -> Any:
    """Import an optional package a sink needs; a ``UserError`` with the ``pip install`` if it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise UserError(
            f"--log-to {sink} needs the {module} package, which is not installed: pip install {module}"
        ) from exc


def check_sinks(names: Iterable[str]) -> None:
    """Fail now (``UserError``) if a chosen sink's package is missing: before a model is loaded or --out touched."""
    for name in names:
        if name in ("tensorboard", "wandb"):
            require(name, name)


def stderr_is_tty() -> bool:
    """Whether stderr is a terminal (a tqdm bar is only drawn there)."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced by an object without isatty, or closed
        return False


def ensure_handler() -> None:
    """Show INFO messages of ``mentor_agents`` on stderr, unless the application configured logging itself.

    The ``mentor`` commands have no logging setup of their own, and Python's last-resort handler shows
    warnings only; an application (or pytest) that put a handler on the root logger keeps full control.
    """
    if logging.getLogger().handlers or any(h.get_name() == _HANDLER_NAME for h in logger.handlers):
        return
    handler = logging.StreamHandler()
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
    logger.addHandler(handler)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)


class Progress(Protocol):
    """What callers use of a tqdm bar."""

    def update(self, n: int = 1) -> Any: ...

    def set_postfix(self, **kwargs: Any) -> Any: ...

    def close(self) -> Any: ...


class NoProgress:
    """Progress turned off (``--quiet``)."""

    def update(self, n: int = 1) -> None:
        """Nothing to show."""

    def set_postfix(self, **kwargs: Any) -> None:
        """Nothing to show."""

    def close(self) -> None:
        """Nothing to close."""


class LogProgress:
    """Stands in for a tqdm bar when stderr is not a terminal: one INFO line per tenth of the way and at the end."""

    def __init__(self, total: int, desc: str, initial: int = 0, unit: str = "step") -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.n = self._logged = initial
        self.every = max(1, math.ceil(total / 10))
        self.postfix = ""
        self.started = time.perf_counter()

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.n >= self.total or self.n - self._logged >= self.every:
            self._log()

    def set_postfix(self, **kwargs: Any) -> None:
        """Shown on the next line (call it before ``update``)."""
        self.postfix = ", ".join(f"{key}={value}" for key, value in kwargs.items())

    def close(self) -> None:
        """Nothing to redraw."""

    def _log(self) -> None:
        elapsed = time.perf_counter() - self.started
        extra = f" ({self.postfix})" if self.postfix else ""
        logger.info("%s: %d/%d %s%s [%.0fs]", self.desc, self.n, self.total, self.unit, extra, elapsed)
        self._logged = self.n


def progress_bar(
    total: int, desc: str, initial: int = 0, enabled: bool = True, unit: str = "step", position: int | None = None
) -> Progress:
    """A tqdm bar on a terminal, logging lines elsewhere, nothing when ``enabled`` is false."""
    if not enabled:
        return NoProgress()
    if not stderr_is_tty():
        return LogProgress(total, desc, initial, unit)
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit=unit, position=position, leave=True)


class SlotProgress:
    """One progress bar per key (an eval slot: env x split), each with its own label and total."""

    def __init__(
        self, totals: Mapping[Any, tuple[str, int]], desc: str, enabled: bool = True, unit: str = "ep"
    ) -> None:
        self.bars = {
            key: progress_bar(total, f"{desc} {label}", enabled=enabled, unit=unit, position=index)
            for index, (key, (label, total)) in enumerate((k, v) for k, v in totals.items() if v[1] > 0)
        }

    def update(self, key: Any, n: int = 1) -> None:
        if key in self.bars:
            self.bars[key].update(n)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


class MetricSink(Protocol):
    """Where a run's metric rows go besides ``metrics.jsonl``."""

    def start_phase(self, phase: str, resume_step: int) -> None: ...

    def write(self, phase: str, row: Mapping[str, Any]) -> None: ...

    def close(self) -> None: ...


def _scalars(row: Mapping[str, Any]) -> dict[str, float]:
    """The numeric values of a row other than its step (bools and strings have no curve)."""
    return {
        key: float(value)
        for key, value in row.items()
        if key != "step" and isinstance(value, int | float) and not isinstance(value, bool)
    }


class CSVSink:
    """``<run>/metrics.csv``: one row per step, the phase in its first column.

    The header is the first row's keys; a row with new keys (GRPO's after SFT's, ``val/*`` at an eval
    step) widens it, rewriting the file with empty cells where earlier rows had no value. Resuming a
    phase drops its rows past the checkpoint, as ``metrics.jsonl`` does.
    """

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / "metrics.csv"
        self.fields: list[str] = []

    def _read(self) -> list[dict[str, str]]:
        if not self.path.is_file():
            return []
        with self.path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            self.fields = list(reader.fieldnames or [])
        return rows

    def _rewrite(self, rows: Iterable[Mapping[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=self.fields, restval="")
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, self.path)

    def start_phase(self, phase: str, resume_step: int) -> None:
        rows = self._read()
        kept = [r for r in rows if r.get("phase") != phase or _int(r.get("step")) <= resume_step]
        if len(kept) != len(rows):
            self._rewrite(kept)

    def write(self, phase: str, row: Mapping[str, Any]) -> None:
        record = {"phase": phase, **row}
        new = [key for key in record if key not in self.fields]
        if new or not self.path.is_file():
            rows = self._read()
            self.fields += [key for key in record if key not in self.fields]
            self._rewrite([*rows, record])
            return
        with self.path.open("a", newline="", encoding="utf-8") as fh:
            csv.DictWriter(fh, fieldnames=self.fields, restval="").writerow(record)

    def close(self) -> None:
        """Every row is on disk already."""


def _int(value: str | None) -> int:
    try:
        return int(float(value or 0))
    except ValueError:
        return 0


class TensorBoardSink:
    """Scalars under ``<run>/tensorboard``, tagged ``<phase>/<metric>`` so each phase keeps its own step axis."""

    def __init__(self, run_dir: Path) -> None:
        require("tensorboard", "tensorboard")
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(run_dir / "tensorboard"))

    def start_phase(self, phase: str, resume_step: int) -> None:
        """TensorBoard shows the newest value of a repeated step; nothing to drop."""

    def write(self, phase: str, row: Mapping[str, Any]) -> None:
        step = int(row.get("step", 0))
        for key, value in _scalars(row).items():
            self.writer.add_scalar(f"{phase}/{key}", value, global_step=step)

    def close(self) -> None:
        self.writer.close()


class WandbSink:
    """One Weights & Biases run per training run, metrics ``<phase>/<metric>`` against ``<phase>/step``.

    Offline unless told otherwise: the mode is ``WANDB_MODE`` (default ``offline``, synced later with
    ``wandb sync``), so a run never blocks on a login or network; ``WANDB_PROJECT`` names the project.
    """

    def __init__(self, run_dir: Path, run_name: str, config: Mapping[str, Any] | None = None) -> None:
        wandb = require("wandb", "wandb")
        run_dir.mkdir(parents=True, exist_ok=True)  # wandb writes under <dir>/wandb and wants <dir> to exist
        self.run = wandb.init(
            project=os.environ.get("WANDB_PROJECT", "tooluse-mentor"),
            name=run_name,
            dir=str(run_dir),
            mode=os.environ.get("WANDB_MODE", "offline"),
            config=dict(config or {}),
        )

    def start_phase(self, phase: str, resume_step: int) -> None:
        self.run.define_metric(f"{phase}/step")
        self.run.define_metric(f"{phase}/*", step_metric=f"{phase}/step")

    def write(self, phase: str, row: Mapping[str, Any]) -> None:
        data = {f"{phase}/{key}": value for key, value in _scalars(row).items()}
        self.run.log({**data, f"{phase}/step": int(row.get("step", 0))})

    def close(self) -> None:
        self.run.finish()


def make_sink(name: str, run_dir: Path, run_name: str, config: Mapping[str, Any] | None = None) -> MetricSink:
    """The sink ``--log-to name`` selects (a ``UserError`` if its package is missing)."""
    if name == "csv":
        return CSVSink(run_dir)
    if name == "tensorboard":
        return TensorBoardSink(run_dir)
    if name == "wandb":
        return WandbSink(run_dir, run_name, config)
    raise UserError(f"--log-to {name}: unknown sink; choose from {', '.join(SINKS)}")


class PhaseLog:
    """One phase (SFT or GRPO) of a run: its start/end messages, progress, sinks and summary numbers.

    A context manager: leaving it normally logs the phase's end, leaving it on an error logs where it
    stopped; either way the progress bar is closed.
    """

    def __init__(self, run: RunLogs, phase: str, method: str, out_dir: Path, steps: int, start_step: int) -> None:
        self.run, self.phase, self.method, self.out_dir = run, phase, method, out_dir
        self.steps, self.start_step, self.step = steps, start_step, start_step
        self.last: dict[str, float] = {}
        self.best: dict[str, float] = {}
        self.wall_s = 0.0
        self.started = time.perf_counter()
        for sink in run.sinks:
            sink.start_phase(phase, start_step)
        resumed = f", resuming after step {start_step}" if start_step else ""
        logger.info(
            "%s: %s phase starts: method %s, %d steps%s; writing to %s",
            run.run_name, phase, method, steps, resumed, out_dir,
        )  # fmt: skip
        self.bar = progress_bar(steps, f"{phase}[{method}]", initial=start_step, enabled=run.progress)

    def write(self, row: Mapping[str, Any]) -> None:
        """Send a metrics row to the sinks and keep its summary metrics (last and best)."""
        for sink in self.run.sinks:
            sink.write(self.phase, row)
        self.step = max(self.step, int(row.get("step", self.step)))
        for key, better in SUMMARY_METRICS.items():
            value = row.get(key)
            if isinstance(value, int | float) and not math.isnan(value):
                self.last[key] = float(value)
                self.best[key] = better(self.best.get(key, float(value)), float(value))

    def advance(self, **postfix: Any) -> None:
        """One training step done: move the bar (or count toward the next progress line)."""
        if postfix:
            self.bar.set_postfix(**postfix)
        self.bar.update(1)

    def __enter__(self) -> PhaseLog:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.bar.close()
        self.wall_s = time.perf_counter() - self.started
        self.run.phases.append(self)
        if exc_type is not None:
            logger.warning(
                "%s: %s phase stopped at step %d/%d (%s)",
                self.run.run_name,
                self.phase,
                self.step,
                self.steps,
                exc_type.__name__,
            )
            return
        logger.info(
            "%s: %s phase ends: step %d/%d (%d this run) in %.1fs; metrics in %s",
            self.run.run_name, self.phase, self.step, self.steps, self.step - self.start_step, self.wall_s,
            self.out_dir / "metrics.jsonl",
        )  # fmt: skip


def _summary_keys(last: Mapping[str, float]) -> list[str]:
    """The summary metrics a phase logged; not the loss of an RL phase (a policy-gradient loss has no "best")."""
    keys = [key for key in SUMMARY_METRICS if key in last]
    return [key for key in keys if key != "loss"] if "reward_mean" in last else keys


class RunLogs:
    """A training run's logging: its name, the ``--log-to`` sinks, progress on or off, and its phases.

    ``train_sft``/``train_grpo`` called alone make one of their own (no sinks); ``run_training`` makes
    one for the whole run so both phases share the sinks and the summary table.
    """

    def __init__(
        self,
        run_dir: str | Path,
        run_name: str | None = None,
        log_to: Iterable[str] = (),
        progress: bool = True,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.run_name = run_name or self.run_dir.resolve().name
        self.progress = progress
        names = parse_log_to(log_to)
        check_sinks(names)
        self.sinks: list[MetricSink] = [make_sink(name, self.run_dir, self.run_name, config) for name in names]
        self.phases: list[PhaseLog] = []

    def phase(self, phase: str, method: str, out_dir: str | Path, steps: int, start_step: int = 0) -> PhaseLog:
        """Start logging a phase (use it as ``with logs.phase(...) as phase:``)."""
        return PhaseLog(self, phase, method, Path(out_dir), steps, start_step)

    def summary_table(self) -> str:
        """Per phase: steps, wall time, and the last and best value of each summary metric it logged."""
        lines = [f"{'phase':<6} {'steps':>11} {'wall_s':>8}  {'metric':<16} {'last':>9} {'best':>9}"]
        for p in self.phases:
            steps = f"{p.start_step}->{p.step}/{p.steps}" if p.start_step else f"{p.step}/{p.steps}"
            head = f"{p.phase:<6} {steps:>11} {p.wall_s:>8.1f}"
            metrics = _summary_keys(p.last) or [""]
            for i, key in enumerate(metrics):
                start = head if i == 0 else " " * len(head)
                values = f"{p.last[key]:>9.4f} {p.best[key]:>9.4f}" if key else f"{'-':>9} {'-':>9}"
                lines.append(f"{start}  {key or '-':<16} {values}")
        return "\n".join(lines)

    def close(self) -> None:
        """Close the sinks (on errors too: tensorboard and wandb flush on close)."""
        sinks, self.sinks = self.sinks, []
        for sink in sinks:
            sink.close()

    def finish(self) -> str:
        """Log the summary table at INFO, close the sinks, and return the table."""
        table = self.summary_table()
        logger.info("%s: run summary\n%s", self.run_name, table)
        self.close()
        return table

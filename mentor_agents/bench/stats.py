"""Statistics of the benchmark grid: means over seeds with Student-t 95% CIs, and paired differences.

Pure functions of plain numbers (no numpy, no scipy): the t quantile is computed exactly from the
regularised incomplete beta function, so a CI over 3 seeds uses t(0.975, 2) = 4.303, not the normal
1.96 that would make it look 2.2x tighter than it is. One seed has no spread to estimate: its CI is
undefined (``None``), never zero-width.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

LEVEL = 0.95
"""Confidence level of every interval in the report."""


# --- Student's t ----------------------------------------------------------------------------------------


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz), converged to ~1e-15."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 1000):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b) for a, b > 0 and x in [0, 1]."""
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"x must be in [0, 1], not {x}")
    if x in (0.0, 1.0):
        return x
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_continued_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_continued_fraction(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom."""
    if df <= 0:
        raise ValueError(f"degrees of freedom must be positive, not {df}")
    tail = 0.5 * incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (bisection on :func:`t_cdf`)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), not {p}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    if p == 0.5:
        return 0.0
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        lo, hi = hi, hi * 2.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return (lo + hi) / 2.0


# --- summaries ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """Mean of ``n`` values with its t confidence interval; ``sd``, ``ci`` and ``half_width`` are None
    when n < 2 (one seed says nothing about the spread between seeds)."""

    n: int
    mean: float | None
    sd: float | None
    ci: tuple[float, float] | None
    half_width: float | None
    """The CI's half-width: about the smallest difference from ``mean`` these seeds can resolve."""
    seeds: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    @property
    def excludes_zero(self) -> bool:
        """Whether the interval lies entirely on one side of 0 (a difference resolved at this level)."""
        return self.ci is not None and (self.ci[0] > 0 or self.ci[1] < 0)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ci"] = list(self.ci) if self.ci is not None else None
        return out


def mean_ci(values: Sequence[float], seeds: Sequence[int] | None = None, level: float = LEVEL) -> Summary:
    """Mean and Student-t CI (n - 1 degrees of freedom) of ``values`` (one per seed)."""
    values = [float(v) for v in values]
    seeds = list(seeds) if seeds is not None else list(range(len(values)))
    if len(seeds) != len(values):
        raise ValueError(f"{len(values)} values but {len(seeds)} seeds")
    n = len(values)
    if n == 0:
        return Summary(0, None, None, None, None, seeds, values)
    mean = math.fsum(values) / n
    if n == 1:
        return Summary(1, mean, None, None, None, seeds, values)
    sd = statistics.stdev(values)
    half = t_quantile(0.5 + level / 2.0, n - 1) * sd / math.sqrt(n)
    return Summary(n, mean, sd, (mean - half, mean + half), half, seeds, values)


def summarize(by_seed: Mapping[int, float | None], level: float = LEVEL) -> Summary:
    """:func:`mean_ci` of a ``seed -> value`` mapping; seeds whose value is None are left out."""
    seeds = sorted(s for s, v in by_seed.items() if v is not None)
    return mean_ci([float(by_seed[s]) for s in seeds], seeds, level)  # type: ignore[arg-type]


def paired_difference(
    method: Mapping[int, float | None], baseline: Mapping[int, float | None], level: float = LEVEL
) -> Summary:
    """Mean of ``method[s] - baseline[s]`` over the seeds both have, with its t CI.

    Pairing by seed removes what two cells of one seed share (the same initial model, the same
    task order, the same evaluation tasks), so the CI is of the difference itself, usually much
    tighter than the two methods' separate CIs suggest.
    """
    seeds = sorted(s for s in method.keys() & baseline.keys() if method[s] is not None and baseline[s] is not None)
    return mean_ci([float(method[s]) - float(baseline[s]) for s in seeds], seeds, level)  # type: ignore[arg-type]


def sign_test(wins: int, losses: int) -> float:
    """Exact two-sided sign test (McNemar's exact test) of ``wins`` vs ``losses`` discordant pairs; ties left
    out. Why beside the t CI: with few discordant tasks the t interval over 0/±1 differences is too
    optimistic (4 wins, 0 losses "excludes 0" by t, yet has p = 0.125)."""
    n = wins + losses
    if n == 0:
        return 1.0
    k = min(wins, losses)
    tail = math.fsum(math.comb(n, i) for i in range(k + 1)) / 2.0**n
    return min(1.0, 2.0 * tail)

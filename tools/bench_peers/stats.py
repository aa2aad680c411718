"""Statistics of the timings (stdlib only): median, a distribution-free 95% confidence
interval of the median from order statistics, and a paired bootstrap interval of a ratio of
medians."""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence

Z95 = 1.959963984540054  # two-sided 95% normal quantile


def median(xs: Sequence[float]) -> float:
    if not xs:
        raise ValueError("median of no samples")
    return float(statistics.median(xs))


def _binom_cdf(k: int, n: int) -> float:
    """P(X <= k) for X ~ Binomial(n, 1/2)."""
    return sum(math.comb(n, i) for i in range(k + 1)) / 2.0**n


def median_ci(xs: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """Interval [x_(j), x_(n+1-j)] (1-based order statistics) with the largest j such that
    P(x_(j) <= median <= x_(n+1-j)) >= level, i.e. 1 - 2 P(Binom(n, 1/2) <= j - 1) >= level.
    With fewer than 6 samples no such j exists at 95%: the interval is [min, max]."""
    s = sorted(xs)
    n = len(s)
    if n == 0:
        raise ValueError("interval of no samples")
    alpha = 1.0 - level
    j = 0
    for cand in range(1, n // 2 + 1):
        if 2.0 * _binom_cdf(cand - 1, n) <= alpha:
            j = cand
        else:
            break
    if j == 0:
        return s[0], s[-1]
    return s[j - 1], s[n - j]


def ratio_ci(
    num: Sequence[float], den: Sequence[float], level: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """median(num) / median(den) and a percentile-bootstrap interval, resampling rounds in
    pairs (num[i] and den[i] were measured in the same round, so load drift cancels)."""
    n = min(len(num), len(den))
    if n == 0:
        raise ValueError("ratio of no samples")
    point = median(num[:n]) / median(den[:n])
    rng = random.Random(seed)
    boots = []
    for _ in range(resamples):
        idx = [rng.randrange(n) for _ in range(n)]
        boots.append(median([num[i] for i in idx]) / median([den[i] for i in idx]))
    boots.sort()
    lo = boots[int(math.floor((1 - level) / 2 * (resamples - 1)))]
    hi = boots[int(math.ceil((1 + level) / 2 * (resamples - 1)))]
    return point, lo, hi

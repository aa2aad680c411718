"""stats: the order-statistic interval against the binomial tables, the bootstrap ratio on
cases with a known answer."""

from __future__ import annotations

import math
import random

import pytest

from bench_peers import stats


def test_median_odd_even() -> None:
    assert stats.median([3.0, 1.0, 2.0]) == 2.0
    assert stats.median([4.0, 1.0, 3.0, 2.0]) == 2.5
    with pytest.raises(ValueError):
        stats.median([])


@pytest.mark.parametrize(("n", "j"), [(6, 1), (10, 2), (20, 6), (30, 10), (100, 40)])
def test_median_ci_order_statistics(n: int, j: int) -> None:
    # j from the binomial tables for the 95% distribution-free interval [x_(j), x_(n+1-j)]
    xs = [float(i) for i in range(1, n + 1)]
    random.Random(n).shuffle(xs)
    assert stats.median_ci(xs) == (float(j), float(n + 1 - j))


def test_median_ci_coverage_is_at_least_level() -> None:
    for n in (6, 10, 30, 100):
        xs = list(range(n))
        lo, hi = stats.median_ci([float(x) for x in xs])
        j = int(lo) + 1
        cover = 1 - 2 * sum(math.comb(n, i) for i in range(j)) / 2**n
        assert cover >= 0.95
        # one order statistic tighter would not reach 95%
        assert 1 - 2 * sum(math.comb(n, i) for i in range(j + 1)) / 2**n < 0.95


def test_median_ci_small_samples_span_all() -> None:
    assert stats.median_ci([5.0, 1.0, 3.0]) == (1.0, 5.0)
    assert stats.median_ci([2.0]) == (2.0, 2.0)


def test_ratio_exact_when_constant() -> None:
    den = [10.0, 11.0, 9.5, 10.2, 30.0]
    r, lo, hi = stats.ratio_ci([2 * d for d in den], den)
    assert r == pytest.approx(2.0) and lo == pytest.approx(2.0) and hi == pytest.approx(2.0)


def test_ratio_interval_contains_point_and_truth() -> None:
    rng = random.Random(7)
    den = [20 + rng.gauss(0, 1) for _ in range(40)]
    num = [10 + rng.gauss(0, 0.5) for _ in range(40)]
    r, lo, hi = stats.ratio_ci(num, den)
    assert lo <= r <= hi
    assert lo < 0.5 < hi
    assert hi - lo < 0.1

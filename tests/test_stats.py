"""The study's statistics against formulas written out by hand and against SciPy."""

from __future__ import annotations

import math

import pytest
from scipy.special import ndtri
from scipy.stats import binomtest

from fmnist import stats

Z95 = 1.959963984540054  # the normal distribution's 97.5 % quantile


def wilson_by_hand(correct: int, n: int) -> tuple[float, float]:
    """Wilson's score interval as the study computed it before SciPy did (Wilson, 1927)."""
    p = correct / n
    denom = 1 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n**2)) / denom
    return (centre - half, centre + half)


@pytest.mark.parametrize("correct, n", [
    (0, 1), (1, 1), (0, 10), (10, 10), (3, 7), (81, 263), (900, 1000), (8429, 10000),
    (9379, 10000), (9999, 10000), (10000, 10000),
])
def test_the_wilson_interval_is_the_formulas(correct, n):
    assert stats.accuracy_ci95(correct, n) == pytest.approx(wilson_by_hand(correct, n),
                                                            abs=1e-12)


def test_the_wilson_interval_is_not_the_cruder_normal_one():
    p, n = 0.9, 1000
    half = Z95 * math.sqrt(p * (1 - p) / n)
    assert stats.accuracy_ci95(900, n) != pytest.approx((p - half, p + half), abs=1e-5)


def test_no_images_means_no_information():
    assert stats.accuracy_ci95(0, 0) == (0.0, 1.0)


def test_the_quantile_is_the_normal_distributions():
    assert ndtri(0.975) == stats.Z95


@pytest.mark.parametrize("correct, n", [
    (0, 1), (1, 1), (1, 2), (0, 10), (10, 10), (3, 7), (81, 263), (900, 1000), (8431, 10000),
    (9365, 10000), (9999, 10000), (10000, 10000),
])
def test_the_wilson_interval_is_scipys(correct, n):
    scipy = binomtest(correct, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert stats.accuracy_ci95(correct, n) == pytest.approx((scipy.low, scipy.high), rel=1e-14)


# McNemar's rungs in the default report disagree on a few hundred images (434 against 174,
# p near 1e-26); the dense rung's 728 against 226 goes below 1e-60.
@pytest.mark.parametrize("k, n", [
    (0, 1), (1, 1), (1, 2), (5, 10), (2, 10), (8, 10), (0, 30), (30, 30), (174, 608),
    (434, 608), (226, 954), (313, 798), (4990, 10000), (5000, 10000),
])
def test_the_exact_mcnemar_p_value_is_scipys(k, n):
    assert stats.fair_coin_p_value(k, n) == pytest.approx(binomtest(k, n, 0.5).pvalue, rel=1e-9)


def test_the_exact_p_value_is_exact_down_to_the_smallest_floats():
    # Both tails of 0 heads in 1,074 tosses: 2 / 2**1074, a number only just above zero in
    # double precision; and a tie, whose two tails overlap, is capped at 1.
    assert stats.fair_coin_p_value(0, 1074) == 2.0**-1073
    assert stats.fair_coin_p_value(1, 3) == stats.fair_coin_p_value(2, 3) == 1.0


@pytest.mark.parametrize("k, n", [(-1, 3), (4, 3)])
def test_heads_outside_the_tosses_are_refused(k, n):
    with pytest.raises(ValueError, match="heads must be from 0"):
        stats.fair_coin_p_value(k, n)

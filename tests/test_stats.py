"""The study's statistics against formulas written out by hand."""

from __future__ import annotations

import math

import pytest

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

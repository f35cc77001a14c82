"""The study's statistics: Wilson intervals, McNemar's exact test, Holm's adjustment.

Written with the standard library: every `fmnist` command that records a run or builds the site
computes them, and importing SciPy's statistics for them took over two seconds of each such
command's start (the computations take milliseconds). The tests check them against SciPy.
"""

from __future__ import annotations

from fractions import Fraction
from math import sqrt

import numpy as np

Z95 = 1.959963984540054  # the standard normal distribution's 97.5 % quantile


def accuracy_ci95(correct: int, n: int) -> tuple[float, float]:
    """Wilson's score interval at 95 % for a proportion (better than the normal one near 0
    or 1), in the form SciPy's `binomtest(...).proportion_ci(method="wilson")` computes."""
    if n == 0:
        return (0.0, 1.0)
    p = correct / n
    denom = 2 * (n + Z95**2)
    centre = (2 * n * p + Z95**2) / denom
    delta = Z95 / denom * sqrt(4 * n * p * (1 - p) + Z95**2)
    return (0.0 if correct == 0 else centre - delta, 1.0 if correct == n else centre + delta)


def fair_coin_p_value(k: int, n: int) -> float:
    """The exact two-sided p-value of `k` heads in `n` tosses of a fair coin: twice the smaller
    tail, summed in whole numbers (exact however small), at most 1."""
    if not 0 <= k <= n:
        raise ValueError(f"{k} heads in {n} tosses: heads must be from 0 to the tosses")
    k = min(k, n - k)
    term = tail = 1  # C(n, 0), and the tail's sum so far
    for i in range(k):
        term = term * (n - i) // (i + 1)
        tail += term
    return float(min(Fraction(2 * tail, 2**n), Fraction(1)))


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray) -> dict[str, float]:
    """Exact McNemar test on paired correctness: does A err where B does not more than chance?"""
    only_a = int(np.sum(correct_a & ~correct_b))
    only_b = int(np.sum(~correct_a & correct_b))
    n = only_a + only_b
    p = 1.0 if n == 0 else fair_coin_p_value(only_a, n)
    return {"only_a_correct": only_a, "only_b_correct": only_b, "p_value": p}


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjustment of p-values for multiple comparisons (same order as given).

    Controls the family-wise error rate: the smallest p is multiplied by the number of tests,
    the next by one fewer, and so on, each kept at least as large as the one before.
    """
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    adjusted, running = [0.0] * len(pvalues), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted

"""The study's statistics: Wilson intervals, McNemar's exact test, Holm's adjustment."""

from __future__ import annotations

import numpy as np
from scipy.stats import binomtest


def accuracy_ci95(correct: int, n: int) -> tuple[float, float]:
    """Wilson score interval for a proportion (better than the normal one near 0 or 1), as
    SciPy computes it."""
    if n == 0:
        return (0.0, 1.0)
    ci = binomtest(int(correct), int(n)).proportion_ci(confidence_level=0.95, method="wilson")
    return (float(ci.low), float(ci.high))


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray) -> dict[str, float]:
    """Exact McNemar test on paired correctness: does A err where B does not more than chance?"""
    only_a = int(np.sum(correct_a & ~correct_b))
    only_b = int(np.sum(~correct_a & correct_b))
    n = only_a + only_b
    p = 1.0 if n == 0 else float(binomtest(only_a, n, 0.5).pvalue)
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

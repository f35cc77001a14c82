"""The study's statistics: Wilson intervals, McNemar's exact test, Holm's adjustment."""

from __future__ import annotations

import numpy as np

Z95 = 1.959963984540054


def accuracy_ci95(correct: int, n: int) -> tuple[float, float]:
    """Wilson score interval for a proportion (better than the normal one near 0 or 1)."""
    if n == 0:
        return (0.0, 1.0)
    p = correct / n
    denom = 1 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denom
    half = Z95 * np.sqrt(p * (1 - p) / n + Z95**2 / (4 * n**2)) / denom
    return (float(centre - half), float(centre + half))


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray) -> dict[str, float]:
    """Exact McNemar test on paired correctness: does A err where B does not more than chance?"""
    from scipy.stats import binomtest

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

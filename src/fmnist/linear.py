"""The baseline chapter's logistic regression: one fit, and the grid of solvers and
regularisation strengths chosen on the validation split."""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression


@dataclass
class LogRegModel:
    """Multinomial logistic regression as plain coefficients (saved without pickle)."""

    coef: np.ndarray
    intercept: np.ndarray
    solver: str
    C: float

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Softmax of the linear scores."""
        scores = x @ self.coef.T + self.intercept
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)

    @property
    def n_params(self) -> int:
        return int(self.coef.size + self.intercept.size)

    def save(self, path) -> None:
        """Write the coefficients as .npz (no pickle)."""
        np.savez(path, coef=self.coef, intercept=self.intercept, solver=np.array(self.solver),
                 C=np.array(self.C))

    @classmethod
    def load(cls, path) -> LogRegModel:
        with np.load(path, allow_pickle=False) as f:
            return cls(f["coef"], f["intercept"], str(f["solver"]), float(f["C"]))




def fit_logreg_once(x: np.ndarray, y: np.ndarray, solver: str, C: float, max_iter: int,
                    tol: float, seed: int, start: Any = None) -> tuple[Any, float, bool]:
    """Fit one logistic regression; return it, its seconds and whether it converged.

    `start`, a fitted LogisticRegression, warm-starts the solver from its coefficients (the
    optimum is the same; only the iterations to reach it change).
    """
    clf = LogisticRegression(solver=solver, C=C, max_iter=max_iter, tol=tol, random_state=seed,
                             warm_start=start is not None)
    if start is not None:
        clf.coef_, clf.intercept_ = start.coef_.copy(), start.intercept_.copy()
    start_time = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        clf.fit(x, y)
    seconds = time.perf_counter() - start_time
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return clf, seconds, converged


def select_logreg(
    train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray], *,
    solvers: Sequence[str], c_grid: Sequence[float], max_iter: int, tol: float, seed: int,
    require_convergence: bool = True,
) -> tuple[LogRegModel, list[dict[str, Any]], float]:
    """Grid-search solver and C on the validation split among fits that converged (among all
    fits when `require_convergence` is false).

    Each solver walks the grid from the strongest regularisation up, warm-starting every fit
    from the previous converged one (a regularisation path, as LogisticRegressionCV does): the
    weaker-regularised fits start near their optimum and need fewer iterations.
    Returns the best model, the grid as rows, and the total training seconds.
    """
    rows, best, best_acc, total = [], None, -1.0, 0.0
    for solver in solvers:
        previous = None
        for C in sorted(c_grid):
            clf, seconds, converged = fit_logreg_once(*train, solver, C, max_iter, tol, seed,
                                                      start=previous)
            total += seconds
            acc = float((clf.predict(val[0]) == val[1]).mean())
            rows.append({"solver": solver, "C": C, "val_accuracy": acc, "seconds": seconds,
                         "iterations": int(np.max(clf.n_iter_)), "converged": converged,
                         "warm_start": previous is not None})
            previous = clf if converged else None
            if (converged or not require_convergence) and acc > best_acc:
                best, best_acc = LogRegModel(clf.coef_, clf.intercept_, solver, C), acc
    if best is None:
        raise RuntimeError(f"No logistic regression converged within max_iter={max_iter}: raise "
                           "baseline.max_iter or baseline.tol, or try another solver.")
    return best, rows, total

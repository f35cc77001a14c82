"""Seeding, fitting with early stopping on the validation split, and timing."""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and the Keras backend, and make TensorFlow's ops deterministic."""
    import keras

    os.environ["PYTHONHASHSEED"] = str(seed)
    keras.utils.set_random_seed(seed)  # seeds `random`, NumPy and the backend
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def keras_verbose() -> int:
    """1 (a live progress bar) in a terminal; 2 (one line per epoch) in notebooks and logs."""
    return 1 if sys.stdout.isatty() else 2


@dataclass
class FitResult:
    """A trained model with its per-epoch history and training wall time."""

    model: Any
    history: dict[str, list[float]] = field(default_factory=dict)
    train_seconds: float = 0.0
    best_epoch: int = 0


def compile_model(model, learning_rate: float, decay_steps: int) -> None:
    """Adam with cosine decay over the whole run, sparse cross-entropy, accuracy."""
    import keras

    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=decay_steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])


def fit_keras(
    model,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    patience: int,
    verbose: int | None = None,
) -> FitResult:
    """Train on `train`, early-stop on validation loss and restore the best weights."""
    import keras

    steps = int(np.ceil(len(train[0]) / batch_size)) * epochs
    compile_model(model, learning_rate, steps)
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience,
                                         restore_best_weights=True)
    start = time.perf_counter()
    history = model.fit(*train, validation_data=val, epochs=epochs, batch_size=batch_size,
                        callbacks=[stop], verbose=keras_verbose() if verbose is None else verbose)
    seconds = time.perf_counter() - start
    hist = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    best = int(np.argmin(hist["val_loss"])) + 1
    return FitResult(model=model, history=hist, train_seconds=seconds, best_epoch=best)


def time_inference(predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> tuple[
        np.ndarray, float]:
    """Predict `x` once and return the predictions and the milliseconds per 1,000 images."""
    start = time.perf_counter()
    probs = predict(x)
    seconds = time.perf_counter() - start
    return probs, 1000.0 * seconds * 1000.0 / len(x)


# --- Logistic regression -------------------------------------------------------------------------

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
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

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
) -> tuple[LogRegModel, list[dict[str, Any]], float]:
    """Grid-search solver and C on the validation split among fits that converged.

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
            if converged and acc > best_acc:
                best, best_acc = LogRegModel(clf.coef_, clf.intercept_, solver, C), acc
    if best is None:
        raise RuntimeError(f"No logistic regression converged within max_iter={max_iter}: raise "
                           "baseline.max_iter or baseline.tol, or try another solver.")
    return best, rows, total

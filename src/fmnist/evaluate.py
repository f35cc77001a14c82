"""Test-set metrics, confidence intervals, McNemar's test and the results files of a chapter."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fmnist.data import CLASS_NAMES
from fmnist.environment import versions

METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.npz"
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


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """Counts: rows are true classes, columns predicted classes."""
    return np.bincount(y_true * n_classes + y_pred, minlength=n_classes**2).reshape(
        n_classes, n_classes)


def per_class_scores(cm: np.ndarray) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support per class, keyed by class name."""
    tp = np.diag(cm).astype(float)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return {name: {"precision": float(p), "recall": float(r), "f1": float(f),
                   "support": int(s)}
            for name, p, r, f, s in zip(CLASS_NAMES, precision, recall, f1, actual, strict=True)}


def macro_scores(per_class: dict[str, dict[str, float]]) -> dict[str, float]:
    """Unweighted means of precision, recall and F1 over classes."""
    return {k: float(np.mean([c[k] for c in per_class.values()]))
            for k in ("precision", "recall", "f1")}


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


@dataclass
class Evaluation:
    """Everything a chapter reports about one model on the test set."""

    metrics: dict[str, Any]
    probs: np.ndarray
    y_true: np.ndarray

    @property
    def y_pred(self) -> np.ndarray:
        return self.probs.argmax(axis=1)

    @property
    def confusion(self) -> np.ndarray:
        return np.array(self.metrics["confusion_matrix"])


def evaluate(probs: np.ndarray, y_true: np.ndarray, **record: Any) -> Evaluation:
    """Score class probabilities against the true labels; `record` adds keys to the metrics.

    `record` should hold `model`, `params`, `train_seconds`, `inference_ms_per_1k`, `n_params`.
    """
    y_pred = probs.argmax(axis=1)
    correct = int(np.sum(y_pred == y_true))
    cm = confusion_matrix(y_true, y_pred)
    per_class = per_class_scores(cm)
    metrics = {
        **record,
        "accuracy": correct / len(y_true),
        "accuracy_ci95": list(accuracy_ci95(correct, len(y_true))),
        "n_test": int(len(y_true)),
        "macro": macro_scores(per_class),
        "per_class": per_class,
        "confusion_matrix": cm.tolist(),
        "versions": versions(),
    }
    return Evaluation(metrics=metrics, probs=probs, y_true=y_true)


def atomic_write_text(path: Path, text: str) -> None:
    """Write to a temporary file, then rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def save_evaluation(folder: str | Path, ev: Evaluation) -> Path:
    """Write predictions (class probabilities, true labels), then `metrics.json`, atomically.

    `metrics.json` is written last: its presence means the chapter's results are complete.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{PREDICTIONS_FILE}.tmp.npz"
    np.savez_compressed(tmp, probs=ev.probs.astype(np.float32), y_true=ev.y_true)
    os.replace(tmp, folder / PREDICTIONS_FILE)
    path = folder / METRICS_FILE
    atomic_write_text(path, json.dumps(ev.metrics, indent=2))
    return path


def load_metrics(folder: str | Path) -> dict[str, Any] | None:
    """A chapter's metrics, or None when the chapter has not produced them."""
    path = Path(folder) / METRICS_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def load_predictions(folder: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """A chapter's saved test-set class probabilities and true labels."""
    with np.load(Path(folder) / PREDICTIONS_FILE, allow_pickle=False) as f:
        return f["probs"], f["y_true"]


def most_confident_mistakes(ev: Evaluation, n: int = 12) -> np.ndarray:
    """Indices of the `n` wrong predictions made with the highest probability."""
    wrong = np.flatnonzero(ev.y_pred != ev.y_true)
    confidence = ev.probs[wrong, ev.y_pred[wrong]]
    return wrong[np.argsort(-confidence)[:n]]


def format_accuracy(metrics: dict[str, Any]) -> str:
    """'91.23 % (95 % CI 90.67-91.77)': percentages, never a fraction with a % sign."""
    low, high = metrics["accuracy_ci95"]
    return f"{100 * metrics['accuracy']:.2f} % (95 % CI {100 * low:.2f}–{100 * high:.2f})"


def evaluate_predictor(predict, x_test: np.ndarray, y_test: np.ndarray, /, **record: Any
                       ) -> Evaluation:
    """Time `predict` on the test set once and score its class probabilities."""
    from fmnist.train import time_inference

    probs, ms_per_1k = time_inference(predict, x_test)
    return evaluate(np.asarray(probs), y_test, inference_ms_per_1k=ms_per_1k, **record)


def evaluate_keras(model, x_test: np.ndarray, y_test: np.ndarray, /, tta: bool = False,
                   **record: Any) -> Evaluation:
    """Evaluate a Keras model (with test-time flip averaging when `tta`), timing inference."""
    from fmnist.recipe import predict_probs

    return evaluate_predictor(lambda x: predict_probs(model, x, tta), x_test, y_test,
                              n_params=int(model.count_params()), tta=tta, **record)


def load_model(results: str | Path, chapter: str):
    """Reload a chapter's trained model, only from the project's own results folder.

    Keras models load with `safe_mode=True` (no arbitrary code from lambdas); the logistic
    regression is plain coefficients (no pickle).
    """
    from fmnist.paths import PathError
    from fmnist.train import LogRegModel

    results = Path(results).resolve()
    folder = (results / chapter).resolve()
    if not folder.is_relative_to(results) or folder == results:
        raise PathError(f"chapter `{chapter}` points outside the results folder {results}.")
    if (folder / "model.npz").is_file():
        return LogRegModel.load(folder / "model.npz")
    path = folder / "model.keras"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run the `{chapter}` chapter first.")
    import keras

    return keras.saving.load_model(path, safe_mode=True)

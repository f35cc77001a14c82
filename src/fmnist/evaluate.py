"""Test-set metrics of a model: accuracy with its interval, per-class scores, the confusion
matrix, timing; the evaluation a chapter saves."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fmnist.data import CLASS_NAMES, N_CLASSES
from fmnist.environment import versions
from fmnist.recipe import predict_probs
from fmnist.stats import accuracy_ci95


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = N_CLASSES
                     ) -> np.ndarray:
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


# The key of a metrics file (and a run's record) that fingerprints a model's test predictions.
DIGEST_KEY = "test_predictions_sha256"


def predictions_digest(y_pred: np.ndarray) -> str:
    """SHA-256 of the predicted labels as one unsigned byte each, in test-set order.

    Two runs whose digests agree predicted every test image alike; the 10,000 labels take
    10,000 bytes, so the digest is the same whatever integer type held them.
    """
    labels = np.asarray(y_pred)
    if labels.ndim != 1 or (labels.size and (labels.min() < 0 or labels.max() > 255)):
        raise ValueError(f"predicted labels must be one class index (0-255) per image, got "
                         f"shape {labels.shape}")
    return hashlib.sha256(labels.astype(np.uint8).tobytes()).hexdigest()


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
        DIGEST_KEY: predictions_digest(y_pred),
        "versions": versions(),
    }
    return Evaluation(metrics=metrics, probs=probs, y_true=y_true)


def most_confident_mistakes(ev: Evaluation, n: int = 12) -> np.ndarray:
    """Indices of the `n` wrong predictions made with the highest probability."""
    wrong = np.flatnonzero(ev.y_pred != ev.y_true)
    confidence = ev.probs[wrong, ev.y_pred[wrong]]
    return wrong[np.argsort(-confidence)[:n]]


def format_accuracy(metrics: dict[str, Any], style: str = "text") -> str:
    """A model's test accuracy with its interval, in percent (never a fraction with a % sign):
    `text` '91.23 % (95 % CI 90.67–91.77)', `table` '91.23 [90.67, 91.77]'."""
    low, high = (100 * v for v in metrics["accuracy_ci95"])
    acc = 100 * metrics["accuracy"]
    if style == "table":
        return f"{acc:.2f} [{low:.2f}, {high:.2f}]"
    return f"{acc:.2f} % (95 % CI {low:.2f}–{high:.2f})"


def summary(metrics: dict[str, Any]) -> str:
    """The chapter's one-line test result (markdown): accuracy, macro F1, costs, size."""
    if "search_seconds" in metrics:
        cost = (f"search {metrics['search_seconds']:.1f} s, retrain "
                f"{metrics['train_seconds']:.1f} s")
    else:
        cost = f"trained in {metrics['train_seconds']:.1f} s"
    return (f"**Test accuracy: {format_accuracy(metrics)}**; macro F1 "
            f"{metrics['macro']['f1']:.4f}; {cost}; inference "
            f"{metrics['inference_ms_per_1k']:.1f} ms per 1,000 images; "
            f"{metrics['n_params']:,} parameters.")


def per_class_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """Precision, recall, F1 and support per class (a DataFrame, one row per class)."""
    table = pd.DataFrame(metrics["per_class"]).T.round(4)
    table["support"] = table["support"].astype(int)  # a count of images, not a score
    return table


def time_inference(predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> tuple[
        np.ndarray, float]:
    """Predict `x` once and return the predictions and the milliseconds per 1,000 images."""
    start = time.perf_counter()
    probs = predict(x)
    seconds = time.perf_counter() - start
    return probs, 1000.0 * seconds * 1000.0 / len(x)


def evaluate_predictor(predict, x_test: np.ndarray, y_test: np.ndarray, /, **record: Any
                       ) -> Evaluation:
    """Time `predict` on the test set once and score its class probabilities."""
    probs, ms_per_1k = time_inference(predict, x_test)
    return evaluate(np.asarray(probs), y_test, inference_ms_per_1k=ms_per_1k, **record)


def evaluate_keras(model, x_test: np.ndarray, y_test: np.ndarray, /, tta: bool = False,
                   **record: Any) -> Evaluation:
    """Evaluate a Keras model (with test-time flip averaging when `tta`), timing inference."""
    return evaluate_predictor(lambda x: predict_probs(model, x, tta), x_test, y_test,
                              n_params=int(model.count_params()), tta=tta, **record)



"""A chapter's results folder: metrics, test-set predictions and the trained model, written
atomically and read back safely."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from fmnist.chapters import METRICS_FILE, PIPELINE, PREDICTIONS_FILE
from fmnist.data import N_CLASSES
from fmnist.files import atomic_write, atomic_write_text  # also re-exported from here

# What each chapter's readers need from its folder: the pipeline's table says (`Chapter.writes`).
REQUIRED: dict[str, tuple[str, ...]] = {c.slug: c.writes for c in PIPELINE}
METRIC_KEYS = ("accuracy", "accuracy_ci95", "macro", "per_class", "confusion_matrix",
               "train_seconds")


class DamagedResults(RuntimeError):
    """A results file is missing, unreadable or incomplete; the message names it and the
    command that makes it again."""


def _read_metrics(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """A metrics file's content, or None and what is wrong with it."""
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        return None, f"not readable JSON ({type(err).__name__})"
    missing = [k for k in METRIC_KEYS if not isinstance(metrics, dict) or k not in metrics]
    return (None, f"incomplete: no {', '.join(missing)}") if missing else (metrics, None)


def _read_npz(path: Path, arrays: tuple[str, ...]
              ) -> tuple[dict[str, np.ndarray] | None, str | None]:
    """The named arrays of a NumPy archive, or None and what is wrong with it."""
    try:
        with np.load(path, allow_pickle=False) as f:
            loaded = {name: f[name] for name in arrays}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        return None, f"not a readable NumPy archive ({type(err).__name__})"
    if "probs" in loaded:
        probs, y = loaded["probs"], loaded["y_true"]
        if probs.ndim != 2 or probs.shape != (len(y), N_CLASSES):
            return None, f"incomplete: probabilities of shape {probs.shape} for {len(y)} labels"
    return loaded, None


def _check_zip(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
    except (OSError, zipfile.BadZipFile) as err:
        return f"not a readable Keras file ({type(err).__name__})"
    return f"its member {bad} is corrupt" if bad else None


PREDICTION_ARRAYS = ("probs", "y_true")
CHECKS: dict[str, Callable[[Path], str | None]] = {
    METRICS_FILE: lambda p: _read_metrics(p)[1],
    PREDICTIONS_FILE: lambda p: _read_npz(p, PREDICTION_ARRAYS)[1],
    "model.npz": lambda p: _read_npz(p, ("coef", "intercept"))[1],
    "model.keras": _check_zip,
    "split.npz": lambda p: _read_npz(p, ("train", "val"))[1],
}


def damage(results: str | Path, chapter: str) -> str | None:
    """What is wrong with a chapter's results folder, as `path: reason` for the first damaged
    file its readers need (missing, unreadable or incomplete); None when every file is sound."""
    folder = Path(results) / chapter
    for name in REQUIRED.get(chapter, ()):
        path = folder / name
        reason = "missing" if not path.is_file() else CHECKS[name](path)
        if reason:
            return f"{path}: {reason}"
    return None


def _damaged(path: Path, reason: str) -> DamagedResults:
    chapter = path.parent.name
    return DamagedResults(f"{path} is {reason}: its chapter's results cannot be trusted. Run "
                          f"`fmnist run {chapter}` (or `fmnist report`) to make them again.")


def save_evaluation(folder: str | Path, ev) -> Path:
    """Write predictions (class probabilities, true labels), then `metrics.json`, atomically.

    `metrics.json` is written last: its presence means the chapter's results are complete.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / PREDICTIONS_FILE, lambda tmp: np.savez_compressed(
        tmp, probs=ev.probs.astype(np.float32), y_true=ev.y_true))
    path = folder / METRICS_FILE
    atomic_write_text(path, json.dumps(ev.metrics, indent=2))
    return path


def load_metrics(folder: str | Path) -> dict[str, Any] | None:
    """A chapter's metrics, or None when the chapter has not produced them; `DamagedResults`
    when the file is there but unreadable or incomplete."""
    path = Path(folder) / METRICS_FILE
    if not path.is_file():
        return None
    metrics, reason = _read_metrics(path)  # one read: checked and parsed together
    if reason:
        raise _damaged(path, reason)
    return metrics


def load_predictions(folder: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """A chapter's saved test-set class probabilities and true labels (`DamagedResults` when
    the file is missing, unreadable or incomplete)."""
    path = Path(folder) / PREDICTIONS_FILE
    loaded, reason = (None, "missing") if not path.is_file() else _read_npz(path,
                                                                           PREDICTION_ARRAYS)
    if reason:
        raise _damaged(path, reason)
    return loaded["probs"], loaded["y_true"]


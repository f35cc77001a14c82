"""A chapter's results folder: metrics, test-set predictions and the trained model, written
atomically and read back safely."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.npz"


def atomic_write(path: Path, write: Callable[[Path], Any]) -> None:
    """Call `write` on a temporary file beside `path`, then rename it to `path`: a reader
    never sees half a file, and a run killed while writing leaves the old one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    write(tmp)
    os.replace(tmp, path)


def atomic_write_text(path: Path, text: str) -> None:
    """Write UTF-8 text to `path` atomically."""
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


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
    """A chapter's metrics, or None when the chapter has not produced them."""
    path = Path(folder) / METRICS_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def load_predictions(folder: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """A chapter's saved test-set class probabilities and true labels."""
    with np.load(Path(folder) / PREDICTIONS_FILE, allow_pickle=False) as f:
        return f["probs"], f["y_true"]


def load_model(results: str | Path, chapter: str):
    """Reload a chapter's trained model, only from the project's own results folder.

    Keras models load with `safe_mode=True` (no arbitrary code from lambdas); the logistic
    regression is plain coefficients (no pickle).
    """
    from fmnist.models import LogRegModel
    from fmnist.paths import PathError

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

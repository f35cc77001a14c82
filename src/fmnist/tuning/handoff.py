"""The tuning chapter's retrain, run ahead and handed over.

When the report runs its search ahead of the tuning chapter (`tuning.ahead`), the same process
goes on to retrain the configuration the chapter will choose, beside the model chapters, and
leaves the trained result in the search's folder. The chapter takes it only when it is the
retrain the chapter would run itself: the same search (the folder), configuration, seed and
thread count (`retrain_key`); otherwise it retrains. A hand-off is taken once: a chapter rerun
later retrains, so a rerun checks the numbers again rather than reading them back.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import keras
import numpy as np

from fmnist.params import params_hash
from fmnist.schema import CnnParams
from fmnist.train import FitResult

FOLDER = "retrain-ahead"  # inside the search's folder: a new search never meets an old retrain
META_FILE = "fit.json"
MODEL_FILE = "model.keras"
PREDICTIONS_FILE = "val_predictions.npy"


def retrain_key(config: CnnParams, seed: int, threads: int) -> str:
    """What makes two retrains the same computation: configuration, seed and thread count (the
    split and the search are the folder's)."""
    return params_hash({**dataclasses.asdict(config), "seed": seed, "threads": threads})


def save(folder: Path, fit: FitResult, key: str) -> None:
    """Leave `fit` in `folder` whole: written beside it, then renamed into place, so a stopped
    process leaves either the previous state or the finished result."""
    partial = folder.with_name(f"{folder.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    fit.model.save(partial / MODEL_FILE)
    np.save(partial / PREDICTIONS_FILE, fit.val_predictions)
    meta = {"key": key, "history": fit.history, "train_seconds": fit.train_seconds,
            "best_epoch": fit.best_epoch, "val_accuracy": fit.val_accuracy}
    (partial / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)


def take(folder: Path, key: str) -> FitResult | None:
    """The result left in `folder` by a retrain with this `key`, removed from it; None when
    there is none, or another retrain's, or it cannot be read (the chapter then retrains)."""
    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        if meta.get("key") != key:
            return None
        model = keras.saving.load_model(folder / MODEL_FILE, safe_mode=True)
        predictions = np.load(folder / PREDICTIONS_FILE)
    except (OSError, ValueError, KeyError, AttributeError):
        return None
    shutil.rmtree(folder, ignore_errors=True)
    return FitResult(model=model, history=meta["history"], train_seconds=meta["train_seconds"],
                     best_epoch=meta["best_epoch"], val_accuracy=meta["val_accuracy"],
                     val_predictions=predictions)

"""Reloading a chapter's trained model as a reader should: only from the project's results
folder, Keras with `safe_mode=True` (no code from a lambda layer runs), the logistic regression
as plain coefficients (no pickle). No chapter reloads a model, so this lives with the tests that
check the saved ones."""

from __future__ import annotations

from pathlib import Path

import keras

from fmnist.linear import LogRegModel
from fmnist.paths import PathError


def load_model(results: str | Path, chapter: str):
    """Reload a chapter's trained model, only from the results folder `results`."""
    results = Path(results).resolve()
    folder = (results / chapter).resolve()
    if not folder.is_relative_to(results) or folder == results:
        raise PathError(f"chapter `{chapter}` points outside the results folder {results}.")
    if (folder / "model.npz").is_file():
        return LogRegModel.load(folder / "model.npz")
    path = folder / "model.keras"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run the `{chapter}` chapter first.")
    return keras.saving.load_model(path, safe_mode=True)

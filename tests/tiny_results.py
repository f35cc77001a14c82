"""A small results folder made as the chapters make theirs: each model chapter's evaluation
(fmnist.evaluate on made-up probabilities) and the run's record (fmnist.report)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import ROOT

from fmnist import evaluate, report, results
from fmnist.params import load_profile

N = 60  # test images


def save_model(folder: Path, accuracy: float, seed: int, **record) -> dict:
    """A model's evaluation saved as its chapter saves it: probabilities right on about
    `accuracy` of `N` images."""
    rng = np.random.default_rng(seed)
    y_true = np.arange(N) % 10
    right = rng.random(N) < accuracy
    labels = np.where(right, y_true, (y_true + 1 + rng.integers(0, 9, N)) % 10)
    probs = np.full((N, 10), 0.01, dtype=np.float32)
    probs[np.arange(N), labels] = 0.91
    ev = evaluate.evaluate(probs, y_true, model=record.pop("model"), params={"seed": seed},
                           train_seconds=10.0 + seed, inference_ms_per_1k=1.5, n_params=1000,
                           val_accuracy=accuracy, **record)
    results.save_evaluation(folder, ev)
    return ev.metrics


def make_run(folder: Path) -> Path:
    """Every model chapter's results and the run's record in `folder`."""
    save_model(folder / "baseline", 0.6, 1, model="Logistic regression",
               selection={"solver": "lbfgs", "C": 0.1,
                          "grid": [{"solver": "lbfgs", "C": 0.1, "val_accuracy": 0.6}]})
    save_model(folder / "dense", 0.75, 2, model="Dense network")
    save_model(folder / "cnn", 0.85, 3, model="CNN")
    save_model(folder / "tuning", 0.9, 4, model="Tuned CNN", kept="tuned",
               search_seconds=30.0, changes={"dropout": [0.2, 0.3]})
    profile = load_profile(ROOT / "params" / "quick.yaml")
    report.write_run_record(folder, profile, {"baseline": 1.0, "dense": 2.0}, 3.5)
    return folder

"""Accuracy-versus-time frontier of CNN variants on this machine (issue: performance).

Each variant is trained with the CNN chapter's protocol (training split, early stopping on the
validation split); it is *chosen* by validation accuracy only. Test accuracy is recorded to show
the frontier, never to choose. Usage: python bench/cnn_frontier.py [variant ...]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from fmnist import data, evaluate, models, train

VARIANTS: dict[str, dict] = {
    "original_cosine_20ep": {"build": {}, "epochs": 20},
    "bn_same_15ep": {"build": {"batch_norm": True, "padding": "same"}, "epochs": 15},
    "wide_64_128_20ep": {"build": {"filters": [64, 128]}, "epochs": 20},
    "dense256_drop04_20ep": {"build": {"dense_units": 256, "dropout": 0.4}, "epochs": 20},
}
OUT = Path(__file__).parent / "results" / "cnn_frontier.jsonl"


def run_variant(name: str, spec: dict, seed: int = 42) -> dict:
    """Train one variant with the chapter's protocol and return its figures."""
    ds = data.load_dataset()
    tr, va = data.split_indices(ds.y_train, 0.1, seed)
    x = data.channels(data.to_float(ds.x_train))
    train.seed_everything(seed)
    model = models.build_cnn(**spec["build"])
    start = time.perf_counter()
    fit = train.fit_keras(model, (x[tr], ds.y_train[tr]), (x[va], ds.y_train[va]),
                          epochs=spec["epochs"], batch_size=128, learning_rate=1e-3, patience=4,
                          verbose=2)
    ev = evaluate.evaluate_keras(model, data.channels(data.to_float(ds.x_test)), ds.y_test)
    return {"variant": name, **spec, "epochs_run": len(fit.history["loss"]),
            "train_seconds": time.perf_counter() - start,
            "val_accuracy": max(fit.history["val_accuracy"]),
            "test_accuracy": ev.metrics["accuracy"], "machine": evaluate.machine_description()}


if __name__ == "__main__":
    for name in sys.argv[1:] or list(VARIANTS):
        row = run_variant(name, VARIANTS[name])
        print(json.dumps(row), flush=True)
        with OUT.open("a") as f:
            f.write(json.dumps(row) + "\n")

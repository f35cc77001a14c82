"""A tiny, real KerasTuner search shared by the tuning tests (also run as a script to be killed).

Usage: python tests/tiny_search.py DIRECTORY MAX_TRIALS
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from fmnist.schema import CnnParams, TuningParams
from fmnist.tuning.hypermodel import CnnHyperModel
from fmnist.tuning.steps import trial_rows
from fmnist.tuning.tuners import make_tuner

SPACE = TuningParams(max_trials=3, trial_epochs=1, search_subset=None,
                     space={"filters": [[2, 4], [4, 4]], "kernel_size": [[3, 3], [5, 3]],
                            "label_smoothing": [0.0, 0.1], "augment_shift": [0, 1],
                            "learning_rate": [1e-2, 1e-3]})
CNN = CnnParams(filters=[2, 4], kernel_size=[3, 3], dense_units=4, padding="valid",
                warmup_epochs=0, epochs=1, batch_size=16)


def tiny_data(n: int = 64, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, n)


def run(directory: Path, max_trials: int, seed: int = 7, algorithm: str = "random",
        trial_epochs: int = 1):
    """Run (or resume) the tiny search; return the tuner."""
    space = replace(SPACE, max_trials=max_trials, algorithm=algorithm, trial_epochs=trial_epochs)
    hypermodel = CnnHyperModel(CNN, space.space, 64, trial_epochs, seed)
    tuner = make_tuner(space, hypermodel, directory, seed)
    tuner.search(tiny_data(), tiny_data(32, 1), epochs=trial_epochs, verbose=0)
    return tuner


def rows(tuner) -> list[dict]:
    """The finished trials of a tiny search."""
    return trial_rows(tuner, CNN, SPACE.space)


def configs(tuner) -> list[dict]:
    """The searched values of each finished trial of a tiny search, in order."""
    return [{k: v for k, v in row.items() if k in SPACE.space} for row in rows(tuner)]


if __name__ == "__main__":
    run(Path(sys.argv[1]), int(sys.argv[2]))

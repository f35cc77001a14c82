"""A tiny, real KerasTuner search shared by the tuning tests (also run as a script to be killed).

Usage: python tests/tiny_search.py DIRECTORY MAX_TRIALS
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from fmnist import tune
from fmnist.params import TuningParams

SPACE = TuningParams(max_trials=3, trial_epochs=1, search_subset=None, filters_choices=[2, 4],
                     kernel_choices=[3, 5], units_choices=[4, 8], lr_choices=[1e-2, 1e-3])


def tiny_data(n: int = 64, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, n)


def run(directory: Path, max_trials: int, seed: int = 7, algorithm: str = "random",
        trial_epochs: int = 1):
    """Run (or resume) the tiny search; return the tuner."""
    from dataclasses import replace

    space = replace(SPACE, max_trials=max_trials, algorithm=algorithm, trial_epochs=trial_epochs)
    tuner = tune.make_tuner(space, tune.make_hypermodel(space, 10), directory, seed)
    tune.search(tuner, tiny_data(), tiny_data(32, 1), epochs=1, batch_size=16, verbose=0)
    return tuner


if __name__ == "__main__":
    run(Path(sys.argv[1]), int(sys.argv[2]))

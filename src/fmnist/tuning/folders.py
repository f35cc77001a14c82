"""Where a search lives on disk and which trials it holds, read without TensorFlow.

The runner reads a search's state to decide whether the tuning chapter is fresh; this module
keeps that decision from importing Keras (and its start-up lines) into the runner.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

from fmnist.data import split_key
from fmnist.params import params_hash
from fmnist.schema import CnnParams, SharedParams, TuningParams

PROJECT = "search"  # a search's folder is `results/tuning/search-<hash>/`
# Files of a search's folder beside KerasTuner's `trial.json`s: the oracle's saved state, and
# what this package writes into each trial's folder (its wall time and worker, its values).
ORACLE_FILE = "oracle.json"
SECONDS_FILE = "seconds.json"
VALUES_FILE = "values.json"  # written when the trial starts, so a damaged trial can be rebuilt
# The variable that names a process's role in KerasTuner's distributed search (`chief`,
# `tuner0` ...): `distribute` sets it, and each trial's SECONDS_FILE records it.
TUNER_ID_VAR = "KERASTUNER_TUNER_ID"

# Hyperband's halving factor. Not KerasTuner's 3: with a budget of a few epochs per
# configuration, factor 3 leaves one bracket, i.e. a random search without successive halving.
HYPERBAND_FACTOR = 2


def hyperband_configurations(max_epochs: int, factor: int = HYPERBAND_FACTOR) -> int:
    """How many configurations one Hyperband iteration starts (its brackets' first rounds),
    sized as KerasTuner 1.4's `HyperbandOracle` sizes them (tests/test_tune.py compares)."""
    brackets, epochs = 0, max_epochs
    while epochs >= 1:
        epochs, brackets = epochs / factor, brackets + 1
    end_size = math.ceil(1 + math.log(max_epochs, factor))
    return sum(math.ceil(end_size / (b + 1) * factor**b) for b in range(brackets))


def hyperband_iterations(max_trials: int, max_epochs: int,
                         factor: int = HYPERBAND_FACTOR) -> int:
    """The whole Hyperband iterations whose configurations come nearest `max_trials` (at least
    one), so `tuning.max_trials` sets a Hyperband search's budget as it sets a random search's."""
    return max(1, math.floor(max_trials / hyperband_configurations(max_epochs, factor) + 0.5))


def project_name(tuning: TuningParams, seed: int, data_key: str = "") -> str:
    """A search's folder name: same space, seed and data resume it; anything else starts anew."""
    # Keys that do not change which trials are run leave the search's folder alone; so does the
    # thread count, as a distributed search's workers each run with their share of the cores.
    values = {k: v for k, v in dataclasses.asdict(tuning).items()
              if k not in ("overwrite", "selection", "threads")}
    if tuning.algorithm == "hyperband":  # a reloaded oracle keeps its saved iteration count
        values["iterations"] = hyperband_iterations(tuning.max_trials, tuning.trial_epochs)
    return f"{PROJECT}-{params_hash({**values, 'seed': seed, 'data': data_key})}"


# CNN keys no trial uses: a trial trains `trial_epochs` epochs and never stops early, so the
# chapter's epoch budget and patience change the retrain, not the search; trials run with the
# tuning section's thread count, not the CNN chapter's.
NOT_IN_TRIALS = ("epochs", "patience", "threads")


def search_key(results: Path, cnn: CnnParams) -> str:
    """What, besides the space and seed, names a search's folder: the split and the CNN keys
    that reach a trial."""
    trial_keys = {k: v for k, v in dataclasses.asdict(cnn).items() if k not in NOT_IN_TRIALS}
    return split_key(results) + params_hash(trial_keys)


def search_state(results: Path, shared: SharedParams, tuning: TuningParams, cnn: CnnParams
                 ) -> list[tuple[str, str | None, float | None]]:
    """The trials of the search this profile runs: (trial, status, score), as saved on disk.

    What the tuning chapter's freshness depends on, so a search changed outside the chapter
    (`fmnist tune`) always reruns it.
    """
    folder = results / "tuning" / project_name(tuning, shared.seed,
                                               search_key(results, cnn))
    state = []
    for path in sorted(folder.glob("trial_*/trial.json")):
        try:
            trial = json.loads(path.read_text())
        except (OSError, ValueError):  # being written: counts as a change
            trial = {"status": "WRITING", "score": None}
        state.append((path.parent.name, trial.get("status"), trial.get("score")))
    return state

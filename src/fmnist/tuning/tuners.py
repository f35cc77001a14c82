"""The tuner a profile names (random search, Hyperband or Bayesian optimisation), made
resumable and timed, its folder repaired before it is reloaded (`repair`).

Everything here that touches KerasTuner's private state (`_is_worker`, the saved `oracle.json`,
its distribution utilities) is checked against KerasTuner 1.4 by tests/test_tune.py. The
hypermodel is `hypermodel.CnnHyperModel`.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import time
from pathlib import Path

import keras_tuner as kt
from keras_tuner.src.distribute import utils as dist_utils

from fmnist import interrupt
from fmnist.schema import TuningParams
from fmnist.tuning.folders import (
    HYPERBAND_FACTOR,
    ORACLE_FILE,
    SECONDS_FILE,
    TUNER_ID_VAR,
    VALUES_FILE,
    hyperband_iterations,
    project_name,
)
from fmnist.tuning.repair import repair_search, save_oracle_atomically, settle_reloaded_oracle


def trial_line(trial: kt.engine.trial.Trial, seconds: float) -> str:
    """One short line for a finished trial: its values, validation accuracy and seconds."""
    values = ", ".join(f"{k}={v}" for k, v in trial.hyperparameters.values.items()
                       if not k.startswith("tuner/"))
    score = (f"validation {100 * trial.score:.2f} %" if trial.score is not None
             else trial.status.lower())
    return f"trial {trial.trial_id}: {values}: {score}, {seconds:.0f} s"


def timed(base: type[kt.Tuner]) -> type[kt.Tuner]:
    """A tuner class that records each trial's wall time in its trial folder, and resumes its
    oracle from disk whatever this process's role.

    KerasTuner reloads a search only from `<tuner id>.json`: a chief (id `chief`) started after a
    single-process search (id `tuner0`) found no such file and ran the finished trials again.
    """

    class Timed(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            saved = Path(self.project_dir) / ORACLE_FILE
            if (not kwargs.get("overwrite") and not self._is_worker() and not self.oracle.trials
                    and saved.is_file()):
                self.oracle.reload()
            if not self._is_worker():
                settle_reloaded_oracle(self.oracle)
                save_oracle_atomically(self.oracle)

        def search(self, *args, **kwargs):
            # KerasTuner collects garbage twice before every trial; with TensorFlow loaded, each
            # collection walks every object made since start-up (about a quarter second here,
            # a third of a small trial). Collected once, the objects alive now are left out of
            # those walks while the search runs (CPython's gc.freeze), then put back.
            gc.collect()
            try:
                gc.freeze()
                return super().search(*args, **kwargs)
            finally:
                gc.unfreeze()

        def run_trial(self, trial, *args, **kwargs):
            # Kept apart from KerasTuner's trial.json, so a damaged one can be rebuilt and rerun.
            folder = Path(self.get_trial_dir(trial.trial_id))
            folder.mkdir(parents=True, exist_ok=True)
            (folder / VALUES_FILE).write_text(json.dumps(trial.hyperparameters.values))
            start = time.perf_counter()
            try:
                out = super().run_trial(trial, *args, **kwargs)
            except Exception:
                # A Ctrl-C a library wrapped in its own error: KerasTuner would record the trial
                # as failed and go on; stopped as an interrupt, the trial reruns on resume.
                interrupt.stop_if_interrupted()
                raise
            path = Path(self.get_trial_dir(trial.trial_id)) / SECONDS_FILE
            seconds = time.perf_counter() - start
            path.write_text(json.dumps({"seconds": seconds,
                                        "tuner_id": os.environ.get(TUNER_ID_VAR, "local")}))
            self._seconds = seconds
            return out

        def on_trial_end(self, trial):
            super().on_trial_end(trial)
            ended = self.oracle.get_trial(trial.trial_id)  # scored by the (chief) oracle
            print(trial_line(ended, getattr(self, "_seconds", float("nan"))), flush=True)

    Timed.__name__ = f"Timed{base.__name__}"
    return Timed


def make_tuner(tuning: TuningParams, hypermodel: kt.HyperModel, directory: Path, seed: int,
               overwrite: bool | None = None, data_key: str = "") -> kt.Tuner:
    """The tuner named by `tuning.algorithm`, stateful in `directory` (resumable); a damaged
    trial in it is reported and rerun (`repair.repair_search`)."""
    # The chief repairs; a worker (which reads nothing of the folder) must not race it.
    worker = dist_utils.has_chief_oracle() and not dist_utils.is_chief_oracle()
    if not (tuning.overwrite if overwrite is None else overwrite) and not worker:
        for note in repair_search(Path(directory) / project_name(tuning, seed, data_key)):
            print(note, flush=True)

    with contextlib.redirect_stdout(io.StringIO()):  # KerasTuner's "Reloading Tuner from ..."
        return _make_tuner(tuning, hypermodel, directory, seed, overwrite, data_key)


def _make_tuner(tuning: TuningParams, hypermodel: kt.HyperModel, directory: Path, seed: int,
                overwrite: bool | None, data_key: str) -> kt.Tuner:
    common = {"objective": "val_accuracy", "directory": str(directory),
              "project_name": project_name(tuning, seed, data_key),
              "seed": seed, "overwrite": tuning.overwrite if overwrite is None else overwrite}
    if tuning.algorithm == "hyperband":
        iterations = hyperband_iterations(tuning.max_trials, tuning.trial_epochs)
        return timed(kt.Hyperband)(hypermodel, max_epochs=tuning.trial_epochs,
                                    factor=HYPERBAND_FACTOR, hyperband_iterations=iterations,
                                    **common)
    if tuning.algorithm == "bayesian":
        # KerasTuner's default starts with 3 random points per hyperparameter, more than a small
        # budget has: half the trials explore, the rest follow the Gaussian process.
        return timed(kt.BayesianOptimization)(hypermodel, max_trials=tuning.max_trials,
                                               num_initial_points=-(-tuning.max_trials // 2),
                                               **common)
    return timed(kt.RandomSearch)(hypermodel, max_trials=tuning.max_trials, **common)

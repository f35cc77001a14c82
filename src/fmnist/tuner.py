"""KerasTuner adaptations: the tuner a profile names, made resumable, timed and repairable.

Everything here that touches KerasTuner's private state (`_retry_queue`, `_project_dir`,
`_is_worker`, the saved `oracle.json`) is checked against KerasTuner 1.4 by tests/test_tune.py.
The hypermodel and the search's configurations are `fmnist.tune`'s.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import keras_tuner as kt
from keras_tuner.src.distribute import utils as dist_utils

from fmnist import interrupt
from fmnist.distributed import TUNER_ID_VAR
from fmnist.params import TuningParams
from fmnist.results import DamagedResults, atomic_write, atomic_write_text
from fmnist.search import HYPERBAND_FACTOR, hyperband_iterations, project_name

SECONDS_FILE = "seconds.json"
VALUES_FILE = "values.json"  # a trial's hyperparameter values, written when it starts
ORACLE_FILE = "oracle.json"
# The oracle's state as `Oracle.set_state` reads it (KerasTuner 1.4), with each entry's type.
ORACLE_KEYS = {"ongoing_trials": dict, "hyperparameters": dict, "start_order": list,
               "end_order": list, "retry_queue": list, "run_times": dict}
FINISHED = ("COMPLETED", "FAILED")


def _as_keras_tuner_hypermodel(hypermodel):
    class Wrapped(kt.HyperModel):
        def build(self, hp):
            return hypermodel.build(hp)

        def fit(self, hp, model, *args, **kwargs):
            return hypermodel.fit(hp, model, *args, **kwargs)

    return Wrapped()


def settle_reloaded_oracle(oracle) -> None:
    """Make a reloaded oracle's state agree with its trials' files, so no trial is run twice
    or lost.

    A kill can fall between two of KerasTuner's writes, each leaving a trial file ahead of
    `oracle.json`:
    - a chief saves its oracle at each trial's end *before* it removes the trial from the
      ongoing ones, and stops without saving again: reloading queues the finished trial for a
      retry, so a chapter resuming a distributed search ran it a second time. Finished trials
      leave the retry queue and join the end order.
    - a new trial's file is written just before the oracle that starts it: reloading finds a
      trial the oracle never started, neither ongoing nor queued, and the search skipped it.
      Such a trial is forgotten, so the resumed search creates it again from the saved random
      state, as an uninterrupted search would.
    """
    finished = {"COMPLETED", "FAILED"}
    oracle._retry_queue = [trial_id for trial_id in oracle._retry_queue
                           if oracle.trials[trial_id].status not in finished]
    for trial_id, trial in sorted(oracle.trials.items()):
        if trial.status in finished and trial_id not in oracle.end_order:
            oracle.end_order.append(trial_id)
    for trial_id in [t for t in oracle.trials if t not in oracle.start_order]:
        del oracle.trials[trial_id]
        oracle._retry_queue = [t for t in oracle._retry_queue if t != trial_id]
        shutil.rmtree(Path(oracle._project_dir) / f"trial_{trial_id}", ignore_errors=True)


def save_oracle_atomically(oracle) -> None:
    """Make the oracle write `oracle.json` aside and rename it (`results.atomic_write`).

    KerasTuner rewrites it in place after every trial: a stop that lands mid-write (a signal,
    a full disk) left it truncated, and the search could not resume.
    """
    def save() -> None:
        final = Path(oracle._get_oracle_fname())

        def write(tmp: Path) -> None:
            oracle._get_oracle_fname = lambda: str(tmp)
            try:
                type(oracle).save(oracle)  # looked up at each call, as KerasTuner's own
            finally:
                del oracle._get_oracle_fname

        atomic_write(final, write)

    oracle.save = save


def trial_line(trial, seconds: float) -> str:
    """One short line for a finished trial: its values, validation accuracy and seconds."""
    values = ", ".join(f"{k}={v}" for k, v in trial.hyperparameters.values.items()
                       if not k.startswith("tuner/"))
    score = (f"validation {100 * trial.score:.2f} %" if trial.score is not None
             else trial.status.lower())
    return f"trial {trial.trial_id}: {values}: {score}, {seconds:.0f} s"


def timed(base: type) -> type:
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


def _readable_trial(path: Path) -> bool:
    try:
        trial = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(trial, dict) and {"trial_id", "hyperparameters", "status"} <= set(trial)


def _forget(state: dict[str, Any], trial_id: str) -> None:
    """Take a trial out of a saved oracle state's end order and ongoing trials: started, not
    ended, as if it had been interrupted."""
    state["end_order"] = [t for t in state["end_order"] if t != trial_id]
    state["ongoing_trials"] = {k: t for k, t in state["ongoing_trials"].items() if t != trial_id}


def _afresh(folder: Path, problem: str) -> DamagedResults:
    return DamagedResults(f"{folder / ORACLE_FILE} {problem}: the search cannot resume. Start it "
                          "afresh with `--set tuning.overwrite=true` (the same seed draws the "
                          "same trials again), or move the folder aside to keep its trials.")


def _read_oracle(folder: Path) -> dict[str, Any]:
    """The saved oracle state, checked to be what KerasTuner reloads; `DamagedResults` if not."""
    try:
        state = json.loads((folder / ORACLE_FILE).read_text())
    except (OSError, ValueError):
        raise _afresh(folder, "is not readable JSON") from None
    wrong = [k for k, kind in ORACLE_KEYS.items()
             if not isinstance(state, dict) or not isinstance(state.get(k), kind)]
    if wrong:
        raise _afresh(folder, f"lacks the oracle's {', '.join(wrong)}")
    return state


def _reset_tuner_files(folder: Path, keep: bool) -> list[str]:
    """A tuner's own file (`tuner0.json`, `chief.json`) holds no search state, but KerasTuner
    reloads the search only when it reads: a damaged one is rewritten empty (`keep`), or every
    one removed where there is no oracle to reload."""
    notes = []
    for path in sorted(folder.glob("*.json")):
        if path.name == ORACLE_FILE or path.name.startswith("."):  # or a write's aside copy
            continue
        if not keep:
            path.unlink()
            continue
        try:
            readable = isinstance(json.loads(path.read_text()), dict)
        except (OSError, ValueError):
            readable = False
        if not readable:
            atomic_write_text(path, "{}")
            notes.append(f"{path.name}: damaged; rewritten (it holds no search state), the "
                         f"search resumes from {ORACLE_FILE}")
    return notes


def _without_oracle(folder: Path, trials: list[Path]) -> None:
    """No saved oracle: trials that never finished are removed (the run stopped before the
    oracle's first save, and the search starts as new); finished ones cannot be resumed."""
    finished = [t for t in trials if _readable_trial(t / "trial.json")
                and json.loads((t / "trial.json").read_text())["status"] in FINISHED]
    if finished:
        raise _afresh(folder, f"is missing while {len(finished)} finished trial(s) remain")
    for trial_dir in trials:
        shutil.rmtree(trial_dir)


def repair_search(folder: Path) -> list[str]:
    """Make a search's folder safe to resume: every file KerasTuner will reload is readable.

    A damaged or missing `trial.json` (a disk that filled, a copy interrupted), or a trial's
    whole folder lost, is rebuilt from the trial's saved values and queued to run again; where
    its values are lost too, the trial keeps its place (KerasTuner numbers trials by count) with
    values drawn afresh, seeded by the search's seed and the trial's number. A damaged tuner
    file is rewritten. The rest of the search is kept. Returns one line per repair; raises
    `DamagedResults`, saying how to start afresh, when the oracle's own state is unreadable or
    missing beside finished trials (nothing to resume from).
    """
    trials = sorted(p for p in folder.glob("trial_*") if p.is_dir())
    if not (folder / ORACLE_FILE).exists():
        _reset_tuner_files(folder, keep=False)
        _without_oracle(folder, trials)
        return []
    state = _read_oracle(folder)
    notes = _reset_tuner_files(folder, keep=True)
    lost = [folder / f"trial_{t}" for t in state["start_order"]
            if not (folder / f"trial_{t}").is_dir()]
    damaged = [t for t in trials if not _readable_trial(t / "trial.json")] + lost
    if not damaged:
        return notes
    for trial_dir in damaged:
        trial_id = trial_dir.name.removeprefix("trial_")
        if trial_id not in state["start_order"]:
            # Its file was being written when the run stopped, before the oracle started it:
            # nothing of it ran, and the resumed search creates it anew.
            shutil.rmtree(trial_dir)
            continue
        notes.append(_rebuild_trial(trial_dir, trial_id, state))
    atomic_write_text(folder / ORACLE_FILE, json.dumps(state))
    return notes


def _rebuild_trial(trial_dir: Path, trial_id: str, state: dict[str, Any]) -> str:
    """Write a damaged trial's file again from its saved values (or a seeded fresh draw), and
    queue it to run again in `state`; return the line that says so."""
    try:
        values = json.loads((trial_dir / VALUES_FILE).read_text())
    except (OSError, ValueError):
        values = None
    trial_dir.mkdir(exist_ok=True)
    (trial_dir / SECONDS_FILE).unlink(missing_ok=True)
    hp = kt.HyperParameters.from_config(state["hyperparameters"])
    if values is None:
        draw = int(state.get("seed") or 0) + int(trial_id)
        values = {h.name: h.random_sample(draw + i) for i, h in enumerate(hp.space)}
        note = (f"trial {trial_id}: damaged, its values lost: it runs again with values drawn "
                "afresh")
    else:
        note = f"trial {trial_id}: damaged trial.json rebuilt from its values; it runs again"
    hp.values = values
    kt.engine.trial.Trial(hp, trial_id=trial_id, status="IDLE").save(
        str(trial_dir / "trial.json"))
    _forget(state, trial_id)
    if trial_id not in state["retry_queue"]:
        state["retry_queue"].append(trial_id)
    return note


def make_tuner(space: TuningParams, hypermodel, directory: Path, seed: int,
               overwrite: bool | None = None, data_key: str = ""):
    """The tuner named by `space.algorithm`, stateful in `directory` (resumable); a damaged
    trial in it is reported and rerun (`repair_search`)."""
    # The chief repairs; a worker (which reads nothing of the folder) must not race it.
    worker = dist_utils.has_chief_oracle() and not dist_utils.is_chief_oracle()
    if not (space.overwrite if overwrite is None else overwrite) and not worker:
        for note in repair_search(Path(directory) / project_name(space, seed, data_key)):
            print(note, flush=True)

    if not isinstance(hypermodel, kt.HyperModel):  # a plain object with `build` and `fit`
        hypermodel = _as_keras_tuner_hypermodel(hypermodel)
    with contextlib.redirect_stdout(io.StringIO()):  # KerasTuner's "Reloading Tuner from ..."
        return _make_tuner(space, hypermodel, directory, seed, overwrite, data_key)


def _make_tuner(space: TuningParams, hypermodel, directory: Path, seed: int,
                overwrite: bool | None, data_key: str):
    common = {"objective": "val_accuracy", "directory": str(directory),
              "project_name": project_name(space, seed, data_key),
              "seed": seed, "overwrite": space.overwrite if overwrite is None else overwrite}
    if space.algorithm == "hyperband":
        iterations = hyperband_iterations(space.max_trials, space.trial_epochs)
        return timed(kt.Hyperband)(hypermodel, max_epochs=space.trial_epochs,
                                    factor=HYPERBAND_FACTOR, hyperband_iterations=iterations,
                                    **common)
    if space.algorithm == "bayesian":
        # KerasTuner's default starts with 3 random points per hyperparameter, more than a small
        # budget has: half the trials explore, the rest follow the Gaussian process.
        return timed(kt.BayesianOptimization)(hypermodel, max_trials=space.max_trials,
                                               num_initial_points=-(-space.max_trials // 2),
                                               **common)
    return timed(kt.RandomSearch)(hypermodel, max_trials=space.max_trials, **common)

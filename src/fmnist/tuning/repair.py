"""The search's state on disk, kept consistent and repaired: what KerasTuner reloads must be
readable and agree with itself, whatever stopped the last run (a kill, Ctrl-C, a full disk).

Everything here that touches KerasTuner's private state (`_retry_queue`, `_project_dir`, the
saved `oracle.json`) is checked against KerasTuner 1.4 by tests/test_tune.py and
tests/test_search_state.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import keras_tuner as kt

from fmnist.results import DamagedResults, atomic_write, atomic_write_text
from fmnist.tuning.folders import ORACLE_FILE, SECONDS_FILE, VALUES_FILE

# The oracle's state as `Oracle.set_state` reads it (KerasTuner 1.4), with each entry's type.
ORACLE_KEYS = {"ongoing_trials": dict, "hyperparameters": dict, "start_order": list,
               "end_order": list, "retry_queue": list, "run_times": dict}
FINISHED = ("COMPLETED", "FAILED")


def settle_reloaded_oracle(oracle: kt.Oracle) -> None:
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
    oracle._retry_queue = [trial_id for trial_id in oracle._retry_queue
                           if oracle.trials[trial_id].status not in FINISHED]
    for trial_id, trial in sorted(oracle.trials.items()):
        if trial.status in FINISHED and trial_id not in oracle.end_order:
            oracle.end_order.append(trial_id)
    for trial_id in [t for t in oracle.trials if t not in oracle.start_order]:
        del oracle.trials[trial_id]
        oracle._retry_queue = [t for t in oracle._retry_queue if t != trial_id]
        shutil.rmtree(Path(oracle._project_dir) / f"trial_{trial_id}", ignore_errors=True)


def save_oracle_atomically(oracle: kt.Oracle) -> None:
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

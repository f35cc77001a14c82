"""The search: seeded, resumable after a kill, and its hypermodel calls `build_cnn`."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras_tuner as kt
import pytest
from keras_tuner.src.engine import oracle as oracle_module
from tiny_search import CNN, SPACE, configs, rows, run

from fmnist import models, train
from fmnist.results import DamagedResults
from fmnist.tuning import folders, selection

pytestmark = pytest.mark.slow
HERE = Path(__file__).parent


def test_same_seed_gives_the_same_sequence_of_configurations(tmp_path):
    first = configs(run(tmp_path / "a", 3, seed=11))
    second = configs(run(tmp_path / "b", 3, seed=11))
    assert len(first) == 3 and first == second
    assert configs(run(tmp_path / "c", 3, seed=12)) != first


# A continued Hyperband trial restores its optimizer's state without Keras' "Skipping variable
# loading for optimizer" warning (which reached the tuning page with the build machine's paths).
@pytest.mark.filterwarnings("error:Skipping variable loading:UserWarning")
@pytest.mark.parametrize("algorithm", ["hyperband", "bayesian"])
def test_every_algorithm_is_seeded_and_its_choice_builds(tmp_path, algorithm):
    # Hyperband with 2 epochs at most and factor 2: two brackets, four configurations, one of
    # them continued to its second epoch (a fifth trial). Bayesian: 2 random trials, then 1
    # guided by the scores, so training is seeded too (as the chapter does).
    def seeded_run(folder):
        train.seed_everything(5)
        return run(tmp_path / folder, 3, seed=5, algorithm=algorithm, trial_epochs=2)

    first = seeded_run("a")
    done = rows(first)
    assert len(done) == (5 if algorithm == "hyperband" else 3)
    assert configs(seeded_run("b")) == configs(first)
    chosen = selection.select_trial(done, n_val=32)
    config = dataclasses.replace(CNN, **{k: chosen[k] for k in SPACE.space})
    cost = models.cnn_cost(config.filters, config.kernel_size, config.dense_units, config.padding)
    assert cost == pytest.approx(chosen["cost"], abs=0.001)
    longest = max(r["epochs"] or 0 for r in done)  # Hyperband's first rounds do not compete
    competing = [r for r in done if (r["epochs"] or 0) == longest]
    assert chosen in competing
    better = [r for r in competing if r["val_accuracy"] >= chosen["val_accuracy"]]
    assert all(chosen["cost"] <= r["cost"] for r in better)
    assert models.build_cnn_from(config).output_shape == (None, 10)
    assert config.learning_rate in SPACE.space["learning_rate"]


@pytest.mark.parametrize("max_epochs", range(1, 10))
def test_hyperband_configurations_agree_with_keras_tuners_brackets(max_epochs):
    oracle = kt.oracles.HyperbandOracle(objective="val_accuracy", max_epochs=max_epochs,
                                        factor=folders.HYPERBAND_FACTOR, seed=0)
    starts = sum(oracle._get_size(b, 0) for b in range(oracle._get_num_brackets()))
    assert folders.hyperband_configurations(max_epochs) == starts


def test_max_trials_sets_a_hyperband_searchs_budget(tmp_path):
    # One Hyperband iteration at 2 epochs starts four configurations and continues one of them
    # (five trials); eight trials ask for two iterations: eight configurations, ten trials.
    tuner = run(tmp_path, 8, algorithm="hyperband", trial_epochs=2)
    rounds = [t.hyperparameters.values["tuner/round"] for t in tuner.oracle.trials.values()]
    assert len(rows(tuner)) == 10 and rounds.count(0) == 8


def oracle_state(directory: Path) -> dict:
    """The search's saved oracle state, or {} before its first complete write."""
    for oracle_json in directory.glob(f"{folders.PROJECT}-*/oracle.json"):
        try:
            return json.loads(oracle_json.read_text())
        except ValueError:  # being written at this moment
            return {}
    return {}


def completed(directory: Path) -> list[Path]:
    """Timing files of the trials the oracle has saved as ended (its own record of progress)."""
    project = next(directory.glob(f"{folders.PROJECT}-*"), directory)
    ended = oracle_state(directory).get("end_order", [])
    return sorted(project / f"trial_{t}" / folders.SECONDS_FILE for t in ended)


def training_third_trial(directory: Path) -> bool:
    """Two trials ended and the third started: the search is training (where a kill usually
    lands; kills between KerasTuner's own writes are the next test's)."""
    state = oracle_state(directory)
    return len(state.get("end_order", [])) >= 2 and len(state.get("start_order", [])) >= 3


def test_a_killed_search_resumes_without_redoing_finished_trials(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen([sys.executable, str(HERE / "tiny_search.py"), str(tmp_path), "4"],
                            env=env, start_new_session=True)
    deadline = time.time() + 240
    while not training_third_trial(tmp_path) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {p: p.stat().st_mtime_ns for p in completed(tmp_path)}
    assert 1 <= len(done_before) < 4, "the search was interrupted part-way"
    tuner = run(tmp_path, 4)
    assert len(rows(tuner)) == 4
    for path, mtime in done_before.items():
        assert path.stat().st_mtime_ns == mtime, f"{path.parent.name} was run again"


class Killed(Exception):
    """Stands for a kill at one chosen point of the search."""


# KerasTuner writes a trial's file, then the oracle's; a kill between the two leaves the file
# ahead of the oracle. When a new trial starts, the reloaded oracle never ran that trial (a
# search of 4 finished with 3); when a trial ends, it queued the finished trial for a retry.
KILL_POINTS = {"a new trial starts": lambda oracle: "2" in oracle.start_order,
               "a trial ends": lambda oracle: "1" in oracle.end_order}


def stop_search_at(point: str, directory: Path, monkeypatch) -> None:
    """Run the tiny search of 4 trials in `directory` and stop it, as a kill would, at the
    oracle's first save where `KILL_POINTS[point]` holds."""
    save = oracle_module.Oracle.save

    def save_until_killed(self):
        if KILL_POINTS[point](self):
            raise Killed
        save(self)

    monkeypatch.setattr(oracle_module.Oracle, "save", save_until_killed)
    with pytest.raises(Killed):
        run(directory, 4)
    monkeypatch.setattr(oracle_module.Oracle, "save", save)


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_search_killed_between_a_trials_file_and_the_oracles_resumes_as_if_whole(
        tmp_path, monkeypatch, point):
    stop_search_at(point, tmp_path / "killed", monkeypatch)
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "killed").glob("*/trial_[01]/*")}
    assert any(p.parent.name == "trial_1" for p in before)

    resumed = configs(run(tmp_path / "killed", 4))
    assert resumed == configs(run(tmp_path / "whole", 4))
    assert len(resumed) == 4
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in before.items()), "trial run again"


@pytest.mark.parametrize("values_kept", [True, False], ids=["values-kept", "values-lost"])
def test_a_damaged_trial_is_reported_and_rerun_the_rest_kept(tmp_path, capsys, values_kept):
    first = configs(run(tmp_path, 3))
    project = next(tmp_path.glob(f"{folders.PROJECT}-*"))
    trial_dirs = sorted(p for p in project.glob("trial_*") if p.is_dir())
    damaged, kept = trial_dirs[1], [trial_dirs[0], trial_dirs[2]]
    trial_json = damaged / "trial.json"
    trial_json.write_text(trial_json.read_text()[:40])  # a disk that filled
    if not values_kept:
        (damaged / folders.VALUES_FILE).unlink()
    before = {p: p.stat().st_mtime_ns for d in kept for p in d.glob("*.json")}
    capsys.readouterr()
    resumed = configs(run(tmp_path, 3))
    out = capsys.readouterr().out
    trial_id = damaged.name.removeprefix("trial_")
    assert all(p.stat().st_mtime_ns == m for p, m in before.items()), "the rest was kept"
    assert len(resumed) == 3
    if values_kept:
        assert f"trial {trial_id}: damaged trial.json rebuilt from its values; it runs again" in out
        assert resumed == first, "the same trial ran again, with the same values"
    else:
        assert f"trial {trial_id}: damaged, its values lost: it runs again with values drawn " \
               "afresh" in out
        assert resumed[0] == first[0] and resumed[2] == first[2]


def test_a_search_whose_oracle_is_damaged_says_how_to_start_afresh(tmp_path):
    run(tmp_path, 2)
    project = next(tmp_path.glob(f"{folders.PROJECT}-*"))
    (project / "oracle.json").write_text("{")
    next(project.glob("trial_*/trial.json")).write_text("")
    with pytest.raises(DamagedResults, match="tuning.overwrite=true"):
        run(tmp_path, 2)


def test_a_search_stopped_while_writing_a_new_trials_file_resumes_as_if_whole(tmp_path,
                                                                              monkeypatch):
    # Ctrl-C inside KerasTuner's (non-atomic) write of a new trial's file, before the oracle
    # started it: the file is truncated and the trial is in no saved order.
    stop_search_at("a new trial starts", tmp_path / "killed", monkeypatch)
    project = next((tmp_path / "killed").glob(f"{folders.PROJECT}-*"))
    new = project / "trial_2" / "trial.json"
    new.write_text(new.read_text()[:25])
    assert configs(run(tmp_path / "killed", 4)) == configs(run(tmp_path / "whole", 4))

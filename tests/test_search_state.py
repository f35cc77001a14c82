"""Damaged search state: the oracle's and the tuner's own files truncated or missing, a trial's
folder lost. The search resumes, starts as new where nothing had finished, or refuses saying
how to start afresh."""

from __future__ import annotations

import json
import shutil

import pytest
from keras_tuner.src import utils as kt_utils
from tiny_search import configs, run

from fmnist.results import DamagedResults
from fmnist.tuning import folders

TRIALS = 3  # a search's budget names its folder: every run of a test keeps it


def finished_search(tmp_path):
    """A tiny search run to the end; its folder and its configurations."""
    done = configs(run(tmp_path, TRIALS))
    return next(tmp_path.glob(f"{folders.PROJECT}-*")), done


def trial_files(project) -> dict:
    return {p: p.stat().st_mtime_ns for p in project.glob("trial_*/*.json")}


@pytest.mark.parametrize("spoil, problem", [
    (lambda p: p.write_text(p.read_text()[:50]), "is not readable JSON"),  # a disk that filled
    (lambda p: p.write_text(""), "is not readable JSON"),
    (lambda p: p.write_text("{}"), "lacks the oracle's ongoing_trials, hyperparameters"),
    (lambda p: p.write_text('{"start_order": 3}'), "lacks the oracle's"),
    (lambda p: p.unlink(), "is missing while 3 finished trial(s) remain"),
], ids=["truncated", "emptied", "empty-object", "wrong-shape", "missing"])
def test_a_damaged_or_missing_oracle_refuses_saying_how_to_start_afresh(tmp_path, spoil,
                                                                         problem):
    project, _ = finished_search(tmp_path)
    spoil(project / "oracle.json")
    before = trial_files(project)
    with pytest.raises(DamagedResults) as err:
        run(tmp_path, TRIALS)
    assert f"oracle.json {problem}" in str(err.value)
    assert "--set tuning.overwrite=true" in str(err.value)
    assert trial_files(project) == before, "the finished trials are kept as they were"


def test_an_oracle_and_tuner_file_both_lost_are_not_taken_for_a_new_search(tmp_path):
    # Without either file KerasTuner would start over in the same folder, numbering new
    # trials from 0 over the finished ones.
    project, _ = finished_search(tmp_path)
    (project / "oracle.json").unlink()
    (project / "tuner0.json").unlink()
    before = trial_files(project)
    with pytest.raises(DamagedResults, match="is missing while 3 finished trial"):
        run(tmp_path, TRIALS)
    assert trial_files(project) == before


@pytest.mark.parametrize("spoil", [lambda p: p.write_text('{"trunc'), lambda p: p.write_text(""),
                                   lambda p: p.write_text("[]"), lambda p: p.unlink()],
                         ids=["truncated", "emptied", "not-a-mapping", "missing"])
def test_a_damaged_tuner_file_is_rewritten_and_the_search_resumes(tmp_path, capsys, spoil):
    project, done = finished_search(tmp_path)
    spoil(project / "tuner0.json")
    before = trial_files(project)
    capsys.readouterr()
    assert configs(run(tmp_path, TRIALS)) == done, "the search reloaded, found complete"
    assert trial_files(project) == before, "no trial ran again"
    if (project / "tuner0.json").is_file():
        assert json.loads((project / "tuner0.json").read_text()) == {}


def test_a_search_stopped_before_the_oracles_first_save_starts_as_new(tmp_path):
    # A trial's file written, its oracle not yet: nothing had finished, so nothing is lost.
    project, done = finished_search(tmp_path / "stopped")
    for later in ("trial_1", "trial_2"):
        shutil.rmtree(project / later)
    trial = project / "trial_0" / "trial.json"
    state = json.loads(trial.read_text())
    trial.write_text(json.dumps({**state, "status": "RUNNING", "score": None}))
    (project / "oracle.json").unlink()
    (project / "tuner0.json").unlink()
    assert configs(run(tmp_path / "stopped", TRIALS)) == done


def test_a_lost_trial_folder_runs_again_the_rest_kept(tmp_path, capsys):
    project, done = finished_search(tmp_path)
    shutil.rmtree(project / "trial_1")
    kept = trial_files(project)
    capsys.readouterr()
    resumed = configs(run(tmp_path, TRIALS))
    assert "trial 1: damaged, its values lost: it runs again" in capsys.readouterr().out
    assert len(resumed) == 3 and resumed[0] == done[0] and resumed[2] == done[2]
    assert all(p.stat().st_mtime_ns == m for p, m in kept.items()), "the rest was kept"
    assert (project / "trial_1" / folders.SECONDS_FILE).is_file(), "it ran again"


class Stopped(Exception):
    """A stop (a signal, a full disk) in the middle of a write."""


def test_a_stop_while_the_oracle_is_written_leaves_the_previous_one_whole(tmp_path,
                                                                          monkeypatch):
    # KerasTuner rewrites oracle.json after every trial; a stop that lands mid-write must leave
    # the previous state readable, and the search resumes as if uninterrupted.
    save_json, saves = kt_utils.save_json, []

    def half_then_stop(path, obj):
        if "oracle" in str(path).rsplit("/", 1)[-1]:
            saves.append(path)
            if len(saves) == 4:
                text = json.dumps(obj)
                with open(path, "w") as f:
                    f.write(text[: len(text) // 2])
                raise Stopped
        return save_json(path, obj)

    monkeypatch.setattr(kt_utils, "save_json", half_then_stop)
    with pytest.raises(Stopped):
        run(tmp_path / "stopped", TRIALS)
    monkeypatch.setattr(kt_utils, "save_json", save_json)
    project = next((tmp_path / "stopped").glob(f"{folders.PROJECT}-*"))
    assert isinstance(json.loads((project / "oracle.json").read_text()), dict)
    assert configs(run(tmp_path / "stopped", TRIALS)) == configs(run(tmp_path / "whole", TRIALS))

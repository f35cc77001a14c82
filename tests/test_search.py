"""A search's budget and folder, computed without TensorFlow."""

from __future__ import annotations

import dataclasses

import pytest

from fmnist.schema import CnnParams, TuningParams
from fmnist.tuning import folders


@pytest.mark.parametrize(("max_epochs", "configurations"), [(1, 1), (2, 4), (3, 6), (4, 10)])
def test_one_hyperband_iteration_starts_its_brackets_first_rounds(max_epochs, configurations):
    assert folders.hyperband_configurations(max_epochs) == configurations


@pytest.mark.parametrize(("max_trials", "max_epochs", "iterations"), [
    (16, 2, 4),   # exactly four iterations of four configurations
    (10, 2, 3),   # 2.5 iterations round up, not to the even 2
    (9, 2, 2),
    (2, 4, 1),    # fewer trials than one iteration starts: one iteration still runs
])
def test_hyperband_runs_the_whole_iterations_nearest_max_trials(max_trials, max_epochs,
                                                                 iterations):
    assert folders.hyperband_iterations(max_trials, max_epochs) == iterations


def test_a_hyperband_search_of_another_iteration_count_gets_its_own_folder():
    # A reloaded Hyperband oracle keeps the iteration count it was saved with, so a search whose
    # count changes must not resume the old folder.
    space = TuningParams(algorithm="hyperband", max_trials=8, trial_epochs=2)
    more = dataclasses.replace(space, max_trials=16)
    assert folders.project_name(space, 42) != folders.project_name(more, 42)


def test_only_what_changes_the_trials_changes_a_searchs_folder():
    space = TuningParams()
    name = folders.project_name(space, 42)
    # Which trial is retrained, and whether to start afresh, leave the trials as they are.
    assert folders.project_name(dataclasses.replace(space, selection="best"), 42) == name
    assert folders.project_name(dataclasses.replace(space, overwrite=True), 42) == name
    # Nor does the thread count: a distributed search's workers run with their share of the cores.
    assert folders.project_name(dataclasses.replace(space, threads=1), 42) == name
    assert folders.project_name(space, 43) != name
    assert folders.project_name(space, 42, data_key="another split") != name
    assert folders.project_name(dataclasses.replace(space, trial_epochs=3), 42) != name


def test_a_cnn_key_no_trial_uses_keeps_the_finished_search(tmp_path):
    # `fmnist run cnn --set cnn.epochs=20` must not throw away a finished search: a trial trains
    # `trial_epochs` and never stops early. A key a trial does use starts a new one.
    cnn = CnnParams()
    key = folders.search_key(tmp_path, cnn)
    assert folders.search_key(tmp_path, dataclasses.replace(cnn, epochs=20, patience=7,
                                                            threads=4)) == key
    assert folders.search_key(tmp_path, dataclasses.replace(cnn, dropout=0.4)) != key
    assert folders.search_key(tmp_path, dataclasses.replace(cnn, batch_size=64)) != key

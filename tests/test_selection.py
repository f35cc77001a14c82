"""Which trial the tuning chapter retrains: the best, or the cheapest within one standard error."""

from __future__ import annotations

import pytest

from fmnist import tune


def row(trial: str, acc: float, cost: float) -> dict:
    return {"trial": trial, "val_accuracy": acc, "cost": cost}


ROWS = [row("0", 0.880, 2.0), row("1", 0.890, 9.0), row("2", 0.886, 3.0), row("3", 0.850, 1.0)]


def test_best_rule_takes_the_top_validation_accuracy():
    assert tune.select_trial(ROWS, n_val=6000, rule="best")["trial"] == "1"


def test_one_se_takes_the_cheapest_trial_the_validation_split_cannot_separate():
    # SE of 0.89 on 6,000 images is 0.0040: trial 2 (0.886) is within it, trial 0 (0.880) is not.
    assert tune.select_trial(ROWS, n_val=6000, rule="one_se")["trial"] == "2"


def test_one_se_with_a_tiny_validation_split_accepts_more_trials():
    # SE of 0.89 on 100 images is 0.031: every trial but 3 is close; trial 0 is the cheapest.
    assert tune.select_trial(ROWS, n_val=100, rule="one_se")["trial"] == "0"


def test_one_se_keeps_the_best_when_nothing_else_is_close():
    rows = [row("0", 0.95, 5.0), row("1", 0.80, 1.0)]
    assert tune.select_trial(rows, n_val=6000, rule="one_se")["trial"] == "0"


def test_selection_needs_trials_and_a_known_rule():
    with pytest.raises(ValueError, match="no finished trials"):
        tune.select_trial([], n_val=6000)
    with pytest.raises(ValueError, match="unknown selection rule"):
        tune.select_trial(ROWS, n_val=6000, rule="cheapest")

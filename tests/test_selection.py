"""Which trial the tuning chapter retrains: the best, or the cheapest within one standard error."""

from __future__ import annotations

import numpy as np
import pytest

from fmnist import evaluate, results
from fmnist.schema import CnnParams, TuningParams
from fmnist.train import FitResult
from fmnist.tuning import selection, space, steps


def row(trial: str, acc: float, cost: float) -> dict:
    return {"trial": trial, "val_accuracy": acc, "cost": cost}


ROWS = [row("0", 0.880, 2.0), row("1", 0.890, 9.0), row("2", 0.886, 3.0), row("3", 0.850, 1.0)]


def test_best_rule_takes_the_top_validation_accuracy():
    assert selection.select_trial(ROWS, n_val=6000, rule="best")["trial"] == "1"


def test_one_se_takes_the_cheapest_trial_the_validation_split_cannot_separate():
    # SE of 0.89 on 6,000 images is 0.0040: trial 2 (0.886) is within it, trial 0 (0.880) is not.
    assert selection.select_trial(ROWS, n_val=6000, rule="one_se")["trial"] == "2"


def test_one_se_with_a_tiny_validation_split_accepts_more_trials():
    # SE of 0.89 on 100 images is 0.031: every trial but 3 is close; trial 0 is the cheapest.
    assert selection.select_trial(ROWS, n_val=100, rule="one_se")["trial"] == "0"


def test_one_se_keeps_the_best_when_nothing_else_is_close():
    rows = [row("0", 0.95, 5.0), row("1", 0.80, 1.0)]
    assert selection.select_trial(rows, n_val=6000, rule="one_se")["trial"] == "0"


def test_only_trials_trained_for_the_most_epochs_compete():
    # Hyperband: trial 0 (1 epoch) scores lower for its shorter training; within one SE of the
    # best 2-epoch trial and cheaper, it would otherwise be chosen. Without epochs (random
    # search), every trial competes.
    rows = [{**row("0", 0.887, 1.0), "epochs": 1}, {**row("1", 0.890, 9.0), "epochs": 2},
            {**row("2", 0.888, 3.0), "epochs": 2}]
    assert selection.select_trial(rows, n_val=6000)["trial"] == "2"
    no_epochs = [{**r, "epochs": None} for r in rows]
    assert selection.select_trial(no_epochs, n_val=6000)["trial"] == "0"


def test_selection_needs_trials_and_a_known_rule():
    with pytest.raises(ValueError, match="no finished trials"):
        selection.select_trial([], n_val=6000)
    with pytest.raises(ValueError, match="unknown selection rule"):
        selection.select_trial(ROWS, n_val=6000, rule="cheapest")


def test_a_searched_depth_repeats_the_sections_kernel_size():
    cnn = CnnParams(filters=[32, 64], kernel_size=[5, 5])
    deeper = space.with_searched(cnn, {"filters": [16, 32, 64], "dropout": 0.2})
    assert deeper.kernel_size == [5, 5, 5] and deeper.dropout == 0.2 and cnn.kernel_size == [5, 5]
    assert space.with_searched(cnn, {"kernel_size": [3, 5]}).kernel_size == [3, 5]


def test_each_trial_has_its_own_seed_from_its_values_and_the_search_seed():
    a = {"filters": "[32, 64]", "dropout": 0.2}
    assert space.trial_seed(1, a) == space.trial_seed(1, dict(reversed(a.items())))
    assert space.trial_seed(1, a) != space.trial_seed(2, a)
    assert space.trial_seed(1, a) != space.trial_seed(1, {**a, "dropout": 0.3})


def test_choices_round_trip_lists_and_mixed_types():
    values = [[32, 64], [32, 64, 128]]
    choices = space.encode_choices(values)
    assert all(isinstance(c, str) for c in choices)
    assert [space.decode_choice(values, c) for c in choices] == values
    assert space.encode_choices([0.1, 0.2]) == [0.1, 0.2]
    mixed = [True, "pool"]
    assert [space.decode_choice(mixed, c) for c in space.encode_choices(mixed)] == mixed


def test_the_retrained_choice_is_kept_only_if_it_beats_the_default_on_validation():
    chosen = {"trial": "3", "val_accuracy": 0.88}
    default = {"val_accuracy": 0.930}
    same = steps.decide(None, default, chosen, {})
    assert same.kept == "default" and same.retrained_val_accuracy is None
    assert "nothing to change" in same.summary
    change = {"dropout": (0.3, 0.2)}
    better = steps.decide(FitResult(model=None, val_accuracy=0.935), default, chosen, change)
    assert better.kept == "tuned" and "+0.50 points" in better.summary
    worse = steps.decide(FitResult(model=None, val_accuracy=0.930), default, chosen, change)
    assert worse.kept == "default" and "did not find a better configuration" in worse.summary
    record = worse.record({"seed": 1}, [{"seconds": 2.0}, {"seconds": None}])
    assert record["val_accuracy"] == 0.930 and record["retrained_val_accuracy"] == 0.930
    assert record["search_seconds"] == 2.0 and record["changes"] == {"dropout": [0.3, 0.2]}


def test_keeping_the_default_records_the_cnns_own_test_predictions(tmp_path):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(10), 5)
    cnn = evaluate.evaluate(rng.dirichlet(np.ones(10), size=len(y)), y, n_params=123,
                            inference_ms_per_1k=4.0, tta=True, train_seconds=1.0)
    results.save_evaluation(tmp_path / "cnn", cnn)
    (tmp_path / "tuning").mkdir()
    record = {"model": "Tuned CNN", "kept": "default", "train_seconds": 0.0}
    kept = steps.keep_default(tmp_path, None, record)
    np.testing.assert_array_equal(kept.probs, cnn.probs.astype(np.float32))
    assert kept.metrics["accuracy"] == cnn.metrics["accuracy"]
    assert kept.metrics["n_params"] == 123 and kept.metrics["kept"] == "default"


def test_a_searched_flip_brings_test_time_averaging_with_it():
    cnn = CnnParams()
    assert (cnn.augment_flip, cnn.tta) == (False, False)
    assert space.with_searched(cnn, {"augment_flip": True}).tta is True
    assert space.with_searched(CnnParams(augment_flip=True, tta=True),
                               {"augment_flip": False}).tta is False
    assert space.with_searched(CnnParams(tta=True), {"dropout": 0.4}).tta is True  # not searched


def searched(trial: str, acc: float, padding: str, filters: list[int], epochs=None) -> dict:
    return {"trial": trial, "val_accuracy": acc, "cost": 1.0, "padding": padding,
            "filters": filters, "epochs": epochs}


SPACE = {"padding": ["valid", "same"], "filters": [[32, 64], [64, 128], [32, 64, 128]]}
SEARCHED = [searched("0", 0.90, "valid", [32, 64]), searched("1", 0.93, "same", [32, 64]),
            searched("2", 0.92, "same", [64, 128]), searched("3", 0.89, "valid", [64, 128])]


def test_isolation_gives_the_best_trial_of_every_value_and_names_the_untried():
    table = {(r["key"], r["value"]): r for r in selection.isolation(SEARCHED, SPACE)}
    assert table[("padding", "valid")]["best_val_accuracy"] == 0.90
    assert table[("padding", "same")]["best_trial"] == "1"
    assert table[("filters", "64-128")]["trials"] == 2
    assert table[("filters", "64-128")]["best_val_accuracy"] == 0.92
    assert table[("filters", "32-64-128")] == {"key": "filters", "value": "32-64-128",
                                               "trials": 0, "best_val_accuracy": None,
                                               "best_trial": None}


def test_isolation_compares_only_the_longest_trained_trials():
    rows = [*SEARCHED, searched("4", 0.99, "valid", [32, 64], epochs=1)]
    rows = [{**r, "epochs": r["epochs"] or 2} for r in rows]
    table = {(r["key"], r["value"]): r for r in selection.isolation(rows, SPACE)}
    assert table[("padding", "valid")]["best_val_accuracy"] == 0.90


def test_key_effects_compare_the_means_of_each_value_with_their_error():
    rows = [*SEARCHED, searched("4", 0.94, "same", [32, 64]),
            searched("5", 0.89, "valid", [64, 128])]
    effects = {r["key"]: r for r in selection.key_effects(rows, SPACE)}
    # padding: same 0.93, 0.92, 0.94 (mean 0.93) against valid 0.90, 0.89, 0.89 (mean 0.8933)
    same, valid = np.array([0.93, 0.92, 0.94]), np.array([0.90, 0.89, 0.89])
    se = np.sqrt(same.var(ddof=1) / 3 + valid.var(ddof=1) / 3)
    assert effects["padding"]["best value (mean)"] == "same"
    assert effects["padding"]["gap of means"] == pytest.approx(same.mean() - valid.mean())
    assert effects["padding"]["its standard error"] == pytest.approx(se)
    assert effects["padding"]["clear"] is True
    assert effects["padding"]["mean score by value"] == "valid: 89.3 %, same: 93.0 %"
    # filters: 32-64 (0.90, 0.93, 0.94) against 64-128 (0.92, 0.89, 0.89): within the error
    assert effects["filters"]["clear"] is False
    once = [searched("0", 0.9, "valid", [32, 64]), searched("1", 0.8, "same", [32, 64])]
    assert selection.key_effects(once, SPACE)[0]["its standard error"] is None  # one trial each


def test_searched_values_read_plainly():
    assert [selection.value_label(v) for v in ([32, 64], True, False, 0.001, 1.0, "same")] == [
        "32-64", "yes", "no", "0.001", "1", "same"]


@pytest.mark.parametrize("trial_epochs, words", [(1, "2 trials of 1 epoch (random)"),
                                                 (2, "2 trials of 2 epochs (random)")])
def test_the_search_is_described_with_its_budget_and_space(trial_epochs, words):
    tuning = TuningParams(max_trials=2, trial_epochs=trial_epochs,
                          space={"dropout": [0.2, 0.3], "learning_rate": [0.001, 0.002]})
    labels = np.zeros(300), np.zeros(30)
    setup = steps.SearchSetup(None, None, (None, labels[0]), (None, labels[1]), CnnParams(), tuning)
    assert steps.describe_search(setup) == (
        f"Search: {words}, on 300 training images, scored on 30 validation images; the space "
        "holds 4 configurations over `dropout`, `learning_rate`.")

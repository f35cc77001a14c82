"""The ladder: one family of tests over the rungs, and the tuned rung named by its parts."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import keras
import numpy as np
import pytest
from scipy.stats import binomtest
from test_compare import plant

from fmnist import compare, ladder
from fmnist.recipe import predict_probs
from fmnist.stats import holm
from fmnist.tuning import steps


@pytest.fixture
def four_rungs(tmp_path):
    """Four models, each right on more images than the one below it."""
    n = 400
    for slug, wrong in (("baseline", 80), ("dense", 50), ("cnn", 30), ("tuning", 12)):
        plant(tmp_path, slug, np.r_[np.zeros(wrong, bool), np.ones(n - wrong, bool)],
              **({"kept": "tuned", "val_accuracy": 0.99, "default_val_accuracy": 0.95}
                 if slug == "tuning" else {}))
    return compare.load(tmp_path)


def test_the_rungs_are_one_family_of_three_tests(four_rungs):
    tests = ladder.rungs(four_rungs)
    assert [(t.lower, t.upper) for t in tests] == [("baseline", "dense"), ("dense", "cnn"),
                                                   ("cnn", "tuning")]
    # Recomputed with SciPy: each rung's discordant images are all one way.
    raw = [binomtest(k, k, 0.5).pvalue for k in (30, 20, 18)]
    assert [t.p_adjusted for t in tests] == pytest.approx(holm(raw), rel=1e-12)
    assert tests[2].gain == pytest.approx((388 - 370) / 400)


def test_a_pair_shows_one_p_on_every_page(four_rungs):
    test = ladder.pair(four_rungs, "tuning", "cnn")
    shown = f"{test.p_adjusted:.2g}"
    table = compare.pairwise_table(four_rungs)
    assert f"{table.loc['CNN vs Tuned CNN', 'p (Holm)']:.2g}" == shown
    assert f"McNemar p = {shown}, Holm-adjusted over the ladder's rungs" in \
        compare.tuned_vs_default(four_rungs)
    # The exploratory pairs are adjusted among themselves (three of them), never with the rungs.
    exploratory = ladder.exploratory(four_rungs)
    assert len(exploratory) == 3 and {t.family for t in exploratory} == {"exploratory"}
    raw = [binomtest(k, k, 0.5).pvalue for k in (50, 68, 38)]  # lr-cnn, lr-tuned, dense-tuned
    assert sorted(t.p_adjusted for t in exploratory) == pytest.approx(sorted(holm(raw)))


def test_significant_is_said_only_of_an_adjusted_p(four_rungs):
    for text in (compare.tuned_vs_default(four_rungs), compare.conclusion(four_rungs)):
        for match in re.finditer(r"significant\*\*[^.]*?\(McNemar p = ([^,]+), (Holm[^)]*)\)",
                                 text):
            assert match.group(2).startswith("Holm-adjusted over")
    assert "significant" not in compare.pairwise_table(four_rungs).to_string()


FLIP = {"with": {"val_accuracy": 0.944, "accuracy": 0.938},
        "without": {"val_accuracy": 0.936, "accuracy": 0.932}}


def test_the_tuned_rung_is_stated_with_and_without_flip_averaging():
    text = ladder.flip_averaging_parts({"flip_averaging": FLIP}, {"accuracy": 0.909})
    assert "94.40 % validation and 93.80 % test with averaging, 93.60 % and 93.20 % without" \
        in text
    assert "the rung is +2.90 points with averaging and +2.30 without: +0.60 points come from " \
           "averaging at evaluation (+0.80 on validation)" in text
    assert "Both are trained with the same protocol" in text
    plain = ladder.flip_averaging_parts({"flip_averaging": None}, {"accuracy": 0.909})
    assert "does not average" in plain
    sentence = ladder.tuned_rung_sentence({"accuracy": 0.938, "flip_averaging": FLIP},
                                          {"accuracy": 0.909})
    assert "+0.60 of its +2.90 test points" in sentence and "designed beforehand" in sentence


def test_flip_averaging_scores_one_trained_model_both_ways():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])
    rng = np.random.default_rng(0)
    x, y = rng.random((60, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, 60)
    setup = SimpleNamespace(val=(x[:30], y[:30]),
                            splits=SimpleNamespace(x_test=x[30:, ..., 0], y_test=y[30:]))
    assert steps.flip_averaging(model, setup, tta=False) is None
    parts = steps.flip_averaging(model, setup, tta=True)
    for way, flip in (("with", True), ("without", False)):
        expected = np.mean(predict_probs(model, x[30:], flip).argmax(axis=1) == y[30:])
        assert parts[way]["accuracy"] == pytest.approx(expected)
    # A random model's mirrored predictions differ: the two ways are really scored apart.
    assert predict_probs(model, x, True).argmax(1).tolist() != \
        predict_probs(model, x, False).argmax(1).tolist()


def test_the_space_is_grouped_and_its_origin_read_from_the_record(tmp_path):
    space = {"filters": [[32, 64]], "dropout": [0.3], "augment_flip": [False, True],
             "mystery": [1]}
    assert ladder.group_keys(space) == {
        "architecture": ["filters"], "training": ["dropout", "augment_flip"],
        "other": ["mystery"], "evaluation": ["flip averaging (follows `augment_flip`)"]}
    record = tmp_path / "exploration.json"
    record.write_text(json.dumps({"total_cpu_seconds": 23017.6}))
    text = ladder.space_origin(space, 6000, record)
    assert "about 23,018 CPU-seconds" in text and "same 6,000-image validation split" in text
    assert "a search inside a designed space" in text
    assert "CPU-seconds" not in ladder.space_origin(space, 6000, tmp_path / "none.json")


def test_the_architecture_only_search_is_set_beside_the_reports_gain(tmp_path):
    record = tmp_path / "architecture_search.json"
    assert "has not been measured" in ladder.architecture_search_note(None, record)
    record.write_text(json.dumps({
        "seeds": [42, 1, 2], "gains": [0.5, 0.2, 0.8], "gain_mean": 0.5, "gain_sd": 0.3,
        "max_trials": 16, "trial_epochs": 2, "search_subset": 10000, "machine": "Some CPU",
        "date": "2026-12-07"}))
    tuned = {"kept": "tuned", "val_accuracy": 0.9438, "default_val_accuracy": 0.9233,
             "flip_averaging": FLIP}
    text = ladder.architecture_search_note(tuned, record)
    assert "gains +0.50 ± 0.30 points on validation" in text
    assert "each seed: +0.50, +0.20, +0.80" in text
    assert "This report's search in the designed space gains +2.05 points on validation, of " \
           "which +0.80 come from flip averaging" in text


def test_the_seed_spread_leads_with_fresh_seeds_and_shows_the_gated_run_apart(tmp_path):
    record = tmp_path / "latest.json"
    record.write_text(json.dumps({"seeds": {
        "fresh": {"n_seeds": 3, "seeds": [1, 2, 3], "gain_mean": 0.022, "gain_sd": 0.002,
                  "gain_ci95": [0.017, 0.027], "val_gain_mean": 0.02, "val_gain_sd": 0.001},
        "report_run": {"seed": 42, "gain": 0.0289}}}))
    text = ladder.seed_spread_note(record)
    assert text.startswith("Over 3 fresh training seeds (1, 2, 3;")
    assert "+2.20 ± 0.20 points" in text and "95 % t-interval +1.70 to +2.70" in text
    assert text.index("fresh") < text.index("seed 42") and "passed the keep-or-reject gate" in text
    assert "+2.89" not in text, "a gain recorded from another run is quoted as this run's"
    # A record that pools the gated run with the others is not quoted.
    record.write_text(json.dumps({"seeds": {"n_seeds": 3, "gain_mean": 0.024}}))
    assert "has not been measured" in ladder.seed_spread_note(record)

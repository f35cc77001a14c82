"""The comparison reads results files only: tables, tests and verdicts from planted results."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fmnist import compare, evaluate
from fmnist.results import save_evaluation


def plant(results, slug: str, correct: np.ndarray, **extra) -> None:
    """Results of a model that is right exactly where `correct` says."""
    y = np.arange(len(correct)) % 10
    probs = np.full((len(y), 10), 0.01)
    pred = np.where(correct, y, (y + 1) % 10)
    probs[np.arange(len(y)), pred] = 0.91
    ev = evaluate.evaluate(probs, y, train_seconds=1.0, inference_ms_per_1k=1.0, n_params=10,
                           **extra)
    save_evaluation(results / slug, ev)


@pytest.fixture
def results(tmp_path):
    n = 200
    base = np.ones(n, dtype=bool)
    plant(tmp_path, "baseline", np.r_[np.zeros(40, bool), base[40:]])  # 80 %
    plant(tmp_path, "cnn", np.r_[np.zeros(10, bool), base[10:]], val_accuracy=0.95)  # 95 %
    return tmp_path


@pytest.fixture
def study(results):
    return compare.load(results)


def test_missing_chapters_are_named_with_the_command_that_makes_them(study):
    table = compare.results_table(study).set_index("model")
    assert table.loc["Dense network", "test accuracy (%)"] == "missing: run `fmnist run dense`"
    assert table.loc["CNN", "test accuracy (%)"].startswith("95.00 [")


def test_pairwise_table_adjusts_rungs_and_exploratory_pairs_apart(results):
    plant(results, "dense", np.r_[np.zeros(30, bool), np.ones(170, bool)])  # 85 %
    table = compare.pairwise_table(compare.load(results))
    row = table.loc["Logistic regression vs CNN"]
    assert (row["only the first right"], row["only the second right"]) == (0, 30)
    # Exact two-sided binomial p-values by hand: k discordant all one way, p = 2 x 0.5^k.
    raw = {"Logistic regression vs Dense network": 2 * 0.5 ** 10,
           "Dense network vs CNN": 2 * 0.5 ** 20, "Logistic regression vs CNN": 2 * 0.5 ** 30}
    # The two rungs are one family (Holm over two: smallest x 2, the other kept monotone); the
    # pair that is no rung is its own family of one, so its p is unadjusted.
    assert table["family"].to_dict() == {"Logistic regression vs Dense network": "ladder rung",
                                         "Dense network vs CNN": "ladder rung",
                                         "Logistic regression vs CNN": "exploratory"}
    adjusted = {"Dense network vs CNN": 2 * raw["Dense network vs CNN"],
                "Logistic regression vs Dense network": raw["Logistic regression vs Dense network"],
                "Logistic regression vs CNN": raw["Logistic regression vs CNN"]}
    assert table["p (Holm)"].to_dict() == pytest.approx(adjusted, rel=1e-12)
    assert "p" not in table.columns  # one p per pair, the adjusted one


def test_conclusion_names_the_best_model_from_the_files(study):
    text = compare.conclusion(study)
    assert text.startswith("The best model on the 10,000 test images is the **CNN** with 95.00 %")
    # 30 images only the CNN gets right, none only the logistic regression: p = 2 x 0.5^30.
    assert (f"Its lead over the runner-up, the Logistic regression (80.00 %), is **significant** "
            f"at the 0.05 level (McNemar p = {2 * 0.5 ** 30:.2g}, Holm-adjusted over the "
            "ladder's rungs)") in text


def test_conclusion_says_when_a_lead_is_not_significant(tmp_path):
    plant(tmp_path, "baseline", np.r_[np.zeros(12, bool), np.ones(188, bool)])  # 94 %
    plant(tmp_path, "cnn", np.r_[np.zeros(10, bool), np.ones(190, bool)])  # 95 %: 2 discordant
    text = compare.conclusion(compare.load(tmp_path))
    assert ("is **not significant** at the 0.05 level (McNemar p = 0.5, Holm-adjusted over the "
            "ladder's rungs)") in text


def test_conclusion_names_the_fastest_model_with_its_search_counted(tmp_path):
    plant(tmp_path, "baseline", np.r_[np.zeros(40, bool), np.ones(160, bool)])
    plant(tmp_path, "cnn", np.r_[np.zeros(10, bool), np.ones(190, bool)])
    plant(tmp_path, "tuning", np.r_[np.zeros(4, bool), np.ones(196, bool)], kept="tuned",
          search_seconds=0.5)
    text = compare.conclusion(compare.load(tmp_path))
    # Every model trained in 1.0 s; the tuned CNN's search makes it the slowest.
    assert "The fastest to train is the Logistic regression (1.0 s); the Tuned CNN took 1.5 s " \
           "with its search." in text


def test_tuned_verdict_says_when_tuning_kept_the_default(results):
    plant(results, "tuning", np.r_[np.zeros(10, bool), np.ones(190, bool)], kept="default",
          retrained_val_accuracy=0.94, default_val_accuracy=0.95, search_seconds=12.0)
    text = compare.tuned_vs_default(compare.load(results))
    assert text.startswith("**Tuning did not help**") and "94.00 %" in text and "95.00 %" in text


def test_each_results_file_is_read_once(results):
    study = compare.load(results)
    assert set(study.available) == {"Logistic regression", "CNN"}
    assert study.correct["CNN"].sum() == 190
    for path in results.rglob("*"):
        if path.is_file():
            path.unlink()  # everything below works from what was read
    assert compare.pairwise_table(study).shape == (1, 4)
    assert compare.conclusion(study).startswith("The best model")
    assert len(compare.results_table(study)) == 4


def test_references_are_published_figures_by_source(study):
    table = compare.references_table()
    assert table.loc[("Original 2025 study", "CNN"), "published accuracy (%)"] == 91.21
    assert compare.published_accuracy() == {"Logistic regression": 84.38, "Dense network": 88.22,
                                            "CNN": 91.21, "Tuned CNN": 91.97}


def plant_mistakes(results, slug: str, mistakes: dict[tuple[int, int], int]) -> None:
    """Results of a model right on 100 images of each class but for `mistakes`: (true,
    predicted) -> how many, each pair a different count so that no tie decides an order."""
    y = np.repeat(np.arange(10), 100)
    pred = y.copy()
    for (true, wrong), count in mistakes.items():
        pred[np.flatnonzero((y == true) & (pred == true))[:count]] = wrong
    probs = np.full((len(y), 10), 0.01)
    probs[np.arange(len(y)), pred] = 0.91
    save_evaluation(results / slug, evaluate.evaluate(probs, y, train_seconds=1.0,
                                                      inference_ms_per_1k=1.0, n_params=10))


MISTAKES = {(6, 0): 7, (4, 2): 5, (0, 6): 3, (9, 7): 2}  # shirt→T-shirt most, then coat→pullover


def test_confusions_name_true_and_predicted_classes_with_counts(tmp_path):
    plant_mistakes(tmp_path, "cnn", MISTAKES)
    cnn = compare.load(tmp_path).available["CNN"]
    assert compare.top_confusions(cnn, 3) == [("Shirt", "T-shirt/top", 7),
                                              ("Coat", "Pullover", 5),
                                              ("T-shirt/top", "Shirt", 3)]
    table = compare.confusions_table({"CNN": cnn}, n=2)
    assert list(table.loc["CNN"]) == ["Shirt → T-shirt/top (7)", "Coat → Pullover (5)"]


def test_f1_matrix_is_models_by_classes_in_class_order(tmp_path):
    plant_mistakes(tmp_path, "cnn", MISTAKES)
    plant_mistakes(tmp_path, "dense", {(2, 4): 9})
    f1 = compare.f1_matrix(compare.load(tmp_path).available)
    assert f1.shape == (2, 10)
    # Rows in the chapters' order (dense, then CNN), columns in class order; each value computed
    # by hand: Shirt (6) in the CNN lost 7 of its 100 and gained 3 T-shirts: precision
    # 93 / 96, recall 93 / 100.
    p, r = 93 / 96, 93 / 100
    assert f1[1, 6] == pytest.approx(2 * p * r / (p + r), abs=1e-12)
    assert f1[0, 2] == pytest.approx(2 * 1.0 * 0.91 / 1.91, abs=1e-12)  # dense: pullover recall
    assert f1[0, 4] == pytest.approx(2 * (100 / 109) / (1 + 100 / 109), abs=1e-12)
    assert f1[0, 0] == 1.0 and f1[1, 1] == 1.0


def test_the_tuned_cnn_costs_its_search_too():
    assert compare.training_seconds({"train_seconds": 10.0}) == 10.0
    assert compare.training_seconds({"train_seconds": 10.0, "search_seconds": 5.5}) == 15.5


def test_headline_inputs_take_the_replica_from_the_benchmark(study, tmp_path):
    bench = tmp_path / "latest.json"
    bench.write_text(json.dumps({
        "machine": {"cpu": "Some CPU, 2 cores"}, "date": "2026-01-02",
        "seed_replica": {"models": {"cnn": {"accuracy": 0.9, "train_seconds": 100.0},
                                    "tuning": {"accuracy": 0.91, "train_seconds": 100.0,
                                                  "search_seconds": 50.0},
                                    "baseline": {"accuracy": None, "train_seconds": 1.0}}}}))
    inputs = compare.headline_inputs(study, bench)
    assert set(inputs["study"]) == {"Logistic regression", "CNN"}
    assert inputs["study"]["CNN"]["seconds"] == 1.0
    assert inputs["replica"] == {"CNN": {"accuracy": 0.9, "seconds": 100.0},
                                 "Tuned CNN": {"accuracy": 0.91, "seconds": 150.0}}
    assert inputs["replica_note"] == "Some CPU, 2 cores, 2026-01-02"
    assert compare.headline_inputs(study, tmp_path / "none.json")["replica"] == {}


def test_markdown_tables_and_the_intervals_note():
    text = compare.to_markdown(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
    assert text.splitlines() == ["| a | b |", "|---|---|", "| 1 | x |", "| 2 | y |"]
    assert "each of the 3 models was trained once" in compare.intervals_note(3)


def test_validation_histories_say_when_the_tuned_curve_was_not_kept(results):
    history = {"val_accuracy": [0.5, 0.6]}
    plant(results, "dense", np.ones(200, bool), history=history)
    plant(results, "tuning", np.ones(200, bool), history=history, kept="default")
    labels = set(compare.validation_histories(compare.load(results)))
    assert labels == {"Dense network", "Tuned CNN (retrained choice, not kept)"}
    plant(results, "tuning", np.ones(200, bool), history=history, kept="tuned")
    assert "Tuned CNN" in compare.validation_histories(compare.load(results))


@pytest.fixture
def kept_default(results):
    """The tuning chapter kept the default CNN: its predictions are the CNN's."""
    plant(results, "dense", np.r_[np.zeros(20, bool), np.ones(180, bool)])  # 90 %
    plant(results, "tuning", np.r_[np.zeros(10, bool), np.ones(190, bool)], kept="default",
          retrained_val_accuracy=0.94, default_val_accuracy=0.95, search_seconds=12.0,
          val_accuracy=0.95)
    return compare.load(results)


def test_a_tuned_cnn_that_is_the_default_is_never_tested_against_itself(kept_default):
    assert kept_default.compared_slugs == ["baseline", "dense", "cnn"]
    table = compare.pairwise_table(kept_default)
    assert list(table.index) == ["Logistic regression vs Dense network",
                                 "Dense network vs CNN", "Logistic regression vs CNN"]
    # The rungs' family holds the two real rungs, not a tuned CNN tested against the CNN.
    assert list(table["family"]) == ["ladder rung", "ladder rung", "exploratory"]


def test_a_kept_default_row_says_what_it_is_and_what_the_search_cost(kept_default):
    row = compare.results_table(kept_default).set_index("model").loc["Tuned CNN"]
    assert row["test accuracy (%)"].startswith("the CNN's")
    assert row["train time (s)"] == "12.0 search + 1.0 rejected retrain"


def test_a_kept_default_leaves_the_conclusion_and_the_figures(kept_default):
    text = compare.conclusion(kept_default)
    assert "runner-up, the Dense network" in text and "Tuned CNN" not in text.split(
        "The search found")[0]
    assert "no tuned model to rank: it cost 12 s of search and 1 s of a retrain" in text
    assert set(kept_default.compared) == {"Logistic regression", "Dense network", "CNN"}
    assert set(compare.headline_inputs(kept_default)["study"]) == set(kept_default.compared)


def test_a_kept_tuned_cnn_is_compared_like_every_model(results):
    plant(results, "tuning", np.r_[np.zeros(4, bool), np.ones(196, bool)], kept="tuned",
          val_accuracy=0.97, default_val_accuracy=0.95, search_seconds=12.0)
    study = compare.load(results)
    assert study.compared_slugs == ["baseline", "cnn", "tuning"]
    assert "CNN vs Tuned CNN" in compare.pairwise_table(study).index
    assert compare.conclusion(study).startswith("The best model on the 10,000 test images is "
                                                "the **Tuned CNN** with 98.00 %")


def test_a_chapter_is_set_beside_the_originals_published_figure():
    text = compare.published_note("dense", {"accuracy": 0.8936, "accuracy_ci95": [0.8874, 0.8995]})
    assert text.startswith("The original study published 88.22 % for its dense network")
    assert "the same model scores 89.36 % (95 % CI 88.74–89.95) on the test set" in text
    cnn = compare.published_note("cnn", {"accuracy": 0.9, "accuracy_ci95": [0.89, 0.91]})
    assert cnn.startswith("The original study published 91.21 % for its CNN,")


def test_the_recipe_note_reads_the_benchmarks_row(tmp_path):
    frontier = tmp_path / "frontier.jsonl"
    row = {"variant": "dense_wide_reg_40ep", "config": {"units": [1024, 512], "epochs": 40},
           "val_accuracy": 0.9185, "test_accuracy": 0.9073, "machine": "Some CPU",
           "date": "2026-11-26"}
    frontier.write_text(json.dumps(row) + "\n")
    text = compare.recipe_note("dense", frontier)
    assert "1024-512 units" in text and "91.85 % on validation and 90.73 % on test" in text
    assert "`params/larger.yaml`" in text
    assert compare.recipe_note("cnn", frontier) == ""
    assert compare.recipe_note("dense", tmp_path / "none.jsonl") == ""


def test_a_kept_tuned_cnns_time_shows_its_search(results):
    plant(results, "tuning", np.r_[np.zeros(4, bool), np.ones(196, bool)], kept="tuned",
          search_seconds=12.0)
    row = compare.results_table(compare.load(results)).set_index("model").loc["Tuned CNN"]
    assert row["train time (s)"] == "1.0 + 12.0 search"

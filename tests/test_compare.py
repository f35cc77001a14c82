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


def test_pairwise_table_counts_discordant_images_and_adjusts(study):
    table = compare.pairwise_table(study)
    row = table.loc["Logistic regression vs CNN"]
    assert (row["only the first right"], row["only the second right"]) == (0, 30)
    assert row["p"] == pytest.approx(2 * 0.5 ** 30) and row["p (Holm)"] == row["p"]


def test_conclusion_names_the_best_model_from_the_files(study):
    text = compare.conclusion(study)
    assert text.startswith("The best model on the 10,000 test images is the **CNN** with 95.00 %")
    assert "significant" in text


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


def test_mcnemar_table_is_symmetric_with_an_empty_diagonal(study):
    table = compare.mcnemar_table(study)
    assert table.loc["CNN", "Logistic regression"] == table.loc["Logistic regression", "CNN"]
    assert table.loc["CNN", "CNN"] != table.loc["CNN", "CNN"]  # NaN


def test_references_are_published_figures_by_source(study):
    table = compare.references_table()
    assert table.loc[("Original 2025 study", "CNN"), "published accuracy (%)"] == 91.21
    assert compare.published_accuracy() == {"Logistic regression": 84.38, "Dense network": 88.22,
                                            "CNN": 91.21, "Tuned CNN": 91.97}


def test_confusions_name_true_and_predicted_classes_with_counts(study):
    cnn = study.available["CNN"]
    top = compare.top_confusions(cnn, 2)
    assert top[0] == ("T-shirt/top", "Trouser", 1) and len(top) == 2
    table = compare.confusions_table(study.available, n=2)
    assert table.loc["CNN", "#1"] == "T-shirt/top → Trouser (1)"


def test_f1_matrix_is_models_by_classes(study):
    f1 = compare.f1_matrix(study.available)
    assert f1.shape == (2, 10)
    assert f1[1, 2] == study.available["CNN"]["per_class"]["Pullover"]["f1"]


def test_the_tuned_cnn_costs_its_search_too():
    assert compare.training_seconds({"train_seconds": 10.0}) == 10.0
    assert compare.training_seconds({"train_seconds": 10.0, "search_seconds": 5.5}) == 15.5


def test_headline_inputs_take_the_replica_from_the_benchmark(study, tmp_path):
    bench = tmp_path / "latest.json"
    bench.write_text(json.dumps({
        "machine": {"cpu": "Some CPU, 2 cores"}, "date": "2026-01-02",
        "seed_replica": {"models": {"cnn": {"accuracy": 0.9, "train_seconds": 100.0},
                                    "tuned_cnn": {"accuracy": 0.91, "train_seconds": 100.0,
                                                  "search_seconds": 50.0},
                                    "logreg": {"accuracy": None, "train_seconds": 1.0}}}}))
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

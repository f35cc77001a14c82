"""The comparison reads results files only: tables, tests and verdicts from planted results."""

from __future__ import annotations

import numpy as np
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


def test_missing_chapters_are_named_with_the_command_that_makes_them(results):
    table = compare.results_table(results).set_index("model")
    assert table.loc["Dense network", "test accuracy (%)"] == "missing: run `fmnist run dense`"
    assert table.loc["CNN", "test accuracy (%)"].startswith("95.00 [")


def test_pairwise_table_counts_discordant_images_and_adjusts(results):
    table = compare.pairwise_table(results)
    row = table.loc["Logistic regression vs CNN"]
    assert (row["only the first right"], row["only the second right"]) == (0, 30)
    assert row["p"] == pytest.approx(2 * 0.5 ** 30) and row["p (Holm)"] == row["p"]


def test_conclusion_names_the_best_model_from_the_files(results):
    text = compare.conclusion(results)
    assert text.startswith("The best model on the 10,000 test images is the **CNN** with 95.00 %")
    assert "significant" in text


def test_tuned_verdict_says_when_tuning_kept_the_default(results):
    plant(results, "tuning", np.r_[np.zeros(10, bool), np.ones(190, bool)], kept="default",
          retrained_val_accuracy=0.94, default_val_accuracy=0.95, search_seconds=12.0)
    text = compare.tuned_vs_default(results)
    assert text.startswith("**Tuning did not help**") and "94.00 %" in text and "95.00 %" in text

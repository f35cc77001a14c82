"""Metrics, intervals, McNemar and the results files."""

from __future__ import annotations

import hashlib
import json
import zipfile

import numpy as np
import pytest
from scipy.stats import binomtest
from sklearn.metrics import confusion_matrix as sk_confusion
from sklearn.metrics import precision_recall_fscore_support

from fmnist import evaluate, results, stats


@pytest.fixture
def predictions():
    rng = np.random.default_rng(0)
    y_true = np.repeat(np.arange(10), 50)
    probs = rng.dirichlet(np.ones(10), size=len(y_true)).astype(np.float32)
    # Make about 70 % of the predictions right.
    right = rng.random(len(y_true)) < 0.7
    probs[right, y_true[right]] += 2
    return probs / probs.sum(axis=1, keepdims=True), y_true


def test_scores_match_scikit_learn(predictions):
    probs, y_true = predictions
    ev = evaluate.evaluate(probs, y_true, model="m")
    y_pred = probs.argmax(axis=1)
    np.testing.assert_array_equal(ev.confusion, sk_confusion(y_true, y_pred))
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average="macro")
    assert ev.metrics["macro"] == pytest.approx({"precision": p, "recall": r, "f1": f})
    assert ev.metrics["accuracy"] == pytest.approx(np.mean(y_pred == y_true))
    assert list(ev.metrics["per_class"])[9] == "Ankle boot"


def test_wilson_interval_contains_the_estimate_and_narrows_with_n():
    low, high = stats.accuracy_ci95(900, 1000)
    assert low < 0.9 < high
    low2, high2 = stats.accuracy_ci95(9000, 10000)
    assert high2 - low2 < high - low
    # Wilson's interval, computed independently by scipy; the cruder Wald interval,
    # (0.894120, 0.905880), differs in the fourth decimal and must not pass.
    wilson = binomtest(9000, 10000).proportion_ci(0.95, method="wilson")
    assert stats.accuracy_ci95(9000, 10000) == pytest.approx((wilson.low, wilson.high), abs=1e-12)
    assert stats.accuracy_ci95(9000, 10000) != pytest.approx((0.894120, 0.905880), abs=1e-5)


def test_mcnemar_counts_discordant_pairs_and_detects_a_real_difference():
    a = np.array([True] * 80 + [False] * 20)
    b = np.array([True] * 50 + [False] * 50)
    test = stats.mcnemar(a, b)
    assert test["only_a_correct"] == 30 and test["only_b_correct"] == 0
    assert test["p_value"] < 1e-6
    assert stats.mcnemar(a, a)["p_value"] == 1.0


def test_saved_metrics_match_saved_predictions(tmp_path, predictions):
    probs, y_true = predictions
    ev = evaluate.evaluate(probs, y_true, model="m", params={"seed": 1})
    results.save_evaluation(tmp_path, ev)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    p, y = results.load_predictions(tmp_path)
    assert saved["accuracy"] == pytest.approx(float(np.mean(p.argmax(axis=1) == y)))
    assert not list(tmp_path.glob(".*tmp*")), "no temporary file is left behind"


def test_missing_metrics_read_as_none(tmp_path):
    assert results.load_metrics(tmp_path / "nope") is None


def test_most_confident_mistakes_are_wrong_and_sorted(predictions):
    ev = evaluate.evaluate(*predictions)
    idx = evaluate.most_confident_mistakes(ev, 5)
    assert np.all(ev.y_pred[idx] != ev.y_true[idx])
    conf = ev.probs[idx, ev.y_pred[idx]]
    assert np.all(np.diff(conf) <= 0)


def test_accuracy_is_printed_as_a_percentage():
    text = evaluate.format_accuracy({"accuracy": 0.9197, "accuracy_ci95": [0.914, 0.925]})
    assert text.startswith("91.97 %")


def test_mcnemar_exact_p_for_eight_against_two_discordant_pairs():
    # Binomial(10, 0.5), two-sided: P(X <= 2) + P(X >= 8) = 2 * 56 / 1024 = 0.109375.
    a = np.array([True] * 8 + [False] * 2 + [True] * 5)
    b = np.array([False] * 8 + [True] * 2 + [True] * 5)
    result = stats.mcnemar(a, b)
    assert (result["only_a_correct"], result["only_b_correct"]) == (8, 2)
    assert result["p_value"] == pytest.approx(0.109375, abs=1e-12)


def test_wilson_interval_of_a_known_case():
    # 81 of 263 (Wilson 1927's form; also Newcombe 1998, example): 0.2553 to 0.3662.
    low, high = stats.accuracy_ci95(81, 263)
    assert low == pytest.approx(0.2553, abs=5e-5) and high == pytest.approx(0.3662, abs=5e-5)


def test_holm_adjusts_step_down_and_keeps_the_order():
    adjusted = stats.holm([0.01, 0.04, 0.03, 0.20])
    # Sorted: 0.01*4 = 0.04; 0.03*3 = 0.09; 0.04*2 = 0.08 -> raised to 0.09; 0.20*1 = 0.20.
    assert adjusted == pytest.approx([0.04, 0.09, 0.09, 0.20])
    assert stats.holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])


def test_the_chapter_summary_and_table_come_from_the_metrics(predictions):
    probs, y = predictions
    ev = evaluate.evaluate(probs, y, train_seconds=12.34, inference_ms_per_1k=5.0, n_params=1234)
    text = evaluate.summary(ev.metrics)
    assert text.startswith(f"**Test accuracy: {evaluate.format_accuracy(ev.metrics)}**")
    assert "trained in 12.3 s" in text and "1,234 parameters" in text
    tuned = evaluate.summary({**ev.metrics, "search_seconds": 40.0})
    assert "search 40.0 s, retrain 12.3 s" in tuned
    table = evaluate.per_class_table(ev.metrics)
    assert list(table.index) == list(evaluate.CLASS_NAMES)
    assert table.loc["Bag", "support"] == int(np.sum(y == 8))
    assert table["support"].dtype.kind == "i", "a count of images reads as a whole number"


def test_accuracy_reads_the_same_in_text_and_tables():
    metrics = {"accuracy": 0.9197, "accuracy_ci95": [0.914, 0.925]}
    assert evaluate.format_accuracy(metrics, "table") == "91.97 [91.40, 92.50]"


def test_a_damaged_results_folder_is_named_file_by_file(tmp_path):
    y = np.arange(20) % 10
    probs = np.eye(10)[y]
    ev = evaluate.evaluate(probs, y, train_seconds=1.0)
    folder = tmp_path / "dense"
    results.save_evaluation(folder, ev)
    (folder / "model.keras").write_bytes(b"")  # filled in below
    with zipfile.ZipFile(folder / "model.keras", "w") as z:
        z.writestr("config.json", "{}")
    assert results.damage(tmp_path, "dense") is None
    metrics = (folder / "metrics.json").read_text()
    (folder / "metrics.json").write_text(metrics[: len(metrics) // 2])  # a disk that filled
    assert results.damage(tmp_path, "dense") == f"{folder / 'metrics.json'}: not readable JSON " \
                                                "(JSONDecodeError)"
    with pytest.raises(results.DamagedResults, match="Run `fmnist run dense`"):
        results.load_metrics(folder)
    (folder / "metrics.json").write_text(json.dumps({"accuracy": 1.0}))  # a hand edit
    assert "incomplete: no accuracy_ci95" in results.damage(tmp_path, "dense")
    (folder / "metrics.json").write_text(metrics)
    (folder / "predictions.npz").write_bytes((folder / "predictions.npz").read_bytes()[:100])
    assert results.damage(tmp_path, "dense").endswith("not a readable NumPy archive (BadZipFile)")
    with pytest.raises(results.DamagedResults, match="predictions.npz is not a readable"):
        results.load_predictions(folder)
    np.savez(folder / "predictions.npz", probs=probs[:5], y_true=y)
    assert "probabilities of shape (5, 10) for 20 labels" in results.damage(tmp_path, "dense")
    results.save_evaluation(folder, ev)
    (folder / "model.keras").unlink()
    assert results.damage(tmp_path, "dense") == f"{folder / 'model.keras'}: missing"
    assert results.damage(tmp_path, "comparison") is None  # it keeps no file a reader needs


def test_the_predictions_digest_is_the_sha256_of_one_byte_per_label(predictions):
    probs, y_true = predictions
    ev = evaluate.evaluate(probs, y_true, model="m")
    y_pred = probs.argmax(axis=1)
    # The documented form, computed by hand: one unsigned byte per predicted label.
    expected = hashlib.sha256(bytes(int(v) for v in y_pred)).hexdigest()
    assert ev.metrics[evaluate.DIGEST_KEY] == expected
    assert evaluate.predictions_digest(y_pred.astype(np.int64)) == expected  # whatever the dtype
    changed = y_pred.copy()
    changed[0] = (changed[0] + 1) % 10
    assert evaluate.predictions_digest(changed) != expected  # one image changes it
    with pytest.raises(ValueError, match="one class index"):
        evaluate.predictions_digest(probs)

"""`fmnist verify`: a rerun compared with a published run, image by image or by digest."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import copy_project, fmnist
from scipy.stats import binomtest

from fmnist import evaluate, results, verify
from fmnist.schema import ParamsError


def probabilities(y_pred: np.ndarray) -> np.ndarray:
    """Class probabilities whose argmax is `y_pred`."""
    probs = np.full((len(y_pred), 10), 0.05, dtype=np.float32)
    probs[np.arange(len(y_pred)), y_pred] = 0.55
    return probs


def saved_run(folder, y_pred, y_true, slug="dense"):
    """A results folder with one model chapter's metrics and predictions, and a run record."""
    ev = evaluate.evaluate(probabilities(y_pred), y_true, model="m", train_seconds=1.0)
    results.save_evaluation(folder / slug, ev)
    (folder / "run.json").write_text(json.dumps({"profile": "quick", "params": {"seed": 3}}))
    return ev


@pytest.fixture
def labels():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 10, 200)
    y_pred = np.where(rng.random(200) < 0.8, y_true, (y_true + 1) % 10)
    return y_true, y_pred


def model(y_pred, y_true, with_predictions=True):
    return verify.Model(float(np.mean(y_pred == y_true)), evaluate.predictions_digest(y_pred),
                        {"machine": "a CPU, 2 cores", "tensorflow": "2.21.0"},
                        y_pred if with_predictions else None)


def test_the_chapters_to_check_and_what_they_need():
    assert verify.model_chapters([], quick=True) == [verify.QUICK] == ["dense"]
    assert verify.model_chapters([], quick=False) == ["baseline", "dense", "cnn", "tuning"]
    with pytest.raises(ParamsError, match="not both"):
        verify.model_chapters(["cnn"], quick=True)
    with pytest.raises(ParamsError, match="data: not a model chapter"):
        verify.model_chapters(["data"], quick=False)
    assert verify.chapters_to_run(["tuning"]) == ["data", "cnn", "tuning"]
    assert verify.chapters_to_run(["baseline", "dense"]) == ["data", "baseline", "dense"]


def test_predictions_that_differ_are_counted_with_mcnemars_exact_p(labels):
    y_true, here = labels
    published = here.copy()
    right, wrong = np.flatnonzero(here == y_true), np.flatnonzero(here != y_true)
    published[right[:8]] = (y_true[right[:8]] + 1) % 10  # here right, published wrong: 8
    published[wrong[:2]] = y_true[wrong[:2]]  # published right, here wrong: 2
    outcome = verify.compare("dense", model(here, y_true), model(published, y_true), y_true)
    assert not outcome.identical and outcome.differ == 10
    # Two-sided exact binomial test of 8 against 2, by hand: 2 * (1 + 10 + 45) / 2**10.
    assert outcome.mcnemar["p_value"] == pytest.approx(112 / 1024)
    text = verify.describe(outcome, len(y_true))
    assert text.startswith("Dense network: differs: 10 of 200 test predictions differ")
    assert "McNemar's exact p = 0.109" in text and "published: a CPU, 2 cores" in text
    same = verify.compare("dense", model(here, y_true), model(here.copy(), y_true), y_true)
    assert same.identical and same.differ == 0
    assert "identical: all 200 test predictions agree" in verify.describe(same, 200)


def test_where_only_digests_are_they_alone_are_compared(labels):
    y_true, here = labels
    other = here.copy()
    other[0] = (other[0] + 1) % 10
    digest_only = verify.compare("cnn", model(here, y_true), model(other, y_true, False), y_true)
    assert not digest_only.identical and digest_only.differ is None
    assert "digests differ" in verify.describe(digest_only, 200)
    assert verify.compare("cnn", model(here, y_true), model(here, y_true, False), y_true).identical


def test_a_results_folder_gives_predictions_and_the_parameters_it_ran_with(tmp_path, labels):
    y_true, y_pred = labels
    ev = saved_run(tmp_path, y_pred, y_true)
    published = verify.load_published(tmp_path, ["dense"])
    assert published.params == {"seed": 3} and published.profile == "quick"
    dense = published.models["dense"]
    np.testing.assert_array_equal(dense.y_pred, y_pred)
    assert dense.digest == ev.metrics[evaluate.DIGEST_KEY]
    with pytest.raises(verify.VerifyError, match="the `cnn` chapter has not run there"):
        verify.load_published(tmp_path, ["cnn"])


def test_a_record_needs_each_models_accuracy_and_digest(tmp_path, labels):
    y_true, y_pred = labels
    digest = evaluate.predictions_digest(y_pred)
    path = tmp_path / "latest.json"
    path.write_text(json.dumps({"machine": {"cpu": "a CPU, 2 cores"},
                                "report": {"profile": "default", "params": {"seed": 42},
                                           "versions": {"python": "3.11.7"},
                                           "models": {"dense": {"accuracy": 0.8,
                                                                evaluate.DIGEST_KEY: digest}}}}))
    published = verify.load_published(path, ["dense"])
    assert published.models["dense"].digest == digest and published.params == {"seed": 42}
    assert published.models["dense"].versions == {"python": "3.11.7",
                                                  "machine": "a CPU, 2 cores"}
    with pytest.raises(verify.VerifyError, match="no result for cnn"):
        verify.load_published(path, ["cnn"])
    path.write_text(json.dumps({"models": {"dense": {"accuracy": 0.8}}}))
    with pytest.raises(verify.VerifyError, match="no `test_predictions_sha256`"):
        verify.load_published(path, ["dense"])
    # The site's download: the run's metadata under `run`, its parameters as `parameters`.
    path.write_text(json.dumps({"schema": 1, "parameters": {"seed": 7},
                                "run": {"profile": "quick", "versions": {"machine": "CPU B"}},
                                "models": {"dense": {"accuracy": 0.8,
                                                     evaluate.DIGEST_KEY: digest}}}))
    published = verify.load_published(path, ["dense"])
    assert published.params == {"seed": 7} and published.profile == "quick"
    assert published.models["dense"].versions == {"machine": "CPU B"}
    path.write_text("{not json")
    with pytest.raises(verify.VerifyError, match="not a readable JSON record"):
        verify.load_published(path, ["dense"])


def test_a_record_without_digests_is_refused_before_anything_runs(tmp_path):
    root = copy_project(tmp_path / "proj")
    record = tmp_path / "old.json"
    record.write_text(json.dumps({"models": {"dense": {"accuracy": 0.89}}}))
    proc = fmnist("verify", "--quick", "--against", str(record), cwd=root)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"fmnist: error: {record}: no `test_predictions_sha256`")
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not (root / "results").exists()


def altered(project, tmp_path, n_wrong: int, n_right: int):
    """A copy of a run's dense results with `n_wrong` right predictions made wrong and
    `n_right` wrong ones made right."""
    published = tmp_path / "published"
    shutil.copytree(project / "results" / "dense", published / "dense")
    probs, y_true = results.load_predictions(published / "dense")
    y_pred = probs.argmax(axis=1)
    right, wrong = np.flatnonzero(y_pred == y_true), np.flatnonzero(y_pred != y_true)
    y_pred[right[:n_wrong]] = (y_true[right[:n_wrong]] + 1) % 10
    y_pred[wrong[:n_right]] = y_true[wrong[:n_right]]
    np.savez_compressed(published / "dense" / results.PREDICTIONS_FILE,
                        probs=probabilities(y_pred), y_true=y_true)
    shutil.copy(project / "results" / "run.json", published / "run.json")
    return published


@pytest.mark.slow
def test_verify_quick_is_identical_to_the_run_just_made_and_names_an_altered_one(
        quick_project, tmp_path):
    before = sorted(p.stat().st_mtime_ns for p in (quick_project / "results").rglob("*"))
    proc = fmnist("verify", "--quick", cwd=quick_project)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Dense network: identical: all 10,000 test predictions agree" in proc.stdout
    assert "here:      " in proc.stdout and "published: " in proc.stdout
    after = sorted(p.stat().st_mtime_ns for p in (quick_project / "results").rglob("*"))
    assert after == before, "the project's own results were touched"

    published = altered(quick_project, tmp_path, n_wrong=20, n_right=10)
    proc = fmnist("verify", "--quick", "--against", str(published), cwd=quick_project)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    p = binomtest(20, 30, 0.5).pvalue  # here right on 20 the published run got wrong, 10 back
    assert "Dense network: differs: 30 of 10,000 test predictions differ" in proc.stdout
    assert f"McNemar's exact p = {p:.3g}" in proc.stdout
    assert "1 of 1 model(s) differ" in proc.stdout

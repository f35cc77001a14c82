"""Every chapter runs on its own, as from a launch button: plain papermill, an empty results
folder, and a run outside the runner never leaves a chapter looking fresh."""

from __future__ import annotations

import json

import numpy as np
import papermill as pm
import pytest
from conftest import ROOT, copy_of, copy_project, fmnist
from test_reliability import comparable

from fmnist.chapters import PIPELINE
from fmnist.params import load_profile
from fmnist.results import load_predictions

ALONE = [ch for ch in PIPELINE if ch.slug != "data"]

@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return copy_project(tmp_path_factory.mktemp("alone") / "proj")


@pytest.mark.slow
@pytest.mark.parametrize("ch", ALONE, ids=lambda c: c.slug)
def test_each_chapter_runs_alone_in_an_empty_results_folder(project, quick_project, ch):
    profile = load_profile(project / "params" / "quick.yaml")
    folder = f"alone_{ch.slug}"
    values = {**profile.chapter(ch.slug), "results_dir": folder}
    pm.execute_notebook(str(project / "book" / ch.notebook), str(project / f"{ch.slug}.ipynb"),
                        parameters=values, cwd=str(project / "book"), kernel_name="python3",
                        progress_bar=False)
    results = project / folder
    if ch.slug == "comparison":
        assert not (results / "cnn").exists(), "the comparison retrains nothing"
        page = json.loads((project / f"{ch.slug}.ipynb").read_text())
        text = json.dumps(page["cells"])
        assert "missing: run `fmnist run cnn`" in text
    else:
        # Alone, one by one and outside the runner (the tuning chapter searching itself), it
        # makes the same split and trains with the same seed and thread counts as the shared
        # quick report, whose chapters ran side by side with the search ahead: the same model,
        # so every metric and prediction to the last digit.
        ours, theirs = results / ch.slug, quick_project / "results" / ch.slug
        assert run_numbers(ours) == run_numbers(theirs)
        probs, reference = load_predictions(ours)[0], load_predictions(theirs)[0]
        if ch.slug == "tuning":
            # Alone, the chapter first trains the default CNN itself, in the kernel that then
            # searches and retrains: the retrain's probabilities move in the seventh digit (at
            # most 2.1e-7 apart, seen), its predicted classes and every metric above do not.
            # The one-by-one report, which reads the CNN chapter's results, gives the very
            # probabilities: test_schedule.py.
            probs, reference = probs.argmax(axis=1), reference.argmax(axis=1)
        np.testing.assert_array_equal(probs, reference)
        assert (results / "data" / "split.npz").is_file(), "the split was made here"


def run_numbers(folder):
    """A chapter's metrics without its timings and the results folder it was told to use."""
    metrics = comparable(json.loads((folder / "metrics.json").read_text()))
    metrics["params"].pop("results_dir", None)
    return metrics


@pytest.mark.slow
def test_a_chapter_run_with_papermill_is_rerun_by_the_next_report(quick_project, tmp_path):
    project = copy_of(quick_project, tmp_path)  # a report ran here, every chapter fresh
    profile = load_profile(project / "params" / "quick.yaml")
    values = {**profile.chapter("cnn"), "epochs": 2}  # other results than the report's
    pm.execute_notebook(str(project / "book" / "04_cnn.ipynb"), str(project / "cnn.ipynb"),
                        parameters=values, cwd=str(project / "book"), kernel_name="python3",
                        progress_bar=False)
    assert not (project / "results" / "cnn" / "stamp.json").exists()
    again = fmnist("report", "--params", "params/quick.yaml", cwd=project)
    assert again.returncode == 0, again.stderr[-2000:]
    for slug in ("cnn", "comparison"):
        assert f"{slug:<11} running" in again.stdout, slug
    for slug in ("data", "baseline", "dense"):
        assert f"{slug:<11} up to date" in again.stdout, slug
    # The CNN is the profile's again (training is deterministic), so the tuning chapter, which
    # reads its validation accuracy, may stay as it was: every page shows the same results.
    cnn = json.loads((project / "results" / "cnn" / "metrics.json").read_text())
    tuning = json.loads((project / "results" / "tuning" / "metrics.json").read_text())
    assert cnn["params"]["epochs"] == 1, "the site shows the profile's run, not the stray one"
    assert tuning["default_val_accuracy"] == cnn["val_accuracy"]


def test_binder_installs_the_runtime_only():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    post_build = (ROOT / "binder" / "postBuild").read_text()
    commands = [line for line in post_build.splitlines() if line and not line.startswith("#")]
    assert "pip install --no-cache-dir -c requirements.lock ." in commands, \
        "the package itself, without extras, at the locked versions"
    runtime = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {d.split(">")[0].split("=")[0].strip() for d in runtime}
    assert not names & {"pytest", "ruff", "playwright", "jupyter-book", "ghp-import"}
    assert {"tensorflow", "keras", "keras-tuner"} <= names

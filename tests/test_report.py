"""The runner: chapter order, what reruns, hidden parameter cells, the site swap."""

from __future__ import annotations

import json
import shutil
import zipfile

import nbformat
import numpy as np
import pytest
from conftest import ROOT

from fmnist import chapters, evaluate, executed, report, site
from fmnist.chapters import PIPELINE
from fmnist.params import load_profile
from fmnist.results import save_evaluation


def test_chapters_run_in_the_designed_order():
    assert list(chapters.SLUGS) == ["data", "baseline", "dense", "cnn", "tuning", "comparison"]


@pytest.mark.parametrize("slug, expected", [
    ("data", ["data", "baseline", "dense", "cnn", "tuning", "comparison"]),
    ("cnn", ["cnn", "tuning", "comparison"]),
    ("dense", ["dense", "comparison"]),
    ("comparison", ["comparison"]),
])
def test_rerunning_a_chapter_reruns_what_depends_on_it(slug, expected):
    assert chapters.downstream(slug) == expected


def test_unknown_chapter_is_rejected():
    with pytest.raises(ValueError, match="unknown chapter"):
        chapters.downstream("svm")


def test_parameter_cells_are_hidden():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"),
                                         nbformat.v4.new_code_cell("x = 2")])
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.cells[1].metadata["tags"] = ["injected-parameters"]
    executed.hide_parameter_cells(nb)
    tags = [c.metadata["tags"] for c in nb.cells]
    assert all("remove-cell" in t for t in tags)


def project_copy(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, root)
    shutil.copytree(ROOT / "book", root / "book")
    shutil.copytree(ROOT / "params", root / "params")
    return root


def sound_dense_results(results):
    """A complete, readable results folder for the dense chapter (what its readers need)."""
    y = np.arange(20) % 10
    save_evaluation(results / "dense", evaluate.evaluate(np.eye(10)[y], y, train_seconds=1.0))
    with zipfile.ZipFile(results / "dense" / "model.keras", "w") as z:
        z.writestr("config.json", "{}")


def dense_that_ran(tmp_path):
    """A project copy whose dense chapter ran to the end with the quick profile: its executed
    notebook, sound results and stamp. Returns the root, profile, results folder and chapter."""
    root = project_copy(tmp_path)
    profile = load_profile(root / "params" / "quick.yaml")
    results = root / "results"
    ch = chapters.chapter("dense")
    assert report.why_stale(root, profile, ch, results) == "changed"
    (results / "notebooks").mkdir(parents=True)
    (results / "notebooks" / ch.notebook).write_text("{}")
    sound_dense_results(results)
    stamp = report.chapter_stamp(root, profile, ch, results)
    (results / "dense" / report.STAMP_FILE).write_text(json.dumps({"stamp": stamp}))
    assert report.why_stale(root, profile, ch, results) is None
    return root, profile, results, ch


def test_a_chapter_is_fresh_only_with_the_same_inputs(tmp_path):
    root, profile, results, ch = dense_that_ran(tmp_path)
    changed = load_profile(root / "params" / "quick.yaml", ["dense.epochs=2"])
    assert report.why_stale(root, changed, ch, results) == "changed"
    other = load_profile(root / "params" / "quick.yaml", ["cnn.epochs=2"])
    assert report.why_stale(root, other, ch, results) is None, \
        "another chapter's change is irrelevant"
    (root / "book" / ch.notebook).write_text((root / "book" / ch.notebook).read_text() + " ")
    assert report.why_stale(root, profile, ch, results) == "changed", "an edited notebook is stale"
    (root / "book" / ch.notebook).write_text((root / "book" / ch.notebook).read_text()[:-1])
    assert report.why_stale(root, profile, ch, results) is None
    (results / "dense" / "predictions.npz").write_bytes(b"truncated")
    stale = report.why_stale(root, profile, ch, results)
    assert stale.startswith("damaged results (") and "predictions.npz" in stale, stale


def test_a_chapter_made_with_other_package_versions_is_stale(tmp_path, monkeypatch):
    root, profile, results, ch = dense_that_ran(tmp_path)
    installed = report.package_versions()
    monkeypatch.setattr(report, "package_versions",
                        lambda: {**installed, "tensorflow": "9.9.9"})  # as after `make lock`
    assert report.why_stale(root, profile, ch, results) == "changed"


def test_a_failed_build_leaves_the_previous_site(tmp_path):
    root = project_copy(tmp_path)
    html = root / "_build" / "html"
    html.mkdir(parents=True)
    (html / "index.html").write_text("previous")
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/missing\n")
    with pytest.raises(site.SiteFailed, match="previous site is untouched"):
        site.build_site(root, root / "results")
    assert (html / "index.html").read_text() == "previous"


def test_tuning_depends_on_the_cnns_validation_accuracy_not_its_timings(tmp_path):
    # The CNN's configuration reaches the tuning chapter through the profile (its stamp's
    # parameters); of the CNN's results it reads the validation accuracy only.
    results = tmp_path / "results"
    (results / "cnn").mkdir(parents=True)
    def write_cnn(**metrics):
        base = {"val_accuracy": 0.93, "accuracy": 0.92, "train_seconds": 100.0,
                "accuracy_ci95": [0.91, 0.93], "macro": {}, "per_class": {},
                "confusion_matrix": []}
        (results / "cnn" / "metrics.json").write_text(json.dumps({**base, **metrics}))
        return report.chapter_inputs("tuning", results)
    first = write_cnn()
    assert write_cnn(train_seconds=250.0) == first, "a slower rerun changes nothing it reads"
    assert write_cnn(val_accuracy=0.94) != first, "what it compares with matters"
    profile = load_profile(ROOT / "params" / "quick.yaml")
    other = load_profile(ROOT / "params" / "quick.yaml", ["cnn.dropout=0.4"])
    assert profile.chapter("tuning") != other.chapter("tuning")


def test_the_dependency_graph_comes_from_the_pipeline_table(tmp_path):
    for ch in PIPELINE:  # `downstream` is the reverse of what each chapter reads
        readers = {c.slug for c in PIPELINE if ch.slug in c.reads}
        assert set(chapters.downstream(ch.slug)) - {ch.slug} >= readers
    root = project_copy(tmp_path)
    results = root / "results"
    profile = load_profile(root / "params" / "quick.yaml")
    grid = load_profile(root / "params" / "quick.yaml", ["data.samples_per_class=2"])
    for ch in PIPELINE:
        same = report.chapter_stamp(root, profile, ch, results) == report.chapter_stamp(
            root, grid, ch, results)
        assert same == (ch.slug != "data"), f"{ch.slug}: only the data chapter draws the grid"


@pytest.mark.parametrize("overwrite, ahead", [(False, True), (True, False)])
def test_the_search_runs_ahead_unless_its_chapter_starts_it_afresh(tmp_path, overwrite, ahead):
    # A forced tuning chapter is to run; with `overwrite` it would discard a search run ahead.
    profile = load_profile(ROOT / "params" / "quick.yaml",
                           [f"tuning.overwrite={str(overwrite).lower()}"])
    todo = [ch for ch in PIPELINE if ch.slug in ("cnn", "tuning")]
    assert report._search_ahead(tmp_path, profile, tmp_path, todo, force=True) is ahead

"""The site's downloads: every results table as CSV and the run as one JSON file, written from a
results folder made by the chapters' own evaluation and run record."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from tiny_results import N, make_run, save_model

from fmnist import compare, downloads, results


@pytest.fixture
def run(tmp_path):
    """A results folder with every model chapter's evaluation and the run's record."""
    return make_run(tmp_path / "results")


def test_the_json_holds_each_models_results_the_tests_and_the_run(run, tmp_path):
    study = compare.load(run)
    written = downloads.write_downloads(run, study, tmp_path / "site")
    assert written[0].name == downloads.RESULTS_JSON
    document = json.loads((tmp_path / "site" / downloads.RESULTS_JSON).read_text(),
                          parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    assert set(document["models"]) == {"baseline", "dense", "cnn", "tuning"}
    for slug, model in document["models"].items():
        metrics = results.load_metrics(run / slug)
        assert model["accuracy"] == metrics["accuracy"]
        assert model["accuracy_ci95"] == metrics["accuracy_ci95"]
        assert model["per_class"] == metrics["per_class"]
        assert "history" not in model and "versions" not in model
    assert document["models"]["tuning"]["changes"] == {"dropout": [0.2, 0.3]}
    pairwise = compare.pairwise_table(study).reset_index()
    assert len(document["pairwise_tests"]) == len(pairwise) == 6
    assert document["pairwise_tests"][0] == pytest.approx(pairwise.iloc[0].to_dict())
    record = json.loads((run / "run.json").read_text())
    assert document["parameters"] == record["params"]
    assert document["run"]["date"] == record["date"] and "params" not in document["run"]
    assert document["class_names"][9] == "Ankle boot"


def test_the_predictions_digest_is_kept_where_a_model_has_one(run, tmp_path):
    path = run / "dense" / "metrics.json"
    metrics = json.loads(path.read_text())
    metrics["test_predictions_sha256"] = "ab" * 32
    path.write_text(json.dumps(metrics))
    path = run / "cnn" / "metrics.json"
    path.write_text(json.dumps({k: v for k, v in json.loads(path.read_text()).items()
                                if k != "test_predictions_sha256"}))
    document = downloads.run_results(run, compare.load(run))
    assert document["models"]["dense"]["test_predictions_sha256"] == "ab" * 32
    assert "test_predictions_sha256" not in document["models"]["cnn"]


def test_every_chapters_tables_are_csv_files_that_read_back(run, tmp_path):
    written = downloads.write_downloads(run, compare.load(run), tmp_path / "site")
    names = {d.name for d in written}
    for slug in ("baseline", "dense", "cnn", "tuning"):
        assert {f"{slug}-per-class.csv", f"{slug}-confusion-matrix.csv"} <= names
    assert {"baseline-grid.csv", "tuning-changes.csv", "comparison-models.csv",
            "comparison-pairwise.csv"} <= names
    read = {d.name: pd.read_csv(tmp_path / "site" / d.name, index_col=0)
            for d in written if d.name.endswith(".csv")}
    metrics = results.load_metrics(run / "cnn")
    assert read["cnn-per-class.csv"].loc["Shirt", "f1"] == pytest.approx(
        metrics["per_class"]["Shirt"]["f1"])
    assert read["cnn-confusion-matrix.csv"].to_numpy().sum() == N
    models = read["comparison-models.csv"]
    assert list(models.index) == ["baseline", "dense", "cnn", "tuning"]
    assert models.loc["tuning", "test_accuracy"] == pytest.approx(
        results.load_metrics(run / "tuning")["accuracy"])
    assert models.loc["dense", "ci95_low"] < models.loc["dense", "test_accuracy"]
    assert len(read["comparison-pairwise.csv"]) == 6


def test_a_run_with_one_model_has_no_pairwise_tests(tmp_path):
    folder = tmp_path / "results"
    save_model(folder / "cnn", 0.8, 1, model="CNN")
    written = downloads.write_downloads(folder, compare.load(folder), tmp_path / "site")
    assert "comparison-pairwise.csv" not in {d.name for d in written}
    document = json.loads((tmp_path / "site" / downloads.RESULTS_JSON).read_text())
    assert document["pairwise_tests"] == [] and document["run"] is None


def test_nothing_run_means_nothing_to_download(tmp_path):
    assert downloads.write_downloads(tmp_path, compare.load(tmp_path), tmp_path / "site") == []
    assert not (tmp_path / "site").exists()
    assert "No results yet" in downloads.links_markdown([])


def test_the_links_name_every_file_on_the_landing_page_and_a_chapters_own_on_its_page(
        run, tmp_path):
    written = downloads.write_downloads(run, compare.load(run), tmp_path / "site")
    everything = downloads.links_markdown(written)
    for d in written:
        assert f"<downloads/{d.name}>`" in everything
    assert "[Tuning the CNN](05_tuning.ipynb)" in everything
    cnn = downloads.links_markdown(written, "cnn")
    assert "downloads/cnn-per-class.csv" in cnn and downloads.RESULTS_JSON in cnn
    assert "dense-per-class.csv" not in cnn


def test_csv_and_json_say_the_same(run, tmp_path):
    downloads.write_downloads(run, compare.load(run), tmp_path / "site")
    document = json.loads((tmp_path / "site" / downloads.RESULTS_JSON).read_text())
    csv = pd.read_csv(io.StringIO((tmp_path / "site" / "baseline-per-class.csv").read_text()),
                      index_col=0)
    assert csv["recall"].to_dict() == pytest.approx(
        {c: v["recall"] for c, v in document["models"]["baseline"]["per_class"].items()})

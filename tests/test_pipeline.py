"""End to end: `fmnist report --params params/quick.yaml` in a temporary copy of the project."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser

import numpy as np
import pytest
from conftest import copy_of, fmnist

from fmnist.chapters import MODELS, PIPELINE, SLUGS
from fmnist.console import is_noise
from fmnist.params import load_profile
from fmnist.tuning import folders

pytestmark = pytest.mark.slow
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Images(HTMLParser):
    """Collects <img src> of a page."""

    def __init__(self):
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.sources.append(dict(attrs).get("src", ""))


def test_every_chapter_has_a_page_with_real_png_figures(quick_project):
    html = quick_project / "_build" / "html"
    assert (html / "index.html").is_file()
    for ch in PIPELINE:
        page = html / "book" / ch.notebook.replace(".ipynb", ".html")
        assert page.is_file(), page
        parser = Images()
        parser.feed(page.read_text())
        figures = [s for s in parser.sources if "_images" in s]
        # Every figure a chapter saves is also shown on its page.
        saved = list((quick_project / "results" / ch.slug).glob("*.png"))
        assert figures and len(figures) >= len(saved), f"{page.name}: {figures} for {saved}"
        for src in figures:
            assert (page.parent / src).resolve().read_bytes()[:8] == PNG_MAGIC
        # The notebook shows each saved figure as its file, byte for byte (drawn once).
        shown = notebook_pngs(quick_project / "results" / "notebooks" / ch.notebook)
        assert all(path.read_bytes() in shown for path in saved), ch.notebook


def notebook_pngs(path) -> set[bytes]:
    """Every PNG an executed notebook shows."""
    cells = json.loads(path.read_text())["cells"]
    return {base64.b64decode(out["data"]["image/png"]) for cell in cells
            for out in cell.get("outputs", ()) if "image/png" in out.get("data", {})}


def test_the_landing_page_shows_the_headline_figure(quick_project):
    page = quick_project / "_build" / "html" / "book" / "intro.html"
    parser = Images()
    parser.feed(page.read_text())
    headline = [s for s in parser.sources if "headline" in s]
    assert len(headline) == 1
    assert (page.parent / headline[0]).resolve().read_bytes()[:8] == PNG_MAGIC
    assert "published accuracies" in page.read_text()


def test_comparison_table_lists_every_model_with_a_number(quick_project):
    text = (quick_project / "_build" / "html" / "book" / "06_comparison.html").read_text()
    kept = json.loads((quick_project / "results" / "tuning" / "metrics.json").read_text())["kept"]
    for slug, name in MODELS.items():
        if slug == "tuning" and kept == "default":
            assert re.search(rf"{name}</th>\s*<td>the CNN's: the search found no better", text)
        else:
            assert re.search(rf"{name}</th>\s*<td>\d+\.\d\d \[", text), name


def tuning_outcome(project, tmp_path, learning_rate: float):
    """Rerun the tuning chapter (and the comparison) in a copy of the built quick project with
    a one-value search space: every trial is the quick CNN at `learning_rate`, retrained and
    then kept or rejected on validation."""
    copy = copy_of(project, tmp_path)
    proc = fmnist("run", "tuning", "--params", "params/quick.yaml",
                  "--set", f"tuning.space={{learning_rate: [{learning_rate}]}}",
                  "--set", "tuning.max_trials=1", cwd=copy)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = copy / "results"
    tuned = json.loads((results / "tuning" / "metrics.json").read_text())
    with np.load(results / "tuning" / "predictions.npz") as t, \
            np.load(results / "cnn" / "predictions.npz") as c:
        same_predictions = np.array_equal(t["probs"], c["probs"])
    page = (copy / "_build" / "html" / "book" / "06_comparison.html").read_text()
    return tuned, same_predictions, page


def test_a_tuning_chapter_that_keeps_its_retrain(quick_project, tmp_path):
    # A learning rate five times the quick CNN's trains far further in its one short epoch.
    tuned, same, page = tuning_outcome(quick_project, tmp_path, 0.005)
    assert tuned["kept"] == "tuned" and tuned["changes"] == {"learning_rate": [0.001, 0.005]}
    assert tuned["val_accuracy"] == tuned["retrained_val_accuracy"] > tuned[
        "default_val_accuracy"]
    assert not same  # its predictions are its own model's
    assert (tmp_path / "proj" / "results" / "tuning" / "model.keras").is_file()
    assert "CNN vs Tuned CNN" in page


def test_a_tuning_chapter_that_keeps_the_default(quick_project, tmp_path):
    # A hundredth of the learning rate barely moves the weights in one epoch: rejected.
    tuned, same, page = tuning_outcome(quick_project, tmp_path, 0.00001)
    assert tuned["kept"] == "default" and tuned["retrained_val_accuracy"] < tuned[
        "default_val_accuracy"] == tuned["val_accuracy"]
    assert same  # the default CNN's predictions, bit for bit
    assert "Tuned CNN</th>" in page and "CNN vs Tuned CNN" not in page
    assert "no tuned model to rank" in page


def test_metrics_accuracy_equals_accuracy_of_saved_predictions(quick_project):
    for slug in MODELS:
        folder = quick_project / "results" / slug
        metrics = json.loads((folder / "metrics.json").read_text())
        with np.load(folder / "predictions.npz") as saved:
            recomputed = float(np.mean(saved["probs"].argmax(axis=1) == saved["y_true"]))
        assert metrics["accuracy"] == pytest.approx(recomputed, abs=1e-12)
        for key in ("model", "params", "accuracy", "accuracy_ci95", "macro", "per_class",
                    "confusion_matrix", "train_seconds", "inference_ms_per_1k", "n_params",
                    "versions"):
            assert key in metrics, f"{slug}: {key}"
        model_file = "model.npz" if slug == "baseline" else "model.keras"
        assert (folder / model_file).is_file()


def test_parameter_cells_are_hidden_and_run_time_shown(quick_project):
    html = (quick_project / "_build" / "html" / "book" / "04_cnn.html").read_text()
    assert "This chapter ran in" in html
    assert "# Parameters (papermill replaces these" not in html


def test_an_unchanged_rerun_executes_nothing(quick_project, tmp_path):
    project = copy_of(quick_project, tmp_path)
    proc = fmnist("report", "--params", "params/quick.yaml", cwd=project)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("up to date") == len(PIPELINE)


def test_two_local_workers_share_one_search(quick_project, tmp_path):
    project = copy_of(quick_project, tmp_path)
    proc = fmnist("tune", "--params", "params/quick.yaml", "--workers", "2", "--no-report",
                  "--set", "tuning.max_trials=4", "--set", "tuning.search_subset=300",
                  cwd=project)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = re.search(r"search finished: (\d+) trials (.*)", proc.stdout)
    assert found, proc.stdout[-2000:]
    assert int(found.group(1)) == 4
    per_worker = dict(item.split(": ") for item in found.group(2).split(", "))
    assert set(per_worker) == {"tuner0", "tuner1"}
    assert all(int(n) >= 1 for n in per_worker.values())
    # The other way round: one process resumes the workers' finished search and reruns nothing.
    trials = sorted((project / "results" / "tuning").glob("search-*/trial_*/seconds.json"))
    by_workers = {p: p.read_text() for p in trials
                  if json.loads(p.read_text())["tuner_id"].startswith("tuner")}
    assert len(by_workers) == 4
    alone = fmnist("tune", "--params", "params/quick.yaml", "--no-report",
                   "--set", "tuning.max_trials=4", "--set", "tuning.search_subset=300",
                   cwd=project)
    assert alone.returncode == 0, alone.stderr[-3000:]
    assert "search finished: 4 trials" in alone.stdout, alone.stdout[-2000:]
    assert {p: p.read_text() for p in by_workers} == by_workers, "a finished trial was rerun"


def test_distributed_tuning_after_a_finished_search_reruns_nothing(quick_project, tmp_path):
    # The quick report ran its search in one process; a chief and two workers started on the
    # same profile must find it complete, and the chapter stays fresh because nothing changed.
    project = copy_of(quick_project, tmp_path)
    profile = load_profile(project / "params" / "quick.yaml")
    results = project / "results"
    name = folders.project_name(profile.sections["tuning"], profile.shared.seed,
                                folders.search_key(results, profile.sections["cnn"]))
    trials = sorted((results / "tuning" / name).glob("trial_*/trial.json"))
    assert trials
    before = {p: p.stat().st_mtime_ns for p in trials}
    proc = fmnist("tune", "--params", "params/quick.yaml", "--workers", "2", cwd=project)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.search(rf"search finished: {len(trials)} trials local: {len(trials)}", proc.stdout)
    assert {p: p.stat().st_mtime_ns for p in trials} == before, "a finished trial was rerun"
    assert "tuning      up to date" in proc.stdout


def test_the_report_console_shows_progress_and_no_start_up_noise(quick_project):
    out = (quick_project / "report.stdout").read_text()
    err = (quick_project / "report.stderr").read_text()
    assert [line for line in err.splitlines() if is_noise(line)] == []
    assert "oneDNN" not in err and "without encryption" not in err
    # Live progress inside the long chapters, each line naming its chapter (or the search run
    # beside them): chapters side by side stay readable.
    assert re.search(r"^ +cnn +epoch 1/1: train [\d.]+ %, validation [\d.]+ %", out, re.M), out
    assert re.search(r"^ +search +trial \d+: .*validation [\d.]+ %", out, re.M), out
    assert out.index("cnn         running") < out.index("cnn         done")
    # Whole lines only: no line carries two steps' words, none is left empty between them.
    steps = re.compile(rf"\b({'|'.join([*SLUGS, 'search'])}) {{2,}}\S")
    assert [line for line in out.splitlines() if len(steps.findall(line)) > 1] == [], out
    assert "" not in out.splitlines(), out


def site_pages(project) -> list:
    """Every page of the built site: the chapters live under `book/`, not at the top."""
    pages = sorted((project / "_build" / "html").rglob("*.html"))
    assert {p.name for p in pages} >= {f"{ch.notebook.removesuffix('.ipynb')}.html"
                                       for ch in PIPELINE}, "a chapter page is missing"
    return pages


def test_pages_show_no_console_noise(quick_project):
    for page in site_pages(quick_project):
        text = page.read_text()
        for noise in ("oneDNN", "absl::InitializeLog", "Best val_accuracy So Far", "epoch 1/1:"):
            assert noise not in text, f"{page.name} shows {noise!r}"
        assert not re.search(r"Trial \d+ Complete", text), page.name


# What a published page must never show: the build machine's paths (home, temporary folders,
# the virtual environment, installed packages) and warnings meant for a developer.
PRIVATE = re.compile(r"/root/|/home/|/tmp/|/var/folders/|site-packages|\.venv/|/work/|"
                     r"\b\w*Warning:|Traceback \(most recent call last\)")


def test_no_page_shows_a_build_machine_path_or_a_developer_warning(quick_project):
    for page in site_pages(quick_project):
        found = PRIVATE.findall(page.read_text())
        assert not found, f"{page.relative_to(quick_project)} shows {sorted(set(found))}"


def test_the_private_text_check_can_fail():
    assert PRIVATE.findall("/usr/lib/python3/site-packages/keras/x.py:1: UserWarning: Skipping")
    assert PRIVATE.findall("saved to /tmp/tmpab12/results")
    assert not PRIVATE.findall("results/tuning/search-1a2b: 16 trials, 5.0 s")

"""Faults and safety: clear errors, nothing touched, nothing half-written, same numbers twice."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import nbformat
import numpy as np
import pytest
from conftest import ROOT, fmnist

from fmnist import cli, data, evaluate
from fmnist.paths import PathError

TIMING_KEYS = {"train_seconds", "inference_ms_per_1k", "search_seconds", "seconds"}


def project_with_site(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, root)
    for folder in ("book", "params"):
        shutil.copytree(ROOT / folder, root / folder)
    (root / "_build" / "html").mkdir(parents=True)
    (root / "_build" / "html" / "index.html").write_text("previous site")
    (root / "results" / "cnn").mkdir(parents=True)
    (root / "results" / "cnn" / "metrics.json").write_text('{"accuracy": 0.5}')
    return root


def untouched(root) -> bool:
    return ((root / "_build" / "html" / "index.html").read_text() == "previous site"
            and (root / "results" / "cnn" / "metrics.json").read_text() == '{"accuracy": 0.5}'
            and not (root / "results" / "notebooks").exists())


@pytest.mark.parametrize("profile_text, fragment", [
    ("cnn: {epochs: 0}\n", "`cnn.epochs` must be an integer > 0"),
    ("results_dir: /tmp/elsewhere\n", "outside the project"),
    ("results_dir: ../../x\n", "outside the project"),
    ("seed: !!python/object/apply:os.getcwd []\n", "not valid YAML"),
    ("cnn: [unclosed\n", "not valid YAML"),
])
def test_bad_profile_exits_2_and_touches_nothing(tmp_path, profile_text, fragment):
    root = project_with_site(tmp_path)
    (root / "params" / "bad.yaml").write_text(profile_text)
    proc = fmnist("report", "--params", "params/bad.yaml", cwd=root)
    assert proc.returncode == 2
    assert fragment in proc.stderr and "bad.yaml" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert untouched(root)


def test_missing_data_from_the_cli_is_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(data, "KERAS_CACHE", tmp_path / "cache")
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "debian")
    assert cli.main(["data", "--no-download", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not found" in err and "apt-get install dataset-fashion-mnist" in err


def test_corrupted_data_from_the_cli_is_exit_2(tiny_idx_dir, capsys):
    assert cli.main(["data", "--no-download", "--data-dir", str(tiny_idx_dir)]) == 2
    assert "truncated or corrupted" in capsys.readouterr().err


@pytest.mark.slow
def test_a_failing_chapter_stops_the_run_and_keeps_site_and_notebook(tmp_path):
    root = project_with_site(tmp_path)
    path = root / "book" / "01_data.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell('raise RuntimeError("planted failure")'))
    nbformat.write(nb, path)
    proc = fmnist("report", "--params", "params/quick.yaml", cwd=root)
    assert proc.returncode == 1
    assert "chapter `data` failed in cell" in proc.stderr
    assert "RuntimeError: planted failure" in proc.stderr
    kept = root / "results" / "notebooks" / "01_data.ipynb"
    assert str(kept) in proc.stderr and kept.is_file()
    assert (root / "_build" / "html" / "index.html").read_text() == "previous site"
    assert "baseline" not in proc.stdout, "no later chapter ran"


def comparable(value):
    """The metrics without wall-clock timings, which differ between runs by nature."""
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    return value


@pytest.mark.slow
def test_rerunning_gives_identical_numbers(quick_project):
    before = {}
    for slug in ("baseline", "dense"):
        folder = quick_project / "results" / slug
        before[slug] = (json.loads((folder / "metrics.json").read_text()),
                        evaluate.load_predictions(folder)[0])
        proc = fmnist("run", slug, "--params", "params/quick.yaml", "--force", cwd=quick_project)
        assert proc.returncode == 0, proc.stderr[-2000:]
    for slug, (metrics, probs) in before.items():
        folder = quick_project / "results" / slug
        assert comparable(json.loads((folder / "metrics.json").read_text())) == comparable(metrics)
        np.testing.assert_array_equal(evaluate.load_predictions(folder)[0], probs)


@pytest.mark.slow
def test_a_killed_report_completes_on_rerun(quick_project):
    stamp = quick_project / "results" / "data" / "stamp.json"
    assert stamp.is_file()
    proc = subprocess.Popen([sys.executable, "-m", "fmnist", "run", "data", "--force", "--params",
                             "params/quick.yaml"], cwd=quick_project, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while stamp.exists() and time.time() < deadline:  # removed when the chapter starts
        time.sleep(0.05)
    time.sleep(1)  # inside the chapter's kernel, which runs for several seconds
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not stamp.exists(), "killed mid-chapter"
    rerun = fmnist("report", "--params", "params/quick.yaml", cwd=quick_project)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "data        done" in rerun.stdout
    assert rerun.stdout.count("up to date") == 5, "only the interrupted chapter reran"
    for slug in ("baseline", "dense", "cnn", "tuning"):
        json.loads((quick_project / "results" / slug / "metrics.json").read_text())


@pytest.mark.slow
def test_models_reload_safely_from_the_results_folder_only(quick_project):
    results = quick_project / "results"
    model = evaluate.load_model(results, "cnn")
    probs, y_true = evaluate.load_predictions(results / "cnn")
    x_test = data.channels(data.to_float(data.load_dataset(allow_download=False).x_test))
    again = model.predict(x_test[:200], verbose=0)
    np.testing.assert_allclose(again, probs[:200], atol=1e-5)
    baseline = evaluate.load_model(results, "baseline")
    assert baseline.coef.shape == (10, 784)
    with pytest.raises(PathError):
        evaluate.load_model(results, "../../etc")

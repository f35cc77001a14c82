"""Faults and safety: clear errors, nothing touched, nothing half-written, same numbers twice."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import weakref

import keras
import nbformat
import numpy as np
import pytest
from conftest import ROOT, copy_of, copy_project, fmnist
from saved_model import load_model
from tiny_search import configs, run

from fmnist import cli, console, data, interrupt, models, report, train
from fmnist.lock import HOLDER_FILE, LOCK_FILE, project_lock
from fmnist.params import load_profile
from fmnist.paths import PathError
from fmnist.recipe import predict_probs
from fmnist.results import atomic_write, atomic_write_text, damage, load_predictions
from fmnist.tuning import distribute, folders
from fmnist.tuning.hypermodel import CnnHyperModel

TIMING_KEYS = {"train_seconds", "inference_ms_per_1k", "search_seconds", "seconds"}


def project_with_site(tmp_path):
    root = copy_project(tmp_path / "proj")
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
    (b"seed: 1\ncnn:\n  epochs: 2\xe9\n", "not UTF-8 text (byte 24 cannot be decoded)"),
    ("seed: 1\ncnn:\n  epochs: 2\nseed: 3\n", "the key `seed` appears twice, on lines 1 and 4"),
    ("cnn:\n  epochs: 2\n  dropout: 0.2\n  epochs: 3\n", "`epochs` appears twice, on lines 2 and"),
    ("data_dir: /nonexistent/fmnist\n", "data_dir /nonexistent/fmnist does not exist"),
    ("data_dir: params\n", "lacks train-images-idx3-ubyte"),
    # Shapes, types and ranges of the kinds the earlier cases did not try.
    ("cnn:\n  filters: [[32, 64]]\n", "`cnn.filters` must be two or three integers > 0"),
    ("cnn:\n  filters: [32, 64, 128, 256]\n", "`cnn.filters` must be two or three integers"),
    ("dense:\n  units: 128\n", "`dense.units` must be two integers > 0"),
    ("tuning:\n  space: {filters: [32, 64]}\n", "candidate 1 of `tuning.space.filters`"),
    ("tuning:\n  space: [padding]\n", "`tuning.space` must be a mapping of cnn keys"),
    ("tuning:\n  space: {epochs: [5, 10]}\n", "`tuning.space.epochs` cannot be searched"),
    ("data:\n  val_fraction: .nan\n", "`data.val_fraction` must be a number in (0, 0.5]"),
    ("cnn:\n  ema_momentum: 1.5\n", "`cnn.ema_momentum` must be 0, or a number in [0.9, 1)"),
    ("cnn: 5\n", "section `cnn` must be a mapping"),
    ("seed: -1\n", "`seed` must be an integer >= 0"),
])
def test_bad_profile_exits_2_and_touches_nothing(tmp_path, profile_text, fragment):
    root = project_with_site(tmp_path)
    bad = root / "params" / "bad.yaml"
    bad.write_bytes(profile_text if isinstance(profile_text, bytes) else profile_text.encode())
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
    assert f"{tmp_path} lacks" in err and "apt-get install dataset-fashion-mnist" in err
    assert cli.main(["data", "--no-download"]) == 2
    err = capsys.readouterr().err
    assert "not found" in err and "Places tried" in err


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
def test_a_report_killed_while_a_chapter_trains_completes_on_rerun(quick_project, tmp_path):
    quick_project = copy_of(quick_project, tmp_path)
    stamp = quick_project / "results" / "dense" / "stamp.json"
    metrics = quick_project / "results" / "dense" / "metrics.json"
    assert stamp.is_file()
    before = json.loads(metrics.read_text())
    # Thirty epochs, so that the kill lands while the network trains (after its first epoch's
    # line, long before the last).
    proc = subprocess.Popen([sys.executable, "-m", "fmnist", "run", "dense", "--force",
                             "--params", "params/quick.yaml", "--set", "dense.epochs=30"],
                            cwd=quick_project, start_new_session=True, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    for line in proc.stdout:
        if re.search(r"epoch +1/30", line):
            break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not stamp.exists(), "killed mid-chapter: the chapter is marked stale"
    assert json.loads(metrics.read_text()) == before, "the earlier results are intact"
    rerun = fmnist("report", "--params", "params/quick.yaml", cwd=quick_project)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    # Exactly the interrupted chapter and what reads it (the comparison) run again.
    ran = set(re.findall(r"\] (\w+) +done", rerun.stdout))
    assert ran == {"dense", "comparison"}, rerun.stdout
    assert rerun.stdout.count("up to date") == 4, rerun.stdout
    assert comparable(json.loads(metrics.read_text())) == comparable(before)


@pytest.mark.slow
def test_models_reload_safely_from_the_results_folder_only(quick_project):
    results = quick_project / "results"
    model = load_model(results, "cnn")
    probs, y_true = load_predictions(results / "cnn")
    tta = json.loads((results / "cnn" / "metrics.json").read_text())["tta"]
    x_test = data.channels(data.to_float(data.load_dataset(allow_download=False).x_test))
    again = predict_probs(model, x_test[:200], tta=tta)
    np.testing.assert_allclose(again, probs[:200], atol=1e-5)
    baseline = load_model(results, "baseline")
    assert baseline.coef.shape == (10, 784)
    with pytest.raises(PathError):
        load_model(results, "../../etc")


def test_a_second_run_refuses_at_once_with_no_wait_naming_the_running_one(tmp_path):
    root = project_with_site(tmp_path)
    with project_lock(root):
        proc = fmnist("report", "--params", "params/quick.yaml", "--no-wait", cwd=root)
    assert proc.returncode == 2
    assert "is busy" in proc.stderr and "process" in proc.stderr and "Traceback" not in proc.stderr
    assert untouched(root)


HOLD = """
import sys, time
from pathlib import Path
from fmnist.lock import project_lock
with project_lock(Path(sys.argv[1]), say=lambda m: print(m, flush=True)):
    print("acquired", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_a_second_run_waits_visibly_and_a_killed_holder_never_blocks(tmp_path):
    first = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path), "60"],
                             stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert first.stdout.readline().strip() == "acquired"
    second = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path), "0"],
                              stdout=subprocess.PIPE, text=True)
    assert second.stdout.readline().startswith("waiting: ")
    os.killpg(first.pid, signal.SIGKILL)  # no clean release: the kernel drops the lock
    first.wait()
    assert second.stdout.readline().strip() == "acquired"
    assert second.wait(timeout=30) == 0


def test_the_tuning_chapter_is_stale_when_its_search_changed(tmp_path):
    profile = load_profile(ROOT / "params" / "quick.yaml")
    shared, space, cnn = (profile.shared, profile.sections["tuning"], profile.sections["cnn"])
    name = folders.project_name(space, shared.seed, folders.search_key(tmp_path, cnn))
    trial = tmp_path / "tuning" / name / "trial_0" / "trial.json"
    trial.parent.mkdir(parents=True)
    trial.write_text(json.dumps({"status": "COMPLETED", "score": 0.8}))
    before = report.chapter_inputs("tuning", tmp_path, profile)
    other = tmp_path / "tuning" / "search-other" / "trial_0" / "trial.json"
    other.parent.mkdir(parents=True)
    other.write_text(json.dumps({"status": "COMPLETED", "score": 0.5}))
    assert report.chapter_inputs("tuning", tmp_path, profile) == before, "another search"
    trial.write_text(json.dumps({"status": "COMPLETED", "score": 0.9}))  # rerun elsewhere
    assert report.chapter_inputs("tuning", tmp_path, profile) != before


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


# Each chapter's results damaged in its own way, all in one report (each rerun alone would
# rebuild the comparison and the site three times over).
DAMAGES = [("cnn", "predictions.npz", truncate),         # a copy interrupted
           ("dense", "metrics.json", truncate),          # a disk that filled
           ("baseline", "model.npz", lambda p: p.unlink())]  # a hand clean-up


@pytest.mark.slow
def test_damaged_results_are_named_and_made_again(quick_project, tmp_path):
    quick_project = copy_of(quick_project, tmp_path)
    for chapter, name, spoil in DAMAGES:
        spoil(quick_project / "results" / chapter / name)
    proc = fmnist("report", "--params", "params/quick.yaml", cwd=quick_project)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    for chapter, name, _ in DAMAGES:
        assert re.search(rf"\] {chapter} +damaged results \(results/{chapter}/{name}: ",
                         proc.stdout), chapter
        assert re.search(rf"\] {chapter} +done in", proc.stdout), chapter
    for slug in ("data", "baseline", "dense", "cnn", "tuning"):
        assert damage(quick_project / "results", slug) is None
        metrics = json.loads((quick_project / "results" / slug / "metrics.json").read_text()) \
            if slug != "data" else None
        if metrics:  # the kept results agree with each other
            probs, y = load_predictions(quick_project / "results" / slug)
            assert metrics["accuracy"] == float(np.mean(probs.argmax(axis=1) == y))


def interrupt_when(args: list[str], cwd, pattern: str) -> subprocess.CompletedProcess:
    """Run `fmnist ARGS`, press Ctrl-C (SIGINT to its process group, as a terminal does) once a
    line of its output matches `pattern`; return what it printed and its exit code."""
    proc = subprocess.Popen([sys.executable, "-m", "fmnist", *args], cwd=cwd, text=True,
                            start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if re.search(pattern, line):
            break
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(args, proc.returncode, "".join(seen) + out, err)


@pytest.mark.slow
def test_ctrl_c_while_a_chapter_trains_exits_130_with_one_line(quick_project, tmp_path):
    quick_project = copy_of(quick_project, tmp_path)
    metrics = quick_project / "results" / "cnn" / "metrics.json"
    before = json.loads(metrics.read_text())
    proc = interrupt_when(["run", "cnn", "--params", "params/quick.yaml", "--set",
                           "cnn.epochs=60"], quick_project, r"epoch +2/60")
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "fmnist: interrupted; finished chapters and trials are kept, the interrupted one is "
        "marked to rerun: run the same command again to continue."]
    assert json.loads(metrics.read_text()) == before, "nothing half-written"
    assert not (quick_project / "results" / "cnn" / "stamp.json").exists()
    rerun = fmnist("report", "--params", "params/quick.yaml", cwd=quick_project)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert set(re.findall(r"\] (\w+) +done", rerun.stdout)) == {"cnn", "comparison"}


@pytest.mark.slow
def test_ctrl_c_during_a_search_exits_130_and_the_search_resumes(quick_project, tmp_path):
    project = copy_of(quick_project, tmp_path)
    search = ["tune", "--no-report", "--params", "params/quick.yaml", "--set",
              "tuning.max_trials=4", "--set", "tuning.search_subset=2000"]
    proc = interrupt_when(search, project, r"^\s*trial \d+: ")
    assert proc.returncode == 130, proc.stderr
    # The search runs in this process: TensorFlow's start-up lines are dropped here too.
    assert proc.stderr.strip().splitlines() == [interrupt.MESSAGE]
    done = fmnist(*search, cwd=project)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "search finished: 4 trials" in done.stdout  # the quick space holds four


@pytest.fixture
def ctrl_c(monkeypatch):
    """Press Ctrl-C in this process, as `fmnist`'s handler sees it; returns the press."""
    # Fresh flags, so that nothing leaks into later tests; pytest keeps its own handler.
    monkeypatch.setattr(interrupt, "_pressed", False)
    monkeypatch.setattr(console, "SILENCED", threading.Event())
    monkeypatch.setattr(signal, "signal", lambda *a: None)
    return lambda: interrupt.on_interrupt(signal.SIGINT, None)


def swallowed(press) -> None:
    """Ctrl-C landing in a finalizer or weak-reference callback: Python prints "Exception
    ignored" and carries on."""
    with contextlib.suppress(KeyboardInterrupt):
        press()


def test_ctrl_c_wrapped_by_a_library_still_exits_130_with_one_line(ctrl_c, monkeypatch, capsys):
    def search_interrupted_inside_tensorflow(args):
        # What pybind11 does when Ctrl-C lands in Python code that C++ called back: the
        # KeyboardInterrupt reaches the command as a RuntimeError.
        try:
            ctrl_c()
        except KeyboardInterrupt:
            raise RuntimeError("MISMATCH of original and normalized active exception types: "
                               "ORIGINAL NotFoundError REPLACED BY KeyboardInterrupt") from None

    monkeypatch.setattr(cli, "dispatch", search_interrupted_inside_tensorflow)
    assert cli.main(["tune", "--params", "params/quick.yaml"]) == 130
    assert capsys.readouterr().err.strip().splitlines() == [interrupt.MESSAGE]


def test_a_ctrl_c_swallowed_after_the_last_check_still_exits_130(ctrl_c, monkeypatch, capsys):
    def finishes_after_a_swallowed_ctrl_c(args):
        swallowed(ctrl_c)
        return 0

    monkeypatch.setattr(cli, "dispatch", finishes_after_a_swallowed_ctrl_c)
    assert cli.main(["build", "--params", "params/quick.yaml"]) == 130
    assert capsys.readouterr().err.strip().splitlines() == [interrupt.MESSAGE]


def test_an_error_without_ctrl_c_is_not_taken_for_an_interrupt(ctrl_c, monkeypatch):
    def fails(args):
        raise RuntimeError("a real bug")

    swallowed(ctrl_c)  # an interrupt of an earlier command in this process
    monkeypatch.setattr(cli, "dispatch", fails)
    with pytest.raises(RuntimeError, match="a real bug"):
        cli.main(["tune", "--params", "params/quick.yaml"])


def test_only_the_ctrl_c_is_left_out_of_what_python_reports_as_ignored(ctrl_c, monkeypatch,
                                                                         capsys):
    class Resource:
        pass

    def fails(ref):
        raise ValueError("a real error in a finalizer")

    monkeypatch.setattr(sys, "unraisablehook", sys.__unraisablehook__)  # prints to stderr
    with interrupt.handling_ctrl_c():
        held = Resource()
        watcher = weakref.ref(held, lambda ref: ctrl_c())  # Ctrl-C lands in a weakref callback
        del held
        assert watcher() is None and interrupt.pressed()
        assert capsys.readouterr().err == ""
        other = Resource()
        watcher = weakref.ref(other, fails)
        del other
        assert "ValueError: a real error in a finalizer" in capsys.readouterr().err
    assert sys.unraisablehook is sys.__unraisablehook__, "Python's own report is restored"


def test_a_swallowed_ctrl_c_stops_training_before_the_next_batch(ctrl_c):
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 784), dtype=np.float32), rng.integers(0, 10, 64)
    model = models.build_dense(units=[8])
    before = [w.copy() for w in model.get_weights()]
    swallowed(ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        train.fit_keras(model, (x, y), (x, y), epochs=3, batch_size=16, learning_rate=1e-3,
                        patience=3, log=None)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))


def tiny_search_configs(directory, max_trials: int) -> list[dict]:
    """Run (or resume) the tests' tiny search; the values each finished trial tried."""
    return configs(run(directory, max_trials))


def finished_trials(directory) -> int:
    return sum(json.loads(p.read_text())["status"] == "COMPLETED"
               for p in directory.rglob("trial.json"))


def test_a_swallowed_ctrl_c_stops_a_search_before_its_first_trial_trains(ctrl_c, tmp_path,
                                                                           monkeypatch):
    swallowed(ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        tiny_search_configs(tmp_path / "interrupted", 2)
    assert finished_trials(tmp_path / "interrupted") == 0
    monkeypatch.setattr(interrupt, "_pressed", False)
    resumed = tiny_search_configs(tmp_path / "interrupted", 2)
    assert resumed == tiny_search_configs(tmp_path / "whole", 2)


def test_a_ctrl_c_wrapped_inside_a_trial_leaves_it_to_rerun_not_failed(ctrl_c, tmp_path,
                                                                         monkeypatch):
    fit, calls = CnnHyperModel.fit, []

    def second_trial_interrupted_inside_tensorflow(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            try:
                ctrl_c()
            except KeyboardInterrupt:
                raise RuntimeError("REPLACED BY KeyboardInterrupt") from None
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(CnnHyperModel, "fit", second_trial_interrupted_inside_tensorflow)
    with pytest.raises(KeyboardInterrupt):  # not a failed trial with the search going on
        tiny_search_configs(tmp_path / "interrupted", 3)
    assert finished_trials(tmp_path / "interrupted") == 1
    monkeypatch.setattr(interrupt, "_pressed", False)
    resumed = tiny_search_configs(tmp_path / "interrupted", 3)
    assert resumed == tiny_search_configs(tmp_path / "whole", 3)


@pytest.mark.parametrize("args", [
    ["run", "data", "--params", "params/quick.yaml"],
    ["tune", "--params", "params/quick.yaml"],
    ["build", "--params", "params/quick.yaml"],
], ids=["run", "tune", "build"])
def test_every_command_that_writes_takes_the_project_lock(tmp_path, args):
    root = project_with_site(tmp_path)
    with project_lock(root):
        proc = fmnist(*args, "--no-wait", cwd=root)
    assert proc.returncode == 2, proc.stderr
    assert "is busy" in proc.stderr and "Traceback" not in proc.stderr
    assert untouched(root)


def test_a_lock_file_left_by_a_dead_process_never_blocks(tmp_path):
    # What a run killed with SIGKILL leaves: the lock file and its holder's record.
    (tmp_path / LOCK_FILE).write_text("")
    (tmp_path / HOLDER_FILE).write_text(json.dumps({"pid": 999999, "command": "fmnist report",
                                                    "started": "2026-01-01 00:00:00"}))
    with project_lock(tmp_path, wait=False):
        record = json.loads((tmp_path / HOLDER_FILE).read_text())
    assert record["pid"] == os.getpid()


def test_atomic_write_keeps_the_old_file_when_the_write_fails(tmp_path):
    path = tmp_path / "metrics.json"
    atomic_write_text(path, '{"accuracy": 0.9}')

    def fails_half_way(tmp):
        tmp.write_text('{"accura')
        raise OSError("No space left on device")

    with pytest.raises(OSError, match="No space left"):
        atomic_write(path, fails_half_way)
    assert path.read_text() == '{"accuracy": 0.9}'


def test_a_failed_distributed_search_exits_1_naming_it(quick_project, tmp_path, monkeypatch,
                                                       capsys):
    project = copy_of(quick_project, tmp_path)

    def chief_fails(command, workers, **kwargs):
        raise distribute.SearchFailed("distributed search failed: chief exit 1, workers [1, 1]")

    monkeypatch.setattr(distribute, "launch_distributed", chief_fails)  # the processes' fate
    code = cli.main(["--root", str(project), "tune", "--workers", "2", "--params",
                     "params/quick.yaml"])
    assert code == 1
    assert "the tuning search failed: distributed search failed: chief exit 1" in \
        capsys.readouterr().err


def test_a_results_dir_that_links_out_of_the_project_is_refused(tmp_path):
    root = project_with_site(tmp_path)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (root / "linked").symlink_to(outside, target_is_directory=True)
    (root / "params" / "linked.yaml").write_text("results_dir: linked\n")
    proc = fmnist("report", "--params", "params/linked.yaml", cwd=root)
    assert proc.returncode == 2
    assert "outside the project" in proc.stderr and "Traceback" not in proc.stderr
    assert list(outside.iterdir()) == [] and untouched(root)


@pytest.mark.parametrize("override, fragment", [
    ("nosuch.epochs=3", "unknown section or key `nosuch`"),
    ("cnn.epochs.max=3", "keys have at most two parts"),
    ("cnn=[1, 2]", "section `cnn` must be a mapping"),
    ("cnn.filters=[32]", "`cnn.filters` must be two or three integers > 0"),
    ("tuning.space={padding: same}", "candidate"),
])
def test_a_malformed_override_says_what_and_where(tmp_path, override, fragment):
    root = project_with_site(tmp_path)
    proc = fmnist("report", "--params", "params/quick.yaml", "--set", override, cwd=root)
    assert proc.returncode == 2, proc.stderr
    assert fragment in proc.stderr and f"--set {override}" in proc.stderr
    assert "Traceback" not in proc.stderr and untouched(root)


@pytest.mark.slow
def test_a_kill_between_the_predictions_and_the_metrics_write_is_made_whole(quick_project,
                                                                            tmp_path):
    # What a kill leaves after `predictions.npz` is renamed in and before `metrics.json` is:
    # new predictions beside old metrics, and no stamp (removed when the chapter started).
    project = copy_of(quick_project, tmp_path)
    folder = project / "results" / "dense"
    probs, y_true = load_predictions(folder)
    np.savez_compressed(folder / "predictions.npz", probs=np.roll(probs, 1, axis=1), y_true=y_true)
    (folder / "stamp.json").unlink()
    rerun = fmnist("report", "--params", "params/quick.yaml", cwd=project)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert set(re.findall(r"\] (\w+) +done", rerun.stdout)) == {"dense", "comparison"}
    metrics = json.loads((folder / "metrics.json").read_text())
    probs, y_true = load_predictions(folder)
    assert metrics["accuracy"] == float(np.mean(probs.argmax(axis=1) == y_true))


@pytest.mark.slow
def test_fmnist_build_alone_renders_the_site_and_clears_a_killed_builds_staging(quick_project,
                                                                                tmp_path):
    project = copy_of(quick_project, tmp_path)
    leftover = project / "_build" / ".stage-killed"
    (leftover / "src").mkdir(parents=True)  # what a build killed mid-way leaves
    (project / "_build" / "html" / "index.html").unlink()
    proc = fmnist("build", "--params", "params/quick.yaml", cwd=project)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "site built in" in proc.stdout and "running" not in proc.stdout
    assert (project / "_build" / "html" / "index.html").is_file()
    assert not leftover.exists()


def test_load_model_refuses_an_unsafe_model(tmp_path):
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    (tmp_path / "evil").mkdir()
    model.save(tmp_path / "evil" / "model.keras")
    with pytest.raises(ValueError, match="(?i)unsafe|lambda"):
        load_model(tmp_path, "evil")
    with pytest.raises(PathError, match="outside the results folder"):
        load_model(tmp_path, "../evil")

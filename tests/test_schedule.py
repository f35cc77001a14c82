"""Chapters side by side: the schedule's order, overlap and stopping, and a report whose chapters
ran side by side giving the numbers of the same report rerun one by one."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest
from conftest import copy_of, copy_project, fmnist
from test_reliability import comparable

from fmnist import console, interrupt
from fmnist.chapters import MODELS, PIPELINE
from fmnist.results import load_predictions
from fmnist.schedule import (
    NICENESS_VARIABLE,
    Step,
    background_niceness,
    background_steps,
    path_lengths,
    run_steps,
)
from fmnist.schema import ParamsError


def recorder(log: list[str], name: str, wait: threading.Event | None = None,
             signal: threading.Event | None = None):
    def run() -> float:
        log.append(f"start {name}")
        if signal:
            signal.set()
        if wait and not wait.wait(timeout=10):
            raise AssertionError(f"{name} waited for a step that never ran beside it")
        log.append(f"end {name}")
        return 1.0
    return run


def test_a_step_starts_only_after_the_steps_it_needs():
    log: list[str] = []
    steps = [Step("data", (), recorder(log, "data")),
             Step("model", ("data",), recorder(log, "model")),
             Step("comparison", ("model", "data"), recorder(log, "comparison"))]
    assert run_steps(steps, jobs=3) == {"data": 1.0, "model": 1.0, "comparison": 1.0}
    assert log == ["start data", "end data", "start model", "end model", "start comparison",
                   "end comparison"]


def test_independent_steps_run_side_by_side():
    # Each waits for the other to have started: only possible when both run at once.
    log: list[str] = []
    a_started, b_started = threading.Event(), threading.Event()
    steps = [Step("a", (), recorder(log, "a", wait=b_started, signal=a_started)),
             Step("b", (), recorder(log, "b", wait=a_started, signal=b_started))]
    run_steps(steps, jobs=2)
    assert set(log[:2]) == {"start a", "start b"}


def test_one_job_runs_the_steps_one_by_one_in_their_order():
    log: list[str] = []
    steps = [Step(n, (), recorder(log, n)) for n in ("baseline", "dense", "cnn")]
    run_steps(steps, jobs=1, weight={"cnn": 100.0})
    assert log == ["start baseline", "end baseline", "start dense", "end dense", "start cnn",
                   "end cnn"]


def test_the_step_heading_the_longest_path_starts_first():
    steps = [Step("data", (), lambda: 0.0), Step("baseline", ("data",), lambda: 0.0),
             Step("cnn", ("data",), lambda: 0.0), Step("tuning", ("cnn",), lambda: 0.0)]
    lengths = path_lengths(steps, {"data": 5, "baseline": 50, "cnn": 20, "tuning": 60})
    assert lengths == {"data": 85, "baseline": 50, "cnn": 80, "tuning": 60}
    log: list[str] = []
    steps = [Step("data", (), recorder(log, "data")),
             Step("baseline", ("data",), recorder(log, "baseline")),
             Step("cnn", ("data",), recorder(log, "cnn")),
             Step("tuning", ("cnn",), recorder(log, "tuning"))]
    run_steps(steps, jobs=1 + 1, weight={"data": 5, "baseline": 50, "cnn": 20, "tuning": 60})
    assert log.index("start cnn") < log.index("start baseline")


def test_a_failing_step_stops_the_steps_running_beside_it():
    started = threading.Event()
    procs: list[subprocess.Popen] = []

    def long_step() -> float:
        procs.append(interrupt.track(subprocess.Popen([sys.executable, "-c",
                                                       "import time; time.sleep(120)"])))
        started.set()
        procs[0].wait()
        return 1.0

    def failing_step() -> float:
        started.wait(timeout=10)
        raise RuntimeError("planted failure")

    begin = time.perf_counter()
    with pytest.raises(RuntimeError, match="planted failure"):
        run_steps([Step("long", (), long_step), Step("failing", (), failing_step)], jobs=2)
    assert procs and procs[0].poll() is not None, "the step beside it is still running"
    assert time.perf_counter() - begin < 60
    # The stopped step's last words were silenced, not what this process prints afterwards.
    assert not console.SILENCED.is_set()


def test_only_steps_far_off_the_longest_chain_run_in_the_background():
    # data -> {short, long} -> end, and data -> other -> long: `short` has time to spare.
    steps = [Step("data", (), lambda: 0.0), Step("other", ("data",), lambda: 0.0),
             Step("long", ("data", "other"), lambda: 0.0), Step("short", ("data",), lambda: 0.0),
             Step("end", ("long", "short"), lambda: 0.0)]
    weight = {"data": 5, "other": 40, "long": 300, "short": 60, "end": 5}
    assert background_steps(steps, weight) == {"short"}
    # `other` is on the longest chain however short it is itself; counted by steps alone, no
    # chain is under half the longest.
    assert background_steps(steps, {**weight, "other": 1}) == {"short"}
    assert background_steps(steps, {}) == set()
    assert background_steps(steps, {**weight, "short": 200}) == set()


def test_the_background_niceness_is_ten_or_the_variables_whole_number(monkeypatch):
    monkeypatch.delenv(NICENESS_VARIABLE, raising=False)
    assert background_niceness() == 10
    monkeypatch.setenv(NICENESS_VARIABLE, "0")
    assert background_niceness() == 0
    for wrong in ("low", "-5", "25", "2.5"):
        monkeypatch.setenv(NICENESS_VARIABLE, wrong)
        with pytest.raises(ParamsError, match=f"FMNIST_BACKGROUND_NICENESS='{wrong}': give a "
                                              "whole number from 0"):
            background_niceness()


def test_steps_that_can_never_start_are_named():
    with pytest.raises(ValueError, match="tuning"):
        run_steps([Step("tuning", ("tuning",), lambda: 0.0)], jobs=2)


@pytest.mark.slow
def test_chapters_rerun_one_by_one_give_the_numbers_they_gave_side_by_side(quick_project,
                                                                           tmp_path):
    # The shared quick report ran side by side (the default on this machine), its search ahead
    # of the tuning chapter. The same report forced one by one where it ran, the search's saved
    # trials removed so that the tuning chapter searches itself again, must give every model's
    # metrics and predictions to the last digit.
    assert "search      running" in (quick_project / "report.stdout").read_text()
    project = copy_of(quick_project, tmp_path)
    results = project / "results"
    before = {slug: (comparable(json.loads((results / slug / "metrics.json").read_text())),
                     load_predictions(results / slug)[0]) for slug in MODELS}
    for search in (results / "tuning").glob("search-*"):
        shutil.rmtree(search)
    proc = fmnist("report", "--params", "params/quick.yaml", "--jobs", "1", "--force",
                  cwd=project)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "search      running" not in proc.stdout
    assert re.search(r"^ +tuning +trial 0: ", proc.stdout, re.M), "the search did not run again"
    assert proc.stdout.count("done in") == len(PIPELINE), proc.stdout
    for slug, (metrics, probs) in before.items():
        assert comparable(json.loads((results / slug / "metrics.json").read_text())) == metrics
        np.testing.assert_array_equal(load_predictions(results / slug)[0], probs)


def _processes_in(root: Path) -> list[str]:
    """Processes started in or for `root`: their working folder inside it, or it on their
    command line."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cwd = str(proc.joinpath("cwd").readlink())
            cmdline = proc.joinpath("cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if cwd.startswith(str(root)) or str(root) in cmdline:
            found.append(cmdline)
    return found


@pytest.mark.slow
def test_a_chapter_failing_beside_the_search_stops_it(tmp_path):
    root = copy_project(tmp_path / "proj")
    path = root / "book" / "04_cnn.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell('raise RuntimeError("planted failure")'))
    nbformat.write(nb, path)
    begin = time.perf_counter()
    # A search long enough to be running still when the CNN chapter fails.
    proc = fmnist("report", "--params", "params/quick.yaml", "--jobs", "2",
                  "--set", "tuning.max_trials=60", cwd=root)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "chapter `cnn` failed" in proc.stderr
    assert "search      running" in proc.stdout
    assert "search      done" not in proc.stdout
    assert "tuning      running" not in proc.stdout
    assert time.perf_counter() - begin < 300
    assert _processes_in(root) == []

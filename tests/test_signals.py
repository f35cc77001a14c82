"""Stopped from outside: SIGTERM (`timeout`, CI runners, `systemd`, `docker stop`) and SIGHUP (a
closing terminal) stop the command as Ctrl-C does, with its kernels and search workers."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import textwrap
import threading
import time

import nbformat
import psutil
import pytest
from conftest import copy_of, copy_project, fmnist

from fmnist import cli, console, interrupt

STOPS = [(signal.SIGTERM, 143), (signal.SIGHUP, 129)]


def stopped_line(signum: int) -> str:
    return (f"fmnist: stopped by {signal.Signals(signum).name}; finished chapters and trials "
            "are kept, the interrupted one is marked to rerun: run the same command again to "
            "continue.")


@pytest.fixture
def no_handlers(monkeypatch):
    """`cli.main` in this process without touching pytest's own signal handlers."""
    monkeypatch.setattr(interrupt, "_pressed", False)
    monkeypatch.setattr(console, "SILENCED", threading.Event())
    monkeypatch.setattr(signal, "signal", lambda *a: None)


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), *STOPS],
                         ids=["SIGINT", "SIGTERM", "SIGHUP"])
def test_each_stop_signal_exits_with_its_conventional_code_and_one_line(no_handlers, monkeypatch,
                                                                        capsys, signum, code):
    def dispatch(args):
        interrupt.on_interrupt(signum, None)

    monkeypatch.setattr(cli, "dispatch", dispatch)
    assert cli.main(["data"]) == code
    expected = interrupt.MESSAGE if signum == signal.SIGINT else stopped_line(signum)
    assert capsys.readouterr().err.strip().splitlines() == [expected]


def children_of(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def gone(procs: list[psutil.Process], within: float = 10.0) -> bool:
    """Whether every one of `procs` has exited (a zombie counts as exited)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        alive = [p for p in procs if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        if not alive:
            return True
        time.sleep(0.2)
    return False


def wait_for(condition, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


# A distributed search whose chief and workers only sleep: what is checked is that they stop
# with the command, through `cli.main`'s own path.
SEARCH = textwrap.dedent("""
    import sys
    from fmnist import cli
    from fmnist.tuning import distribute
    sleeper = [sys.executable, "-c", "import time; time.sleep(600)"]
    cli.dispatch = lambda args: distribute.launch_distributed(sleeper, 2)
    sys.exit(cli.main(["data"]))
""")


@pytest.mark.parametrize("signum, code", STOPS, ids=["SIGTERM", "SIGHUP"])
def test_a_signal_to_the_command_alone_stops_its_search_workers(signum, code):
    proc = subprocess.Popen([sys.executable, "-c", SEARCH], start_new_session=True,
                            stderr=subprocess.PIPE, text=True)
    wait_for(lambda: len(children_of(proc.pid)) >= 3)  # the chief and two workers
    workers = children_of(proc.pid)
    start = time.monotonic()
    proc.send_signal(signum)  # to the command only, as `docker stop` or a CI runner sends it
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == code
    assert time.monotonic() - start < 15, "stopped within seconds"
    assert err.strip().splitlines() == [stopped_line(signum)]
    assert gone(workers), "no worker is left running"


# Search processes that are `fmnist` commands themselves (as every chief, worker and search run
# ahead is), which only sleep; their launcher is killed outright, with no chance to stop them.
SLEEPING_FMNIST = ("import sys, time; from fmnist import cli; "
                   "cli.dispatch = lambda args: time.sleep(600); sys.exit(cli.main(['data']))")
KILLED_LAUNCHER = textwrap.dedent(f"""
    import sys
    from fmnist.tuning import distribute
    distribute.launch_distributed([sys.executable, "-c", {SLEEPING_FMNIST!r}], 2)
""")


def test_search_processes_end_when_their_command_is_killed_outright():
    proc = subprocess.Popen([sys.executable, "-c", KILLED_LAUNCHER], start_new_session=True)
    wait_for(lambda: len(children_of(proc.pid)) >= 3)  # the chief and two workers
    searches = children_of(proc.pid)
    proc.kill()
    proc.wait(timeout=10)
    assert gone(searches, within=20), "a search process outlived its command"


@pytest.mark.slow
@pytest.mark.parametrize("signum, code", STOPS, ids=["SIGTERM", "SIGHUP"])
def test_a_signal_to_the_command_alone_stops_its_notebook_kernel(tmp_path, signum, code):
    root = copy_project(tmp_path / "proj")
    (root / "_build" / "html").mkdir(parents=True)
    (root / "_build" / "html" / "index.html").write_text("previous site")
    # The data chapter, made to hold its kernel busy: the signal lands while a cell runs.
    path = root / "book" / "01_data.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell("import time\ntime.sleep(600)"))
    nbformat.write(nb, path)
    proc = subprocess.Popen([sys.executable, "-m", "fmnist", "run", "data", "--params",
                             "params/quick.yaml"], cwd=root, start_new_session=True, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for line in proc.stdout:
        if "running 01_data.ipynb" in line:
            break

    def kernels() -> list[psutil.Process]:
        return [p for p in children_of(proc.pid) if "ipykernel" in " ".join(p.cmdline())]

    wait_for(lambda: kernels())
    time.sleep(3)  # the kernel is in the sleeping cell
    kernel = kernels()
    start = time.monotonic()
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err[-2000:]
    assert time.monotonic() - start < 15, "stopped within seconds"
    assert err.strip().splitlines() == [stopped_line(signum)]
    assert gone(kernel), "the chapter's kernel stopped with the command"
    assert not (root / "results" / "data" / "stamp.json").exists(), "the chapter is stale"
    assert "baseline" not in out, "no later chapter ran"
    assert (root / "_build" / "html" / "index.html").read_text() == "previous site"


@pytest.mark.slow
def test_sigterm_while_a_search_trains_stops_it_and_the_same_command_resumes(quick_project,
                                                                            tmp_path):
    project = copy_of(quick_project, tmp_path)
    search = ["tune", "--no-report", "--params", "params/quick.yaml", "--set",
              "tuning.max_trials=4", "--set", "tuning.search_subset=2000"]
    proc = subprocess.Popen([sys.executable, "-m", "fmnist", *search], cwd=project, text=True,
                            start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    for line in proc.stdout:
        if re.search(r"^\s*trial \d+: ", line):  # one trial done, the next one training
            break
    start = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err[-2000:]
    assert time.monotonic() - start < 15, "stopped within seconds"
    assert err.strip().splitlines() == [stopped_line(signal.SIGTERM)]
    done = fmnist(*search, cwd=project)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "search finished: 4 trials" in done.stdout

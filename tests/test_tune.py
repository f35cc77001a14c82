"""The search: seeded, resumable after a kill, and its hypermodel calls `build_cnn`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tiny_search import run

from fmnist import tune

pytestmark = pytest.mark.slow
HERE = Path(__file__).parent


def configs(tuner):
    return [{k: v for k, v in row.items() if k in tune.HP_NAMES} for row in tune.trial_rows(tuner)]


def test_same_seed_gives_the_same_sequence_of_configurations(tmp_path):
    first = configs(run(tmp_path / "a", 3, seed=11))
    second = configs(run(tmp_path / "b", 3, seed=11))
    assert len(first) == 3 and first == second
    assert configs(run(tmp_path / "c", 3, seed=12)) != first


def completed(directory: Path) -> list[Path]:
    """Timing files of the trials the oracle has saved as ended (its own record of progress)."""
    done = []
    for oracle_json in directory.glob(f"{tune.PROJECT}-*/oracle.json"):
        try:
            ended = json.loads(oracle_json.read_text())["end_order"]
        except (ValueError, KeyError):  # being written at this moment
            continue
        done += [oracle_json.parent / f"trial_{t}" / tune.SECONDS_FILE for t in ended]
    return sorted(done)


def test_a_killed_search_resumes_without_redoing_finished_trials(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen([sys.executable, str(HERE / "tiny_search.py"), str(tmp_path), "4"],
                            env=env, start_new_session=True)
    deadline = time.time() + 240
    while len(completed(tmp_path)) < 2 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {p: p.stat().st_mtime_ns for p in completed(tmp_path)}
    assert 1 <= len(done_before) < 4, "the search was interrupted part-way"
    tuner = run(tmp_path, 4)
    assert len(tune.trial_rows(tuner)) == 4
    for path, mtime in done_before.items():
        assert path.stat().st_mtime_ns == mtime, f"{path.parent.name} was run again"

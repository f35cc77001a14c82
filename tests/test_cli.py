"""The command line: expected errors are one message and exit code 2, nothing touched."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT

from fmnist import cli


def run_cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "fmnist", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("args, fragment", [
    (["report", "--params", "params/nope.yaml"], "params file not found"),
    (["report", "--params", "params/quick.yaml", "--set", "cnn.epochs"], "expected KEY=VALUE"),
    (["run", "cnn", "--params", "params/quick.yaml", "--set", "cnn.epochs=0"],
     "`cnn.epochs` must be an integer > 0"),
    (["report", "--params", "params/quick.yaml", "--set", "results_dir=../elsewhere"],
     "outside the project"),
])
def test_bad_input_exits_2_with_one_clear_message(args, fragment):
    proc = run_cli(*args)
    assert proc.returncode == 2
    assert fragment in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_chapter_is_a_usage_error():
    with pytest.raises(SystemExit) as err:
        cli.main(["run", "nonsense"])
    assert err.value.code == 2

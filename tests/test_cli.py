"""The command line: expected errors are one message and exit code 2, nothing touched."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest
from conftest import ROOT

from fmnist import __version__, cli


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
    (["verify", "--quick", "--against", "no/such/run"], "no such results folder or run record"),
    (["verify", "nonsense"], "nonsense: not a model chapter; the model chapters are baseline"),
    (["verify", "--quick", "cnn"], "give chapters or --quick, not both"),
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


def test_a_runtime_only_install_names_the_extra_a_command_needs(monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "papermill" else real(name, *a))
    assert cli.main(["report"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fmnist: error: `fmnist report` needs the package's `report` extra "
                          "(papermill missing")
    assert "pip install 'fmnist-report[report]'" in err and "Traceback" not in err
    assert cli.missing_extra("data") is None  # the runtime alone finds and verifies the data
    assert cli.missing_extra("runs") is None  # the history is JSON and NumPy files


def test_fmnist_repository_names_the_extra_it_needs(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "nbformat" else real(name, *a))
    assert "(nbformat missing" in cli.missing_extra("repository")


# A runtime-only install (what Colab installs): none of the `report` extra can be imported.
WITHOUT_THE_EXTRA = """
import sys
for name in ("papermill", "nbformat", "jupyter_client", "ipykernel", "jupyter_book"):
    sys.modules[name] = None  # importing it raises ImportError
from fmnist import cli
sys.exit(cli.main(sys.argv[1:]))
"""


def test_a_runtime_only_install_reports_an_expected_error_in_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-c", WITHOUT_THE_EXTRA, "data", "--no-download",
                           "--data-dir", str(tmp_path / "nowhere")], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "does not exist" in proc.stderr and "Traceback" not in proc.stderr


def test_the_command_line_reads_as_a_users_tool():
    top = run_cli("--help")
    assert top.returncode == 0
    assert "A reproducible comparative study of models on Fashion-MNIST" in top.stdout
    assert "fmnist run cnn --set cnn.epochs=20" in top.stdout
    assert run_cli("--version").stdout.strip() == f"fmnist {__version__}"
    run = " ".join(run_cli("run", "--help").stdout.split())  # as wrapped to any width
    assert "CHAPTER" in run and "one of data, baseline, dense, cnn, tuning, comparison" in run
    assert "(default: params/default.yaml)" in run
    assert "(default: origin)" in run_cli("publish", "--help").stdout
    assert "fmnist verify --quick" in top.stdout
    verify = " ".join(run_cli("verify", "--help").stdout.split())
    assert "(default: all of baseline, dense, cnn, tuning)" in verify and "--against" in verify

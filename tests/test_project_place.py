"""Where the project lives: a path with spaces and non-ASCII letters, a HOME that is read-only
or absent, a command run from outside the project."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import copy_project

from fmnist import environment

# What a library prints when it finds HOME unwritable and falls back on its own.
HOME_WARNINGS = ("not a writable location", "Matplotlib created a temporary cache",
                 "mkdir -p failed", "Traceback")


def fmnist_with(env: dict[str, str], *args, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fmnist", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)


@pytest.mark.parametrize("args", [
    ["report"], ["run", "cnn"], ["tune", "--no-report"], ["build"], ["runs"],
    ["repository", "--check"], ["--root", "nowhere", "report"],
], ids=lambda a: " ".join(a))
def test_a_command_run_outside_the_project_names_root(tmp_path, args):
    proc = subprocess.run([sys.executable, "-m", "fmnist", *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "no fmnist-report project at or above" in proc.stderr
    assert "--root" in proc.stderr and "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == [], "nothing written where it was run"


@pytest.fixture
def unwritable_home(tmp_path, monkeypatch):
    """HOME set to a folder under a file: unwritable even for root, as a read-only mount is."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for name in environment.CACHE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(blocker / "home"))
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    return tmp_path / "tmp"


@pytest.mark.parametrize("home", ["under-a-file", "absent", "unset"])
def test_an_unwritable_home_sends_every_cache_to_one_private_folder(unwritable_home,
                                                                    monkeypatch, home):
    if home == "absent":
        monkeypatch.setenv("HOME", str(unwritable_home / "no" / "such" / "home"))
    elif home == "unset":
        monkeypatch.delenv("HOME")
    monkeypatch.setenv("MPLCONFIGDIR", "/chosen/by/the/user")
    folder = environment.settle_home()
    assert folder is not None and folder.parent == unwritable_home
    assert oct(folder.stat().st_mode & 0o777) == oct(0o700 if os.getuid() else folder.stat(
    ).st_mode & 0o777)
    for name in environment.CACHE_VARIABLES:
        if name != "MPLCONFIGDIR":
            assert os.environ[name].startswith(str(folder)), name
            assert os.path.isdir(os.environ[name])
    assert os.environ["MPLCONFIGDIR"] == "/chosen/by/the/user", "the user's own choice is kept"


def test_a_writable_home_changes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in environment.CACHE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert environment.settle_home() is None
    assert not any(os.environ.get(name) for name in environment.CACHE_VARIABLES)


@pytest.mark.slow
def test_a_chapter_and_the_site_in_an_odd_place_with_an_unwritable_home(tmp_path):
    # The project in a folder whose path holds spaces and letters beyond ASCII, run by a user
    # whose HOME cannot be written (as in locked-down containers and CI images).
    root = copy_project(tmp_path / "Études et résultats" / "fmnist report ü")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env = {k: v for k, v in os.environ.items() if k not in environment.CACHE_VARIABLES}
    env.update(HOME=str(blocker / "home"), TMPDIR=str(tmp_path))
    proc = fmnist_with(env, "run", "dense", "--params", "params/quick.yaml", cwd=root)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    for warning in HOME_WARNINGS:
        assert warning not in proc.stdout + proc.stderr, warning
    page = json.loads((root / "results" / "notebooks" / "03_dense.ipynb").read_text())
    outputs = json.dumps([c.get("outputs", []) for c in page["cells"]])
    for warning in HOME_WARNINGS:
        assert warning not in outputs, warning
    html = root / "_build" / "html"
    assert (html / "book" / "03_dense.html").is_file() or any(html.rglob("03_dense.html"))
    for page in html.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert str(blocker) not in text and "fmnist-home-" not in text, page

"""A full disk while a chapter writes its results or executed notebook, or while the site is
staged: the command fails naming the cause, the last complete results and site stay intact, and
the next run after space is freed completes.

The project lives on a small tmpfs mounted for the test (root, where `chmod` cannot make a
folder unwritable, can still fill a size-limited mount); elsewhere the tests skip, saying why.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import subprocess

import pytest
from conftest import copy_project, fmnist

from fmnist import report
from fmnist.params import load_profile
from fmnist.results import damage

pytestmark = pytest.mark.slow


@pytest.fixture
def small_disk(tmp_path):
    """A 64 MiB tmpfs mounted at a fresh folder, unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip("a full disk is simulated with a size-limited tmpfs, which needs root on a "
                    f"machine that allows mounts: {proc.stderr.strip() or 'mount failed'}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk, leave: int = 0):
    """Fill `disk` to its last byte, then free `leave` bytes; return the filler file."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as f:
        for size in (1 << 20, 1 << 12, 1):
            with contextlib.suppress(OSError):
                while True:
                    f.write(b"\0" * size)
        f.truncate(max(f.tell() - leave, 0))
    return filler


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def project_on(disk):
    root = copy_project(disk / "proj")
    (root / "_build" / "html").mkdir(parents=True)
    (root / "_build" / "html" / "index.html").write_text("previous site")
    profile = load_profile(root / "params" / "quick.yaml")
    report.run_chapters(root, profile, ["data"], log=lambda m: None)
    return root, profile


def assert_no_space_named(proc) -> None:
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "no space left on device" in proc.stderr.lower(), proc.stderr[-2000:]
    assert os.strerror(errno.ENOSPC) in proc.stderr or "no space left" in proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]


def test_a_full_disk_while_a_chapter_writes_fails_naming_it_and_keeps_the_last_results(
        small_disk):
    root, profile = project_on(small_disk)
    results = root / "results"
    kept = {p: digest(p) for p in (results / "data").iterdir() if p.name != "stamp.json"}
    # Room for the run's lock, none for the executed notebook: papermill's first write fails
    # (an earlier executed notebook, truncated as it is rewritten, would free its own space).
    (results / "notebooks" / "01_data.ipynb").unlink()
    filler = fill(small_disk, leave=8 * 1024)
    proc = fmnist("run", "data", "--params", "params/quick.yaml", cwd=root)
    assert_no_space_named(proc)
    assert "baseline" not in proc.stdout, "no later chapter ran"
    assert {p: digest(p) for p in kept} == kept, "the last complete results are intact"
    assert not (results / "data" / "stamp.json").exists(), "the chapter reruns next time"
    assert (root / "_build" / "html" / "index.html").read_text() == "previous site"
    filler.unlink()
    report.run_chapters(root, profile, ["data"], log=lambda m: None)
    assert (results / "data" / "stamp.json").is_file() and damage(results, "data") is None


def test_a_full_disk_while_the_site_is_staged_keeps_the_previous_site(small_disk):
    root, _ = project_on(small_disk)
    filler = fill(small_disk)
    proc = fmnist("build", "--params", "params/quick.yaml", cwd=root)
    assert_no_space_named(proc)
    assert (root / "_build" / "html" / "index.html").read_text() == "previous site"
    filler.unlink()
    again = fmnist("build", "--params", "params/quick.yaml", cwd=root)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "previous site" not in (root / "_build" / "html" / "index.html").read_text()

"""Shared fixtures: the project root, tiny IDX files, and the real data when it is installed."""

from __future__ import annotations

import gzip
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from filelock import FileLock

from fmnist import data

ROOT = Path(__file__).resolve().parents[1]


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array in the IDX format."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def tiny_idx_dir(tmp_path: Path) -> Path:
    """A folder with four small, well-formed (but not official) gzipped IDX files."""
    rng = np.random.default_rng(0)
    for name in data.SHA256:
        shape = (20, 28, 28) if "images" in name else (20,)
        array = rng.integers(0, 256 if "images" in name else 10, size=shape)
        (tmp_path / f"{name}.gz").write_bytes(gzip.compress(idx_bytes(array)))
    return tmp_path


def real_data_dir() -> Path | None:
    """Where the official files are on this machine, if anywhere (no download)."""
    try:
        return data.find_data_dir(None, allow_download=False)
    except data.DataError:
        return None


@pytest.fixture(scope="session")
def real_dataset() -> data.Dataset:
    """The official data set; skipped where it is not installed."""
    if real_data_dir() is None:
        pytest.skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
    return data.load_dataset(allow_download=False)


def fmnist(*args, cwd):
    """Run the `fmnist` command in `cwd` with this interpreter."""
    return subprocess.run([sys.executable, "-m", "fmnist", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=900)


def copy_project(root: Path) -> Path:
    """A runnable copy of the project at `root`: the book, the profiles, the site's config and
    the citation file its landing page cites from."""
    root.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml", "CITATION.cff"):
        shutil.copy(ROOT / name, root)
    for folder in ("book", "params"):
        shutil.copytree(ROOT / folder, root / folder)
    return root


def copy_of(built: Path, tmp_path: Path) -> Path:
    """A copy of a built project (results and site included) that a test may change."""
    project = tmp_path / "proj"
    shutil.copytree(built, project)
    return project


def build_quick_project(folder: Path) -> Path:
    """A copy of the project in `folder` with the quick report built, and what the user saw."""
    root = copy_project(folder / "proj")
    proc = fmnist("report", "--params", "params/quick.yaml", cwd=root)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "_build/html/index.html" in proc.stdout
    # What the user saw, for the console checks.
    (root / "report.stdout").write_text(proc.stdout)
    (root / "report.stderr").write_text(proc.stderr)
    return root


@pytest.fixture(scope="session")
def quick_project(tmp_path_factory, worker_id) -> Path:
    """A copy of the project in which the quick report has been built once, for every test
    worker: the first to need it builds it, the others wait for it (tests that change it work
    on `copy_of` it)."""
    if worker_id == "master":  # not under pytest-xdist
        return build_quick_project(tmp_path_factory.mktemp("quick"))
    shared = tmp_path_factory.getbasetemp().parent  # one folder for all workers of this run
    built = shared / "quick" / "proj"
    with FileLock(str(shared / "quick.lock")):
        if not (shared / "quick.done").is_file():
            shutil.rmtree(shared / "quick", ignore_errors=True)  # a worker that failed midway
            build_quick_project(shared / "quick")
            (shared / "quick.done").touch()
    return built


def _queue_rank(item: pytest.Item) -> int:
    """Where a test goes in the queue the workers share: the long ones first and the quick
    project's users together after them, so that one worker builds that project while the other
    runs tests that need nothing of it, and the many short tests fill in at the end."""
    slow = item.get_closest_marker("slow") is not None
    uses_quick = "quick_project" in getattr(item, "fixturenames", ())
    return (0 if slow and not uses_quick else 1 if slow else 2 if uses_quick else 3)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # pytest-xdist's work stealing hands each worker a contiguous half of this order and later
    # moves the tail of the longer queue to an idle worker.
    items.sort(key=_queue_rank)


"""A chapter broken by an edit: a notebook left unreadable, a cell that ends its kernel, a cell
removed so that the chapter no longer writes its results. The run fails naming the chapter, the
cell and the error; the previous results and site stay as they were; no later chapter runs."""

from __future__ import annotations

import hashlib

import nbformat
import pytest
from conftest import copy_project, fmnist

from fmnist import report
from fmnist.params import load_profile


def project_with_site(tmp_path):
    root = copy_project(tmp_path / "proj")
    (root / "_build" / "html").mkdir(parents=True)
    (root / "_build" / "html" / "index.html").write_text("previous site")
    return root


def edit(path, change) -> None:
    nb = nbformat.read(path, as_version=4)
    change(nb.cells)
    nbformat.write(nb, path)


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("spoil", [
    lambda p: p.write_text(p.read_text()[: len(p.read_text()) // 2]),  # an editor's crash
    lambda p: p.write_text(p.read_text().replace('"cells": [', '"cells": [[', 1)),  # a typo
    lambda p: p.write_text(""),
], ids=["truncated", "invalid-json", "emptied"])
def test_a_notebook_an_edit_left_unreadable_is_named_before_any_kernel_starts(tmp_path, spoil):
    root = project_with_site(tmp_path)
    spoil(root / "book" / "03_dense.ipynb")
    proc = fmnist("run", "dense", "--params", "params/quick.yaml", cwd=root)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "chapter `dense`: book/03_dense.ipynb is not a readable notebook" in proc.stderr
    assert "git checkout book/03_dense.ipynb" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "comparison" not in proc.stdout, "no later chapter ran"
    assert (root / "_build" / "html" / "index.html").read_text() == "previous site"


@pytest.mark.slow
def test_a_cell_that_ends_its_kernel_is_named_and_its_notebook_kept(tmp_path):
    root = project_with_site(tmp_path)
    edit(root / "book" / "01_data.ipynb",
         lambda cells: cells.insert(1, nbformat.v4.new_code_cell("import os\nos._exit(1)")))
    proc = fmnist("run", "data", "--params", "params/quick.yaml", cwd=root)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "chapter `data` failed in cell 1: its kernel died" in proc.stderr
    kept = root / "results" / "notebooks" / "01_data.ipynb"
    assert f"The executed notebook is kept for inspection: {kept}" in proc.stderr
    assert kept.is_file()
    assert "Traceback" not in proc.stderr
    assert "baseline" not in proc.stdout, "no later chapter ran"
    assert (root / "_build" / "html" / "index.html").read_text() == "previous site"


@pytest.mark.slow
def test_a_removed_cell_that_wrote_the_results_fails_the_chapter_keeping_the_old_ones(
        tmp_path):
    root = project_with_site(tmp_path)
    profile = load_profile(root / "params" / "quick.yaml")
    report.run_chapters(root, profile, ["data"], log=lambda m: None)
    split = root / "results" / "data" / "split.npz"
    before = digest(split)
    line = "data.save_split(out, train_idx, val_idx, ds.source)"

    def remove_the_write(cells):
        cell, = [c for c in cells if line in c.source]
        cell.source = cell.source.replace(line, "")

    edit(root / "book" / "01_data.ipynb", remove_the_write)
    with pytest.raises(report.ChapterFailed) as err:
        report.run_chapters(root, profile, ["data"], force=True, log=lambda m: None)
    message = str(err.value)
    assert f"chapter `data` ran to its end without writing {split}" in message
    assert "the chapters after it did not run" in message
    assert "results/notebooks/01_data.ipynb" in message
    assert digest(split) == before, "the previous results are as they were"
    assert not (root / "results" / "data" / "stamp.json").exists(), "and not taken as fresh"

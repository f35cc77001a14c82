"""The repository's address has one source, and the setup cell installs what a chapter needs in
a fresh runtime (tried with a stand-in `google.colab` and a recording stand-in for the install)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import types

import nbformat
import pytest
import yaml
from conftest import ROOT

from fmnist import launch
from fmnist.chapters import notebooks
from fmnist.cli import main
from fmnist.site import stage_book

NOTEBOOKS = notebooks(ROOT)


def setup_cell(path):
    nb = nbformat.read(path, as_version=4)
    return [c for c in nb.cells if launch.SETUP_TAG in c.metadata.get("tags", [])]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_setup_cell_is_the_template_for_the_configured_repository(path):
    cells = setup_cell(path)
    assert len(cells) == 1
    assert cells[0].source == launch.setup_source(launch.config_repository(ROOT)), \
        "run `fmnist repository <url>` after changing the address"


@pytest.mark.parametrize("remote, url", [
    ("https://github.com/someone/fork.git", "https://github.com/someone/fork"),
    ("git@github.com:someone/fork.git\n", "https://github.com/someone/fork"),
    ("ssh://git@github.com/someone/fork", "https://github.com/someone/fork"),
    ("https://gitlab.com/someone/fork.git", None),
    ("/srv/git/fork.git", None),
])
def test_github_remotes_in_every_form(remote, url):
    assert launch.github_url(remote) == url


def run_setup(monkeypatch, tmp_path, *, installed: bool, colab: bool, cloned: bool = False,
              cwd=None):
    """Execute the setup cell in `cwd` (default: a folder outside any project); return the
    commands it ran and the folders it moved to. `cloned`: the project is already where the
    cell would clone it."""
    calls, moves = [], []
    outside = tmp_path / "elsewhere"
    outside.mkdir(exist_ok=True)
    monkeypatch.chdir(cwd or outside)
    project = "/content/fmnist-report" if colab else str(tmp_path / "fmnist-report")
    real_isdir = __import__("os").path.isdir
    monkeypatch.setattr("os.path.isdir", lambda p: (cloned or bool(calls)) if p == project
                        else real_isdir(p))
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    monkeypatch.setattr("os.chdir", moves.append)
    monkeypatch.setenv("HOME", str(tmp_path))
    real_find_spec = __import__("importlib.util").util.find_spec
    monkeypatch.setattr("importlib.util.find_spec",
                        lambda name, *a: (real_find_spec(name, *a) if installed or name != "fmnist"
                                          else None))
    if colab:
        google = types.ModuleType("google")
        google.colab = types.ModuleType("google.colab")
        monkeypatch.setitem(sys.modules, "google", google)
        monkeypatch.setitem(sys.modules, "google.colab", google.colab)
    namespace = {}
    exec(launch.setup_source("https://github.com/someone/fork"), namespace)
    # Any other global would be taken for one of the chapter's parameters.
    public = {k for k, v in namespace.items()
              if not k.startswith("_") and not isinstance(v, types.ModuleType)}
    assert public == set(), public
    return calls, moves


def test_in_colab_the_setup_clones_and_installs_the_runtime_only(monkeypatch, tmp_path):
    calls, moves = run_setup(monkeypatch, tmp_path, installed=False, colab=True)
    clone, install = calls
    assert clone[:2] == ["git", "clone"]
    assert clone[-2:] == ["https://github.com/someone/fork", "/content/fmnist-report"]
    assert install[1:4] == ["-m", "pip", "install"]
    assert install[-1] == "/content/fmnist-report", "the package alone: no extras, no pins"
    assert not any("requirements" in part or "[" in part for part in install)
    assert moves == ["/content/fmnist-report/book"]


def test_elsewhere_without_the_package_it_installs_into_the_home_folder(monkeypatch, tmp_path):
    calls, moves = run_setup(monkeypatch, tmp_path, installed=False, colab=False)
    assert calls[0][-1] == str(tmp_path / "fmnist-report")
    assert moves == [str(tmp_path / "fmnist-report" / "book")]


def test_in_a_checkouts_book_folder_the_setup_does_nothing(monkeypatch, tmp_path):
    assert run_setup(monkeypatch, tmp_path, installed=True, colab=False, cloned=True,
                     cwd=ROOT / "book") == ([], [])
    assert run_setup(monkeypatch, tmp_path, installed=True, colab=True,
                     cwd=ROOT / "book") == ([], [])


def test_after_a_colab_restart_it_moves_to_the_book_without_installing(monkeypatch, tmp_path):
    # "Restart session": the package is installed, the working folder is /content again.
    calls, moves = run_setup(monkeypatch, tmp_path, installed=True, colab=True, cloned=True)
    assert calls == [] and moves == ["/content/fmnist-report/book"]


def test_where_the_project_is_already_cloned_it_installs_without_cloning(monkeypatch, tmp_path):
    calls, moves = run_setup(monkeypatch, tmp_path, installed=False, colab=True, cloned=True)
    assert [c[1:4] for c in calls] == [["-m", "pip", "install"]]
    assert moves == ["/content/fmnist-report/book"]


def project_with_origin(tmp_path, origin):
    root = tmp_path / "proj"
    root.mkdir()
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, root)
    shutil.copytree(ROOT / "book", root / "book")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    if origin:
        subprocess.run(["git", "-C", str(root), "remote", "add", "origin", origin], check=True)
    return root


def test_the_site_names_the_fork_it_was_built_from(tmp_path):
    root = project_with_origin(tmp_path, "git@github.com:someone/fork.git")
    stage = tmp_path / "stage"
    stage.mkdir()
    stage_book(root, tmp_path / "no-results", stage)
    assert launch.config_repository(stage) == "https://github.com/someone/fork"
    for path in notebooks(stage):
        cell, = setup_cell(path)
        assert '_REPOSITORY = "https://github.com/someone/fork"' in cell.source
    assert launch.config_repository(root) != "https://github.com/someone/fork", "book/ untouched"


def test_without_a_github_remote_the_configured_address_is_used(tmp_path):
    root = project_with_origin(tmp_path, None)
    assert launch.repository_url(root) == launch.config_repository(ROOT)


def test_fmnist_repository_rewrites_the_config_and_every_setup_cell(tmp_path):
    root = project_with_origin(tmp_path, None)
    (root / "params").mkdir()
    shutil.copy(ROOT / "CITATION.cff", root)
    old = launch.config_repository(root)
    (root / "README.md").write_text(f"[Open in Colab]({old}/blob/main/book/04_cnn.ipynb)\n")
    check = ["--root", str(root), "repository", "--check", "https://github.com/other/study"]
    assert main(check) == 1, "the committed files name the old address"
    assert main(["--root", str(root), "repository", "https://github.com/other/study.git"]) == 0
    assert launch.config_repository(root) == "https://github.com/other/study"
    for path in notebooks(root):
        cell, = setup_cell(path)
        assert cell.source == launch.setup_source("https://github.com/other/study")
    assert 'repository-code: "https://github.com/other/study"' in (
        root / "CITATION.cff").read_text()
    assert (root / "README.md").read_text() == (
        "[Open in Colab](https://github.com/other/study/blob/main/book/04_cnn.ipynb)\n")
    assert main(check) == 0
    assert main(["--root", str(root), "repository", "https://example.org/x"]) == 2


def test_fmnist_repository_moves_the_edit_and_issue_buttons_and_the_citation(tmp_path):
    root = project_with_origin(tmp_path, None)
    (root / "params").mkdir()
    shutil.copy(ROOT / "CITATION.cff", root)
    assert main(["--root", str(root), "repository", "https://github.com/other/study"]) == 0
    stage = tmp_path / "stage"
    stage.mkdir()
    stage_book(root, tmp_path / "no-results", stage)
    config = yaml.safe_load((stage / "_config.yml").read_text())
    assert config["repository"]["url"] == "https://github.com/other/study"
    assert config["repository"]["path_to_book"] == "", "the book's sources are at the root"
    assert config["html"]["use_edit_page_button"] and config["html"]["use_issues_button"]
    assert "url = {https://github.com/other/study}" in (stage / "book" / "intro.md").read_text()

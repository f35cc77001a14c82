"""What the site's build adds to the book's pages, checked on the staged sources (no render):
the landing page's downloads and citation, and each chapter page's downloads."""

from __future__ import annotations

import nbformat
import pytest
from conftest import copy_project
from tiny_results import make_run

from fmnist import downloads, launch, site
from fmnist.chapters import PIPELINE


@pytest.fixture
def project(tmp_path):
    root = copy_project(tmp_path / "proj")
    make_run(root / "results")
    return root


def staged(project, tmp_path):
    stage = tmp_path / "stage"
    stage.mkdir(parents=True)
    site.stage_book(project, project / "results", stage)
    return stage / "book"


def test_the_landing_page_links_every_download_and_shows_the_citation(project, tmp_path):
    book = staged(project, tmp_path)
    intro = (book / "intro.md").read_text()
    for marker in (site.SUMMARY_MARKER, site.DOWNLOADS_MARKER, site.CITATION_MARKER):
        assert marker not in intro
    files = sorted(p.name for p in (book / downloads.FOLDER).iterdir())
    assert downloads.RESULTS_JSON in files and "comparison-pairwise.csv" in files
    for name in files:
        assert f"<{downloads.FOLDER}/{name}>`" in intro, name
    assert "@software{fmnistreport" in intro and "@misc{original2025," in intro
    assert f"url = {{{launch.config_repository(project)}}}" in intro


def closing_cells(path):
    return [c.source for c in nbformat.read(path, as_version=4).cells[-2:]]


def test_each_chapter_page_links_its_tables_before_the_runners_closing_note(project, tmp_path):
    # An executed chapter: papermill's metadata on every cell, the runner's note after them.
    nb = nbformat.read(project / "book" / "04_cnn.ipynb", as_version=4)
    for cell in nb.cells:
        cell.metadata["papermill"] = {"status": "completed"}
    nb.cells.append(nbformat.v4.new_markdown_cell("*This chapter ran in 1.0 s.*"))
    (project / "results" / "notebooks").mkdir()
    nbformat.write(nb, project / "results" / "notebooks" / "04_cnn.ipynb")
    book = staged(project, tmp_path)
    links, note = closing_cells(book / "04_cnn.ipynb")
    assert links.startswith("## Download the results") and note.startswith("*This chapter ran")
    assert "downloads/cnn-per-class.csv" in links and "dense-per-class.csv" not in links
    # A chapter shown as committed (not executed here) ends with its links.
    assert "downloads/dense-per-class.csv" in closing_cells(book / "03_dense.ipynb")[-1]
    comparison = closing_cells(book / "06_comparison.ipynb")[-1]
    assert all(f"downloads/{slug}-per-class.csv" in comparison
               for slug in ("baseline", "dense", "cnn", "tuning"))
    assert "downloads/" not in "".join(closing_cells(book / "01_data.ipynb")), \
        "the data chapter has no results tables"
    assert {ch.notebook for ch in PIPELINE} <= {p.name for p in book.glob("*.ipynb")}


def test_without_results_the_pages_say_so(tmp_path):
    root = copy_project(tmp_path / "proj")
    book = staged(root, tmp_path)
    intro = (book / "intro.md").read_text()
    assert "No results yet" in intro and "{download}" not in intro
    assert not (book / downloads.FOLDER).exists()


def test_a_page_without_its_marker_is_a_clear_error(project, tmp_path):
    intro = project / "book" / "intro.md"
    intro.write_text(intro.read_text().replace(site.CITATION_MARKER, ""))
    with pytest.raises(site.SiteFailed, match="intro.md has no `<!-- citation -->` line"):
        staged(project, tmp_path)


def test_a_project_without_a_citation_file_says_so_and_a_broken_one_stops_the_build(
        project, tmp_path):
    citation = project / "CITATION.cff"
    text = citation.read_text()
    citation.unlink()
    assert "has no `CITATION.cff`" in (staged(project, tmp_path) / "intro.md").read_text()
    citation.write_text(text.replace("title:", "titel:"))
    with pytest.raises(site.SiteFailed, match="no `title`.*previous site is untouched"):
        staged(project, tmp_path / "again")

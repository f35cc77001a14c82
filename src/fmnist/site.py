"""The site: a staging copy of the book with the executed chapters and a filled-in landing
page, rendered by Jupyter Book into `_build/html` (swapped in by one rename), and published.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import nbformat

from fmnist import citation, compare, downloads, ladder, launch, runs
from fmnist.chapters import PIPELINE, notebooks
from fmnist.paths import NOTEBOOKS_DIR, RUN_FILE
from fmnist.plots import comparison as comparison_plots
from fmnist.plots import style


class SiteFailed(RuntimeError):
    """Jupyter Book could not build the site; the message carries its output."""


def summary_markdown(results: Path, comparison) -> str:
    """The intro page's results table and run metadata, generated from the results files."""
    run = json.loads((results / RUN_FILE).read_text()) if (results / RUN_FILE).is_file() else None
    if run is None:
        return "*No run has been recorded yet: run `fmnist report` to fill this section.*\n"
    table = compare.results_table(comparison)
    v = run["versions"]
    pkgs = ", ".join(f"{k} {val}" for k, val in v.items() if k not in ("machine",))
    return (compare.to_markdown(table) + "\n\n"
            f"| run | |\n|---|---|\n| date | {run['date']} |\n| profile | `{run['profile']}` |\n"
            f"| parameters hash | `{run['params_hash']}` |\n| packages | {pkgs} |\n"
            f"| CPU | {v['machine']} |\n"
            f"| total time | {_time_cell(run)} |\n")


def _time_cell(run: dict) -> str:
    """What producing the results took: the chapters' own seconds added up, and how they ran
    (side by side, each chapter's seconds include sharing the machine)."""
    jobs = run.get("jobs", 1)
    how = ("one after another" if jobs == 1 else
           f"up to {jobs} side by side, so each one's seconds include sharing the machine")
    return f"{run['total_seconds']:.0f} s of chapters' wall time added up (chapters {how})"


def headline_markdown(root: Path, comparison, folder: Path) -> str:
    """Draw the landing page's figure into `folder` and return the markdown that shows it
    (nothing while no model has results)."""
    data = compare.headline_inputs(comparison, root / compare.BENCH_FILE)
    if not data["study"]:
        return ""
    fig = style.save(comparison_plots.plot_headline(**data), folder, "headline")
    plt.close(fig)
    rerun = (f"the original study's procedure as the benchmark reran it ({data['replica_note']}; "
             "open squares), " if data["replica"] else "")
    return ("```{figure} headline.png\n:alt: Test accuracy against training time per model\n\n"
            "Test accuracy with its 95 % interval against training time (wall seconds, shared "
            "with the chapters running beside it; the tuned CNN's includes its search) for this "
            "study's last run (filled circles), "
            f"{rerun}and the original study's published accuracies (right: it reported no "
            "times). A model has one colour in every figure.\n```\n\n")


def citation_markdown(root: Path, run_date: str | None) -> str:
    """The landing page's "Cite this study" box: the study's BibTeX entry written from
    `CITATION.cff` (for the results of the run of `run_date`) and, under it, the original
    study's entry from the book's bibliography."""
    path = root / citation.CITATION_FILE
    if not path.is_file():
        return f"*This copy of the project has no `{citation.CITATION_FILE}` to cite it from.*\n"
    year = int(run_date[:4]) if run_date else dt.date.today().year
    note = f"Results of the run of {run_date[:10]}" if run_date else None
    study = citation.study_bibtex(citation.load_citation(path), year, note)
    original = citation.bibliography_entry(root / citation.BIBLIOGRAPHY, citation.ORIGINAL_KEY)
    return ("::::{grid} 1\n:gutter: 2\n:class-container: cite-box\n\n"
            f":::{{grid-item-card}} This study\n:class-card: cite-study\n\n"
            f"```bibtex\n{study}\n```\n:::\n\n"
            ":::{grid-item-card} The original study it grows from\n"
            f":class-card: cite-original\n\n```bibtex\n{original}\n```\n:::\n::::\n")


def downloads_cell(links: str):
    """A markdown cell that closes a chapter's page with its downloads."""
    return nbformat.v4.new_markdown_cell("## Download the results\n\n" + links)


def add_downloads_cells(book: Path, written: list[downloads.Download]) -> None:
    """Add each chapter page's download links (the comparison's: every file) before the notes
    the runner appended after execution (its run time), so the page still ends with them."""
    for ch in PIPELINE:
        if ch.slug != "comparison" and not any(d.chapter == ch.slug for d in written):
            continue
        links = downloads.links_markdown(written, None if ch.slug == "comparison" else ch.slug)
        nb = nbformat.read(book / ch.notebook, as_version=4)
        # Cells papermill executed carry its metadata; the runner's notes come after them.
        at = len(nb.cells)
        while at > 0 and "papermill" not in nb.cells[at - 1].metadata:
            at -= 1
        nb.cells.insert(at or len(nb.cells), downloads_cell(links))
        nbformat.write(nb, book / ch.notebook)


# The `jupyter-book` console script of this interpreter's environment, whatever PATH says.
JB_MAIN = "import sys; from jupyter_book.cli.main import main; sys.exit(main())"
SUMMARY_MARKER = "<!-- results-summary -->"
DOWNLOADS_MARKER = "<!-- downloads -->"
CITATION_MARKER = "<!-- citation -->"
RUNS_MARKER = "<!-- runs-history -->"
RUNS_LINK_MARKER = "<!-- runs-link -->"
RUNS_PAGE = "runs.md"


def runs_markdown(results: Path, folder: Path) -> tuple[str, str]:
    """The runs page's body (with its figure drawn into `folder`) and the landing page's link
    to it, which appears once the history holds more than one run."""
    history, damaged = runs.load_runs(results)
    body = runs.page_markdown(history, damaged)
    if len(history) < 2:
        return body, ""
    fig = comparison_plots.plot_validation_history(runs.validation_series(history))
    style.save(fig, folder, "runs_validation")
    plt.close(fig)
    figure = ("```{figure} runs_validation.png\n:alt: " + fig.description + "\n\n"
              "Each model's validation accuracy in every run of the history, oldest to "
              "newest: what the choices are made on.\n```\n\n")
    link = (f"The run history holds {len(history)} runs: the [runs page](runs.md) compares "
            "each with the one before it, on validation first.\n")
    return figure + body, link


def fill_markers(path: Path, blocks: dict[str, str]) -> None:
    """Replace each marker of a page with its generated block (every marker must be there)."""
    text = path.read_text(encoding="utf-8")
    for marker, block in blocks.items():
        if marker not in text:
            raise SiteFailed(f"{path.name} has no `{marker}` line for its generated content")
        text = text.replace(marker, block)
    path.write_text(text, encoding="utf-8")


def stage_book(root: Path, results: Path, stage: Path) -> None:
    """Copy the book's sources into `stage`, with executed notebooks, a filled-in intro and the
    results' downloads."""
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(root / name, stage / name)
    book = stage / "book"
    shutil.copytree(root / "book", book, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    for ch in PIPELINE:
        executed = results / NOTEBOOKS_DIR / ch.notebook
        if executed.is_file():
            shutil.copy2(executed, book / ch.notebook)
    comparison = compare.load(results)  # each results file read once for the whole site
    written = downloads.write_downloads(results, comparison, book / downloads.FOLDER)
    run = json.loads((results / RUN_FILE).read_text()) if (results / RUN_FILE).is_file() else {}
    try:
        cite = citation_markdown(root, run.get("date"))
    except citation.CitationError as err:
        raise SiteFailed(f"{err} (the previous site is untouched)") from err
    runs_body, runs_link = runs_markdown(results, book)
    fill_markers(book / RUNS_PAGE, {RUNS_MARKER: runs_body})
    fill_markers(book / "intro.md", {
        SUMMARY_MARKER: headline_markdown(root, comparison, book)
        + ladder.landing_note(comparison, root) + "\n"
        + summary_markdown(results, comparison),
        RUNS_LINK_MARKER: runs_link,
        DOWNLOADS_MARKER: downloads.links_markdown(written),
        CITATION_MARKER: cite})
    add_downloads_cells(book, written)
    # The site's repository, its launch, edit and issue buttons, and the setup cells its pages
    # show, name the repository this copy came from (a fork's own), else `_config.yml`'s.
    repository = launch.repository_url(root)
    launch.write_config_repository(stage / "_config.yml", repository)
    launch.write_setup_cells(notebooks(stage), repository)


def build_site(root: Path, results: Path, strict: bool = True) -> Path:
    """Build the HTML in a temporary folder, then swap it into `_build/html` in one rename."""
    build_dir = root / "_build"
    build_dir.mkdir(exist_ok=True)
    for leftover in build_dir.glob(".stage-*"):  # from a build that was killed
        shutil.rmtree(leftover, ignore_errors=True)
    with tempfile.TemporaryDirectory(dir=build_dir, prefix=".stage-") as tmp:
        stage, out = Path(tmp) / "src", Path(tmp) / "out"
        stage.mkdir()
        stage_book(root, results, stage)
        cmd = [sys.executable, "-c", JB_MAIN, "build", str(stage), "--path-output", str(out)]
        if strict:
            cmd += ["-W", "-n", "--keep-going"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not (out / "_build" / "html" / "index.html").is_file():
            raise SiteFailed(f"jupyter-book build failed (the previous site is untouched):\n"
                                f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        html, old = build_dir / "html", build_dir / ".html-old"
        shutil.rmtree(old, ignore_errors=True)
        if html.exists():
            html.rename(old)
        (out / "_build" / "html").rename(html)
        shutil.rmtree(old, ignore_errors=True)
    return html / "index.html"


class PublishError(RuntimeError):
    """The site could not be published; the message says why and what to do."""


def publish_site(root: Path, remote: str = "origin", branch: str = "gh-pages") -> str:
    """Push `_build/html` to `branch` of `remote` with ghp-import (adds `.nojekyll`).

    The branch holds only the latest site and is force-pushed, as Jupyter Book's publishing
    guide does: publishing works from any clone, whatever the branch held before.
    """
    html = root / "_build" / "html"
    if not (html / "index.html").is_file():
        raise PublishError(f"{html / 'index.html'} not found: build the site first "
                           "(`fmnist report` or `fmnist build`).")
    known = subprocess.run(["git", "remote", "get-url", remote], cwd=root, capture_output=True,
                           text=True)
    if known.returncode != 0:
        raise PublishError(f"no git remote `{remote}` in {root}: add one with `git remote add "
                           f"{remote} <url>`, or name another with --remote.")
    message = f"Publish the report built {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}"
    cmd = [sys.executable, "-c", "import ghp_import; ghp_import.main()", "--no-jekyll", "--push",
           "--force", "--remote", remote, "--branch", branch, "--message", message, str(html)]
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    if proc.returncode != 0:
        # ghp-import follows git's words with its own traceback: keep git's.
        said = (proc.stderr or proc.stdout).split("Traceback (most recent call last)")[0].strip()
        refused = re.search(r"\[remote rejected\]|\[rejected\]|pre-receive hook declined", said)
        what = (f"the remote `{remote}` refused the push to `{branch}`" if refused else
                f"could not push the site to `{remote}` ({known.stdout.strip()})")
        raise PublishError(f"{what}; the site is still in {html}. Git said:\n{said}")
    return f"{remote} {branch}"

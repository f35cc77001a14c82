"""The built site in real headless Chromium (Debian's), driven by Playwright for Python."""

from __future__ import annotations

import contextlib
import functools
import http.server
import io
import json
import os
import re
import shutil
import threading
from urllib.parse import urldefrag, urljoin, urlparse

import pandas as pd
import pytest
from conftest import ROOT, copy_of, fmnist
from pybtex.database import parse_string

from fmnist import downloads, launch

pytestmark = [pytest.mark.slow, pytest.mark.browser]
# Debian's chromium (never a browser downloaded by Playwright); other distributions' names too.
CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(name)), "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


@contextlib.contextmanager
def serving(folder):
    """Serve `folder` on 127.0.0.1; yield its address."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def site_url(quick_project):
    """Serve the quick project's site on 127.0.0.1 for the duration of the tests."""
    with serving(quick_project / "_build" / "html") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    # In CI (where `CI` is set) a missing browser fails the run: a green CI must mean the pages
    # were looked at. Elsewhere it skips, saying so loudly.
    missing = pytest.fail if os.environ.get("CI") else pytest.skip
    try:  # optional: without it the test skips (or fails in CI), saying why
        import playwright.sync_api as playwright  # noqa: PLC0415
    except ImportError:
        missing("THE SITE'S BROWSER TEST DID NOT RUN: Playwright is not installed (`make env`).")
    if not shutil.which(CHROMIUM):
        missing("THE SITE'S BROWSER TEST DID NOT RUN: no chromium found. Install it with "
                "`sudo apt-get install chromium` (Debian) and rerun `make test`.")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def record_console_error(message, page_url: str, base: str, errors: list[str]) -> None:
    """Keep console errors raised by the site's own pages and assets.

    The browser's own request for /favicon.ico (the redirecting index.html links none) is not
    the site's doing, so it is left out.
    """
    source = message.location.get("url", "") or page_url
    if message.type == "error" and source.startswith(base) and not source.endswith("favicon.ico"):
        errors.append(f"{page_url}: {message.text} ({source})")


def nav_pages(page, base):
    """Every page reachable from the sidebar navigation, in order, without duplicates."""
    hrefs = page.eval_on_selector_all("nav.bd-docs-nav a[href], .navbar-brand[href]",
                                      "els => els.map(e => e.href)")
    pages = []
    for href in hrefs:
        url = urldefrag(href)[0]
        if url.startswith(base) and url not in pages:
            pages.append(url)
    return pages


# Every figure in a page's article: its pixels, its displayed width and the column's.
FIGURES = """() => {
  const column = document.querySelector('article.bd-article').getBoundingClientRect();
  return [...document.querySelectorAll('article.bd-article img')].map(img => ({
    src: img.src, natural: img.naturalWidth, shown: img.getBoundingClientRect().width,
    left: img.getBoundingClientRect().left - column.left, right: img.getBoundingClientRect().right,
    column: column.right}));
}"""
# Every table: where it ends against the column, and whether it scrolls within it.
TABLES = """() => {
  const column = document.querySelector('article.bd-article').getBoundingClientRect();
  return [...document.querySelectorAll('article.bd-article table')].map(t => ({
    right: t.getBoundingClientRect().right, column: column.right,
    scrolls: t.scrollWidth > t.clientWidth && getComputedStyle(t).overflowX === 'auto'}));
}"""
LEGIBLE_SHRINK = 2.0  # a figure shown at less than half its pixels has unreadable text


def check_figure(figure: dict, url: str) -> None:
    """Loaded, not enlarged past its pixels, within the column, not shrunk past legibility."""
    assert figure["natural"] > 0, f"broken figure {figure['src']} on {url}"
    assert figure["natural"] >= figure["shown"] - 1, f"enlarged (blurred) figure on {url}: {figure}"
    assert figure["right"] <= figure["column"] + 1, f"figure wider than the column on {url}"
    assert figure["natural"] <= LEGIBLE_SHRINK * figure["shown"], \
        f"figure shrunk past legibility on {url}: {figure}"


def test_every_page_loads_with_images_tables_and_no_errors(browser, site_url):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    page.on("console", lambda m: record_console_error(m, page.url, site_url, errors))
    page.goto(site_url)  # index.html redirects to the intro page
    page.wait_for_url("**/intro.html")
    page.wait_for_load_state("load")
    pages = nav_pages(page, site_url)
    assert len(pages) >= 7, pages  # intro and six chapters
    internal_links = set()
    for url in pages:
        response = page.goto(url)
        assert response is not None and response.ok, url
        broken = page.eval_on_selector_all(
            "article img", "imgs => imgs.filter(i => !(i.complete && i.naturalWidth > 0))"
                           ".map(i => i.src)")
        assert broken == [], f"broken images on {url}: {broken}"
        empty = page.eval_on_selector_all(
            "article table", "ts => ts.filter(t => t.querySelectorAll('tbody tr').length === 0)"
                             ".length")
        assert empty == 0, f"a table without rows on {url}"
        text = page.inner_text("article")
        assert "Best val_accuracy So Far" not in text and "Reloading Tuner" not in text, url
        assert not re.search(r"Trial \d+ Complete", text), url
        for figure in page.evaluate(FIGURES):
            check_figure(figure, url)
        for table in page.evaluate(TABLES):
            assert table["right"] <= table["column"] + 1 or table["scrolls"], \
                f"a table overflows the content column on {url}: {table}"
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            link = urldefrag(urljoin(url, href))[0]
            if urlparse(link).netloc == urlparse(site_url).netloc:
                internal_links.add(link)
    assert errors == [], "\n".join(errors)
    for link in sorted(internal_links):
        response = page.request.get(link)
        assert response.ok, f"broken internal link {link}"
    chapter_pages = [u for u in pages if "/book/0" in u]
    assert len(chapter_pages) == 6


@pytest.mark.parametrize("figure", [
    {"natural": 0, "shown": 688, "right": 900, "column": 950},     # not loaded
    {"natural": 500, "shown": 688, "right": 900, "column": 950},   # enlarged
    {"natural": 1096, "shown": 688, "right": 990, "column": 950},  # past the column
    {"natural": 2190, "shown": 688, "right": 900, "column": 950},  # text shrunk to a third
])
def test_the_figure_check_rejects_what_a_reader_could_not_read(figure):
    with pytest.raises(AssertionError):
        check_figure({"src": "x.png", **figure}, "page")
    check_figure({"src": "x.png", "natural": 1096, "shown": 688, "right": 900, "column": 950},
                 "page")


MODEL_SLUGS = ("baseline", "dense", "cnn", "tuning")


def download_links(page) -> dict[str, str]:
    """The page's download links, by file name."""
    hrefs = page.eval_on_selector_all("article a.reference.download", "els => els.map(e => e.href)")
    return {urlparse(href).path.rsplit("/", 1)[-1]: href for href in hrefs}


def check_download(page, name: str, href: str) -> None:
    """The file is served and parses: the JSON holds every model and the pairwise tests; a CSV
    is a table with rows."""
    response = page.request.get(href)
    assert response.ok, f"broken download {href}"
    if name.endswith(".json"):
        document = json.loads(response.text())
        assert set(document["models"]) == set(MODEL_SLUGS)
        for model in document["models"].values():
            low, high = model["accuracy_ci95"]
            assert low <= model["accuracy"] <= high and len(model["per_class"]) == 10
        assert document["pairwise_tests"] and document["parameters"]["cnn"]
    else:
        table = pd.read_csv(io.StringIO(response.text()))
        assert len(table) > 0 and len(table.columns) > 1, name


def test_the_landing_page_and_the_comparison_offer_the_results_as_files_that_parse(
        browser, site_url):
    page = browser.new_page()
    page.goto(site_url + "book/intro.html")
    everything = download_links(page)
    for slug in MODEL_SLUGS:
        assert {f"{slug}-per-class.csv", f"{slug}-confusion-matrix.csv"} <= set(everything)
    assert {downloads.RESULTS_JSON, "comparison-models.csv", "comparison-pairwise.csv"} <= \
        set(everything)
    for name, href in everything.items():
        check_download(page, name, href)
    page.goto(site_url + "book/06_comparison.html")
    assert download_links(page) == everything, "the comparison links the same files"
    page.goto(site_url + "book/04_cnn.html")
    own = download_links(page)
    assert set(own) == {downloads.RESULTS_JSON, "cnn-per-class.csv", "cnn-confusion-matrix.csv"}
    assert own["cnn-per-class.csv"] == everything["cnn-per-class.csv"]


def bibtex_entry(page, selector: str):
    entries = parse_string(page.inner_text(f"{selector} pre"), "bibtex").entries
    assert len(entries) == 1
    return next(iter(entries.items()))


def check_citation(page, site_url, repository: str) -> None:
    page.goto(site_url + "book/intro.html")
    assert page.get_by_role("heading", name="Cite this study").is_visible()
    key, study = bibtex_entry(page, ".cite-study")
    assert study.type == "software" and study.fields["url"] == repository
    key, original = bibtex_entry(page, ".cite-original")
    assert key == "original2025" and "Shahzad" in str(original.persons["author"][0])


def check_buttons(page, url: str, repository: str) -> None:
    page.goto(url)
    edit = page.get_attribute("a.btn-source-edit-button", "href")
    issue = page.get_attribute("a.btn-source-issues-button", "href")
    assert edit.startswith(f"{repository}/edit/main/"), (url, edit)
    source = edit.removeprefix(f"{repository}/edit/main/")
    assert (ROOT / source).is_file(), f"the edit button of {url} opens {source}, not a source"
    assert issue.startswith(f"{repository}/issues/new?"), (url, issue)


def test_every_page_can_be_corrected_on_the_configured_repository_and_cited(
        browser, site_url, quick_project):
    repository = launch.config_repository(quick_project)
    page = browser.new_page()
    page.goto(site_url)
    page.wait_for_url("**/intro.html")
    pages = nav_pages(page, site_url)
    assert len(pages) >= 8, pages  # the intro, six chapters, the references
    for url in pages:
        check_buttons(page, url, repository)
    check_citation(page, site_url, repository)


@pytest.fixture(scope="module")
def moved_site(quick_project, tmp_path_factory):
    """The quick project, pointed at another repository with `fmnist repository` and rebuilt."""
    project = copy_of(quick_project, tmp_path_factory.mktemp("moved"))
    moved = fmnist("repository", "https://github.com/someone/fork", cwd=project)
    assert moved.returncode == 0, moved.stderr
    built = fmnist("build", "--params", "params/quick.yaml", cwd=project)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    with serving(project / "_build" / "html") as url:
        yield url


def test_fmnist_repository_moves_the_buttons_and_the_citation(browser, moved_site):
    page = browser.new_page()
    for chapter in ("intro", "04_cnn"):
        check_buttons(page, f"{moved_site}book/{chapter}.html", "https://github.com/someone/fork")
    check_citation(page, moved_site, "https://github.com/someone/fork")

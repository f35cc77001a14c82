"""The built site in real headless Chromium (Debian's), driven by Playwright for Python."""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from urllib.parse import urldefrag, urljoin, urlparse

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]
# Debian's chromium (never a browser downloaded by Playwright); other distributions' names too.
CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(name)), "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def site_url(quick_project):
    """Serve the quick project's site on 127.0.0.1 for the duration of the tests."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(quick_project / "_build" / "html"))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    # In CI (where `CI` is set) a missing browser fails the run: a green CI must mean the pages
    # were looked at. Elsewhere it skips, saying so loudly.
    missing = pytest.fail if os.environ.get("CI") else pytest.skip
    try:
        import playwright.sync_api as playwright
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

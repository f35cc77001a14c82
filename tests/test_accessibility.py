"""Pages a reader who cannot see the figures can read: every figure's alt text says what it shows,
every table has header cells, and axe-core's rules find nothing serious or critical in Chromium."""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path

import pandas as pd
import pytest

from fmnist import sphinx_ext
from fmnist.plots import search, style

# Debian's chromium (never a browser downloaded by Playwright).
CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(name)), "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
BLOCKING = ("serious", "critical")  # axe-core's impacts that fail the site
IMG = re.compile(r"<img\b[^>]*>")
ALT = re.compile(r'\balt="([^"]*)"')


REDIRECT = re.compile(r'http-equiv="refresh"', re.IGNORECASE)


def pages(project: Path) -> list[Path]:
    """The site's content pages (the theme's search and index pages, and the root's redirect
    to the landing page, aside)."""
    html = project / "_build" / "html"
    return sorted(p for p in html.rglob("*.html") if "_static" not in p.parts
                  and p.name not in ("search.html", "genindex.html")
                  and not REDIRECT.search(p.read_text(encoding="utf-8")))


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # the test's output is the violations, not requests
        pass


def figures(page: Path) -> list[tuple[str, str]]:
    """(alt text, source) of every figure in a page's article (the theme's logos aside)."""
    text = page.read_text(encoding="utf-8")
    article = text[text.find('<article class="bd-article"'):text.find("</article>")]
    out = []
    for tag in IMG.findall(article):
        alt = ALT.search(tag)
        out.append((alt.group(1) if alt else "", re.search(r'src="([^"]*)"', tag).group(1)))
    return out


def undescribed(alt: str, src: str) -> bool:
    """An alt text that says nothing of what a figure shows: missing, a file's name, or a
    few words only."""
    return not alt or alt == src or alt.endswith(".png") or len(alt.split()) < 6


def test_the_alt_check_rejects_a_file_name_and_accepts_a_description():
    src = "../_images/9f2c.png"
    assert undescribed(src, src) and undescribed("", src) and undescribed("a figure", src)
    assert not undescribed("CNN: learning curves. Two panels, loss and accuracy per epoch", src)


def test_a_png_description_becomes_the_text_sphinx_reads(tmp_path):
    fig = search.plot_trials([0.5, 0.7])
    style.save(fig, tmp_path, "trials")
    assert sphinx_ext.png_description(tmp_path / "trials.png") == style.description(fig)
    (tmp_path / "plain.png").write_bytes(b"not an image")
    assert sphinx_ext.png_description(tmp_path / "plain.png") is None


def test_pandas_index_name_row_folds_into_the_header_and_no_header_cell_is_empty():
    frame = pd.DataFrame({"precision": [0.9], "recall": [0.8]},
                         index=pd.Index(["Shirt"], name="class"))
    for html in (frame.to_html(), frame.style.to_html()):
        fixed = sphinx_ext.fix_table(html)
        header = fixed[fixed.find("<thead"):fixed.find("</thead>")]
        assert header.count("<tr") == 1, header
        assert re.search(r"<th[^>]*>\s*class\s*</th>", header), header
        assert not re.search(r"<th[^>]*>(\s|&nbsp;|\xa0)*</th>", fixed), fixed
        assert 'tabindex="0"' in fixed  # a table that scrolls takes the keyboard's focus
    corner = sphinx_ext.fix_table(pd.DataFrame({"a": [1]}).to_html())
    assert "<td></td>" in corner and "<th></th>" not in corner


def test_bibliography_entries_are_list_items():
    body = ('<div role="list" class="citation-list"><div class="citation" id="id7" '
            'role="doc-biblioentry"><p>McNemar 1947</p></div></div>')
    fixed = sphinx_ext.fix_body(body)
    assert 'role="listitem"' in fixed and "doc-biblioentry" not in fixed


@pytest.mark.slow
def test_every_figure_on_the_site_has_descriptive_alt_text(quick_project):
    seen = 0
    for page in pages(quick_project):
        for alt, src in figures(page):
            seen += 1
            assert not undescribed(alt, src), f"{page.name}: {src} has alt text {alt!r}"
    assert seen >= 15, f"only {seen} figures found: the check looked at the wrong pages"
    # The description is the figure's own: a chapter's confusion matrix names its model.
    cnn = quick_project / "_build" / "html" / "book" / "04_cnn.html"
    assert any(alt.startswith("CNN: confusion matrix (test set).") for alt, _ in figures(cnn))


@pytest.fixture(scope="module")
def site(quick_project):
    """The quick project's site served on 127.0.0.1."""
    handler = functools.partial(QuietHandler, directory=str(quick_project / "_build" / "html"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(scope="module")
def axe_page():
    """A Chromium page and axe-core's rules; in CI a missing browser fails, elsewhere skips."""
    missing = pytest.fail if os.environ.get("CI") else pytest.skip
    try:  # optional: without them the check skips (or fails in CI), saying why
        import playwright.sync_api as playwright  # noqa: PLC0415
        from axe_playwright_python.sync_playwright import Axe  # noqa: PLC0415
    except ImportError:
        missing("THE ACCESSIBILITY CHECK DID NOT RUN: Playwright or axe-playwright-python is "
                "not installed (`make env`).")
    if not shutil.which(CHROMIUM):
        missing("THE ACCESSIBILITY CHECK DID NOT RUN: no chromium found (`make browser`).")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser.new_page(), Axe()
        browser.close()


def blocking(violations: list[dict]) -> list[str]:
    """axe-core's serious and critical violations, one line each with an element it found."""
    return [f"{v['id']} ({v['impact']}, {len(v['nodes'])}x): {v['nodes'][0]['html'][:120]}"
            for v in violations if v["impact"] in BLOCKING]


@pytest.mark.browser
def test_the_axe_check_fails_on_what_a_reader_could_not_use(axe_page):
    page, axe = axe_page
    page.set_content('<html lang="en"><head><title>t</title></head><body><main>'
                     '<img src="data:image/png;base64,iVBORw0KGgo=">'
                     '<p style="color:#eee;background:#fff">faint</p></main></body></html>')
    found = blocking(axe.run(page).response["violations"])
    assert {line.split(" ")[0] for line in found} >= {"image-alt", "color-contrast"}, found


@pytest.mark.slow
@pytest.mark.browser
def test_no_page_has_a_serious_or_critical_accessibility_violation(quick_project, site,
                                                                   axe_page):
    page, axe = axe_page
    problems = []
    for path in pages(quick_project):
        rel = path.relative_to(quick_project / "_build" / "html").as_posix()
        page.goto(site + rel, wait_until="load")
        problems += [f"{rel}: {line}" for line in blocking(axe.run(page).response["violations"])]
    assert len(pages(quick_project)) >= 8, "the check looked at too few pages"
    assert not problems, "\n".join(problems)

"""The notes and the manual state no measured figure that the results files do not hold."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT

RESULTS = ROOT / "bench" / "results"
# A measured figure: a percentage, seconds or MiB, as the generated tables write them.
FIGURE = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?\s?(?:%|s\b|MiB)")
BLOCK = re.compile(r"<!-- (\w+):start -->.*?<!-- \1:end -->", re.S)
PAGES = [ROOT / "bench" / "NOTES.md", ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def figures(text: str) -> set[str]:
    """Every measured figure in `text`, outside the generated blocks, in one spelling."""
    return {re.sub(r"\s", " ", m) for m in FIGURE.findall(BLOCK.sub("", text))}


def recorded() -> set[str]:
    """Every figure the generated tables hold."""
    return set().union(*(figures(p.read_text()) for p in RESULTS.glob("*.md")))


# Settings and rules of thumb, not measurements.
NOT_MEASURED = {"95 %", "0 %", "100 %"}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_figure_a_page_states_is_in_a_results_table(page):
    stray = figures(page.read_text()) - recorded() - NOT_MEASURED
    assert not stray, f"{page.relative_to(ROOT)} states figures no results table holds: {stray}"


def test_the_figure_check_can_fail():
    assert figures("the CNN took 293 s and reached 93.75 %") == {"293 s", "93.75 %"}
    assert figures("<!-- bench:start -->\n93.75 %\n<!-- bench:end -->") == set()
    assert "1,071 s" in figures("the report took 1,071 s")

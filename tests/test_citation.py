"""The study's BibTeX entry is written from CITATION.cff and parses; the original study's is the
book's own."""

from __future__ import annotations

import pytest
import yaml
from conftest import ROOT
from pybtex.database import parse_string

from fmnist import citation


def parse_one(bibtex: str):
    entries = parse_string(bibtex, "bibtex").entries
    assert len(entries) == 1, bibtex
    return next(iter(entries.items()))


def test_the_studys_entry_parses_and_says_what_the_citation_file_says():
    cff = citation.load_citation(ROOT / citation.CITATION_FILE)
    key, entry = parse_one(citation.study_bibtex(cff, 2026, "Results of the run of 2026-12-01"))
    assert key == "fmnistreport2026" and entry.type == "software"
    assert entry.fields["title"] == "{" + cff["title"] + "}"
    assert entry.fields["url"] == cff["repository-code"]
    assert entry.fields["year"] == "2026" and entry.fields["license"] == "MIT"
    assert [str(p) for p in entry.persons["author"]] == ["{fmnist-report contributors}"]
    assert "2026-12-01" in entry.fields["note"]


def test_people_special_characters_and_a_release_date(tmp_path):
    cff = {"title": "Models & means_2", "repository-code": "https://github.com/a/b_c",
           "date-released": "2025-03-04", "version": "1.2",
           "authors": [{"family-names": "Curie", "given-names": "Marie"},
                       {"name": "The Lab"}]}
    key, entry = parse_one(citation.study_bibtex(cff, 2026))
    assert key == "models2025", "a release date wins over the run's year"
    assert entry.fields["title"] == r"{Models \& means\_2}"
    assert entry.fields["url"] == "https://github.com/a/b_c", "addresses are never escaped"
    assert [str(p) for p in entry.persons["author"]] == ["Curie, Marie", "{The Lab}"]
    assert entry.fields["version"] == "1.2" and "note" not in entry.fields


@pytest.mark.parametrize("change, message", [
    ({"title": None}, "no `title`"),
    ({"repository-code": ""}, "no `repository-code`"),
    ({"authors": [{"affiliation": "x"}]}, "author 1 has neither"),
])
def test_a_citation_file_missing_what_an_entry_needs_is_named(tmp_path, change, message):
    cff = yaml.safe_load((ROOT / citation.CITATION_FILE).read_text())
    path = tmp_path / "CITATION.cff"
    path.write_text(yaml.safe_dump({**cff, **change}))
    with pytest.raises(citation.CitationError, match=message):
        citation.load_citation(path)


def test_a_citation_file_that_is_not_yaml_is_named(tmp_path):
    path = tmp_path / "CITATION.cff"
    path.write_text("title: [unclosed\n")
    with pytest.raises(citation.CitationError, match="not readable YAML"):
        citation.load_citation(path)


def test_the_original_studys_entry_is_the_bibliographys_own():
    text = citation.bibliography_entry(ROOT / citation.BIBLIOGRAPHY, citation.ORIGINAL_KEY)
    key, entry = parse_one(text)
    whole = parse_string((ROOT / citation.BIBLIOGRAPHY).read_text(), "bibtex")
    assert key == citation.ORIGINAL_KEY
    assert entry.fields == whole.entries[citation.ORIGINAL_KEY].fields
    assert text in (ROOT / citation.BIBLIOGRAPHY).read_text()


def test_an_entry_the_bibliography_lacks_or_leaves_open_is_named(tmp_path):
    with pytest.raises(citation.CitationError, match="no entry `nobody1999`"):
        citation.bibliography_entry(ROOT / citation.BIBLIOGRAPHY, "nobody1999")
    broken = tmp_path / "refs.bib"
    broken.write_text("@misc{open2020,\n  title = {never closed\n")
    with pytest.raises(citation.CitationError, match="not closed"):
        citation.bibliography_entry(broken, "open2020")

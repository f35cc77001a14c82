"""Citing the study: its BibTeX entry, written from `CITATION.cff` when the site is built, and the
original study's entry, taken as it stands in the book's bibliography."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

CITATION_FILE = "CITATION.cff"
BIBLIOGRAPHY = Path("book") / "references.bib"
ORIGINAL_KEY = "original2025"
# BibTeX's special characters in text fields (URLs are written as they are).
_SPECIAL = re.compile(r"([&%$#_])")


class CitationError(ValueError):
    """The citation file or the bibliography cannot give an entry; the message says which key."""


def load_citation(path: Path) -> dict[str, Any]:
    """`CITATION.cff`, checked for what a BibTeX entry needs: a title, authors (each with a
    `name` or `family-names`) and the repository's address."""
    try:
        cff = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise CitationError(f"{path} is not readable YAML: {err}") from err
    if not isinstance(cff, dict):
        raise CitationError(f"{path} is not a citation file (a mapping of keys)")
    for key in ("title", "authors", "repository-code"):
        if not cff.get(key):
            raise CitationError(f"{path} has no `{key}`: the study's BibTeX entry needs it")
    for i, author in enumerate(cff["authors"]):
        if not isinstance(author, dict) or not (author.get("name") or
                                                author.get("family-names")):
            raise CitationError(f"{path}: author {i + 1} has neither `name` nor `family-names`")
    return cff


def _text(value: Any) -> str:
    return _SPECIAL.sub(r"\\\1", str(value))


def _author(author: dict[str, str]) -> str:
    if author.get("family-names"):
        given = author.get("given-names")
        return _text(f"{author['family-names']}, {given}" if given else author["family-names"])
    return "{" + _text(author["name"]) + "}"  # an organisation: never split into names


def study_bibtex(cff: dict[str, Any], year: int, note: str | None = None) -> str:
    """The study's `@software` entry (as GitHub's "Cite this repository" writes one), for the
    results of a run in `year`; `note` says which run."""
    released = cff.get("date-released")
    year = int(str(released)[:4]) if released else year
    first_word = re.split(r"[\s:]+", str(cff["title"]).strip())[0]
    key = re.sub(r"[^A-Za-z0-9]", "", first_word).lower() + str(year)
    fields = [("author", " and ".join(_author(a) for a in cff["authors"])),
              ("title", "{" + _text(cff["title"]) + "}"),
              ("year", str(year)), ("url", str(cff["repository-code"]))]
    fields += [(k, _text(cff[k])) for k in ("version", "license") if cff.get(k)]
    if cff.get("doi"):
        fields.append(("doi", str(cff["doi"])))
    if note:
        fields.append(("note", _text(note)))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@software{{{key},\n{body}\n}}"


def bibliography_entry(path: Path, key: str) -> str:
    """The entry `key` of a BibTeX file, exactly as written there."""
    text = path.read_text(encoding="utf-8")
    start = re.search(r"@\w+\s*\{\s*" + re.escape(key) + r"\s*,", text)
    if start is None:
        raise CitationError(f"{path} has no entry `{key}`")
    depth = 0
    for end in range(text.index("{", start.start()), len(text)):
        depth += {"{": 1, "}": -1}.get(text[end], 0)
        if depth == 0:
            return text[start.start():end + 1]
    raise CitationError(f"{path}: the entry `{key}` is not closed (unbalanced braces)")

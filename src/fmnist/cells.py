"""The chapters' generated cells: the parameters cell, written from the schema (`schema`) and
never typed by hand, and the one way to rewrite a tagged cell (the setup cell's writer,
`launch`, uses it too).

`python -m fmnist.cells` rewrites the parameters cells; a test fails when a committed cell
differs from what this writes.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import nbformat

from fmnist.chapters import notebooks
from fmnist.paths import project_root
from fmnist.schema import READS, SCHEMAS, SharedParams, reads_key, received

PARAMETERS_TAG = "parameters"
HEADER = "# Parameters (papermill replaces these; `fmnist report` passes a profile's values)."


def _annotation(tp: Any) -> str:
    """A type hint as the cell writes it: one papermill can read, quoted where it needs
    `typing` names (papermill parses the cell; the kernel evaluates the plain ones)."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) is list:
        return f"list[{_annotation(typing.get_args(tp)[0])}]"
    if type(None) in typing.get_args(tp) and len(args) == 1:
        return f'"Optional[{_annotation(args[0])}]"'
    return getattr(tp, "__name__", str(tp))


def _lines(schema: type, instance: Any) -> list[str]:
    hints = typing.get_type_hints(schema)
    return [f"{f.name}: {_annotation(hints[f.name])} = {getattr(instance, f.name)!r}  "
            f"# {f.metadata['help']}" for f in dataclasses.fields(schema)]


def parameters_source(chapter: str) -> str:
    """The parameters cell of `chapter`: shared keys, its section's keys with their defaults and
    help, and one mapping per section it reads (`schema.READS`)."""
    lines = [HEADER, *_lines(SharedParams, SharedParams()),
             *_lines(SCHEMAS[chapter], SCHEMAS[chapter]())]
    lines += [f"{reads_key(dep)}: dict = "
              f"{received(chapter, dep, dataclasses.asdict(SCHEMAS[dep]()))!r}  "
              f"# the profile's {dep} section" for dep in READS.get(chapter, ())]
    return "\n".join(lines)


def _tagged(cells: Iterable[Any], tag: str) -> list[Any]:
    return [c for c in cells if tag in c.metadata.get("tags", [])]


def tagged_sources(path: Path, tag: str) -> list[str]:
    """The code of every cell tagged `tag` in the notebook at `path`."""
    return [c.source for c in _tagged(nbformat.read(path, as_version=4).cells, tag)]


def write_tagged_cells(notebooks: Iterable[Path], tag: str, source: Callable[[Path], str]
                       ) -> list[Path]:
    """Give the one cell tagged `tag` of each notebook the code `source(path)`, writing only
    the notebooks that change; return them. `ValueError` when a notebook has not exactly one
    such cell."""
    changed = []
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        cells = _tagged(nb.cells, tag)
        if len(cells) != 1:
            raise ValueError(f"{path} must have exactly one cell tagged `{tag}`")
        text = source(path)
        if cells[0].source != text:
            cells[0].source = text
            nbformat.write(nb, path)
            changed.append(path)
    return changed


def write_parameter_cells(notebooks: Iterable[Path]) -> list[Path]:
    """Rewrite the cell tagged `parameters` of each chapter from the schema; return those
    changed. A chapter's slug is its file name after the number (`04_cnn.ipynb`: `cnn`)."""
    return write_tagged_cells(notebooks, PARAMETERS_TAG,
                              lambda path: parameters_source(path.stem.split("_", 1)[1]))


def main() -> None:
    """`python -m fmnist.cells`: rewrite every chapter's parameters cell in `book/`."""
    changed = write_parameter_cells(notebooks(project_root()))
    print("\n".join(f"rewrote {p.name}" for p in changed) or "every parameters cell is current")


if __name__ == "__main__":
    main()

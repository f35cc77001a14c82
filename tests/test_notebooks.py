"""The committed chapters: no outputs, one parameters cell matching the schema, no logic."""

from __future__ import annotations

import ast
import dataclasses
import re
import shutil

import nbformat
import pytest
from conftest import ROOT

from fmnist import cells, schema
from fmnist.chapters import notebooks

NOTEBOOKS = notebooks(ROOT)


def code_cells(path):
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def test_every_chapter_exists_in_order():
    assert [p.name for p in NOTEBOOKS] == ["01_data.ipynb", "02_baseline.ipynb", "03_dense.ipynb",
                                           "04_cnn.ipynb", "05_tuning.ipynb",
                                           "06_comparison.ipynb"]
    assert all(p.is_file() for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_has_no_outputs(path):
    for cell in code_cells(path):
        assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_one_parameters_cell_with_schema_defaults(path):
    slug = path.stem.split("_", 1)[1]
    cells = [c for c in code_cells(path) if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    values = {}
    for node in ast.parse(cells[0].source).body:
        assert isinstance(node, ast.AnnAssign), "the parameters cell holds typed assignments only"
        values[node.target.id] = ast.literal_eval(node.value)
    expected = {**dataclasses.asdict(schema.SharedParams()),
                **dataclasses.asdict(schema.SCHEMAS[slug]()),
                **{schema.reads_key(dep): schema.received(
                    slug, dep, dataclasses.asdict(schema.SCHEMAS[dep]()))
                   for dep in schema.READS.get(slug, ())}}
    assert values == expected
    every_line_commented = all("#" in line for line in cells[0].source.splitlines()[1:])
    assert every_line_commented


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_parameters_cell_is_the_one_generated_from_the_schema(path):
    cell = next(c for c in code_cells(path) if "parameters" in c.metadata.get("tags", []))
    assert cell.source == cells.parameters_source(path.stem.split("_", 1)[1]), (
        f"{path.name}: the parameters cell drifted from the schema; run `python -m fmnist.cells`")


def test_writing_the_cells_repairs_a_drifted_one(tmp_path):
    copy = tmp_path / "04_cnn.ipynb"
    shutil.copy(ROOT / "book" / "04_cnn.ipynb", copy)
    nb = nbformat.read(copy, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    cell.source = cell.source.replace("epochs: int = 15", "epochs: int = 12")
    nbformat.write(nb, copy)
    assert cells.write_parameter_cells([copy]) == [copy]
    assert cells.write_parameter_cells([copy]) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_functions_or_classes_defined_in_chapters(path):
    for cell in code_cells(path):
        for node in ast.walk(ast.parse(cell.source)):
            assert not isinstance(node, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef)


# A measured figure typed into prose goes stale at the next run: percentages and seconds in a
# chapter's markdown must come from its results (generated cells). The 95 % of the confidence
# intervals is a method's setting, not a result.
TYPED_FIGURE = re.compile(r"\b\d[\d.,]*\s?(%|s\b|seconds|minutes)")


def typed_figures(text: str) -> list[str]:
    return [m.group(0) for m in TYPED_FIGURE.finditer(text) if not m.group(0).startswith("95 ")]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_measured_figure_is_typed_into_a_chapters_prose(path):
    cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"]
    typed = [t for c in cells for t in typed_figures(c.source)]
    assert typed == [], f"{path.name}: typed figures {typed}"


def test_the_typed_figure_check_can_fail():
    assert typed_figures("reached 91.75 % in 366 s") == ["91.75 %", "366 s"]
    assert typed_figures("a 95 % Wilson score interval over the 10,000 test images") == []

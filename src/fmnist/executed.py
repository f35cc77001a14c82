"""An executed chapter readied for the site: parameter cells hidden, library start-up noise
dropped from its outputs, and a closing line saying when, how long and with what it ran."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import nbformat

from fmnist.console import is_noise
from fmnist.environment import machine_description
from fmnist.params import Profile

HIDDEN_TAGS = ("parameters", "injected-parameters")


def hide_parameter_cells(nb) -> None:
    """Tag the parameters cells `remove-cell` (papermill drops extra tags on every run)."""
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if any(t in tags for t in HIDDEN_TAGS) and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]


def drop_noise_outputs(nb) -> None:
    """Remove TensorFlow's and ipykernel's start-up lines from the notebook's stderr outputs
    (the kernel captures them from its file descriptors); real warnings stay on the page."""
    for cell in nb.cells:
        kept = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                lines = [line for line in output.text.splitlines(keepends=True)
                         if not is_noise(line)]
                if not "".join(lines).strip():
                    continue
                output.text = "".join(lines)
            kept.append(output)
        if cell.cell_type == "code":
            cell.outputs = kept


def append_run_note(nb, seconds: float, profile: Profile) -> None:
    """Add a closing markdown cell with the chapter's run time and the profile it ran with."""
    when = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    nb.cells.append(nbformat.v4.new_markdown_cell(
        f"*This chapter ran in {seconds:.1f} s on {when}, profile `{profile.name}` "
        f"(parameters hash `{profile.digest()}`), on {machine_description()}.*"))


def finish_notebook(path: Path, seconds: float, profile: Profile) -> None:
    """Ready an executed chapter for the site, reading and writing the notebook once."""
    nb = nbformat.read(path, as_version=4)
    hide_parameter_cells(nb)
    drop_noise_outputs(nb)
    append_run_note(nb, seconds, profile)
    nbformat.write(nb, path)

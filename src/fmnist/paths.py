"""Where the project and its outputs are; every output path stays inside the project."""

from __future__ import annotations

import re
from pathlib import Path

MARKERS = ("_toc.yml", "book")
STAMP_FILE = "stamp.json"  # written by the runner when a chapter finishes (report.py)
RUN_FILE = "run.json"  # the last run's record: timings, parameters, versions (report.py)
NOTEBOOKS_DIR = "notebooks"  # the executed chapters, in the results folder (report.py)


class PathError(ValueError):
    """An output path points outside the project."""


def project_root(start: str | Path | None = None) -> Path:
    """The nearest folder at or above `start` (default: cwd) holding `_toc.yml` and `book/`."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if all((folder / m).exists() for m in MARKERS):
            return folder
    raise PathError(f"no fmnist-report project at or above {here}: run the command in the "
                    "project's folder (the one with _toc.yml and book/), or name it with --root, "
                    "e.g. `fmnist --root ~/fmnist-report report`.")


# A results folder's name reaches notebook cells, pages and shell-quoted commands: plain names
# only (letters of any script, digits, spaces, `.`, `+`, `-`, `_`).
PLAIN_NAME = re.compile(r"[\w .+-]+")


def results_path(root: Path, results_dir: str | Path, *parts: str) -> Path:
    """`root/results_dir/parts...`, refusing a folder named with anything but plain characters
    and anything that resolves outside the project."""
    named = Path(results_dir).parts[1 if Path(results_dir).anchor else 0:]
    odd = [p for p in named if not PLAIN_NAME.fullmatch(p)]
    if odd:
        raise PathError(f"results_dir {str(results_dir)[:80]!r} holds characters a folder "
                        "name here may not (quotes, `$`, `;`, `<`, control characters ...): use "
                        "letters, digits, spaces, `.`, `+`, `-` and `_`, e.g. `results`.")
    path = (root / results_dir).joinpath(*parts).resolve()
    if not path.is_relative_to(root.resolve()):
        raise PathError(f"results_dir `{results_dir}` resolves to {path}, outside the project "
                        f"{root}. Use a folder inside the project, e.g. `results`.")
    return path


def start_chapter(results_dir: str | Path, chapter: str, root: Path | None = None) -> Path:
    """The results folder of a chapter that is starting, created if needed; its stamp removed.

    Every chapter calls this first, so however it is run (the runner, plain papermill,
    JupyterLab, Colab) it no longer looks fresh: the next `fmnist report` reruns it and every
    chapter that depends on it, and the site never mixes its new results with older ones.
    """
    folder = results_path(root or project_root(), results_dir, chapter)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / STAMP_FILE).unlink(missing_ok=True)
    return folder

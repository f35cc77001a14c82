"""Write a generated block into a page (the README by default) between `<!-- NAME:start -->` and
`<!-- NAME:end -->`, and a benchmark's measurements into the table beside them; record them,
and read them back from a benchmark's child process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def replace_block(name: str, text: str, readme: Path = README) -> None:
    """Replace the README's block `name` with `text` (the markers stay)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    content = readme.read_text()
    if start not in content or end not in content:
        raise SystemExit(f"{readme} has no {start} ... {end} block to fill")
    head, rest = content.split(start, 1)
    readme.write_text(f"{head}{start}\n{text}{end}{rest.split(end, 1)[1]}")


def read_rows(results: Path) -> list[dict]:
    """The measurements saved in `results` (JSON lines)."""
    return [json.loads(line) for line in results.read_text().splitlines() if line.strip()]


def record(results: Path, row: dict) -> None:
    """Print one measurement and append it to `results` at once, so an interrupted benchmark
    keeps everything it finished."""
    print(json.dumps(row), flush=True)
    with results.open("a") as f:
        f.write(json.dumps(row) + "\n")


def child_row(command: list[str], what: str) -> dict:
    """Run a benchmark's child process (a model trained in a process of its own), which prints
    its row as JSON on its last line; the row. Exits naming `what` if the child failed."""
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"{what} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def provenance(rows: list[dict], command: str) -> str:
    """A table's last line: the machines and dates of its rows, and the command."""
    machines = ", ".join(sorted({r["machine"] for r in rows}))
    dates = ", ".join(sorted({r["date"] for r in rows}))
    return f"\nMachine: {machines}; {dates}. Command: `{command}`."


def render(results: Path, table) -> str:
    """Render the measurements in `results` (JSON lines) with `table` into the `.md` beside
    them (the README and the notes link to it); return the markdown."""
    md = table(read_rows(results))
    results.with_suffix(".md").write_text(md)
    return md

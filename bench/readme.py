"""Write a generated block into a page (the README by default) between `<!-- NAME:start -->` and
`<!-- NAME:end -->`, and a benchmark's measurements into the table beside them."""

from __future__ import annotations

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


def render(results: Path, table) -> str:
    """Render the measurements in `results` (JSON lines) with `table` into the `.md` beside
    them (the README and the notes link to it); return the markdown."""
    import json

    rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    md = table(rows)
    results.with_suffix(".md").write_text(md)
    return md

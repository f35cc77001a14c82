"""Benchmark: each chapter's peak memory, run as a reader runs it in Binder or Jupyter.

Every chapter of a profile (default: params/default.yaml, the notebooks' own defaults) is
executed with papermill, in order, in a scratch copy of the project, each in its own process; the
peak resident memory of that chapter's kernel is read from the kernel's rusage once it exits.
mybinder.org guarantees 1 GB and allows at most 2 GB per session, so the table says which
chapters fit.

Usage: python bench/memory.py [--params params/default.yaml] [--set KEY=VALUE ...] [--table]
Writes bench/results/memory.json, bench/results/memory.md and the memory table of docs/running.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from readme import replace_block

from fmnist.chapters import PIPELINE
from fmnist.environment import machine_description, versions
from fmnist.params import load_profile

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results"
BINDER_GUARANTEED_MIB, BINDER_LIMIT_MIB = 1024, 2048

# Runs one chapter; prints the largest finished child's (the kernel's) peak RSS in KiB.
CHILD = """
import json, resource, sys
import papermill as pm
book, notebook, out, values = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
pm.execute_notebook(f"{book}/{notebook}", out, parameters=values, cwd=book,
                    kernel_name="python3", progress_bar=False)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def measure(params: Path, overrides: list[str]) -> list[dict]:
    profile = load_profile(params, overrides)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "proj"
        project.mkdir()
        for name in ("_config.yml", "_toc.yml"):
            shutil.copy(ROOT / name, project)
        for folder in ("book", "params"):
            shutil.copytree(ROOT / folder, project / folder)
        for ch in PIPELINE:
            values = profile.chapter(ch.slug)
            proc = subprocess.run([sys.executable, "-c", CHILD, str(project / "book"),
                                   ch.notebook, str(project / ch.notebook), json.dumps(values)],
                                  capture_output=True, text=True)
            if proc.returncode:
                sys.exit(f"chapter {ch.slug} failed:\n{proc.stderr[-3000:]}")
            mib = int(proc.stdout.split()[-1]) / 1024
            rows.append({"chapter": ch.slug, "peak_rss_mib": round(mib)})
            print(f"{ch.slug:<11} {mib:7.0f} MiB", flush=True)
    return rows


def table(record: dict) -> str:
    lines = ["| chapter | peak memory of its kernel | within Binder's 1 GB guarantee | "
             "within Binder's 2 GB limit |", "|---|---|---|---|"]
    for row in record["chapters"]:
        mib = row["peak_rss_mib"]
        lines.append(f"| {row['chapter']} | {mib:,} MiB | "
                     f"{'yes' if mib <= BINDER_GUARANTEED_MIB else 'no'} | "
                     f"{'yes' if mib <= BINDER_LIMIT_MIB else 'no'} |")
    lines.append("")
    lines.append(f"Profile `{record['profile']}`; {record['machine']}; {record['date']}. "
                 "Command: `python bench/memory.py`.")
    return "\n".join(lines) + "\n"


def write(record: dict) -> str:
    """The table of `record`, written to memory.md and docs/running.md's block; returned."""
    md = table(record)
    (OUT / "memory.md").write_text(md)
    replace_block("memory", md, ROOT / "docs" / "running.md")
    return md


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=ROOT / "params" / "default.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--table", action="store_true",
                        help="only rewrite the tables from the recorded memory.json")
    args = parser.parse_args()
    if args.table:
        print(write(json.loads((OUT / "memory.json").read_text())))
        return
    rows = measure(args.params, args.overrides)
    record = {"date": dt.date.today().isoformat(), "profile": args.params.stem,
              "overrides": args.overrides, "machine": machine_description(),
              "versions": versions(), "chapters": rows}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "memory.json").write_text(json.dumps(record, indent=2) + "\n")
    print(write(record))


if __name__ == "__main__":
    main()

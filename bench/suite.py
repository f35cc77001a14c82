"""Benchmark: how long the test suite takes on a fresh clone, and how much of the machine it uses.

The committed state of this checkout (HEAD) is cloned into a scratch folder and its whole suite
runs there as `make test` runs it (`pytest`: every core, slow tests included), with this
interpreter and the clone's own sources. Recorded: wall seconds, the suite's CPU seconds (user
and system, every process it started), how many tests passed and failed, the commit, the
machine and the date. Nothing else should run on the machine meanwhile: this kind of machine's
speed moves by a fifth from one hour to the next, so repeat it to see the spread.

Usage: python bench/suite.py [--table]
Appends to bench/results/suite.jsonl and writes bench/results/suite.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from readme import provenance, record, render

from fmnist.environment import machine_description

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "suite.jsonl"
COMMAND = "python bench/suite.py"
GOAL_SECONDS = 8 * 60


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def count(summary: str, outcome: str) -> int:
    """How many tests had `outcome` in pytest's last line ("612 passed, 2 failed in ...")."""
    found = re.search(rf"(\d+) {outcome}", summary)
    return int(found.group(1)) if found else 0


def run_suite() -> dict:
    """Clone HEAD, run its suite, and return the measurement."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="fmnist-suite-") as scratch:
        clone = Path(scratch) / "clone"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        env = {**os.environ, "PYTHONPATH": str(clone / "src")}  # the clone's code, not ours
        cpu, start = children_cpu_seconds(), time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                              cwd=clone, env=env, capture_output=True, text=True)
        wall, cpu = time.perf_counter() - start, children_cpu_seconds() - cpu
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    return {"date": dt.date.today().isoformat(), "machine": machine_description(),
            "commit": commit, "wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1),
            "passed": count(summary, "passed"), "failed": count(summary, "failed"),
            "errors": count(summary, "error"), "exit": proc.returncode}


def table(rows: list[dict]) -> str:
    lines = ["| date | commit | wall | CPU (user + system) | cores busy on average | tests "
             "passed | failed | within 8 minutes |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        minutes, seconds = divmod(round(r["wall_seconds"]), 60)
        lines.append(f"| {r['date']} | `{r['commit']}` | {minutes} min {seconds:02d} s | "
                     f"{r['cpu_seconds']:,.0f} s | {r['cpu_seconds'] / r['wall_seconds']:.2f} | "
                     f"{r['passed']} | {r['failed'] + r['errors']} | "
                     f"{'yes' if r['wall_seconds'] < GOAL_SECONDS else 'no'} |")
    return "\n".join(lines) + "\n" + provenance(rows, COMMAND) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", action="store_true", help="only re-render the table")
    args = parser.parse_args()
    if not args.table:
        row = run_suite()
        record(RESULTS, row)
        if row["exit"] != 0:
            print(f"the suite failed (exit {row['exit']}); recorded all the same",
                  file=sys.stderr)
    print(render(RESULTS, table))


if __name__ == "__main__":
    main()

"""Benchmark: what each lever of the report's schedule bought, each measured alone, and whether
the schedule moves any number.

Four forced runs of the default report (cold search) on one machine:
- *two threads, one by one*: every chapter with the libraries' default thread counts (the two
  cores), in order, the search inside the tuning chapter: `results/levers_before.json`, the
  benchmark record kept from before thread counts became parameters;
- *own threads, one by one*: the chapters' own thread counts (the profile's `threads` keys),
  `--jobs 1`, the tuning chapter searching itself: run here, in `results-sequential/`;
- *own threads, side by side, equal priority*: `--jobs 2`, the search run ahead beside the
  model chapters, every chapter at the command's priority (`FMNIST_BACKGROUND_NICENESS=0`): run
  here, in `results-equal/`;
- *own threads, side by side*: the same, the chapters off the longest chain at a lower priority
  (the default): `bench/run.py`'s report (`results/latest.json`).
Each differs from the one before in one lever: thread counts, the schedule, priorities. All but
the first must agree to the last digit (each model's test predictions, by digest, and its
accuracies).

Usage: python bench/levers.py [--only sequential|equal] [--table]   (run `python bench/run.py`
       first; --only reruns one variant and keeps the other's saved figures)
Writes bench/results/levers.json and bench/results/levers.md.
"""

from __future__ import annotations

import argparse
import json
import time

from run import OUT, machine, run_report

from fmnist.chapters import MODELS
from fmnist.schedule import NICENESS_VARIABLE

BEFORE, SIDE_BY_SIDE, RECORD = OUT / "levers_before.json", OUT / "latest.json", OUT / "levers.json"
SEQUENTIAL_DIR, EQUAL_DIR = "results-sequential", "results-equal"
COLUMNS = (("two threads, one by one", "before"), ("own threads, one by one", "sequential"),
           ("side by side, equal priority", "equal"),
           ("side by side, background priority", "side_by_side"))
STEPS = ("data", "baseline", "dense", "cnn", "search", "tuning", "comparison")


def same_numbers(a: dict, b: dict) -> dict[str, bool]:
    """Per model: the same test predictions (digest), test and validation accuracy."""
    keys = ("test_predictions_sha256", "accuracy", "val_accuracy")
    return {slug: all(a["models"][slug].get(k) == b["models"][slug].get(k) for k in keys)
            for slug in MODELS}


def _seconds(run: dict, step: str) -> str:
    value = run["chapters"].get(step)
    return "–" if value is None else f"{value:.0f} s"


def markdown(record: dict) -> str:
    """The four runs side by side, chapter by chapter, and what each lever bought."""
    runs = {key: record[key] for _, key in COLUMNS}
    lines = ["| step | " + " | ".join(name for name, _ in COLUMNS) + " |",
             "|---|" + "---|" * len(COLUMNS)]
    for step in STEPS:
        lines.append(f"| {step} | " + " | ".join(_seconds(runs[k], step) for _, k in COLUMNS)
                     + " |")
    lines.append("| whole report, site included (wall) | " + " | ".join(
        f"**{runs[k]['report_seconds']:,.0f} s**" for _, k in COLUMNS) + " |")
    cpu = [runs[k].get("cpu_use") for _, k in COLUMNS]
    lines.append("| CPU use (of 200 %) | " + " | ".join(
        "–" if c is None else f"{100 * c:.0f} %" for c in cpu) + " |")
    before, seq, equal, par = (runs[k]["report_seconds"] for _, k in COLUMNS)
    same = {slug: all(ok[slug] for ok in record["same_numbers"].values()) for slug in MODELS}
    notes = [
        f"\nThread counts as parameters (one by one, same order): {before - seq:,.0f} s less "
        f"({before:,.0f} s to {seq:,.0f} s). Chapters side by side with the search run ahead "
        f"(same thread counts, equal priority): {seq - equal:,.0f} s less ({seq:,.0f} s to "
        f"{equal:,.0f} s). The chapters off the longest chain at a lower priority (same "
        f"schedule): {equal - par:,.0f} s less ({equal:,.0f} s to {par:,.0f} s).",
        "Neither the schedule nor the priorities moved a number: every model's test predictions "
        "and accuracies are identical in the last three runs." if all(same.values()) else
        "**Numbers moved** for: " + ", ".join(s for s, ok in same.items() if not ok) + ".",
        "A step's seconds are its own wall time; side by side they include sharing the machine. "
        "The search step exists only side by side (one by one, the tuning chapter's seconds "
        "include its search).",
        f"Machine: {record['machine']['cpu']}; {record['date']}. Command: "
        f"`{record['command']}` (before: `{record['before_command']}`, "
        f"{record['before_date']}).",
    ]
    return "\n".join(lines) + "\n" + "\n".join(notes) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", action="store_true", help="only re-render the saved figures")
    parser.add_argument("--only", choices=("sequential", "equal"),
                        help="rerun this variant alone, keeping the other's saved figures")
    args = parser.parse_args()
    if args.table:
        record = json.loads(RECORD.read_text())
    else:
        before = json.loads(BEFORE.read_text())
        side = json.loads(SIDE_BY_SIDE.read_text())
        if side["machine"]["cpu"] != machine()["cpu"]:
            raise SystemExit("latest.json was measured on another machine: run bench/run.py here")
        saved = json.loads(RECORD.read_text()) if args.only else {}
        runs = {
            "sequential": lambda: run_report("params/default.yaml", SEQUENTIAL_DIR, jobs=1),
            "equal": lambda: run_report("params/default.yaml", EQUAL_DIR,
                                        jobs=side["report"]["jobs"],
                                        env={NICENESS_VARIABLE: "0"})}
        measured = {key: (run() if args.only in (None, key) or key not in saved
                          else saved[key]) for key, run in runs.items()}
        record = {"machine": machine(), "date": time.strftime("%Y-%m-%d"),
                  "command": "python bench/levers.py" + (f" --only {args.only}" if args.only
                                                         else ""),
                  "before_command": before["command"], "before_date": before["date"],
                  "before": before["report"], **measured, "side_by_side": side["report"],
                  "same_numbers": {key: same_numbers(run, side["report"])
                                   for key, run in measured.items()}}
        RECORD.write_text(json.dumps(record, indent=2))
    table = markdown(record)
    (OUT / "levers.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()

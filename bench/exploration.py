"""What designing the tuning space cost: the CPU time of the measurements in `bench/results/`
that chose the search's keys and candidates, beside the default report's own time.

The frontier (what each recipe piece buys), the fidelity study, the cost model, the algorithm
and parallel-search comparisons are one-off explorations; the report's search re-finds what they
showed inside the report. Where a row recorded wall time only, wall time counts (the machine's
two cores ran one training at a time).

Usage: python bench/exploration.py   renders results/exploration.md from the results files, and
       results/exploration.json (the total the tuning chapter quotes)
"""

from __future__ import annotations

import json
from pathlib import Path

from readme import read_rows

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def rows(name: str) -> list[dict]:
    return read_rows(RESULTS / name)


def costs() -> dict[str, float]:
    """CPU seconds of each exploration, from its committed measurements."""
    fidelity = rows("fidelity.jsonl")
    return {
        "`bench/frontier.py`: the recipe's pieces, one variant at a time":
            sum(r["train_cpu_seconds"] for r in rows("frontier.jsonl")),
        "`bench/fidelity.py`: the search's short trials against full training":
            sum(f.get("cpu_seconds", f["seconds"]) for r in fidelity for f in r["fidelities"])
            + sum(r["retrained"]["seconds"] for r in fidelity),
        "`bench/cnn_step_cost.py`: the cost model (per 10,000 images, as measured)":
            sum(r["cpu_seconds_per_10k"] for r in rows("cnn_step_cost.jsonl")),
        "`bench/tuner_algorithms.py`: random, Hyperband, Bayesian, their picks retrained":
            sum(r.get("cpu_seconds") or r.get("seconds") or 60 * r["cpu_minutes"]
                for r in rows("tuner_algorithms.jsonl")),
        "`bench/search_parallel.py`: one process or two workers":
            sum(r["seconds"] for r in rows("search_parallel.jsonl")),
    }


def table() -> str:
    spent = costs()
    report = json.loads((RESULTS / "latest.json").read_text()).get("report", {})
    lines = ["| exploration | CPU seconds |", "|---|---|"]
    lines += [f"| {name} | {seconds:,.0f} |" for name, seconds in spent.items()]
    lines.append(f"| **all explorations** | **{sum(spent.values()):,.0f}** |")
    if report:
        lines.append(f"| the default report itself, once (wall seconds, `bench/run.py`) | "
                     f"{report['report_seconds']:,.0f} |")
    return "\n".join(lines) + "\n\nCommand: `python bench/exploration.py`.\n"


def main() -> None:
    md = table()
    (RESULTS / "exploration.md").write_text(md)
    spent = costs()
    record = {"cpu_seconds": spent, "total_cpu_seconds": sum(spent.values()),
              "command": "python bench/exploration.py"}
    (RESULTS / "exploration.json").write_text(json.dumps(record, indent=2) + "\n")
    print(md)


if __name__ == "__main__":
    main()

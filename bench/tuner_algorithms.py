"""Which KerasTuner algorithm gives the best validation accuracy per CPU-minute here?

Runs the default profile's search (same space, subset, trial epochs and trial budget) once per
algorithm into a scratch folder, and records the best validation accuracy, the wall and CPU
minutes, and their ratio. Needs the data chapter's split (`fmnist run data`). Rows measured before
the search space became keys of the CNN section (2026-11-25) searched the original space with the
original architecture.

Usage: python bench/tuner_algorithms.py [--params params/default.yaml] [algorithm ...]
Appends to bench/results/tuner_algorithms.jsonl.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import time
from pathlib import Path

from fmnist import train, tune
from fmnist.environment import machine_description
from fmnist.params import load_profile

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "tuner_algorithms.jsonl"


def measure(algorithm: str, params: str) -> dict:
    """One search with `algorithm` in a scratch folder; its best score and cost."""
    profile = load_profile(ROOT / params, [f"tuning.algorithm={algorithm}"])
    results = ROOT / profile.shared.results_dir
    space = dataclasses.replace(profile.sections["tuning"], overwrite=True)
    train.seed_everything(profile.shared.seed)
    scratch = ROOT / "bench" / "results" / ".tuner_scratch"  # the chapter's search stays as is
    setup = tune.prepare_search(results, profile.shared, space, profile.sections["cnn"],
                                directory=scratch)
    wall, cpu = time.perf_counter(), time.process_time()
    tune.run_search(setup, verbose=0)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rows = setup.rows()
    best = max(r["val_accuracy"] for r in rows)
    shutil.rmtree(scratch, ignore_errors=True)
    return {"algorithm": algorithm, "trials": len(rows), "best_val_accuracy": best,
            "wall_minutes": wall / 60, "cpu_minutes": cpu / 60,
            "best_val_accuracy_per_cpu_minute": best / (cpu / 60), "profile": profile.name,
            "space": space.space, "machine": machine_description(),
            "date": time.strftime("%Y-%m-%d")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params/default.yaml")
    parser.add_argument("algorithms", nargs="*", default=["random", "hyperband", "bayesian"])
    args = parser.parse_args()
    for algorithm in args.algorithms:
        row = measure(algorithm, args.params)
        print(json.dumps(row), flush=True)
        with OUT.open("a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()

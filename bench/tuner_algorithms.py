"""Which KerasTuner algorithm finds the best configuration for the default search's budget?

Runs the default profile's search (its space, subset, trial epochs and `max_trials`, which sets
Hyperband's budget too) once per algorithm and search seed into a scratch folder, the data
chapter's split fixed. Records what the chapter would retrain (the `one_se` pick among the trials
trained for the most epochs) and its search score, the best score, the configurations tried, the
epochs trained, and the CPU and wall seconds. Needs the data chapter's split (`fmnist run data`).

Rows record the space they searched; the table reads only the default profile's current space.
Rows measured before the space became the recipe's keys (2026-11-25) have no such record.

Usage: python bench/tuner_algorithms.py [--seeds 42 1 2] [algorithm ...]   appends to
       results/tuner_algorithms.jsonl
       python bench/tuner_algorithms.py --table      renders results/tuner_algorithms.md
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import time
from pathlib import Path

import numpy as np
from readme import render

from fmnist import choice, params, train, tune
from fmnist.environment import machine_description

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "tuner_algorithms.jsonl"
ALGORITHMS = ["random", "hyperband", "bayesian"]


def default_space_hash() -> str:
    profile = params.load_profile(ROOT / "params" / "default.yaml")
    return params.params_hash(profile.sections["tuning"].space)


def measure(algorithm: str, seed: int) -> dict:
    """One search with `algorithm` and `seed` in a scratch folder: its pick, best and cost."""
    profile = params.load_profile(ROOT / "params" / "default.yaml",
                                  [f"tuning.algorithm={algorithm}"])
    shared = dataclasses.replace(profile.shared, seed=seed)
    space = dataclasses.replace(profile.sections["tuning"], overwrite=True)
    results = ROOT / profile.shared.results_dir
    scratch = ROOT / "bench" / "results" / ".tuner_scratch"  # the chapter's search stays as is
    train.seed_everything(seed)
    setup = tune.prepare_search(results, shared, space, profile.sections["cnn"],
                                directory=scratch)
    wall, cpu = time.perf_counter(), time.process_time()
    tune.run_search(setup, verbose=0)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rows = setup.rows()
    # Hyperband's values say which round a trial is and which epoch a continued one starts from.
    done = [t.hyperparameters.values for t in setup.tuner.oracle.trials.values()
            if t.status == "COMPLETED"]
    shutil.rmtree(scratch, ignore_errors=True)
    pick = choice.select_trial(rows, n_val=len(setup.val[1]), rule=space.selection)
    competing = choice.competing(rows)
    return {"algorithm": algorithm, "seed": seed, "trials": len(rows),
            "configurations": sum(hp.get("tuner/round", 0) == 0 for hp in done),
            "epochs_trained": sum(hp.get("tuner/epochs", space.trial_epochs)
                                  - hp.get("tuner/initial_epoch", 0) for hp in done),
            "full_fidelity_trials": len(competing),
            "best_val_accuracy": max(r["val_accuracy"] for r in competing),
            "pick": {k: pick[k] for k in space.space}, "pick_val_accuracy": pick["val_accuracy"],
            "wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1),
            "max_trials": space.max_trials, "trial_epochs": space.trial_epochs,
            "search_subset": space.search_subset, "space": params.params_hash(space.space),
            "machine": machine_description(), "date": time.strftime("%Y-%m-%d")}


def spread(values: np.ndarray) -> str:
    """The sample standard deviation, or a dash for a single value."""
    return f"{values.std(ddof=1):.2f}" if len(values) > 1 else "–"


def table(rows: list[dict]) -> str:
    """Per algorithm, over its seeds: the pick's and the best search score, budget and cost."""
    space = default_space_hash()
    rows = [r for r in rows if r.get("space") == space]
    if not rows:
        return ("No measurement of the current search space yet: "
                "`python bench/tuner_algorithms.py`.\n")
    first = rows[0]
    lines = [f"The default search ({first['max_trials']} trials of {first['trial_epochs']} epochs "
             f"on {first['search_subset']:,} images; Hyperband: whole iterations starting about "
             "as many configurations) once per algorithm and search seed, the split fixed. "
             "Scores are validation accuracy at the search's fidelity; the pick is what the "
             "chapter would retrain (`one_se`).\n",
             "| algorithm | seeds | pick's score, mean ± sd | best score, mean ± sd | "
             "configurations (trials) | epochs trained | CPU seconds |",
             "|---|---|---|---|---|---|---|"]
    for algorithm in ALGORITHMS:
        mine = [r for r in rows if r["algorithm"] == algorithm]
        if not mine:
            continue
        pick = 100 * np.array([r["pick_val_accuracy"] for r in mine])
        best = 100 * np.array([r["best_val_accuracy"] for r in mine])
        lines.append(
            f"| {algorithm} | {', '.join(str(r['seed']) for r in mine)} | "
            f"{pick.mean():.2f} ± {spread(pick)} % | {best.mean():.2f} ± {spread(best)} % | "
            f"{np.mean([r['configurations'] for r in mine]):.0f} "
            f"({np.mean([r['trials'] for r in mine]):.0f}) | "
            f"{np.mean([r['epochs_trained'] for r in mine]):.0f} | "
            f"{np.mean([r['cpu_seconds'] for r in mine]):.0f} |")
    machines = sorted({r["machine"] for r in rows})
    dates = sorted({r["date"] for r in rows})
    lines.append(f"\nMachine: {', '.join(machines)}; {', '.join(dates)}. Command: "
                 "`python bench/tuner_algorithms.py`.")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2])
    parser.add_argument("--table", action="store_true", help="render the saved measurements")
    parser.add_argument("algorithms", nargs="*", default=ALGORITHMS)
    args = parser.parse_args()
    if not args.table:
        for seed in args.seeds:
            for algorithm in args.algorithms:
                row = measure(algorithm, seed)
                print(json.dumps(row), flush=True)
                with OUT.open("a") as f:
                    f.write(json.dumps(row) + "\n")
    print(render(OUT, table))


if __name__ == "__main__":
    main()

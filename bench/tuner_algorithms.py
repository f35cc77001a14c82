"""Which KerasTuner algorithm finds the best configuration for the default search's budget?

Runs the default profile's search (its space, subset, trial epochs and `max_trials`, which sets
Hyperband's budget too) once per algorithm and search seed into a scratch folder, the data
chapter's split fixed. Records what the chapter would retrain (the `one_se` pick among the trials
trained for the most epochs) and its search score, the best score, the distinct configurations
tried, the epochs trained, and the CPU and wall seconds. Needs the data chapter's split
(`fmnist run data`).

Rows record the space they searched; the table reads only the default profile's current space.
Rows measured before the space became the recipe's keys (2026-11-25) have no such record.

Usage: python bench/tuner_algorithms.py [--seeds 42 1 2] [algorithm ...]   appends to
       results/tuner_algorithms.jsonl
       python bench/tuner_algorithms.py --retrain    retrains the picks (appends them too)
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

from fmnist import choice, data, params, train, tune
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
            # Bayesian optimisation can propose a configuration it has already trained.
            "distinct": len({json.dumps({k: r[k] for k in space.space}) for r in rows}),
            "epochs_trained": sum(hp.get("tuner/epochs", space.trial_epochs)
                                  - hp.get("tuner/initial_epoch", 0) for hp in done),
            "full_fidelity_trials": len(competing),
            "scores": [r["val_accuracy"] for r in competing],  # in the order they were tried
            "best_val_accuracy": max(r["val_accuracy"] for r in competing),
            "pick": {k: pick[k] for k in space.space}, "pick_val_accuracy": pick["val_accuracy"],
            "wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1),
            "max_trials": space.max_trials, "trial_epochs": space.trial_epochs,
            "search_subset": space.search_subset, "space": params.params_hash(space.space),
            "machine": machine_description(), "date": time.strftime("%Y-%m-%d")}


def retrain_picks() -> None:
    """Retrain every distinct pick of the current space's searches not yet retrained, exactly as
    the tuning chapter retrains its choice (`tune.retrain`: the CNN chapter's protocol and seed,
    on the whole training split), and append its validation accuracy."""
    profile = params.load_profile(ROOT / "params" / "default.yaml")
    rows = saved_rows()
    done = {json.dumps(r["values"], sort_keys=True) for r in rows if r.get("kind") == "retrain"}
    picks = {json.dumps(r["pick"], sort_keys=True): r["pick"] for r in searches(rows)}
    cnn, shared = profile.sections["cnn"], profile.shared
    splits = data.load_splits(ROOT / shared.results_dir)
    setup = tune.SearchSetup(tuner=None, splits=splits, search_train=None,
                             val=(data.channels(splits.x_val), splits.y_val), cnn=cnn,
                             space=profile.sections["tuning"])
    for key, values in picks.items():
        if key in done:
            continue
        fit = tune.retrain(setup, tune.with_searched(cnn, values), shared.seed)
        row = {"kind": "retrain", "values": values, "val_accuracy": fit.val_accuracy,
               "seconds": round(fit.train_seconds, 1), "space": default_space_hash(),
               "machine": machine_description(), "date": time.strftime("%Y-%m-%d")}
        print(json.dumps(row), flush=True)
        with OUT.open("a") as f:
            f.write(json.dumps(row) + "\n")


def saved_rows() -> list[dict]:
    return [json.loads(line) for line in OUT.read_text().splitlines() if line.strip()]


def searches(rows: list[dict]) -> list[dict]:
    """The searches of the default profile's current space."""
    space = default_space_hash()
    return [r for r in rows if r.get("space") == space and r.get("kind") != "retrain"]


def spread(values: np.ndarray) -> str:
    """The sample standard deviation, or a dash for a single value."""
    return f"{values.std(ddof=1):.2f}" if len(values) > 1 else "–"


def half_budget(searches: list[dict]) -> str:
    """Mean best search score over the first half of each search's trials (what half the
    budget would have found), for algorithms whose every trial trains for the same epochs."""
    if any(r["algorithm"] == "hyperband" or "scores" not in r for r in searches):
        return "–"
    best = [max(r["scores"][: len(r["scores"]) // 2]) for r in searches]
    return f"{100 * np.mean(best):.2f} %"


def table(rows: list[dict]) -> str:
    """Per algorithm, over its seeds: the pick's search score and retrained validation
    accuracy, the configurations and epochs the search trained, and its CPU time."""
    retrained = {json.dumps(r["values"], sort_keys=True): r["val_accuracy"] for r in rows
                 if r.get("kind") == "retrain" and r.get("space") == default_space_hash()}
    rows = searches(rows)
    if not rows:
        return ("No measurement of the current search space yet: "
                "`python bench/tuner_algorithms.py`.\n")
    first = rows[0]
    lines = [f"The default search ({first['max_trials']} trials of {first['trial_epochs']} epochs "
             f"on {first['search_subset']:,} images; Hyperband: the whole iterations that start "
             "about as many configurations) once per algorithm and search seed, the split fixed. "
             "The pick is what the tuning chapter would retrain (`one_se`); its search score is "
             "validation accuracy at the search's fidelity, and retrained it is trained as the "
             "chapter retrains it (`--retrain`).\n",
             "| algorithm | seeds | pick's search score, mean ± sd | pick retrained, mean ± sd | "
             "best score of the first half of the trials | distinct configurations (trials) | "
             "epochs trained | CPU seconds |",
             "|---|---|---|---|---|---|---|---|"]
    for algorithm in ALGORITHMS:
        mine = [r for r in rows if r["algorithm"] == algorithm]
        if not mine:
            continue
        score = 100 * np.array([r["pick_val_accuracy"] for r in mine])
        full = [retrained.get(json.dumps(r["pick"], sort_keys=True)) for r in mine]
        full = (f"{np.mean(full) * 100:.2f} ± {spread(100 * np.array(full))} %"
                if None not in full else "not retrained")
        lines.append(
            f"| {algorithm} | {', '.join(str(r['seed']) for r in mine)} | "
            f"{score.mean():.2f} ± {spread(score)} % | {full} | {half_budget(mine)} | "
            f"{np.mean([r['distinct'] for r in mine]):.1f} "
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
    parser.add_argument("--retrain", action="store_true",
                        help="retrain the saved searches' picks not yet retrained")
    parser.add_argument("algorithms", nargs="*", default=ALGORITHMS)
    args = parser.parse_args()
    if args.retrain:
        retrain_picks()
    elif not args.table:
        for seed in args.seeds:
            for algorithm in args.algorithms:
                row = measure(algorithm, seed)
                print(json.dumps(row), flush=True)
                with OUT.open("a") as f:
                    f.write(json.dumps(row) + "\n")
    print(render(OUT, table))


if __name__ == "__main__":
    main()

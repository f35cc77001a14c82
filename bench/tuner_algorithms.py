"""Which KerasTuner algorithm finds the best configuration for the default search's budget?

Runs the default profile's search (its space, subset, trial epochs and `max_trials`, which sets
Hyperband's budget too) once per algorithm and search seed into a scratch folder. The data
chapter's split stays fixed; the seed draws the search's training subset, its configurations
and each trial's initialisation. Records what the chapter would retrain (the `one_se` pick among
the trials trained for the most epochs) and its search score, the best score, the distinct
configurations trained, the epochs trained, and the CPU and wall seconds. `--retrain` then
trains each pick as the tuning chapter retrains its choice. Needs the data chapter's split
(`fmnist run data`).

Each row records the design it measured (space, budget, CNN section); the table reads only the
rows of the default profile's current design. Rows from before the space became the recipe's
keys (2026-11-25) have no such record.

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
from readme import provenance, read_rows, record, render

from fmnist import data, params, train
from fmnist.environment import machine_description
from fmnist.tuning import selection, steps
from fmnist.tuning.space import with_searched

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "tuner_algorithms.jsonl"
ALGORITHMS = ["random", "hyperband", "bayesian"]


def default_profile(*overrides: str) -> params.Profile:
    return params.load_profile(ROOT / "params" / "default.yaml", list(overrides))


def design(profile: params.Profile) -> dict:
    """What a measurement depends on besides the algorithm and seed: the search space, its
    budget and the CNN section every trial and retrain starts from."""
    space = profile.sections["tuning"]
    return {"space": params.params_hash(space.space), "max_trials": space.max_trials,
            "trial_epochs": space.trial_epochs, "search_subset": space.search_subset,
            "cnn": params.params_hash(dataclasses.asdict(profile.sections["cnn"]))}


def measure(algorithm: str, seed: int) -> dict:
    """One search with `algorithm` and `seed` in a scratch folder: its pick, best and cost."""
    profile = default_profile(f"tuning.algorithm={algorithm}")
    shared = dataclasses.replace(profile.shared, seed=seed)
    space = dataclasses.replace(profile.sections["tuning"], overwrite=True)
    scratch = ROOT / "bench" / "results" / ".tuner_scratch"  # the chapter's search stays as is
    train.seed_everything(seed)
    setup = steps.prepare_search(ROOT / shared.results_dir, shared, space,
                                 profile.sections["cnn"], directory=scratch)
    wall, cpu = time.perf_counter(), time.process_time()
    steps.run_search(setup, verbose=0)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rows = setup.rows()
    # Hyperband's values say which round a trial is and which epoch a continued one starts from.
    done = [t.hyperparameters.values for t in setup.tuner.oracle.trials.values()
            if t.status == "COMPLETED"]
    shutil.rmtree(scratch, ignore_errors=True)
    pick = selection.select_trial(rows, n_val=len(setup.val[1]), rule=space.selection)
    competing = selection.competing(rows)
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
            **design(profile), "machine": machine_description(),
            "date": time.strftime("%Y-%m-%d")}


def key(values: dict) -> str:
    return json.dumps(values, sort_keys=True)


def current(rows: list[dict], kind: str, now: dict) -> list[dict]:
    """The rows of one kind ("search" or "retrain") measured with the design `now`."""
    fields = now if kind == "search" else {k: now[k] for k in ("space", "cnn")}
    return [r for r in rows if r.get("kind", "search") == kind
            and all(r.get(k) == v for k, v in fields.items())]


def retrain_picks() -> None:
    """Retrain every distinct pick of the current searches not yet retrained, exactly as the
    tuning chapter retrains its choice (`steps.retrain`: the CNN chapter's protocol and seed, on
    the whole training split), and append its validation accuracy."""
    profile = default_profile()
    now, rows = design(profile), read_rows(OUT)
    done = {key(r["values"]) for r in current(rows, "retrain", now)}
    picks = {key(r["pick"]): r["pick"] for r in current(rows, "search", now)}
    cnn, shared = profile.sections["cnn"], profile.shared
    splits = data.load_splits(ROOT / shared.results_dir, shared.data_dir)
    setup = steps.SearchSetup(tuner=None, splits=splits, search_train=None,
                              val=(data.channels(splits.x_val), splits.y_val), cnn=cnn,
                              tuning=profile.sections["tuning"])
    for name, values in picks.items():
        if name in done:
            continue
        fit = steps.retrain(setup, with_searched(cnn, values), shared.seed)
        row = {"kind": "retrain", "values": values, "val_accuracy": fit.val_accuracy,
               "seconds": round(fit.train_seconds, 1),
               "space": now["space"], "cnn": now["cnn"],
               "machine": machine_description(), "date": time.strftime("%Y-%m-%d")}
        record(OUT, row)


def spread(values: list[float]) -> str:
    """Mean ± sample standard deviation in percent (a dash for the spread of one value)."""
    a = 100 * np.asarray(values)
    return f"{a.mean():.2f} ± {a.std(ddof=1):.2f} %" if len(a) > 1 else f"{a.mean():.2f} %"


def first_half(searches: list[dict]) -> str:
    """Random search's mean best score over the first half of its trials: what half the budget
    finds. (Bayesian optimisation's first half is its random start, Hyperband's trials differ in
    epochs: neither says what half their budget finds.)"""
    if any(s["algorithm"] != "random" or len(s.get("scores", [])) < 2 for s in searches):
        return "–"
    return f"{100 * np.mean([max(s['scores'][: len(s['scores']) // 2]) for s in searches]):.2f} %"


def table(rows: list[dict]) -> str:
    """Per algorithm, over its seeds: the pick's search score and retrained validation
    accuracy, the distinct configurations and epochs the search trained, and its CPU time."""
    now = design(default_profile())
    retrained = {key(r["values"]): r["val_accuracy"] for r in current(rows, "retrain", now)}
    searches = current(rows, "search", now)
    if not searches:
        return ("No measurement of the current search design yet: "
                "`python bench/tuner_algorithms.py`.\n")
    first = searches[0]
    lines = [f"The default search ({first['max_trials']} trials of {first['trial_epochs']} epochs "
             f"on {first['search_subset']:,} images; Hyperband: the whole iterations starting "
             "the nearest number of configurations) once per algorithm and search seed. The "
             "data chapter's split is fixed; the seed draws the search's subset, its "
             "configurations and each trial's initialisation. The pick is what the tuning "
             "chapter would retrain (`one_se`); its search score is its validation accuracy at "
             "the search's fidelity, and retrained it is trained as the chapter retrains it "
             "(`--retrain`).\n",
             "| algorithm | seeds | pick's search score, mean ± sd | pick retrained, mean ± sd | "
             "best of the first half of the trials | distinct configurations (trials) | "
             "epochs trained | CPU seconds |",
             "|---|---|---|---|---|---|---|---|"]
    for algorithm in ALGORITHMS:
        mine = [r for r in searches if r["algorithm"] == algorithm]
        if not mine:
            continue
        full = [retrained.get(key(r["pick"])) for r in mine]
        lines.append(
            f"| {algorithm} | {', '.join(str(r['seed']) for r in mine)} | "
            f"{spread([r['pick_val_accuracy'] for r in mine])} | "
            f"{spread(full) if None not in full else 'not retrained'} | {first_half(mine)} | "
            f"{np.mean([r.get('distinct', r['configurations']) for r in mine]):.1f} "
            f"({np.mean([r['trials'] for r in mine]):.0f}) | "
            f"{np.mean([r['epochs_trained'] for r in mine]):.0f} | "
            f"{np.mean([r['cpu_seconds'] for r in mine]):.0f} |")
    lines.append(provenance(searches, "python bench/tuner_algorithms.py`, then `--retrain"))
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
                record(OUT, row)
    print(render(OUT, table))


if __name__ == "__main__":
    main()

"""What the original study's kind of tuning buys: a search of its architecture space alone.

The original study searched filters, kernel sizes, dense units and dropout around its CNN. This
benchmark runs that space (the same candidates, no recipe keys) with this study's protocol and
the default search's budget (algorithm, trials, trial epochs, subset and selection rule of
`params/default.yaml`), once per search seed, and retrains each pick exactly as the tuning
chapter retrains its choice (the CNN chapter's protocol and the profile's seed, on the whole
training split). The default CNN is trained the same way in the same invocation, so the gain of
each pick over it is measured on one machine. Every comparison is on the validation split; test
accuracy is recorded for the record only.

The tuning chapter shows the result beside its own gain, so a reader sees how much of the tuned
rung an architecture-only search explains and how much the designed space's recipe keys add.
Needs the data chapter's split (`fmnist run data`).

A pick that an earlier search of the same design on the same machine already retrained is not
trained again (same configuration, same seed: the same model); its row says which seed's
retrain it shares.

Usage: python bench/architecture_search.py [--seeds 42 1 2]   appends to
       results/architecture_search.jsonl, renders results/architecture_search.md and writes
       the summary the tuning chapter reads (results/architecture_search.json)
       python bench/architecture_search.py --table            renders the saved rows
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import shutil
import time
from pathlib import Path

import numpy as np
from readme import provenance, read_rows, record, render
from run import ORIGINAL_DROPOUT, ORIGINAL_SPACE

from fmnist import data, evaluate, params, train
from fmnist.environment import machine_description
from fmnist.tuning import selection, steps

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "architecture_search.jsonl"


def original_space() -> dict[str, list]:
    """The original study's search space in the tuning schema's keys (432 configurations)."""
    s = ORIGINAL_SPACE
    low, high, step = ORIGINAL_DROPOUT
    dropout = [round(low + i * step, 10) for i in range(round((high - low) / step) + 1)]
    return {"filters": [list(p) for p in itertools.product(s["filters1"], s["filters2"])],
            "kernel_size": [list(p) for p in itertools.product(s["kernel1"], s["kernel2"])],
            "dense_units": list(s["dense_units"]), "dropout": dropout}


def profile() -> params.Profile:
    """The default profile with the original's space in place of the designed one."""
    return params.load_profile(ROOT / "params" / "default.yaml",
                               [f"tuning.space={json.dumps(original_space())}"])


def design(p: params.Profile) -> dict:
    """What a row depends on besides its seed: the space, the budget and the CNN section."""
    t = p.sections["tuning"]
    return {"space": params.params_hash(t.space), "algorithm": t.algorithm,
            "max_trials": t.max_trials, "trial_epochs": t.trial_epochs,
            "search_subset": t.search_subset, "selection": t.selection,
            "cnn": params.params_hash(dataclasses.asdict(p.sections["cnn"])),
            "profile_seed": p.shared.seed}


def scored(fit, setup: steps.SearchSetup, config: params.CnnParams) -> dict:
    """A retrained model's validation accuracy and, for the record only, its test accuracy."""
    ev = evaluate.evaluate_keras(fit.model, data.channels(setup.splits.x_test),
                                 setup.splits.y_test, tta=config.tta)
    return {"val_accuracy": fit.val_accuracy, "test_accuracy": ev.metrics["accuracy"],
            "train_seconds": round(fit.train_seconds, 1)}


def search_and_retrain(p: params.Profile, seed: int, done: dict[str, dict]) -> dict:
    """One search of the original's space with search seed `seed`, and its pick retrained,
    unless `done` holds that pick's retrain already: the same configuration and seed train
    the same model, so a pick two searches share is trained once."""
    space = dataclasses.replace(p.sections["tuning"], overwrite=True)
    cnn = p.sections["cnn"]
    scratch = ROOT / "bench" / "results" / ".architecture_scratch"  # the report's search stays
    train.seed_everything(seed)
    setup = steps.prepare_search(ROOT / p.shared.results_dir,
                                 dataclasses.replace(p.shared, seed=seed), space, cnn,
                                 directory=scratch)
    wall, cpu = time.perf_counter(), time.process_time()
    steps.run_search(setup, verbose=0)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rows = setup.rows()
    shutil.rmtree(scratch, ignore_errors=True)
    pick = selection.select_trial(rows, n_val=len(setup.val[1]), rule=space.selection)
    values = {k: pick[k] for k in space.space}
    earlier = done.get(json.dumps(values, sort_keys=True))
    if earlier is None:
        config = steps.config_from_row(pick, setup)
        retrained = scored(steps.retrain(setup, config, p.shared.seed), setup, config)
    else:
        retrained = {**{k: v for k, v in earlier.items() if k != "seed"},
                     "same_pick_as_seed": earlier["seed"]}
    return {"kind": "search", "seed": seed, "trials": len(rows),
            "pick": values, "pick_search_score": pick["val_accuracy"],
            "best_search_score": max(r["val_accuracy"] for r in rows),
            "search_wall_seconds": round(wall, 1), "search_cpu_seconds": round(cpu, 1),
            "retrained": retrained}


def default_cnn(p: params.Profile) -> dict:
    """The CNN chapter's configuration trained as a pick is retrained: the gain's baseline."""
    t, cnn = p.sections["tuning"], p.sections["cnn"]
    splits = data.load_splits(ROOT / p.shared.results_dir, p.shared.data_dir)
    setup = steps.SearchSetup(tuner=None, splits=splits, search_train=None,
                              val=(data.channels(splits.x_val), splits.y_val), cnn=cnn,
                              tuning=t)
    return {"kind": "baseline", "retrained": scored(steps.retrain(setup, cnn, p.shared.seed),
                                                     setup, cnn)}


def stamp(row: dict, p: params.Profile) -> dict:
    return {**row, **design(p), "machine": machine_description(),
            "date": time.strftime("%Y-%m-%d")}


def current(rows: list[dict]) -> tuple[dict | None, list[dict]]:
    """The latest baseline and the searches of the current design, on the baseline's machine."""
    now = design(profile())
    mine = [r for r in rows if all(r.get(k) == v for k, v in now.items())]
    baselines = [r for r in mine if r["kind"] == "baseline"]
    if not baselines:
        return None, []
    base = baselines[-1]
    by_seed = {r["seed"]: r for r in mine if r["kind"] == "search"
               and r["machine"] == base["machine"]}
    return base, list(by_seed.values())


def summary(rows: list[dict]) -> dict | None:
    """The architecture-only search's gain over the default CNN on validation, over seeds:
    mean, sample standard deviation and each seed's value (points); None before a run."""
    base, searches = current(rows)
    if base is None or not searches:
        return None
    gains = 100 * np.array([s["retrained"]["val_accuracy"] - base["retrained"]["val_accuracy"]
                            for s in searches])
    return {"seeds": [s["seed"] for s in searches], "gains": [float(g) for g in gains],
            "gain_mean": float(gains.mean()),
            "gain_sd": float(gains.std(ddof=1)) if len(gains) > 1 else None,
            "default_val_accuracy": base["retrained"]["val_accuracy"],
            "picks": [s["pick"] for s in searches], "machine": base["machine"],
            "date": base["date"], "max_trials": base["max_trials"],
            "trial_epochs": base["trial_epochs"], "search_subset": base["search_subset"]}


def table(rows: list[dict]) -> str:
    """Per search seed: the pick, its search score, retrained validation accuracy and gain."""
    base, searches = current(rows)
    if base is None or not searches:
        return "No measurement yet: `python bench/architecture_search.py`.\n"
    b = base["retrained"]
    size = int(np.prod([len(v) for v in original_space().values()]))
    lines = [f"The original study's search space ({size:,} "
             "configurations of filters, kernel sizes, dense units and dropout; no recipe keys) "
             f"searched with this study's protocol and the default search's budget "
             f"({base['max_trials']} {base['algorithm']} trials of {base['trial_epochs']} epochs "
             f"on {base['search_subset']:,} images, `{base['selection']}` pick), once per "
             "search seed; each pick retrained as the tuning chapter retrains its choice. "
             f"The default CNN trained the same way: {100 * b['val_accuracy']:.2f} % validation "
             f"({100 * b['test_accuracy']:.2f} % test, for the record).\n",
             "| search seed | pick | pick's search score | retrained: validation | "
             "gain over the default CNN (validation) | test (record only) |",
             "|---|---|---|---|---|---|"]
    for s in searches:
        r = s["retrained"]
        pick = ", ".join(f"{k} {v}" for k, v in s["pick"].items())
        if "same_pick_as_seed" in r:
            pick += f" (seed {r['same_pick_as_seed']}'s pick: its retrain)"
        lines.append(f"| {s['seed']} | {pick} | {100 * s['pick_search_score']:.2f} % | "
                     f"{100 * r['val_accuracy']:.2f} % | "
                     f"{100 * (r['val_accuracy'] - b['val_accuracy']):+.2f} points | "
                     f"{100 * r['test_accuracy']:.2f} % |")
    s = summary(rows)
    sd = f" ± {s['gain_sd']:.2f}" if s["gain_sd"] is not None else ""
    lines.append(f"\nGain over {len(searches)} search seeds: {s['gain_mean']:+.2f}{sd} points "
                 "(mean ± standard deviation).")
    lines.append(provenance([base, *searches], "python bench/architecture_search.py"))
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2])
    parser.add_argument("--table", action="store_true", help="render the saved measurements")
    args = parser.parse_args()
    if not args.table:
        p = profile()
        base, searches = current(read_rows(OUT)) if OUT.is_file() else (None, [])
        if base is None or base["machine"] != machine_description():
            record(OUT, stamp(default_cnn(p), p))
            searches = []
        done = {json.dumps(s["pick"], sort_keys=True): {**s["retrained"], "seed": s["seed"]}
                for s in searches}
        for seed in args.seeds:
            row = stamp(search_and_retrain(p, seed, done), p)
            record(OUT, row)
            done.setdefault(json.dumps(row["pick"], sort_keys=True),
                            {**row["retrained"], "seed": seed})
    print(render(OUT, table))
    result = summary(read_rows(OUT))
    if result is not None:
        OUT.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

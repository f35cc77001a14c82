"""Which epoch budget? The dense network and the CNN trained with their chapter's protocol under
budgets around the default, each chosen on validation.

The learning rate decays along a cosine that ends where the budget does, so a budget is a whole
schedule, not a cut-off: a shorter budget is a different (faster) schedule, not the first epochs
of the default one. Each row is one budget: validation accuracy of the kept epoch, epochs run,
the kept epoch and training seconds; test accuracy is recorded for the record only, never
compared. The rule: the default budget stays unless a smaller one matches its validation
accuracy (no epoch then buys anything on validation).

Each run sets its chapter's thread count first (`<section>.threads`), so a model trains here as
its chapter trains it; run it on an otherwise idle machine (the seconds are compared).

Usage: python bench/epochs.py dense --budgets 15 20 25 30   appends to results/epochs.jsonl
       python bench/epochs.py --table                        renders results/epochs.md
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

from readme import provenance, render

from fmnist import data, environment, evaluate, models, params, train

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "epochs.jsonl"
SECTIONS = ("dense", "cnn")


def inputs(section: str, splits) -> tuple:
    """The training, validation and test images in the shape `section`'s network reads."""
    shape = data.flat if section == "dense" else data.channels
    return ((shape(splits.x_train), splits.y_train), (shape(splits.x_val), splits.y_val),
            (shape(splits.x_test), splits.y_test))


def build(section: str, config):
    """The chapter's network for `config`."""
    if section == "dense":
        return models.build_dense(units=config.units, dropout=config.dropout)
    return models.build_cnn_from(config)


def train_budget(section: str, config, splits, seed: int) -> dict:
    """Train `config` with its chapter's protocol and return the row's figures."""
    (train_xy, val, (x_test, y_test)) = inputs(section, splits)
    train.seed_everything(seed)
    model = build(section, config)
    cpu = time.process_time()
    fit = train.fit_section(model, train_xy, val, config, seed, log=None)
    ev = evaluate.evaluate_keras(model, x_test, y_test, tta=config.tta)
    return {"epochs": config.epochs, "val_accuracy": fit.val_accuracy,
            "best_epoch": fit.best_epoch, "epochs_run": len(fit.history["loss"]),
            "seconds": round(fit.train_seconds, 1),
            "cpu_seconds": round(time.process_time() - cpu, 1),
            "test_accuracy": ev.metrics["accuracy"]}


def measure(section: str, budgets: list[int], profile_path: Path) -> None:
    """Train `section`'s network under each budget, appending one row per budget."""
    profile = params.load_profile(profile_path)
    shared, default = profile.shared, profile.sections[section]
    environment.use_threads(default.threads)  # before TensorFlow computes anything
    # The report's split (the data chapter's, made here the same way when missing).
    splits = data.load_splits(ROOT / shared.results_dir, shared.data_dir,
                              profile.sections["data"], shared.seed)
    for epochs in budgets:
        config = dataclasses.replace(default, epochs=epochs)
        row = {"section": section, "default_epochs": default.epochs,
               "patience": default.patience, "threads": default.threads,
               "params": params.params_hash(params.chapter_values(shared, default)),
               **train_budget(section, config, splits, shared.seed),
               "machine": environment.machine_description(), "date": time.strftime("%Y-%m-%d")}
        print(json.dumps(row), flush=True)
        with OUT.open("a") as f:
            f.write(json.dumps(row) + "\n")


def table(rows: list[dict]) -> str:
    """One table per section: its latest row for each budget, and the budget the rule keeps."""
    out = ["Each budget is a whole cosine schedule ending at its last epoch; validation chooses, "
           "test is recorded only. Rule: the default budget stays unless a smaller one matches "
           "its validation accuracy.", ""]
    for section in SECTIONS:
        mine = [r for r in rows if r["section"] == section]
        if not mine:
            continue
        last = mine[-1]  # the section as it was last measured: its rows alone are compared
        latest = {r["epochs"]: r for r in mine if r["params"] == last["params"]}
        default = last["default_epochs"]
        out += [f"**{section}** (default {default} epochs, patience {last['patience']}, "
                f"{last['threads']} thread(s))", "",
                "| budget | validation | kept epoch | epochs run | seconds | test (record) |",
                "|---|---|---|---|---|---|"]
        for epochs in sorted(latest):
            r = latest[epochs]
            out.append(f"| {epochs} | {100 * r['val_accuracy']:.2f} % | {r['best_epoch']} | "
                       f"{r['epochs_run']} | {r['seconds']:.0f} s | "
                       f"{100 * r['test_accuracy']:.2f} % |")
        kept = choose(latest, default)
        out += ["", f"Kept: {kept} epochs.", ""]
    return "\n".join(out) + provenance(rows, "python bench/epochs.py <section> --budgets ...")


def choose(latest: dict[int, dict], default: int) -> int:
    """The smallest budget whose validation accuracy is at least the default budget's."""
    if default not in latest:
        return default
    floor = latest[default]["val_accuracy"]
    return min(e for e, r in latest.items() if r["val_accuracy"] >= floor)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("section", nargs="?", choices=SECTIONS)
    ap.add_argument("--budgets", type=int, nargs="+", default=[])
    ap.add_argument("--params", type=Path, default=ROOT / "params" / "default.yaml")
    ap.add_argument("--table", action="store_true")
    args = ap.parse_args()
    if args.section:
        measure(args.section, args.budgets, args.params)
    print(render(OUT, table))


if __name__ == "__main__":
    main()

"""Accuracy-versus-time frontier of the Keras models' training recipes on this machine.

Each variant is a fixed base (`BASE`: the sections this exploration started from, batch
normalisation after pooling for the CNN, a 512-256 dense network) with its entry's changes,
trained on the study's split with the chapter's own code (`train.fit_keras`); the base is fixed
here, not read from the default profile, so every committed row stays reproducible. What it
found chose the tuning chapter's search space. Test accuracy is recorded to show the frontier,
never to choose. Validation accuracy is recorded with and without test-time flip averaging
(TTA), which costs no training time.

Usage: python bench/frontier.py [--seeds 42 43 44] [variant ...]  appends to results/frontier.jsonl
       python bench/frontier.py --table                         renders results/frontier.md
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
from readme import record, render

from fmnist import data, environment, models, params, recipe, train

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "frontier.jsonl"
S2 = {"filters": [32, 64], "kernel_size": [3, 3], "padding": "valid", "warmup_epochs": 0,
      "learning_rate": 1e-3}
# Same padding, a higher peak learning rate after one warm-up epoch.
S2S = {**S2, "padding": "same", "learning_rate": 2e-3, "warmup_epochs": 1}
S3 = {"filters": [32, 64, 128], "kernel_size": [3, 3, 3], "padding": "same"}
AUG = {"augment_flip": True, "augment_shift": 2}
REG = {"label_smoothing": 0.1, "ema_momentum": 0.99}
WIDE = {"units": [1024, 512]}  # the dense network twice as wide
OFF = {k: getattr(recipe.Recipe(), k) for k in recipe.Recipe.__dataclass_fields__}
BASE = {"cnn": {"batch_norm": "pool", "patience": 3, "dropout": 0.3, "dense_units": 128,
                "batch_size": 128},
        "dense": {"units": [512, 256], "dropout": 0.3, "learning_rate": 1e-3,
                  "batch_size": 256, "patience": 5}}
VARIANTS: dict[str, tuple[str, dict]] = {
    # The original architecture with the study's protocol (batch norm after pooling), no recipe.
    "cnn2_12ep": ("cnn", {**OFF, **S2, "epochs": 12}),
    "cnn2_same_12ep": ("cnn", {**OFF, **S2S, "epochs": 12}),
    "cnn2_same_reg_12ep": ("cnn", {**OFF, **S2S, **REG, "epochs": 12}),
    "cnn2_same_flip_reg_12ep": ("cnn", {**OFF, **S2S, **REG, "augment_flip": True,
                                        "epochs": 12}),
    "cnn2_same_flip_12ep": ("cnn", {**OFF, **S2S, "augment_flip": True, "epochs": 12}),
    "cnn2_same_aug_reg_16ep": ("cnn", {**OFF, **S2S, **REG, **AUG, "epochs": 16}),
    "cnn2_reg_12ep": ("cnn", {**OFF, **S2, **REG, "epochs": 12}),
    "cnn2_flip_reg_12ep": ("cnn", {**OFF, **S2, **REG, "augment_flip": True, "epochs": 12}),
    "cnn2_aug_reg_16ep": ("cnn", {**OFF, **S2, **REG, **AUG, "epochs": 16}),
    "cnn3_10ep": ("cnn", {**OFF, **S3, "epochs": 10, "learning_rate": 2e-3,
                          "warmup_epochs": 1}),
    "cnn3_reg_10ep": ("cnn", {**OFF, **S3, **REG, "epochs": 10, "learning_rate": 2e-3,
                              "warmup_epochs": 1}),
    "cnn3_gap_reg_10ep": ("cnn", {**OFF, **S3, **REG, "head": "gap", "epochs": 10,
                                  "learning_rate": 2e-3, "warmup_epochs": 1}),
    "cnn3_aug_reg_15ep": ("cnn", {**OFF, **S3, **REG, **AUG, "epochs": 15,
                                  "learning_rate": 2e-3, "warmup_epochs": 1}),
    "cnn3_aug_reg_20ep": ("cnn", {**OFF, **S3, **REG, **AUG, "tta": True, "epochs": 20,
                                  "patience": 5, "learning_rate": 2e-3, "warmup_epochs": 1}),
    "cnn3_flip_reg_12ep": ("cnn", {**OFF, **S3, **REG, "augment_flip": True, "epochs": 12,
                                   "learning_rate": 2e-3, "warmup_epochs": 1}),
    "dense_30ep": ("dense", {**OFF, "epochs": 30}),
    "dense_reg_30ep": ("dense", {**OFF, **REG, "epochs": 30}),
    "dense_flip_reg_30ep": ("dense", {**OFF, **REG, "augment_flip": True, "epochs": 30}),
    "dense_aug_reg_40ep": ("dense", {**OFF, **REG, **AUG, "epochs": 40}),
    "dense_shift1_reg_40ep": ("dense", {**OFF, **REG, "augment_shift": 1, "epochs": 40}),
    "dense_reg_40ep": ("dense", {**OFF, **REG, "epochs": 40}),
    "dense_wide_reg_30ep": ("dense", {**OFF, **REG, **WIDE, "epochs": 30}),
    "dense_wide_reg_40ep": ("dense", {**OFF, **REG, **WIDE, "epochs": 40}),
}


def load_split(profile: params.Profile):
    """The study's split (the data chapter's), computed from the profile."""
    shared, dp = profile.shared, profile.sections["data"]
    ds = data.load_dataset(shared.data_dir)
    tr, va = data.split_indices(ds.y_train, dp.val_fraction, shared.seed, dp.train_subset)
    x, x_test = data.to_float(ds.x_train), data.to_float(ds.x_test)
    return (x[tr], ds.y_train[tr]), (x[va], ds.y_train[va]), (x_test, ds.y_test)


def run_variant(name: str, seed: int) -> dict:
    """Train one variant with its chapter's code and return its figures."""
    chapter, overrides = VARIANTS[name]
    profile = params.load_profile(ROOT / "params" / "default.yaml")
    section = dataclasses.replace(profile.sections[chapter], **{**BASE[chapter], **overrides})
    (xt, yt), (xv, yv), (xs, ys) = load_split(profile)
    shape = data.channels if chapter == "cnn" else data.flat
    xt, xv, xs = shape(xt), shape(xv), shape(xs)
    train.seed_everything(seed)
    model = (models.build_cnn_from(section) if chapter == "cnn"
             else models.build_dense(section.units, section.dropout))
    cpu = time.process_time()
    fit = train.fit_section(model, (xt, yt), (xv, yv), section, seed)
    cpu = time.process_time() - cpu  # wall time here varies up to 2x with the host's load

    def acc(x, y, tta):
        return float(np.mean(recipe.predict_probs(model, x, tta).argmax(axis=1) == y))

    epochs_run = len(fit.history["loss"])
    return {"variant": name, "model": chapter, "seed": seed, "overrides": overrides,
            "config": dataclasses.asdict(section),
            "epochs_run": epochs_run, "best_epoch": fit.best_epoch,
            "train_seconds": round(fit.train_seconds, 1), "train_cpu_seconds": round(cpu, 1),
            "seconds_per_epoch": round(fit.train_seconds / epochs_run, 1),
            "val_accuracy": acc(xv, yv, False), "val_accuracy_tta": acc(xv, yv, True),
            "test_accuracy": acc(xs, ys, False), "test_accuracy_tta": acc(xs, ys, True),
            "n_params": model.count_params(), "machine": environment.machine_description(),
            "date": time.strftime("%Y-%m-%d")}


def is_default(config: dict, profile: params.Profile, model: str) -> bool:
    """Whether a measured configuration is the default profile's (TTA aside: both are recorded)."""
    default = dataclasses.asdict(profile.sections[model])
    return all(default.get(k) == v for k, v in config.items() if k != "tta")


def table(rows: list[dict]) -> str:
    """The frontier as markdown: one line per variant (mean ± sd over its seeds), by model and
    CPU time; the default profile's configuration in bold."""
    lines = ["| model | variant | seeds | epochs run | CPU time | wall time | validation | "
             "validation, TTA | test | test, TTA |", "|---|---|---|---|---|---|---|---|---|---|"]
    profile = params.load_profile(ROOT / "params" / "default.yaml")
    by_variant: dict[str, list[dict]] = {}
    for row in rows:
        by_variant.setdefault(row["variant"], []).append(row)

    def pct(rs, key):
        vals = [100 * r[key] for r in rs]
        spread = f" ± {np.std(vals, ddof=1):.2f}" if len(vals) > 1 else ""
        return f"{np.mean(vals):.2f} %{spread}"

    def mean(rs, key):
        return float(np.mean([r[key] for r in rs]))

    order = sorted(by_variant.items(), key=lambda kv: (kv[1][0]["model"],
                                                       mean(kv[1], "train_cpu_seconds")))
    for name, rs in order:
        label = (f"**{name} (default)**" if "config" in rs[0]
                 and is_default(rs[0]["config"], profile, rs[0]["model"]) else name)
        lines.append(f"| {rs[0]['model']} | {label} | {len(rs)} | {mean(rs, 'epochs_run'):.0f} | "
                     f"{mean(rs, 'train_cpu_seconds'):.0f} s | {mean(rs, 'train_seconds'):.0f} s | "
                     f"{pct(rs, 'val_accuracy')} | {pct(rs, 'val_accuracy_tta')} | "
                     f"{pct(rs, 'test_accuracy')} | {pct(rs, 'test_accuracy_tta')} |")
    where = f"{rows[0]['machine']}, {rows[-1]['date']}" if rows else "nothing measured"
    return ("\n".join(lines) + f"\n\nMachine: {where}; most rows were measured while another "
            "benchmark shared the machine, so CPU time is the comparable cost.\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="*", help=f"from {', '.join(VARIANTS)}")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42])
    parser.add_argument("--table", action="store_true", help="render the saved measurements")
    args = parser.parse_args()
    if not args.table:
        for name in args.variants or list(VARIANTS):
            for seed in args.seeds:
                row = run_variant(name, seed)
                record(OUT, row)
    print(render(OUT, table))


if __name__ == "__main__":
    main()

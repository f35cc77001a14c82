"""Accuracy-versus-time frontier of CNN variants on this machine (issues 3 and 6).

Each variant is the original study's CNN under the CNN chapter's protocol (`BASE`: training
split, batch 128, Adam with cosine decay, early stopping on the validation split, patience 3)
with its entry's changes. The default is *chosen* on validation accuracy and training time; test
accuracy is recorded to show the frontier, never to choose.

Usage: python bench/cnn_frontier.py [variant ...]   appends to results/cnn_frontier.jsonl
       python bench/cnn_frontier.py --table         renders results/cnn_frontier.md and the README
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

from fmnist import data, evaluate, models, params, train

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "cnn_frontier.jsonl"
VARIANTS: dict[str, dict] = {
    "f16_32_20ep": {"filters": [16, 32], "epochs": 20},
    "original_12ep": {"epochs": 12},
    "original_20ep": {"epochs": 20},
    "bn_valid_12ep": {"batch_norm": True, "epochs": 12},
    "bn_same_12ep": {"batch_norm": True, "padding": "same", "epochs": 12},
    "bn_pool_12ep": {"batch_norm": "pool", "epochs": 12},
}
BUILD_KEYS = ("filters", "kernel_size", "dense_units", "dropout", "batch_norm", "padding")
BASE = {"filters": [32, 64], "kernel_size": [3, 3], "dense_units": 128, "dropout": 0.3,
        "batch_norm": False, "padding": "valid", "learning_rate": 1e-3, "epochs": 12,
        "batch_size": 128, "patience": 3}


def run_variant(name: str, overrides: dict) -> dict:
    """Train one variant with the chapter's protocol and return its figures."""
    profile = params.load_profile(ROOT / "params" / "default.yaml")
    cnn = dataclasses.replace(profile.sections["cnn"], **{**BASE, **overrides})
    shared = profile.shared
    ds = data.load_dataset(shared.data_dir)
    tr, va = data.split_indices(ds.y_train, profile.sections["data"].val_fraction, shared.seed)
    x = data.channels(data.to_float(ds.x_train))
    train.seed_everything(shared.seed)
    model = models.build_cnn(**{k: getattr(cnn, k) for k in BUILD_KEYS})
    cpu = time.process_time()
    fit = train.fit_keras(model, (x[tr], ds.y_train[tr]), (x[va], ds.y_train[va]),
                          epochs=cnn.epochs, batch_size=cnn.batch_size,
                          learning_rate=cnn.learning_rate, patience=cnn.patience, verbose=2)
    cpu = time.process_time() - cpu  # wall time here varies ~2x with the host's load
    val = evaluate.evaluate_keras(model, x[va], ds.y_train[va])
    test = evaluate.evaluate_keras(model, data.channels(data.to_float(ds.x_test)), ds.y_test)
    return {"variant": name, "overrides": overrides, "epochs_run": len(fit.history["loss"]),
            "best_epoch": fit.best_epoch, "train_seconds": round(fit.train_seconds, 1),
            "train_cpu_seconds": round(cpu, 1),
            "seconds_per_epoch": round(fit.train_seconds / len(fit.history["loss"]), 1),
            "val_accuracy": val.metrics["accuracy"], "test_accuracy": test.metrics["accuracy"],
            "n_params": model.count_params(), "machine": evaluate.machine_description()}


def config(row: dict) -> dict:
    """A measured variant's whole configuration."""
    return {**BASE, **row["overrides"]}


def is_default(row: dict, cnn: params.CnnParams) -> bool:
    """Whether the default profile's CNN section `cnn` is this variant."""
    return all(getattr(cnn, k) == v for k, v in config(row).items())


def table(rows: list[dict]) -> str:
    """The frontier as markdown, cheapest first; the default profile's variant in bold."""
    lines = ["| variant | epochs run | train time | s / epoch | CPU time | validation accuracy | "
             "test accuracy |", "|---|---|---|---|---|---|---|"]
    default = params.load_profile(ROOT / "params" / "default.yaml").sections["cnn"]
    for row in sorted(rows, key=lambda r: r["train_seconds"]):
        name = f"**{row['variant']} (default)**" if is_default(row, default) else row["variant"]
        cpu = f"{row['train_cpu_seconds']:.0f} s" if "train_cpu_seconds" in row else "–"
        lines.append(f"| {name} | {row['epochs_run']} | {row['train_seconds']:.0f} s | "
                     f"{row['seconds_per_epoch']:.1f} | {cpu} | "
                     f"{100 * row['val_accuracy']:.2f} % | {100 * row['test_accuracy']:.2f} % |")
    return "\n".join(lines) + "\n"


def render() -> None:
    """Write results/cnn_frontier.md and the README's frontier section from the measurements."""
    rows = [json.loads(line) for line in OUT.read_text().splitlines() if line.strip()]
    md = table(rows)
    OUT.with_suffix(".md").write_text(md)
    readme = ROOT / "README.md"
    start, end = "<!-- frontier:start -->", "<!-- frontier:end -->"
    head, rest = readme.read_text().split(start, 1)
    readme.write_text(f"{head}{start}\n{md}{end}{rest.split(end, 1)[1]}")
    print(md)


if __name__ == "__main__":
    if sys.argv[1:] == ["--table"]:
        render()
        sys.exit()
    for name in sys.argv[1:] or list(VARIANTS):
        row = run_variant(name, VARIANTS[name])
        print(json.dumps(row), flush=True)
        with OUT.open("a") as f:
            f.write(json.dumps(row) + "\n")

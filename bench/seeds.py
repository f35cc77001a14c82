"""The tuning gain beyond one seed: the default CNN and the tuned configuration, each retrained
with several training seeds (the data split fixed), scored on validation and, for the record,
on the test set.

The tuned configuration is the one the default report's tuning chapter chose (read from
`results/tuning/metrics.json`, so run the report first: `python bench/run.py`). The report's own
run is the profile's seed; the other seeds are trained here with the chapters' code and protocol.

Usage: python bench/seeds.py [--seeds 1 2] [--params params/default.yaml]
       appends to results/seeds.jsonl and writes the summary into latest.json and the README
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
from readme import record, replace_block
from run import OUT, markdown, targets

from fmnist import data, environment, evaluate, models, params, recipe, train

ROOT = Path(__file__).resolve().parents[1]
ROWS = OUT / "seeds.jsonl"


def tuned_config(results: Path, cnn: params.CnnParams) -> params.CnnParams:
    """The CNN section with the tuning chapter's chosen changes (none when it kept the
    default)."""
    record = json.loads((results / "tuning" / "metrics.json").read_text())
    return dataclasses.replace(cnn, **{k: chosen for k, (_, chosen) in
                                       record.get("changes", {}).items()})


def train_and_score(config: params.CnnParams, splits, seed: int) -> dict:
    """One model trained with the CNN chapter's protocol and `seed`; its accuracies."""
    train.seed_everything(seed)
    model = models.build_cnn_from(config)
    fit = train.fit_keras(model, (data.channels(splits.x_train), splits.y_train),
                          (data.channels(splits.x_val), splits.y_val), epochs=config.epochs,
                          batch_size=config.batch_size, learning_rate=config.learning_rate,
                          patience=config.patience, recipe=recipe.Recipe.from_section(config),
                          seed=seed, log=None)
    ev = evaluate.evaluate_keras(model, data.channels(splits.x_test), splits.y_test,
                                 tta=config.tta)
    return {"val_accuracy": fit.val_accuracy, "test_accuracy": ev.metrics["accuracy"],
            "seconds": round(fit.train_seconds, 1), "epochs_run": len(fit.history["loss"])}


def from_report(results: Path) -> dict:
    """The report's own seed: both models as its chapters recorded them."""
    cnn = json.loads((results / "cnn" / "metrics.json").read_text())
    tuned = json.loads((results / "tuning" / "metrics.json").read_text())
    return {"cnn": {"val_accuracy": cnn["val_accuracy"], "test_accuracy": cnn["accuracy"]},
            "tuned": {"val_accuracy": tuned["val_accuracy"], "test_accuracy": tuned["accuracy"]}}


def summary(rows: list[dict]) -> dict:
    """Mean, standard deviation and range of the tuned-minus-CNN gain over seeds."""
    gain = np.array([r["tuned"]["test_accuracy"] - r["cnn"]["test_accuracy"] for r in rows])
    val_gain = np.array([r["tuned"]["val_accuracy"] - r["cnn"]["val_accuracy"] for r in rows])
    return {"n_seeds": len(rows), "seeds": [r["seed"] for r in rows],
            "gain_mean": float(gain.mean()), "gain_sd": float(gain.std(ddof=1)),
            "gain_min": float(gain.min()), "gain_max": float(gain.max()),
            "val_gain_mean": float(val_gain.mean()), "val_gain_sd": float(val_gain.std(ddof=1)),
            **{f"{m}_test_mean": float(np.mean([r[m]["test_accuracy"] for r in rows]))
               for m in ("cnn", "tuned")},
            **{f"{m}_test_sd": float(np.std([r[m]["test_accuracy"] for r in rows], ddof=1))
               for m in ("cnn", "tuned")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--params", default="params/default.yaml")
    args = parser.parse_args()
    profile = params.load_profile(ROOT / args.params)
    results = ROOT / profile.shared.results_dir
    cnn = profile.sections["cnn"]
    tuned = tuned_config(results, cnn)
    splits = data.load_splits(results, profile.shared.data_dir, profile.sections["data"],
                              profile.shared.seed)
    rows = [{"seed": profile.shared.seed, "source": "the report's run", **from_report(results)}]
    for seed in args.seeds:
        row = {"seed": seed, "source": "bench/seeds.py", "date": time.strftime("%Y-%m-%d"),
               "machine": environment.machine_description(),
               "cnn": train_and_score(cnn, splits, seed),
               "tuned": train_and_score(tuned, splits, seed) if tuned != cnn else None}
        if row["tuned"] is None:  # the search kept the default: the gain is zero by definition
            row["tuned"] = row["cnn"]
        record(ROWS, {**row, "params_hash": profile.digest()})
        rows.append(row)
    latest = OUT / "latest.json"
    result = json.loads(latest.read_text())
    result["seeds"] = {**summary(rows), "rows": rows, "params_hash": profile.digest()}
    latest.write_text(json.dumps(result, indent=2))
    table = markdown(result)
    (OUT / "latest.md").write_text(table + targets(result))
    replace_block("bench", table)
    print(json.dumps(result["seeds"], indent=2))


if __name__ == "__main__":
    main()

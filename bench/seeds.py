"""The tuning gain beyond one seed: the default CNN and the tuned configuration, each retrained
with several training seeds (the data split fixed), scored on validation and, for the record,
on the test set.

The tuned configuration is the one the default report's tuning chapter chose (read from
`results/tuning/metrics.json`, so run the report first: `python bench/run.py`). The spread comes
from fresh seeds only, trained here with the chapters' code and protocol: the report's own run
(the profile's seed) is the one that passed the keep-or-reject gate on validation, so it is
shown apart, never pooled with them. Each model trains in a process of its own with its
chapter's thread count (`cnn.threads` for the CNN, `tuning.threads` for the retrained tuned
configuration), as in the report: TensorFlow's results move with the thread count, and a
process keeps the pools of its first operation. Two such processes run side by side.

Usage: python bench/seeds.py [--seeds 1 2 3] [--params params/default.yaml]
       appends to results/seeds.jsonl and writes the summary into latest.json and the README
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
from readme import child_row, record, replace_block
from run import OUT, markdown, targets
from scipy import stats

from fmnist import data, environment, evaluate, models, params, recipe, train

ROOT = Path(__file__).resolve().parents[1]
ROWS = OUT / "seeds.jsonl"


def tuned_config(results: Path, cnn: params.CnnParams) -> params.CnnParams:
    """The CNN section with the tuning chapter's chosen changes (none when it kept the
    default)."""
    record = json.loads((results / "tuning" / "metrics.json").read_text())
    return dataclasses.replace(cnn, **{k: chosen for k, (_, chosen) in
                                       record.get("changes", {}).items()})


def train_and_score(config: params.CnnParams, splits, seed: int, threads: int) -> dict:
    """One model trained with the CNN chapter's protocol, `seed` and `threads` (this process's
    thread count, fixed here); its accuracies."""
    environment.use_threads(threads)
    train.seed_everything(seed)
    model = models.build_cnn_from(config)
    fit = train.fit_section(model, (data.channels(splits.x_train), splits.y_train),
                            (data.channels(splits.x_val), splits.y_val), config, seed, log=None)
    x_test = data.channels(splits.x_test)
    ev = evaluate.evaluate_keras(model, x_test, splits.y_test, tta=config.tta)
    row = {"val_accuracy": fit.val_accuracy, "test_accuracy": ev.metrics["accuracy"],
           "seconds": round(fit.train_seconds, 1), "epochs_run": len(fit.history["loss"])}
    if config.tta:  # the same model scored without flip averaging, for the record
        plain = recipe.predict_probs(model, x_test, tta=False).argmax(axis=1)
        row["test_accuracy_without_flip_averaging"] = float(np.mean(plain == splits.y_test))
    return row


def from_report(results: Path) -> dict:
    """The report's own seed: both models as its chapters recorded them."""
    cnn = json.loads((results / "cnn" / "metrics.json").read_text())
    tuned = json.loads((results / "tuning" / "metrics.json").read_text())
    return {"cnn": {"val_accuracy": cnn["val_accuracy"], "test_accuracy": cnn["accuracy"]},
            "tuned": {"val_accuracy": tuned["val_accuracy"], "test_accuracy": tuned["accuracy"]}}


def summary(fresh: list[dict]) -> dict:
    """Mean, standard deviation, range and 95 % t-interval of the tuned-minus-CNN gain over
    fresh seeds (test, for the record), and the validation gain's mean and spread."""
    gain = np.array([r["tuned"]["test_accuracy"] - r["cnn"]["test_accuracy"] for r in fresh])
    val_gain = np.array([r["tuned"]["val_accuracy"] - r["cnn"]["val_accuracy"] for r in fresh])
    half = stats.t.ppf(0.975, len(gain) - 1) * gain.std(ddof=1) / np.sqrt(len(gain))
    return {"n_seeds": len(fresh), "seeds": [r["seed"] for r in fresh],
            "gain_mean": float(gain.mean()), "gain_sd": float(gain.std(ddof=1)),
            "gain_ci95": [float(gain.mean() - half), float(gain.mean() + half)],
            "gain_min": float(gain.min()), "gain_max": float(gain.max()),
            "val_gain_mean": float(val_gain.mean()), "val_gain_sd": float(val_gain.std(ddof=1)),
            **{f"{m}_test_mean": float(np.mean([r[m]["test_accuracy"] for r in fresh]))
               for m in ("cnn", "tuned")},
            **{f"{m}_test_sd": float(np.std([r[m]["test_accuracy"] for r in fresh], ddof=1))
               for m in ("cnn", "tuned")}}


def model_config(profile: params.Profile, model: str) -> tuple[params.CnnParams, int]:
    """`model`'s configuration (`cnn`: the CNN section; `tuned`: the tuning chapter's choice)
    and the thread count its chapter trains it with."""
    cnn = profile.sections["cnn"]
    if model == "cnn":
        return cnn, cnn.threads
    return (tuned_config(ROOT / profile.shared.results_dir, cnn),
            profile.sections["tuning"].threads)


def one_model(args: argparse.Namespace) -> None:
    """The child process: train one model (`--model cnn|tuned`) with one `--seed`, print its
    row as JSON."""
    profile = params.load_profile(ROOT / args.params)
    results = ROOT / profile.shared.results_dir
    config, threads = model_config(profile, args.model)
    splits = data.load_splits(results, profile.shared.data_dir, profile.sections["data"],
                              profile.shared.seed)
    print(json.dumps(train_and_score(config, splits, args.seed, threads)))


def in_process(args: argparse.Namespace, model: str, seed: int) -> dict:
    """`one_model` in a child process; its row."""
    return child_row([sys.executable, __file__, "--params", args.params, "--model", model,
                      "--seed", str(seed)], f"{model}, seed {seed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--params", default="params/default.yaml")
    parser.add_argument("--model", choices=("cnn", "tuned"), help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.model:
        return one_model(args)
    profile = params.load_profile(ROOT / args.params)
    if profile.shared.seed in args.seeds or len(set(args.seeds)) < 2:
        sys.exit(f"--seeds: give at least two fresh seeds other than the report's own "
                 f"({profile.shared.seed}), e.g. --seeds 1 2 3")
    results = ROOT / profile.shared.results_dir
    cnn = profile.sections["cnn"]
    models_to_train = ("cnn", "tuned") if tuned_config(results, cnn) != cnn else ("cnn",)
    own = from_report(results)
    with cf.ThreadPoolExecutor(max_workers=2) as pool:  # each job waits on its own process
        jobs = {(m, seed): pool.submit(in_process, args, m, seed)
                for seed in args.seeds for m in models_to_train}
        fresh = []
        for seed in args.seeds:
            cnn_row = jobs["cnn", seed].result()
            # The search kept the default: the gain is zero by definition.
            tuned_row = jobs["tuned", seed].result() if "tuned" in models_to_train else cnn_row
            row = {"seed": seed, "source": "bench/seeds.py", "date": time.strftime("%Y-%m-%d"),
                   "machine": environment.machine_description(), "cnn": cnn_row,
                   "tuned": tuned_row, "threads": {"cnn": cnn.threads,
                                                   "tuned": profile.sections["tuning"].threads}}
            record(ROWS, {**row, "params_hash": profile.digest()})
            fresh.append(row)
    latest = OUT / "latest.json"
    result = json.loads(latest.read_text())
    result["seeds"] = {"fresh": {**summary(fresh), "rows": fresh},
                       "report_run": {"seed": profile.shared.seed, **own,
                                      "gain": own["tuned"]["test_accuracy"]
                                      - own["cnn"]["test_accuracy"]},
                       "params_hash": profile.digest()}
    latest.write_text(json.dumps(result, indent=2))
    table = markdown(result)
    (OUT / "latest.md").write_text(table + targets(result))
    replace_block("bench", table)
    print(json.dumps(result["seeds"], indent=2))


if __name__ == "__main__":
    main()

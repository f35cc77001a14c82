"""Benchmark: the default report against a replica of the original study's procedure.

Part `report` runs the full default report (forced, so every chapter really runs) and records each
chapter's wall time, each model's test accuracy and training time, and the peak memory. Part
`replica` reruns the original study's procedure on the same machine: logistic regression (saga,
max_iter=100) on [0, 1] pixels; dense 128-64 (Adam, 10 epochs, batch 128); CNN 32/64 3x3 filters,
Dense 128, dropout 0.3 (Adam, 10 epochs, batch 128); a 5-trial random search of 5 epochs at batch
32 with validation_split=0.2 over its space, and a 10-epoch retrain of the best model at batch 32.
Like the original, it trains on all 60,000 training images in float64 and tests on the test set.

Every time target is a ratio to the original procedure measured in the same invocation (`--part
all`, the default, runs both, the replica from scratch): machines of this kind differ up to 4x in
speed. `--part replica --resume` keeps replica models already in latest.json and finished trials
in bench/results/.replica_tuner/, for a slow machine where the replica's search was stopped.

Usage: python bench/run.py [--part report|replica|all|table] [--params params/default.yaml]
Writes bench/results/latest.json and bench/results/latest.md, and the README's results table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from readme import replace_block

from fmnist.compare import BENCH_MODELS  # the display name of each model key below

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results"
MODELS = {"baseline": "logreg", "dense": "dense", "cnn": "cnn", "tuning": "tuned_cnn"}
TARGETS = {"logreg": 0.845, "dense": 0.905, "cnn": 0.925, "tuned_cnn": 0.935}
REPORT_RATIO_TARGET = 1.0  # whole default report / whole original procedure, same invocation


def run_report(params: str) -> dict:
    """The full default report, forced; figures read from the files it wrote."""
    from fmnist.params import load_profile

    profile = load_profile(ROOT / params)
    results = ROOT / profile.shared.results_dir
    # A cold run: without this the forced tuning chapter would resume its finished search.
    for folder in (results / "tuning").glob("search-*"):
        shutil.rmtree(folder)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "fmnist", "report", "--force", "--params", params],
                          cwd=ROOT)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"the report failed (exit {proc.returncode})")
    run = json.loads((results / "run.json").read_text())
    models = {}
    for slug, key in MODELS.items():
        m = json.loads((results / slug / "metrics.json").read_text())
        models[key] = {"accuracy": m["accuracy"], "accuracy_ci95": m["accuracy_ci95"],
                       "val_accuracy": m.get("val_accuracy"), "train_seconds": m["train_seconds"]}
        for extra in ("search_seconds", "kept", "changes", "retrained_val_accuracy",
                      "default_val_accuracy", "n_trials"):
            if extra in m:
                models[key][extra] = m[extra]
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"profile": profile.name, "params_hash": profile.digest(), "params": profile.as_dict(),
            "report_seconds": wall, "chapters": run["chapter_seconds"], "models": models,
            "peak_rss_mib": peak_kib / 1024, "versions": run["versions"]}


def _accuracy(model, x, y) -> float:
    return float(np.mean(np.argmax(model.predict(x, batch_size=1000, verbose=0), axis=1) == y))


def replica_logreg(x_train, y_train, x_test, y_test) -> dict:
    """The original's logistic regression: saga, max_iter=100 (it does not converge)."""
    import warnings

    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(solver="saga", max_iter=100, random_state=0)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf.fit(x_train.reshape(len(x_train), -1), y_train)
    seconds = time.perf_counter() - start
    acc = float(np.mean(clf.predict(x_test.reshape(len(x_test), -1)) == y_test))
    converged = not any("converge" in str(w.message) for w in caught)
    return {"accuracy": acc, "train_seconds": seconds, "converged": converged}


def _original_cnn(filters1=32, filters2=64, kernel1=3, kernel2=3, units=128, dropout=0.3):
    import keras

    return keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(filters1, kernel1, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(filters2, kernel2, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(units, activation="relu"),
        keras.layers.Dropout(dropout),
        keras.layers.Dense(10, activation="softmax"),
    ])


def _fit_timed(model, x, y, epochs, batch_size, **kw) -> float:
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=2, **kw)
    return time.perf_counter() - start


def replica_search(x_train, y_train, x_test, y_test, directory: Path,
                   save=lambda partial: None) -> dict:
    """The original's 5-trial random search (5 epochs, batch 32) and 10-epoch retrain.

    The search resumes from `directory` (it can take hours here); its time is the sum of the
    trials' own wall times, and `save` records each finished trial as it lands.
    """
    import keras_tuner as kt

    from fmnist import tune

    def build(hp):
        model = _original_cnn(hp.Choice("filters1", [32, 64, 128]),
                              hp.Choice("filters2", [32, 64, 128]),
                              hp.Choice("kernel1", [3, 5]), hp.Choice("kernel2", [3, 5]),
                              hp.Choice("dense_units", [64, 128, 256]),
                              hp.Float("dropout", 0.2, 0.5, step=0.1))
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        return model

    def rows(tuner) -> list[dict]:
        out = []
        for trial in sorted(tuner.oracle.trials.values(), key=lambda t: t.trial_id):
            timing = Path(tuner.get_trial_dir(trial.trial_id)) / tune.SECONDS_FILE
            if trial.status == "COMPLETED" and timing.is_file():
                out.append({"trial": trial.trial_id, **trial.hyperparameters.values,
                            "val_accuracy": trial.score,
                            **json.loads(timing.read_text())})
        return out

    class Progress(tune._timed(kt.RandomSearch)):
        def on_trial_end(self, trial):
            super().on_trial_end(trial)
            save({"trials": rows(self)})

    tuner = Progress(build, objective="val_accuracy", max_trials=5, seed=0,
                     directory=str(directory), project_name="replica", overwrite=False)
    tuner.search(x_train, y_train, epochs=5, batch_size=32, validation_split=0.2, verbose=2)
    done = rows(tuner)
    search_seconds = sum(t["seconds"] for t in done)
    best = build(tuner.get_best_hyperparameters(1)[0])
    retrain = _fit_timed(best, x_train, y_train, 10, 32)
    return {"accuracy": _accuracy(best, x_test, y_test), "train_seconds": retrain,
            "search_seconds": search_seconds, "trials": done}


def _replica_dense(x_train, y_train, x_test, y_test) -> dict:
    import keras

    dense = keras.Sequential([keras.Input((784,)), keras.layers.Dense(128, activation="relu"),
                              keras.layers.Dense(64, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    x_train, x_test = x_train.reshape(-1, 784), x_test.reshape(-1, 784)
    seconds = _fit_timed(dense, x_train, y_train, 10, 128)
    return {"accuracy": _accuracy(dense, x_test, y_test), "train_seconds": seconds}


def _replica_cnn(x_train, y_train, x_test, y_test) -> dict:
    cnn = _original_cnn()
    seconds = _fit_timed(cnn, x_train[..., None], y_train, 10, 128)
    return {"accuracy": _accuracy(cnn, x_test[..., None], y_test), "train_seconds": seconds}


def run_replica(save=lambda partial: None, measured: dict | None = None) -> dict:
    """The original study's whole procedure on this machine; `save` records each step.

    Models already in `measured` (a previous run's figures, same machine) are not retrained,
    so a run stopped in the hours-long search resumes there.
    """
    import keras

    from fmnist.data import load_dataset

    keras.utils.set_random_seed(0)
    ds = load_dataset()
    # float64 in [0, 1], as the original fed its models.
    x_train, x_test = ds.x_train.astype(np.float64) / 255.0, ds.x_test.astype(np.float64) / 255.0
    models = {k: v for k, v in (measured or {}).items() if k != "tuned_cnn"}
    for key, fit in (("logreg", replica_logreg), ("dense", _replica_dense),
                     ("cnn", _replica_cnn)):
        if key not in models:
            models[key] = fit(x_train, ds.y_train, x_test, ds.y_test)
            print("replica", key, models[key], flush=True)
            save({"models": models, "complete": False})
    models["tuned_cnn"] = replica_search(
        x_train[..., None], ds.y_train, x_test[..., None], ds.y_test, OUT / ".replica_tuner",
        lambda part: save({"models": models, "tuned_cnn_search": part, "complete": False}))
    print("replica tuned", models["tuned_cnn"], flush=True)
    # Summed from the parts, so a search resumed in a later run still counts once.
    total = sum(m["train_seconds"] + m.get("search_seconds", 0) for m in models.values())
    return {"models": models, "total_seconds": total, "complete": True}


def machine() -> dict:
    from fmnist.environment import machine_description

    return {"cpu": machine_description(), "cores": os.cpu_count(),
            "python": platform.python_version()}


def _total(m: dict) -> float:
    return m["train_seconds"] + m.get("search_seconds", 0)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.2f} %"


def markdown(result: dict) -> str:
    """The side-by-side table the README includes."""
    report, replica = result.get("report"), result.get("seed_replica")
    lines = ["| model | this study: validation | test accuracy | train time | original "
             "procedure, rerun here: test accuracy | train time | time ratio (ours / original) "
             "| target (test) |", "|---|---|---|---|---|---|---|---|"]
    for key, name in BENCH_MODELS.items():
        ours = (report or {}).get("models", {}).get(key)
        theirs = (replica or {}).get("models", {}).get(key)
        cells = [name]
        cells += ([_pct(ours.get("val_accuracy")), _pct(ours["accuracy"]), f"{_total(ours):.0f} s"]
                  if ours else ["not measured", "", ""])
        cells += ([_pct(theirs["accuracy"]), f"{_total(theirs):.0f} s"] if theirs
                  else ["not measured", ""])
        cells.append(f"{_total(ours) / _total(theirs):.2f}" if ours and theirs else "")
        met = ours and ours["accuracy"] >= TARGETS[key]
        cells.append(f"≥ {100 * TARGETS[key]:.1f} % " + ("(met)" if met else "(missed by "
                     f"{100 * (TARGETS[key] - ours['accuracy']):.2f} points)" if ours else ""))
        lines.append("| " + " | ".join(cells) + " |")
    notes = [f"\nMachine: {result['machine']['cpu']}, Python {result['machine']['python']}. "
             f"Profile `{(report or {}).get('profile')}`; {result.get('date', 'date unknown')}."]
    if report:
        notes.append(f"Whole default report (every chapter and the site): "
                     f"{report['report_seconds']:.0f} s wall (chapters: " + ", ".join(
                         f"{k} {v:.0f} s" for k, v in report["chapters"].items()) +
                     f"); peak memory of the largest process {report['peak_rss_mib']:.0f} MiB.")
    if replica and replica.get("complete"):
        notes.append(f"Original procedure, whole: {replica['total_seconds']:.0f} s of training.")
        if report:
            ratio = report["report_seconds"] / replica["total_seconds"]
            verdict = "met" if ratio <= REPORT_RATIO_TARGET else "missed"
            notes.append(f"**Report / original procedure: {ratio:.2f}** (target ≤ "
                         f"{REPORT_RATIO_TARGET:.1f}, {verdict}).")
        notes.append("Tuned-CNN times include the search.")
    elif replica:
        done = replica.get("tuned_cnn_search", {}).get("trials", [])
        spent = sum(t["seconds"] for t in done)
        before = sum(m["train_seconds"] for k, m in replica.get("models", {}).items()
                     if k != "tuned_cnn")
        notes.append(f"The original procedure's run was stopped in its random search, after "
                     f"{len(done)} of 5 trials ({spent:.0f} s of trials), before its retrain: "
                     f"it had spent {before + spent:.0f} s of training, a lower bound on its "
                     "whole time.")
        if report:
            notes.append(f"**Report / original procedure: at most "
                         f"{report['report_seconds'] / (before + spent):.2f}** (target ≤ "
                         f"{REPORT_RATIO_TARGET:.1f}; the original's whole time is larger).")
    notes.append("The original procedure trains on all 60,000 training images and validates on "
                 "the test set; this study trains on 54,000, holding 6,000 out for validation.")
    notes.append("Command: `python bench/run.py` (see `bench/results/latest.json`).")
    return "\n".join(lines) + "\n" + " ".join(notes) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["report", "replica", "all", "table"], default="all",
                        help="what to measure; `table` only re-renders the saved figures")
    parser.add_argument("--params", default="params/default.yaml")
    parser.add_argument("--resume", action="store_true",
                        help="replica alone: keep measured replica models and finished trials")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    latest = OUT / "latest.json"
    result = json.loads(latest.read_text()) if latest.is_file() else {}
    result["machine"] = machine()
    if args.part != "table":
        result["date"] = time.strftime("%Y-%m-%d")
    if args.part in ("report", "all"):
        result["report"] = run_report(args.params)
        result.update({k: result["report"][k] for k in ("profile", "report_seconds", "chapters",
                                                         "models")})
    if args.part in ("replica", "all"):
        def save(partial: dict) -> None:
            latest.write_text(json.dumps({**result, "seed_replica": partial}, indent=2))

        resume = args.resume and args.part == "replica"
        if not resume:  # same invocation, same conditions: the replica is measured afresh
            shutil.rmtree(OUT / ".replica_tuner", ignore_errors=True)
        previous = result.get("seed_replica", {}).get("models", {}) if resume else {}
        result["seed_replica"] = run_replica(save, previous)
    latest.write_text(json.dumps(result, indent=2))
    table = markdown(result)
    (OUT / "latest.md").write_text(table)
    replace_block("bench", table)
    print(table)


if __name__ == "__main__":
    main()

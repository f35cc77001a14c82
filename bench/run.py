"""Benchmark: the default report against a replica of the original study's procedure.

Part `report` runs the full default report (forced, so every chapter really runs) and records each
chapter's wall time, each model's test accuracy and training time, and the peak memory. Part
`replica` reruns the original study's procedure on the same machine: logistic regression (saga,
max_iter=100) on [0, 1] pixels; dense 128-64 (Adam, 10 epochs, batch 128); CNN 32/64 3x3 filters,
Dense 128, dropout 0.3 (Adam, 10 epochs, batch 128). Like the original, it trains on all 60,000
training images in float64 and tests on the test set.

The original's last step, a 5-trial random search (5 epochs at batch 32, validation_split=0.2)
over 108 architectures and a 10-epoch retrain of the winner at batch 32, was unseeded: its cost
is a random variable (one draw measured 1,707 s, another on the same kind of machine 761 s). So
the replica measures, in the same invocation, the training cost of every architecture of its
space (a short timed fit of each at batch 32) and takes the search's **expected** cost over the
space: five draws of five epochs, and a retrain whose architecture is any of the five with equal
chance (a Monte Carlo over draws gives the 5th-95th percentile range). `--replica-search` also
runs one real draw of the search, for the record.

Every time target is a ratio to the original procedure measured in the same invocation (`--part
all`, the default, runs both): machines of this kind differ up to 4x in speed.

TensorFlow is imported only inside the functions that train (`--part table` re-renders without
it), each such import marked.

Usage: python bench/run.py [--part report|replica|all|table] [--params params/default.yaml]
Writes bench/results/latest.json and bench/results/latest.md, and the README's results table.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
import warnings
from datetime import datetime
from pathlib import Path

import numpy as np
from readme import replace_block
from sklearn.linear_model import LogisticRegression

from fmnist import compare, ladder
from fmnist.chapters import MODELS, PIPELINE  # MODELS: each model's chapter and display name
from fmnist.data import load_dataset
from fmnist.environment import machine_description
from fmnist.params import load_profile
from fmnist.tuning.folders import SECONDS_FILE

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results"
# Goals for the code, per profile, kept here and in results/NAME.md, never in the README's
# findings: test accuracy per model, and the whole report's time / the expected whole original
# procedure's. The default profile also asks tuned minus CNN >= GAIN_TARGET, Holm p < 0.01.
TARGETS = {"default": {"accuracy": {"tuning": 0.935}, "ratio": 0.5, "cpu_use": 1.85,
                       "memory_mib": 4096},
           "larger": {"accuracy": {"tuning": 0.94, "dense": 0.905}, "ratio": 2.0}}
GAIN_TARGET = 0.01
# The original's search space: filters and kernel of each block, dense units (dropout costs
# nothing); the random search's trials and epochs; its retrain's epochs.
ORIGINAL_SPACE = {"filters1": [32, 64, 128], "filters2": [32, 64, 128], "kernel1": [3, 5],
                  "kernel2": [3, 5], "dense_units": [64, 128, 256]}
ORIGINAL_DROPOUT = (0.2, 0.5, 0.1)  # hp.Float(min, max, step): 0.2, 0.3, 0.4 or 0.5
SEARCH_TRIALS, SEARCH_EPOCHS, RETRAIN_EPOCHS, SEARCH_BATCH = 5, 5, 10, 32
TIMING_REPEATS = 3  # each architecture's timing, after a warm-up; its cost is their median


def run_report(params: str, results_dir: str | None = None, jobs: int | None = None,
               env: dict[str, str] | None = None) -> dict:
    """The full report of a profile (the default one), forced; figures read from the files it
    wrote. `results_dir` keeps another profile's results apart from the default report's;
    `jobs` (default: the command's own) sets how many chapters run side by side; `env` adds
    to the command's environment."""

    overrides = [f"results_dir={results_dir}"] if results_dir else []
    profile = load_profile(ROOT / params, overrides)
    results = ROOT / profile.shared.results_dir
    # A cold run: without this the forced tuning chapter would resume its finished search.
    for folder in (results / "tuning").glob("search-*"):
        shutil.rmtree(folder)
    cpu_before = _children_cpu_seconds()
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "fmnist", "report", "--force", "--params",
                             params, *(f"--set={o}" for o in overrides),
                             *([f"--jobs={jobs}"] if jobs else [])], cwd=ROOT,
                            env={**os.environ, **(env or {})})
    peak_mib = TreeMemory(proc.pid).watch(proc)
    wall = time.perf_counter() - start
    cpu = _children_cpu_seconds() - cpu_before
    if proc.returncode != 0:
        sys.exit(f"the report failed (exit {proc.returncode})")
    run = json.loads((results / "run.json").read_text())
    models = {}
    for slug in MODELS:
        m = json.loads((results / slug / "metrics.json").read_text())
        models[slug] = {"accuracy": m["accuracy"], "accuracy_ci95": m["accuracy_ci95"],
                       "val_accuracy": m.get("val_accuracy"), "train_seconds": m["train_seconds"]}
        for extra in ("search_seconds", "kept", "changes", "retrained_val_accuracy",
                      "default_val_accuracy", "n_trials", "flip_averaging",
                      "test_predictions_sha256"):  # fmnist verify compares digests
            if extra in m:
                models[slug][extra] = m[extra]
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"rungs": rungs(results), "profile": profile.name, "params_hash": profile.digest(),
            "params": profile.as_dict(),
            "report_seconds": wall, "chapters": run["chapter_seconds"], "models": models,
            "jobs": run.get("jobs", 1), "cpu_seconds": cpu, "cpu_use": cpu / wall,
            "startup_seconds": startup_seconds(results / "notebooks"),
            "peak_rss_mib": peak_kib / 1024, "peak_tree_rss_mib": peak_mib,
            "versions": run["versions"]}


def startup_seconds(notebooks: Path) -> dict[str, float]:
    """Each executed chapter's start-up: from its kernel's launch to its parameters cell (the
    kernel, the setup cell and the imports), read from papermill's timestamps. It bounds what
    sharing a warm kernel between chapters could save."""
    out = {}
    for ch in PIPELINE:
        path = notebooks / ch.notebook
        if not path.is_file():
            continue
        nb = json.loads(path.read_text())
        cell = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
        start, reached = (datetime.fromisoformat(m["papermill"]["start_time"])
                          for m in (nb["metadata"], cell["metadata"]))
        out[ch.slug] = round((reached - start).total_seconds(), 1)
    return out


def _children_cpu_seconds() -> float:
    """User and system CPU seconds of this process's finished children and theirs (a notebook
    kernel is reaped by the report, the report by this process)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class TreeMemory:
    """The resident memory of a process and all its descendants together, sampled while it runs
    (the kernels of chapters side by side, the search's process): the peak of the sum."""

    def __init__(self, pid: int, every: float = 0.5):
        self.pid, self.every, self.peak_kib = pid, every, 0

    def _tree(self) -> list[int]:
        parents: dict[int, list[int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:  # ended meanwhile
                continue
            parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        tree, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo += parents.get(pid, [])
        return tree

    def _rss_kib(self) -> int:
        total = 0
        for pid in self._tree():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            total += next((int(line.split()[1]) for line in status.splitlines()
                           if line.startswith("VmRSS:")), 0)
        return total

    def watch(self, proc: subprocess.Popen) -> float:
        """Sample until `proc` ends; return the peak in MiB."""
        while proc.poll() is None:
            self.peak_kib = max(self.peak_kib, self._rss_kib())
            time.sleep(self.every)
        return self.peak_kib / 1024


def rungs(results: Path) -> list[dict]:
    """Each step up the ladder on the paired test predictions: the gain and McNemar's exact p,
    Holm-adjusted over the rungs (`fmnist.ladder`, the family every page uses)."""
    return [{"from": t.lower, "to": t.upper, "gain": t.gain,
             "only_upper_right": t.only_upper_right, "only_lower_right": t.only_lower_right,
             "p_holm": t.p_adjusted} for t in ladder.rungs(compare.load(results))]


def _accuracy(model, x, y) -> float:
    return float(np.mean(np.argmax(model.predict(x, batch_size=1000, verbose=0), axis=1) == y))


def replica_logreg(x_train, y_train, x_test, y_test) -> dict:
    """The original's logistic regression: saga, max_iter=100 (it does not converge)."""
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
    import keras  # noqa: PLC0415 (TensorFlow)

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
    import keras_tuner as kt  # noqa: PLC0415 (TensorFlow)

    from fmnist.tuning.tuners import timed  # noqa: PLC0415 (TensorFlow)

    def build(hp):
        low, high, step = ORIGINAL_DROPOUT
        model = _original_cnn(*(hp.Choice(k, v) for k, v in ORIGINAL_SPACE.items()),
                              hp.Float("dropout", low, high, step=step))
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        return model

    def rows(tuner) -> list[dict]:
        out = []
        for trial in sorted(tuner.oracle.trials.values(), key=lambda t: t.trial_id):
            timing = Path(tuner.get_trial_dir(trial.trial_id)) / SECONDS_FILE
            if trial.status == "COMPLETED" and timing.is_file():
                out.append({"trial": trial.trial_id, **trial.hyperparameters.values,
                            "val_accuracy": trial.score,
                            **json.loads(timing.read_text())})
        return out

    class Progress(timed(kt.RandomSearch)):
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
            "search_seconds": search_seconds, "trials": done,
            "winner": tuner.get_best_hyperparameters(1)[0].values}


def _replica_dense(x_train, y_train, x_test, y_test) -> dict:
    import keras  # noqa: PLC0415 (TensorFlow)

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


def _fit_seconds(model, x, y, steps: int) -> float:
    start = time.perf_counter()
    model.fit(x[:steps * SEARCH_BATCH], y[:steps * SEARCH_BATCH], epochs=1,
              batch_size=SEARCH_BATCH, verbose=0)
    return time.perf_counter() - start


def _eval_seconds(model, x, y, n: int) -> float:
    start = time.perf_counter()
    model.evaluate(x[:n], y[:n], batch_size=SEARCH_BATCH, verbose=0)
    return time.perf_counter() - start


def _timed_costs(model, x, y, short: int, long: int) -> dict:
    """One timing of an architecture: the seconds of one training step at batch 32 and of one
    validation image, each the difference of a long and a short run (so a run's fixed overhead is
    neither counted per step nor lost: it is kept per epoch)."""
    t_short, t_long = _fit_seconds(model, x, y, short), _fit_seconds(model, x, y, long)
    step = (t_long - t_short) / (long - short)
    e_short = _eval_seconds(model, x, y, short * SEARCH_BATCH)
    e_long = _eval_seconds(model, x, y, long * SEARCH_BATCH)
    per_image = (e_long - e_short) / ((long - short) * SEARCH_BATCH)
    return {"step_seconds": step, "fit_overhead_seconds": max(t_short - short * step, 0.0),
            "eval_seconds_per_image": per_image,
            "eval_overhead_seconds": max(e_short - short * SEARCH_BATCH * per_image, 0.0)}


def architecture_costs(x, y, short: int = 10, long: int = 50,
                       repeats: int = TIMING_REPEATS) -> list[dict]:
    """Every architecture of the original's search space, timed as its search trains it, after a
    warm-up that builds and traces its steps, `repeats` times: its cost is each figure's median
    over the repeats, and every repeat is kept (`repeats`) for the estimate's own spread."""
    rows = []
    for combo in itertools.product(*ORIGINAL_SPACE.values()):
        arch = dict(zip(ORIGINAL_SPACE, combo, strict=True))
        model = _original_cnn(arch["filters1"], arch["filters2"], arch["kernel1"],
                              arch["kernel2"], arch["dense_units"], 0.3)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        _fit_seconds(model, x, y, 2)  # the warm-up
        _eval_seconds(model, x, y, 2 * SEARCH_BATCH)
        runs = [_timed_costs(model, x, y, short, long) for _ in range(repeats)]
        median = {k: float(np.median([r[k] for r in runs])) for k in runs[0]}
        rows.append({**arch, **median, "repeats": runs})
        print("architecture", arch, median, flush=True)
    return rows


def trial_seconds(c: dict, n_train: int = 60_000, val_split: float = 0.2) -> float:
    """An architecture's trial as the original's search runs it: `SEARCH_EPOCHS` epochs on the
    80 % left by validation_split, scoring the 20 % after each."""
    n_val = int(n_train * val_split)
    steps = -(-(n_train - n_val) // SEARCH_BATCH)
    return SEARCH_EPOCHS * (c["fit_overhead_seconds"] + steps * c["step_seconds"]
                            + c["eval_overhead_seconds"] + n_val * c["eval_seconds_per_image"])


def retrain_seconds(c: dict, n_train: int = 60_000) -> float:
    """An architecture's retrain: `RETRAIN_EPOCHS` epochs on every training image."""
    return RETRAIN_EPOCHS * (c["fit_overhead_seconds"]
                             + -(-n_train // SEARCH_BATCH) * c["step_seconds"])


def expected_search(costs: list[dict], draws: int = 20_000) -> dict:
    """The original search's and retrain's expected seconds over its space, from each
    architecture's measured costs, and the 5th-95th percentile of their sum over random draws.

    The retrained architecture is taken as any of the five drawn with equal chance (the search
    picks it on validation accuracy, not on cost)."""
    trial = np.array([trial_seconds(c) for c in costs])
    retrain = np.array([retrain_seconds(c) for c in costs])
    rng = np.random.default_rng(0)
    picks = rng.integers(len(costs), size=(draws, SEARCH_TRIALS))
    winner = picks[np.arange(draws), rng.integers(SEARCH_TRIALS, size=draws)]
    total = trial[picks].sum(axis=1) + retrain[winner]
    return {"search_seconds": SEARCH_TRIALS * float(trial.mean()),
            "retrain_seconds": float(retrain.mean()),
            "whole_p5_p95": [float(np.percentile(total, 5)), float(np.percentile(total, 95))],
            "trial_seconds_range": [float(trial.min()), float(trial.max())],
            "architectures": len(costs)}


def estimate_spread(costs: list[dict]) -> list[float]:
    """The expected search and retrain (`expected_search`) from each timing repeat alone: how
    far the estimate moves with the machine's own variation."""
    n = min(len(c.get("repeats", [])) for c in costs)
    out = []
    for r in range(n):
        one = expected_search([{**c, **c["repeats"][r]} for c in costs], draws=2_000)
        out.append(one["search_seconds"] + one["retrain_seconds"])
    return out


def _cost_of(values: dict, costs: list[dict]) -> dict:
    return next(c for c in costs if all(c[k] == values[k] for k in ORIGINAL_SPACE))


def check_draw(draw: dict, costs: list[dict]) -> dict:
    """The model against a real seeded draw: its prediction for the draw's own five
    architectures and winner beside the draw's measured seconds."""
    search = sum(trial_seconds(_cost_of(t, costs)) for t in draw["trials"])
    retrain = retrain_seconds(_cost_of(draw["winner"], costs))
    measured = draw["search_seconds"] + draw["train_seconds"]
    return {"predicted_search_seconds": search, "predicted_retrain_seconds": retrain,
            "measured_search_seconds": draw["search_seconds"],
            "measured_retrain_seconds": draw["train_seconds"],
            "measured_over_predicted": measured / (search + retrain),
            "within_15_percent": abs(measured / (search + retrain) - 1) <= 0.15}


def run_replica(save=lambda partial: None, draw_search: bool = False) -> dict:
    """The original study's whole procedure on this machine; `save` records each step.

    The tuned CNN's search and retrain are their expectation over the search space
    (`expected_search`); `draw_search` also runs one real draw of them, for the record.
    """
    import keras  # noqa: PLC0415 (TensorFlow)


    keras.utils.set_random_seed(0)
    ds = load_dataset()
    # float64 in [0, 1], as the original fed its models.
    x_train, x_test = ds.x_train.astype(np.float64) / 255.0, ds.x_test.astype(np.float64) / 255.0
    models = {}
    for key, fit in (("baseline", replica_logreg), ("dense", _replica_dense),
                     ("cnn", _replica_cnn)):
        models[key] = fit(x_train, ds.y_train, x_test, ds.y_test)
        print("replica", key, models[key], flush=True)
        save({"models": models, "complete": False})
    costs = architecture_costs(x_train[..., None], ds.y_train)
    expected = {**expected_search(costs), "whole_by_repeat": estimate_spread(costs)}
    models["tuning"] = {"accuracy": None, "train_seconds": expected["retrain_seconds"],
                           "search_seconds": expected["search_seconds"], "expected": expected}
    record = {"models": models, "architecture_costs": costs, "complete": False}
    if draw_search:
        shutil.rmtree(OUT / ".replica_tuner", ignore_errors=True)
        record["search_draw"] = replica_search(
            x_train[..., None], ds.y_train, x_test[..., None], ds.y_test, OUT / ".replica_tuner",
            lambda part: save({**record, "search_draw": part}))
        models["tuning"]["accuracy"] = record["search_draw"]["accuracy"]
        record["draw_check"] = check_draw(record["search_draw"], costs)
    total = sum(m["train_seconds"] + m.get("search_seconds", 0) for m in models.values())
    return {**record, "total_seconds": total, "complete": True}


def machine() -> dict:
    return {"cpu": machine_description(), "cores": os.cpu_count(),
            "python": platform.python_version()}


def _total(m: dict) -> float:
    return m["train_seconds"] + m.get("search_seconds", 0)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.2f} %"


def _ci(m: dict) -> str:
    low, high = m["accuracy_ci95"]
    return f"{100 * m['accuracy']:.2f} % [{100 * low:.2f}, {100 * high:.2f}]"


def _ratio(result: dict) -> float | None:
    report, replica = result.get("report"), result.get("seed_replica") or {}
    if report and replica.get("complete"):
        return report["report_seconds"] / replica["total_seconds"]
    return None


def seed_notes(seeds: dict | None, report: dict | None = None) -> list[str]:
    """The tuning gain over fresh training seeds, leading; the report's own run apart (read from
    the report of the same record, when there is one)."""
    if not seeds or "fresh" not in seeds:
        return []
    f, own = seeds["fresh"], seeds.get("report_run")
    low, high = f["gain_ci95"]
    other_profile = (report and seeds.get("params_hash")
                     and seeds["params_hash"] != report.get("params_hash"))
    notes = [f"**Tuned CNN minus CNN over {f['n_seeds']} fresh training seeds** (the split "
             f"fixed; `python bench/seeds.py`): **{100 * f['gain_mean']:+.2f} ± "
             f"{100 * f['gain_sd']:.2f} points** on test (mean ± standard deviation; 95 % "
             f"t-interval {100 * low:+.2f} to {100 * high:+.2f}), "
             f"{100 * f['val_gain_mean']:+.2f} ± {100 * f['val_gain_sd']:.2f} on validation"
             + (f", measured with the profile as it was then (parameters hash "
                f"`{seeds['params_hash']}`, against the report's `{report['params_hash']}`)"
                if other_profile else "") + "."]
    models = (report or {}).get("models", {})
    if "tuning" in models and "cnn" in models:
        gain = models["tuning"]["accuracy"] - models["cnn"]["accuracy"]
        notes.append(f"The report's own run (seed {report['params']['seed']}), the one that "
                     f"passed the keep-or-reject gate, gained {100 * gain:+.2f}.")
    elif own:
        notes.append(f"The report's own run (seed {own['seed']}), the one that passed the "
                     f"keep-or-reject gate, gained {100 * own['gain']:+.2f}.")
    return notes


def tuned_rung_notes(report: dict) -> list[str]:
    """The tuned rung by its parts: the designed space, flip averaging, an architecture-only
    search (each read from the records that measured it)."""
    tuned, cnn = report.get("models", {}).get("tuning"), report.get("models", {}).get("cnn")
    if not tuned or not cnn or tuned.get("kept") != "tuned":
        return []
    explored = _read(OUT / "exploration.json")
    notes = ["The tuned rung is a search inside a space designed beforehand"
             + (f" by the explorations in `bench/` ({explored['total_cpu_seconds']:,.0f} "
                "CPU-seconds, on the same validation split)" if explored else "")
             + ", not a search from scratch."]
    parts = tuned.get("flip_averaging")
    if parts:
        gain = 100 * (tuned["accuracy"] - cnn["accuracy"])
        plain = 100 * (parts["without"]["accuracy"] - cnn["accuracy"])
        notes.append(f"Of its {gain:+.2f} test points, {gain - plain:+.2f} come from flip "
                     f"averaging at evaluation, which the CNN does not use (the same tuned model "
                     f"scores {_pct(parts['without']['accuracy'])} test and "
                     f"{_pct(parts['without']['val_accuracy'])} validation without it).")
    arch = _read(OUT / "architecture_search.json")
    if arch and report.get("profile") == "default":  # measured at the default search's budget
        val = 100 * (tuned["val_accuracy"] - tuned["default_val_accuracy"])
        sd = f" ± {arch['gain_sd']:.2f}" if arch.get("gain_sd") is not None else ""
        notes.append(f"On validation, a search of the original study's architecture space alone "
                     f"(this protocol and budget, {len(arch['seeds'])} search seeds; "
                     f"`python bench/architecture_search.py`) gains {arch['gain_mean']:+.2f}{sd} "
                     f"points over the CNN; this report's search gains {val:+.2f}.")
    return notes


def _read(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def markdown(result: dict) -> str:
    """The side-by-side table the README includes: what was measured, no targets."""
    report, replica = result.get("report") or {}, result.get("seed_replica") or {}
    lines = ["| model | this study: validation | test accuracy [95 % interval] | train time | "
             "original procedure, rerun here: test accuracy | train time |",
             "|---|---|---|---|---|---|"]
    for key, name in MODELS.items():
        ours, theirs = report.get("models", {}).get(key), replica.get("models", {}).get(key)
        cells = [name]
        if ours and ours.get("kept") == "default":
            cells += ["the CNN's (search kept it)", "the CNN's",
                      f"{ours.get('search_seconds', 0):.0f} s of search + "
                      f"{ours['train_seconds']:.0f} s of rejected retrain"]
        elif ours:
            cells += [_pct(ours.get("val_accuracy")), _ci(ours), f"{_total(ours):.0f} s"
                      + (f" ({ours['search_seconds']:.0f} s of search)"
                         if ours.get("search_seconds") else "")]
        else:
            cells += ["not measured", "", ""]
        if theirs:
            cells += [_pct(theirs.get("accuracy")) if theirs.get("accuracy") is not None
                      else "not run (expected time only)", f"{_total(theirs):.0f} s"
                      + (" expected" if theirs.get("expected") else "")]
        else:
            cells += ["not measured", ""]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [f"\nMachine: {result['machine']['cpu']}, Python {result['machine']['python']}. "
             f"Profile `{report.get('profile')}`; {result.get('date', 'date unknown')}."]
    notes += seed_notes(result.get("seeds"), result.get("report"))
    if report.get("rungs"):
        notes.append("Each step up the ladder on the paired test predictions (McNemar's exact "
                     "test, Holm-adjusted over the rungs, as on every page): " + "; ".join(
                         f"{MODELS[r['from']]} → {MODELS[r['to']]} "
                         f"{100 * r['gain']:+.2f} points, p = {r['p_holm']:.2g}"
                         for r in report["rungs"]) + ".")
    notes += tuned_rung_notes(report)
    if report:
        notes.append(f"Whole report (every chapter and the site): "
                     f"{report['report_seconds']:.0f} s wall (chapters' own wall seconds: "
                     + ", ".join(f"{k} {v:.0f} s" for k, v in report["chapters"].items())
                     + f"){_schedule_note(report, result['machine'])}.")
    if replica.get("complete"):
        exp = replica["models"]["tuning"].get("expected")
        fixed = replica["total_seconds"] - (exp["search_seconds"] + exp["retrain_seconds"]
                                            if exp else 0)
        notes.append(f"Original procedure, whole: {replica['total_seconds']:.0f} s of training"
                     + (f", its random search and retrain taken at their expectation over the "
                        f"search space ({exp['search_seconds']:.0f} s and "
                        f"{exp['retrain_seconds']:.0f} s, from each of its "
                        f"{exp['architectures']} architectures' cost measured in the same "
                        f"invocation; over random draws the whole ranges from "
                        f"{fixed + exp['whole_p5_p95'][0]:.0f} s to "
                        f"{fixed + exp['whole_p5_p95'][1]:.0f} s, 5th to 95th percentile)"
                        if exp else "") + ".")
        if report:
            spread = _ratio_spread(result)
            notes.append(f"**Report / original procedure: {_ratio(result):.2f}**"
                         + (f" (from each timing repeat alone: {spread[0]:.2f} to "
                            f"{spread[1]:.2f})" if spread else "")
                         + f", on {result['machine']['cpu']}: a ratio of this machine, never to "
                           "be set beside another machine's.")
        check = replica.get("draw_check")
        if check:
            notes.append(f"The expectation's model against a real seeded draw of the original's "
                         f"search (its five architectures and winner): measured "
                         f"{check['measured_search_seconds']:.0f} s + "
                         f"{check['measured_retrain_seconds']:.0f} s, predicted "
                         f"{check['predicted_search_seconds']:.0f} s + "
                         f"{check['predicted_retrain_seconds']:.0f} s "
                         f"({100 * (check['measured_over_predicted'] - 1):+.0f} %; "
                         f"{'within' if check['within_15_percent'] else 'outside'} 15 %).")
    notes.append("The original procedure, as rerun here, trains on all 60,000 training images "
                 "with no validation data: the original also scored the test set after every "
                 "epoch, which the rerun skips, so the rerun is slightly cheaper than the "
                 "original and the ratio slightly unfavourable to this study. This study trains "
                 "on 54,000 images, holding 6,000 out for validation.")
    notes.append(f"Command: `{result.get('command', 'python bench/run.py')}` (see "
                 f"`bench/results/{result.get('name', 'latest')}.json`).")
    return "\n".join(lines) + "\n" + " ".join(notes) + "\n"


def _schedule_note(report: dict, machine: dict) -> str:
    """How the report used the machine: chapters side by side, CPU and memory of all its
    processes (older records lack them)."""
    if "cpu_use" not in report:
        return f"; peak memory of the largest process {report['peak_rss_mib']:.0f} MiB"
    return (f", up to {report['jobs']} chapters side by side; CPU use "
            f"{100 * report['cpu_use']:.0f} % of {100 * machine['cores']} % (user and system "
            f"CPU-seconds over wall seconds); peak memory of all its processes together "
            f"{report['peak_tree_rss_mib']:,.0f} MiB (largest process "
            f"{report['peak_rss_mib']:,.0f} MiB)" + _startup_note(report))


def _startup_note(report: dict) -> str:
    """The chapters' start-ups (kernel, setup and imports), which a shared warm kernel could
    save at most (older records lack them)."""
    startups = report.get("startup_seconds")
    if not startups:
        return ""
    return (f"; the chapters' start-ups (kernel, setup cell, imports) "
            f"{sum(startups.values()):.0f} s in all, the tuning and comparison chapters' "
            f"{startups['tuning'] + startups['comparison']:.0f} s of them on the report's "
            "longest chain")


def _ratio_spread(result: dict) -> list[float] | None:
    """The ratio from each timing repeat's estimate alone, lowest and highest."""
    report, replica = result.get("report"), result.get("seed_replica") or {}
    exp = (replica.get("models", {}).get("tuning") or {}).get("expected") or {}
    by_repeat = exp.get("whole_by_repeat")
    if not report or not by_repeat or not replica.get("complete"):
        return None
    fixed = replica["total_seconds"] - (exp["search_seconds"] + exp["retrain_seconds"])
    ratios = [report["report_seconds"] / (fixed + whole) for whole in by_repeat]
    return [min(ratios), max(ratios)]


def interval_verdict(value: float, ci95: list[float], goal: float) -> str:
    """'met' only when the 95 % interval clears the goal; a point estimate above it whose
    interval includes it says so; otherwise by how much it fell short."""
    if ci95[0] >= goal:
        return "met"
    if value >= goal:
        return "point estimate above target, interval includes it"
    return f"missed by {100 * (goal - value):.2f} points"


def targets(result: dict) -> str:
    """The profile's goals for the code against what was measured: for results/NAME.md only,
    never the README. The time goal needs the original procedure in the same invocation."""
    report = result.get("report") or {}
    goals = TARGETS.get(result.get("profile", "default"))
    if goals is None:
        return ""
    models, out = report.get("models", {}), ["\n## Targets (goals for the code)\n"]
    for key, goal in goals["accuracy"].items():
        m = models.get(key)
        if m:
            out.append(f"- {MODELS[key]} ≥ {100 * goal:.1f} % test: {_ci(m)} "
                       f"({interval_verdict(m['accuracy'], m['accuracy_ci95'], goal)}).")
    for r in report.get("rungs", []):
        if r["to"] == "tuning" and result.get("profile", "default") == "default":
            fresh = (result.get("seeds") or {}).get("fresh")
            if fresh is None:
                verdict = "no fresh-seed interval yet: `python bench/seeds.py`"
            elif r["p_holm"] >= 0.01:
                verdict = "missed: the rung's p is not below 0.01"
            else:
                verdict = interval_verdict(fresh["gain_mean"], fresh["gain_ci95"], GAIN_TARGET)
            out.append(f"- tuned minus CNN ≥ {100 * GAIN_TARGET:.1f} point over fresh training "
                       f"seeds (95 % t-interval), with the rung's Holm p < 0.01: "
                       + (f"{100 * fresh['gain_mean']:+.2f} points "
                          f"[{100 * fresh['gain_ci95'][0]:+.2f}, "
                          f"{100 * fresh['gain_ci95'][1]:+.2f}], " if fresh else "")
                       + f"p = {r['p_holm']:.2g} ({verdict}).")
    ratio = _ratio(result)
    if ratio is not None:
        goal, spread = goals["ratio"], _ratio_spread(result)
        out.append(f"- whole report ≤ {goal} × the original procedure's expected time: "
                   f"{ratio:.2f}" + (f" (repeats {spread[0]:.2f} to {spread[1]:.2f})"
                                     if spread else "")
                   + f" ({'met' if ratio <= goal else f'missed by {ratio - goal:.2f}'}).")
    if "cpu_use" in goals and "cpu_use" in report:
        out.append(f"- CPU use over the report ≥ {100 * goals['cpu_use']:.0f} %: "
                   f"{100 * report['cpu_use']:.0f} % "
                   f"({'met' if report['cpu_use'] >= goals['cpu_use'] else 'missed'}).")
    if "memory_mib" in goals and "peak_tree_rss_mib" in report:
        peak = report["peak_tree_rss_mib"]
        out.append(f"- peak memory of the whole report ≤ {goals['memory_mib'] / 1024:.0f} GiB: "
                   f"{peak / 1024:.2f} GiB "
                   f"({'met' if peak <= goals['memory_mib'] else 'missed'}).")
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["report", "replica", "all", "table"], default="all",
                        help="what to measure; `table` only re-renders the saved figures")
    parser.add_argument("--params", default="params/default.yaml")
    parser.add_argument("--replica-search", action="store_true",
                        help="also run one real draw of the original's random search")
    parser.add_argument("--name", default="latest",
                        help="record as results/NAME.json and .md; only `latest` (the default "
                             "profile's record) fills the README's table")
    parser.add_argument("--results-dir", default=None,
                        help="the report's results folder (keeps another profile's apart)")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    latest = OUT / f"{args.name}.json"
    result = json.loads(latest.read_text()) if latest.is_file() else {}
    if args.part == "all":  # one invocation, one set of figures: nothing from an earlier run
        result = {k: v for k, v in result.items() if k == "seeds"}
    result["name"] = args.name
    if args.part != "table":  # re-rendering keeps the machine and command that measured
        result["machine"] = machine()
        result["command"] = " ".join(["python bench/run.py", *sys.argv[1:]])
        result["date"] = time.strftime("%Y-%m-%d")
    if args.part in ("report", "all"):
        result["report"] = run_report(args.params, args.results_dir)
        result.update({k: result["report"][k] for k in ("profile", "report_seconds", "chapters",
                                                         "models")})
        latest.write_text(json.dumps(result, indent=2))
    if args.part in ("replica", "all"):
        def save(partial: dict) -> None:
            latest.write_text(json.dumps({**result, "seed_replica": partial}, indent=2))

        result["seed_replica"] = run_replica(save, args.replica_search)
    latest.write_text(json.dumps(result, indent=2))
    table = markdown(result)
    (OUT / f"{args.name}.md").write_text(table + targets(result))
    if args.name == "latest":
        replace_block("bench", table)
    print(table + targets(result))


if __name__ == "__main__":
    main()

"""KerasTuner search over the CNN's space; the hypermodel only samples `hp` and calls `build_cnn`.

The search's state lives in `results/tuning/`, so an interrupted search resumes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fmnist.models import build_cnn, cnn_cost, cnn_macs
from fmnist.params import PROTOCOL_KEYS, TuningParams
from fmnist.train import compile_model

PROJECT = "search"
TUNER_ID_VAR = "KERASTUNER_TUNER_ID"
SECONDS_FILE = "seconds.json"
HP_NAMES = ("filters1", "filters2", "kernel1", "kernel2", "dense_units", "dropout",
            "learning_rate")


def sample_cnn_kwargs(hp, space: TuningParams) -> tuple[dict[str, Any], float]:
    """Sample one configuration: `build_cnn` keyword arguments and a learning rate."""
    lo, hi, step = space.dropout_range
    kwargs = {
        "filters": [hp.Choice("filters1", space.filters_choices),
                    hp.Choice("filters2", space.filters_choices)],
        "kernel_size": [hp.Choice("kernel1", space.kernel_choices),
                        hp.Choice("kernel2", space.kernel_choices)],
        "dense_units": hp.Choice("dense_units", space.units_choices),
        "dropout": hp.Float("dropout", lo, hi, step=step) if hi > lo else lo,
    }
    return kwargs, hp.Choice("learning_rate", space.lr_choices)


def make_hypermodel(space: TuningParams, steps_per_trial: int,
                    fixed: dict[str, Any] | None = None) -> Callable:
    """`build(hp)`: samples the space, calls `build_cnn` and compiles like the CNN chapter."""

    def build(hp):
        kwargs, lr = sample_cnn_kwargs(hp, space)
        model = build_cnn(**kwargs, **(fixed or {}))
        compile_model(model, lr, steps_per_trial)
        return model

    return build


def _timed(base: type) -> type:
    """A tuner class that records each trial's wall time in its trial folder."""

    class Timed(base):
        def run_trial(self, trial, *args, **kwargs):
            start = time.perf_counter()
            out = super().run_trial(trial, *args, **kwargs)
            path = Path(self.get_trial_dir(trial.trial_id)) / SECONDS_FILE
            path.write_text(json.dumps({"seconds": time.perf_counter() - start,
                                        "tuner_id": os.environ.get(TUNER_ID_VAR, "local")}))
            return out

    Timed.__name__ = f"Timed{base.__name__}"
    return Timed


def project_name(space: TuningParams, seed: int, data_key: str = "") -> str:
    """A search's folder name: same space, seed and data resume it; anything else starts anew."""
    from fmnist.params import params_hash

    # Keys that do not change which trials are run leave the search's folder alone.
    values = {k: v for k, v in dataclasses.asdict(space).items()
              if k not in ("overwrite", "selection")}
    return f"{PROJECT}-{params_hash({**values, 'seed': seed, 'data': data_key})}"


def make_tuner(space: TuningParams, hypermodel: Callable, directory: Path, seed: int,
               overwrite: bool | None = None, data_key: str = ""):
    """The tuner named by `space.algorithm`, stateful in `directory` (resumable)."""
    import keras_tuner as kt

    common = {"objective": "val_accuracy", "directory": str(directory),
              "project_name": project_name(space, seed, data_key),
              "seed": seed, "overwrite": space.overwrite if overwrite is None else overwrite}
    if space.algorithm == "hyperband":
        # Factor 2, not KerasTuner's 3: with a budget of a few epochs per configuration, factor 3
        # leaves one bracket, i.e. a random search without successive halving.
        return _timed(kt.Hyperband)(hypermodel, max_epochs=space.trial_epochs, factor=2,
                                    hyperband_iterations=1, **common)
    if space.algorithm == "bayesian":
        # KerasTuner's default starts with 3 random points per hyperparameter (21 here), more
        # than a small budget has: half the trials explore, the rest follow the Gaussian process.
        return _timed(kt.BayesianOptimization)(hypermodel, max_trials=space.max_trials,
                                               num_initial_points=-(-space.max_trials // 2),
                                               **common)
    return _timed(kt.RandomSearch)(hypermodel, max_trials=space.max_trials, **common)


def search(tuner, train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray],
           epochs: int, batch_size: int, verbose: int = 2) -> None:
    """Run (or resume) the search on training data, scored on the validation split."""
    tuner.search(*train, validation_data=val, epochs=epochs, batch_size=batch_size,
                 verbose=verbose)


def trial_rows(tuner, padding: str = "valid") -> list[dict[str, Any]]:
    """Every finished trial: hyperparameters, validation accuracy, seconds and cost, in order.

    `mmacs` is the configuration's forward pass per image in millions of multiply-accumulates and
    `cost` its training cost relative to the original CNN's (`models.cnn_cost`), both with the
    CNN protocol's `padding`.
    """
    rows = []
    for trial in sorted(tuner.oracle.trials.values(), key=lambda t: t.trial_id):
        if trial.status != "COMPLETED" or trial.score is None:
            continue
        seconds_file = Path(tuner.get_trial_dir(trial.trial_id)) / SECONDS_FILE
        timing = json.loads(seconds_file.read_text()) if seconds_file.is_file() else {}
        hp = trial.hyperparameters.values
        config = ([hp["filters1"], hp["filters2"]], [hp["kernel1"], hp["kernel2"]],
                  hp["dense_units"], padding)
        rows.append({"trial": trial.trial_id, **hp, "val_accuracy": float(trial.score),
                     "mmacs": round(cnn_macs(*config) / 1e6, 2),
                     "cost": round(cnn_cost(*config), 3), "seconds": timing.get("seconds"),
                     "worker": timing.get("tuner_id")})
    return rows


def select_trial(rows: list[dict[str, Any]], n_val: int, rule: str = "one_se") -> dict[str, Any]:
    """The trial to retrain: the best by validation accuracy, or under `one_se` the cheapest
    (lowest `cost`) among those within one standard error of the best.

    The one-standard-error rule (Breiman et al., 1984) prefers the cheaper of configurations the
    validation split cannot tell apart; the standard error is the binomial one of the best
    accuracy on `n_val` images. Ties go to the higher accuracy, then the earlier trial.
    """
    if not rows:
        raise ValueError("no finished trials to choose from: run the search first")
    best = max(rows, key=lambda r: r["val_accuracy"])
    if rule == "best":
        return best
    if rule != "one_se":
        raise ValueError(f"unknown selection rule {rule!r}: use 'best' or 'one_se'")
    p = best["val_accuracy"]
    floor = p - float(np.sqrt(p * (1 - p) / n_val))
    close = [r for r in rows if r["val_accuracy"] >= floor]
    return min(close, key=lambda r: (r["cost"], -r["val_accuracy"]))  # first of equals wins


def trial_kwargs(tuner, trial_id: str, space: TuningParams) -> tuple[dict[str, Any], float]:
    """One trial's `build_cnn` keyword arguments and learning rate."""
    return sample_cnn_kwargs(tuner.oracle.trials[trial_id].hyperparameters, space)


def cnn_protocol(results: Path) -> dict[str, Any]:
    """The CNN chapter's training protocol (read from its results), for a fair retrain."""
    from fmnist.evaluate import load_metrics

    metrics = load_metrics(results / "cnn")
    if metrics is None:
        raise FileNotFoundError(f"{results / 'cnn' / 'metrics.json'} not found: the tuned CNN is "
                                "retrained with the CNN chapter's protocol, so run that chapter "
                                "first (`fmnist run cnn`).")
    return {key: metrics["params"][key] for key in PROTOCOL_KEYS}


@dataclass
class SearchSetup:
    """Everything a search and the final retrain need, prepared the same way everywhere."""

    tuner: Any
    splits: Any
    search_train: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray]
    protocol: dict[str, Any]
    epochs: int


def prepare_search(results: Path, shared, space: TuningParams, overwrite: bool | None = None,
                   directory: Path | None = None) -> SearchSetup:
    """Load the split, subset it for the search and build the resumable tuner.

    The tuner's state goes to `directory` (default: the tuning chapter's `results/tuning`).
    """
    from fmnist import data

    splits = data.load_splits(results, shared.data_dir)
    protocol = cnn_protocol(results)
    x_train = data.channels(splits.x_train)
    search_train = data.stratified_subset(x_train, splits.y_train, space.search_subset,
                                          shared.seed)
    steps = -(-len(search_train[1]) // protocol["batch_size"]) * space.trial_epochs
    fixed = {"batch_norm": protocol["batch_norm"], "padding": protocol["padding"]}
    tuner = make_tuner(space, make_hypermodel(space, steps, fixed), directory or results / "tuning",
                       shared.seed, overwrite=overwrite,
                       data_key=data.split_key(results) + str(protocol))
    return SearchSetup(tuner=tuner, splits=splits, search_train=search_train,
                       val=(data.channels(splits.x_val), splits.y_val), protocol=protocol,
                       epochs=space.trial_epochs)


def run_search(setup: SearchSetup, verbose: int = 2) -> None:
    """Run or resume the prepared search (as chief, worker or alone, as the environment says)."""
    search(setup.tuner, setup.search_train, setup.val, setup.epochs,
           setup.protocol["batch_size"], verbose=verbose)


def free_port() -> int:
    """A free TCP port on the loopback interface, for the chief oracle."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch_distributed(command: list[str], workers: int, ip: str = "127.0.0.1",
                       port: int | None = None, timeout: float | None = None) -> None:
    """Run `command` as one chief oracle and `workers` workers (KerasTuner's gRPC mode).

    Every process runs the same search in the same results folder; the chief serves the
    oracle and the workers train the trials it hands out.
    """
    env = {**os.environ, "KERASTUNER_ORACLE_IP": ip,
           "KERASTUNER_ORACLE_PORT": str(port or free_port())}
    chief = subprocess.Popen(command, env={**env, TUNER_ID_VAR: "chief"})
    time.sleep(2)  # let the chief's server come up before workers ask it for trials
    procs = [subprocess.Popen(command, env={**env, TUNER_ID_VAR: f"tuner{i}"})
             for i in range(workers)]
    codes = [p.wait(timeout=timeout) for p in procs]
    chief_code = chief.wait(timeout=timeout)
    if any(codes) or chief_code:
        raise RuntimeError(f"distributed search failed: chief exit {chief_code}, workers {codes}")

"""The tuning chapter's steps, in the order the chapter calls them: prepare the search and run
it, read its trials, retrain the chosen configuration, keep it or the default CNN, and say what
it all cost.

The search's state lives in `results/tuning/` (`folders`), so an interrupted search resumes;
choosing among the trials is `selection`, the trials' configurations `space`.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import numpy as np

from fmnist import data
from fmnist.chapters import MODELS
from fmnist.evaluate import Evaluation, evaluate, evaluate_keras
from fmnist.models import build_cnn_from, cnn_cost, cnn_macs, cost_arguments
from fmnist.recipe import predict_probs
from fmnist.results import load_metrics, load_predictions
from fmnist.runs import VAL_PREDICTIONS_FILE, save_validation
from fmnist.schema import CnnParams, DataParams, SharedParams, TuningParams
from fmnist.train import FitResult, fit_section, seed_everything
from fmnist.tuning.folders import (
    SECONDS_FILE,
    hyperband_configurations,
    hyperband_iterations,
    search_key,
)
from fmnist.tuning.hypermodel import CnnHyperModel
from fmnist.tuning.space import config_of, with_searched
from fmnist.tuning.tuners import make_tuner


def trial_rows(tuner: kt.Tuner, cnn: CnnParams, space: dict[str, list[Any]]
               ) -> list[dict[str, Any]]:
    """Every finished trial: searched values, validation accuracy, seconds and cost, in order.

    `mmacs` is the configuration's forward pass per image in millions of multiply-accumulates and
    `cost` its training cost per image relative to the original CNN's (`models.cnn_cost`).
    """
    rows = []
    for trial in sorted(tuner.oracle.trials.values(), key=lambda t: t.trial_id):
        if trial.status != "COMPLETED" or trial.score is None:
            continue
        seconds_file = Path(tuner.get_trial_dir(trial.trial_id)) / SECONDS_FILE
        try:
            timing = json.loads(seconds_file.read_text())
        except (OSError, ValueError):  # missing or damaged: the trial's time is unknown
            timing = {}
        hp = trial.hyperparameters.values
        config = config_of(hp, cnn, space)
        arch = cost_arguments(config)
        rows.append({"trial": trial.trial_id,
                     **{k: getattr(config, k) for k in space},
                     "epochs": hp.get("tuner/epochs"),
                     "val_accuracy": float(trial.score),
                     "mmacs": round(cnn_macs(*arch) / 1e6, 2),
                     "cost": round(cnn_cost(*arch), 3), "seconds": timing.get("seconds"),
                     "worker": timing.get("tuner_id")})
    return rows


@dataclass
class SearchSetup:
    """Everything a search and the final retrain need, prepared the same way everywhere."""

    tuner: kt.Tuner | None  # None where only the retrain is needed (bench/)
    splits: data.Splits
    search_train: tuple[np.ndarray, np.ndarray] | None
    val: tuple[np.ndarray, np.ndarray]
    cnn: CnnParams  # the CNN chapter's section: every trial changes only the searched keys
    tuning: TuningParams

    def rows(self) -> list[dict[str, Any]]:
        """The finished trials (`trial_rows`)."""
        return trial_rows(self.tuner, self.cnn, self.tuning.space)


def prepare_search(results: Path, shared: SharedParams, tuning: TuningParams, cnn: CnnParams,
                   overwrite: bool | None = None, directory: Path | None = None,
                   split: DataParams | None = None) -> SearchSetup:
    """Load the split, subset it for the search and build the resumable tuner.

    `cnn` is the CNN chapter's section of the profile: every trial is that configuration with
    the searched keys changed. The tuner's state goes to `directory` (default
    `results/tuning`). `split` (the data section) makes the split if the data chapter has not.
    """
    splits = data.load_splits(results, shared.data_dir, split, shared.seed)
    x_train = data.channels(splits.x_train)
    search_train = data.stratified_subset(x_train, splits.y_train, tuning.search_subset,
                                          shared.seed)
    hypermodel = CnnHyperModel(cnn, tuning.space, len(search_train[1]), tuning.trial_epochs,
                               shared.seed)
    tuner = make_tuner(tuning, hypermodel, directory or results / "tuning", shared.seed,
                       overwrite=overwrite, data_key=search_key(results, cnn))
    return SearchSetup(tuner=tuner, splits=splits, search_train=search_train,
                       val=(data.channels(splits.x_val), splits.y_val), cnn=cnn, tuning=tuning)


def run_search(setup: SearchSetup, verbose: int = 0) -> None:
    """Run or resume the prepared search (as chief, worker or alone, as the environment says)."""
    setup.tuner.search(setup.search_train, setup.val, epochs=setup.tuning.trial_epochs,
                       verbose=verbose)


def config_from_row(row: dict[str, Any], setup: SearchSetup) -> CnnParams:
    """The configuration of a trial row (`trial_rows`)."""
    return with_searched(setup.cnn, {k: row[k] for k in setup.tuning.space})


def retrain(setup: SearchSetup, config: CnnParams, seed: int) -> FitResult:
    """Train `config` on the whole training split exactly as the CNN chapter trains its model.

    Same epochs, batch size, patience, recipe code and seed: only the searched keys differ.
    """
    seed_everything(seed)
    model = build_cnn_from(config)
    return fit_section(model, (data.channels(setup.splits.x_train), setup.splits.y_train),
                       setup.val, config, seed)


def describe_search(setup: SearchSetup) -> str:
    """One paragraph: algorithm, fidelity, space size, data."""
    tuning = setup.tuning
    combos = int(np.prod([len(v) for v in tuning.space.values()]))
    iterations = hyperband_iterations(tuning.max_trials, tuning.trial_epochs)
    budget = (f"Hyperband, {iterations} iteration{'s' * (iterations > 1)} starting "
              f"{iterations * hyperband_configurations(tuning.trial_epochs)} configurations of "
              f"up to {tuning.trial_epochs} epochs"
              if tuning.algorithm == "hyperband" else
              f"{tuning.max_trials} trials of {tuning.trial_epochs} "
              f"epoch{'s' * (tuning.trial_epochs > 1)} ({tuning.algorithm})")
    return (f"Search: {budget}, on {len(setup.search_train[1]):,} training images, scored on "
            f"{len(setup.val[1]):,} validation images; the space holds {combos:,} "
            f"configurations over {', '.join(f'`{k}`' for k in tuning.space)}.")


@dataclass
class Outcome:
    """What the tuning chapter keeps: the retrained configuration, or the default CNN."""

    kept: str  # "tuned" or "default"
    summary: str
    chosen: dict[str, Any]
    changes: dict[str, tuple[Any, Any]]
    retrained_val_accuracy: float | None
    default_val_accuracy: float
    fit: FitResult | None = None

    def record(self, params: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
        """The keys the tuning chapter's `metrics.json` adds to the evaluation."""
        fit = self.fit
        return {"model": MODELS["tuning"], "params": params, "kept": self.kept,
                "chosen_trial": self.chosen["trial"],
                "changes": {k: [a, b] for k, (a, b) in self.changes.items()},
                "val_accuracy": (self.retrained_val_accuracy if self.kept == "tuned"
                                 else self.default_val_accuracy),
                "retrained_val_accuracy": self.retrained_val_accuracy,
                "default_val_accuracy": self.default_val_accuracy,
                "search_val_accuracy": self.chosen["val_accuracy"], "n_trials": len(rows),
                "search_seconds": float(sum(r["seconds"] or 0 for r in rows)),
                "train_seconds": fit.train_seconds if fit else 0.0,
                "history": fit.history if fit else {}, "best_epoch": fit.best_epoch if fit else 0}


def decide(fit: FitResult | None, default: dict[str, Any], chosen: dict[str, Any],
           changes: dict[str, tuple[Any, Any]]) -> Outcome:
    """Keep the retrained configuration only if it beats the default CNN on validation."""
    base = default["val_accuracy"]
    common = {"chosen": chosen, "changes": changes, "default_val_accuracy": base, "fit": fit}
    if not changes:
        return Outcome("default", "The chosen trial is the CNN chapter's own configuration: the "
                       "search found nothing to change, so nothing is retrained and the tuned "
                       "CNN is the default CNN.", retrained_val_accuracy=None, **common)
    acc = fit.val_accuracy
    diff = 100 * (acc - base)
    if acc > base:
        return Outcome("tuned", f"Retrained with the CNN chapter's protocol, the chosen "
                       f"configuration reaches {100 * acc:.2f} % validation accuracy against "
                       f"the default CNN's {100 * base:.2f} % ({diff:+.2f} points): it becomes "
                       "the tuned CNN.", retrained_val_accuracy=acc, **common)
    return Outcome("default", f"Retrained with the CNN chapter's protocol, the chosen "
                   f"configuration reaches {100 * acc:.2f} % validation accuracy, not above the "
                   f"default CNN's {100 * base:.2f} % ({diff:+.2f} points): **the search did not "
                   "find a better configuration**, and the tuned CNN is the default CNN.",
                   retrained_val_accuracy=acc, **common)


def default_cnn(results: Path, setup: SearchSetup, seed: int
                ) -> tuple[dict[str, Any], keras.Model | None]:
    """The default CNN to compare with: the CNN chapter's metrics (and no model), or, when that
    chapter has not run here (a chapter opened alone), the CNN section trained here with the
    same protocol and seed (its validation accuracy, and the model)."""
    metrics = load_metrics(results / "cnn")
    if metrics is not None:
        return metrics, None
    print("The CNN chapter's results are missing: training the default CNN here, with the same "
          "configuration, protocol and seed, to compare with.")
    fit = retrain(setup, setup.cnn, seed)
    return {"val_accuracy": fit.val_accuracy}, fit.model


def keep_default(results: Path, setup: SearchSetup, record: dict[str, Any],
                 model: keras.Model | None = None) -> Evaluation:
    """The default CNN's test results, recorded as the tuning chapter's: the CNN chapter's saved
    predictions, or `model`'s (the default trained here when that chapter had not run)."""
    if model is not None:
        model.save(results / "tuning" / "model.keras")
        predicted = predict_probs(model, setup.val[0], setup.cnn.tta).argmax(axis=1)
        save_validation(results / "tuning", predicted, setup.val[1])
        return evaluate_keras(model, data.channels(setup.splits.x_test), setup.splits.y_test,
                              tta=setup.cnn.tta, **record)
    cnn = load_metrics(results / "cnn")
    probs, y_true = load_predictions(results / "cnn")
    for name in ("model.keras", VAL_PREDICTIONS_FILE):
        if (results / "cnn" / name).is_file():
            shutil.copyfile(results / "cnn" / name, results / "tuning" / name)
    return evaluate(probs, y_true, n_params=cnn["n_params"], tta=cnn.get("tta", False),
                    inference_ms_per_1k=cnn["inference_ms_per_1k"], **record)


def flip_averaging(model: keras.Model, setup: SearchSetup, tta: bool
                   ) -> dict[str, dict[str, float]] | None:
    """The kept model's validation and test accuracy with and without test-time flip averaging
    (None when it does not average). Evaluation only: one trained model, scored both ways, so
    the tuned rung can be stated without the averaging the CNN does not use; nothing is chosen
    on either figure."""
    if not tta:
        return None
    splits = setup.splits
    sets = {"val_accuracy": setup.val,
            "accuracy": (data.channels(splits.x_test), splits.y_test)}
    return {way: {name: float(np.mean(predict_probs(model, x, flip).argmax(axis=1) == y))
                  for name, (x, y) in sets.items()}
            for way, flip in (("with", True), ("without", False))}


def cost_note(record: dict[str, Any], default: dict[str, Any]) -> str:
    """What tuning cost, beside what training the default CNN cost: the search (its trials'
    own seconds) and the retrain, kept or rejected."""
    search, retrain = record["search_seconds"], record["train_seconds"]
    kept = ("kept" if record["kept"] == "tuned" else
            "rejected" if record.get("retrained_val_accuracy") is not None else "not needed")
    base = default.get("train_seconds")
    against = (f", against {base:.0f} s for training the default CNN once "
               f"({(search + retrain) / base:.1f} times as much)" if base else "")
    return (f"The search ran {record['n_trials']} trials in {search:.0f} s; the retrain "
            f"({kept}) took {retrain:.0f} s: {search + retrain:.0f} s of tuning in all{against}.")

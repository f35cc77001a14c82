"""KerasTuner search over the CNN's keys, its retrain, and the keep-or-reject decision.

The space maps keys of the CNN chapter's profile section (architecture and recipe) to candidate
values; every trial is the CNN chapter's configuration with those keys changed, scored on the
validation split as the CNN chapter scores its epochs. The search's state lives in
`results/tuning/`, so an interrupted search resumes. Choosing among the trials is
`fmnist.choice`; the tuner itself, and everything that touches KerasTuner's private state, is
`fmnist.tuner`; launching a distributed search is `fmnist.distributed`. (Slightly over 300
lines: the tuning chapter's steps, in the order the chapter calls them.)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from fmnist import data
from fmnist.chapters import MODELS
from fmnist.evaluate import evaluate, evaluate_keras
from fmnist.models import build_cnn_from, cnn_cost, cnn_macs
from fmnist.params import CnnParams, TuningParams
from fmnist.recipe import Recipe, make_batches, predict_probs
from fmnist.results import load_metrics, load_predictions
from fmnist.runs import VAL_PREDICTIONS_FILE, save_validation
from fmnist.search import hyperband_configurations, hyperband_iterations, search_key
from fmnist.train import (
    best_epoch_callback,
    compile_model,
    fit_keras,
    seed_everything,
    training_callbacks,
)
from fmnist.tuner import SECONDS_FILE, make_tuner


def encode_choices(values: list[Any]) -> list[Any]:
    """Candidate values as KerasTuner choices: lists and mixed types become JSON strings."""
    plain = all(isinstance(v, bool) for v in values) or all(
        isinstance(v, str) for v in values) or all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    return list(values) if plain else [json.dumps(v) for v in values]


def decode_choice(values: list[Any], choice: Any) -> Any:
    """The candidate value a KerasTuner choice stands for."""
    return dict(zip(encode_choices(values), values, strict=True))[choice]


def with_searched(cnn: CnnParams, values: dict[str, Any]) -> CnnParams:
    """The CNN section with searched values.

    A searched depth (`filters` with more or fewer blocks) keeps the section's uniform kernel
    size in every block; a searched `augment_flip` brings test-time flip averaging with it, since
    averaging helps only a model trained on mirrored images (bench/frontier.py).
    """
    if "augment_flip" in values:
        values = {**values, "tta": values["augment_flip"]}
    config = dataclasses.replace(cnn, **values)
    if len(config.kernel_size) != len(config.filters):
        config = dataclasses.replace(config, kernel_size=[config.kernel_size[0]]
                                     * len(config.filters))
    return config


def sample_config(hp, cnn: CnnParams, space: dict[str, list[Any]]) -> CnnParams:
    """One configuration: the CNN section with every searched key set to a sampled value."""
    return with_searched(cnn, {key: decode_choice(values, hp.Choice(key, encode_choices(values)))
                               for key, values in space.items()})


def config_of(values: dict[str, Any], cnn: CnnParams, space: dict[str, list[Any]]) -> CnnParams:
    """The configuration of a finished trial, from its hyperparameter values."""
    return with_searched(cnn, {k: decode_choice(space[k], values[k]) for k in space})


def trial_seed(seed: int, values: dict[str, Any]) -> int:
    """A seed for one trial, from the search's seed and the trial's hyperparameter values."""
    blob = json.dumps({"seed": seed, **values}, sort_keys=True, default=str).encode()
    return int(hashlib.sha256(blob).hexdigest()[:8], 16)


class CnnHyperModel:
    """Samples the space, builds with `build_cnn` and trains with the chapter's recipe code.

    `fit` builds each trial's own batches, since augmentation is one of the searched keys.
    """

    def __init__(self, cnn: CnnParams, space: dict[str, list[Any]], n_train: int,
                 trial_epochs: int, seed: int):
        self.cnn, self.space, self.n_train = cnn, space, n_train
        self.trial_epochs, self.seed = trial_epochs, seed

    def build(self, hp):
        # Each trial's initialisation and dropout depend only on the seed and the trial's own
        # values, not on which trials ran before it in this process: resumed and distributed
        # searches train every trial exactly as one uninterrupted search does.
        keras.utils.set_random_seed(trial_seed(self.seed, hp.values))
        config = sample_config(hp, self.cnn, self.space)
        model = build_cnn_from(config)
        steps = -(-self.n_train // config.batch_size)
        compile_model(model, config.learning_rate, steps * self.trial_epochs,
                      Recipe.from_section(config), steps)
        # Hyperband continues a trial from the previous round's checkpoint, optimizer state
        # included: an optimizer built now has the variables to receive it (unbuilt, Keras
        # skipped them with a UserWarning and the continued trial restarted Adam's moments).
        model.optimizer.build(model.trainable_variables)
        return model

    def fit(self, hp, model, train, val, **kwargs):
        config = sample_config(hp, self.cnn, self.space)
        rec = Recipe.from_section(config)
        batches = make_batches(*train, config.batch_size, rec, self.seed)
        # Each epoch is scored as the CNN chapter scores its epochs (on the averaged weights when
        # the recipe averages them, with flip averaging when it mirrors): the scorer writes
        # `val_accuracy` into the epoch's logs before KerasTuner's callbacks read them, so the
        # search ranks configurations by the figure the retrain is judged on. Never stops early.
        scorer = best_epoch_callback(val, rec.tta, patience=kwargs.get("epochs", 1) + 1)
        callbacks = training_callbacks(batches, rec, scorer, kwargs.pop("callbacks", []))
        return model.fit(batches, callbacks=callbacks, **kwargs)


def trial_rows(tuner, cnn: CnnParams, space: dict[str, list[Any]]) -> list[dict[str, Any]]:
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
        arch = [getattr(config, k) for k in ("filters", "kernel_size", "dense_units",
                                             "padding", "head")]
        rows.append({"trial": trial.trial_id,
                     **{k: getattr(config, k) for k in space},
                     "epochs": hp.get("tuner/epochs"),
                     "val_accuracy": float(trial.score),
                     "mmacs": round(cnn_macs(*arch) / 1e6, 2),
                     "cost": round(cnn_cost(*arch), 3), "seconds": timing.get("seconds"),
                     "worker": timing.get("tuner_id")})
    return rows


def searched_changes(config: CnnParams, cnn: CnnParams) -> dict[str, tuple[Any, Any]]:
    """The keys where a configuration differs from the CNN chapter's: (default, chosen)."""
    return {f.name: (getattr(cnn, f.name), getattr(config, f.name))
            for f in dataclasses.fields(cnn) if getattr(cnn, f.name) != getattr(config, f.name)}


@dataclass
class SearchSetup:
    """Everything a search and the final retrain need, prepared the same way everywhere."""

    tuner: Any
    splits: Any
    search_train: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray]
    cnn: CnnParams
    space: TuningParams

    def rows(self) -> list[dict[str, Any]]:
        """The finished trials (`trial_rows`)."""
        return trial_rows(self.tuner, self.cnn, self.space.space)


def prepare_search(results: Path, shared, space: TuningParams, cnn: CnnParams,
                   overwrite: bool | None = None, directory: Path | None = None,
                   split: Any = None) -> SearchSetup:
    """Load the split, subset it for the search and build the resumable tuner.

    `cnn` is the CNN chapter's section of the profile: every trial is that configuration with
    the searched keys changed. The tuner's state goes to `directory` (default
    `results/tuning`). `split` (the data section) makes the split if the data chapter has not.
    """
    splits = data.load_splits(results, shared.data_dir, split, shared.seed)
    x_train = data.channels(splits.x_train)
    search_train = data.stratified_subset(x_train, splits.y_train, space.search_subset,
                                          shared.seed)
    hypermodel = CnnHyperModel(cnn, space.space, len(search_train[1]), space.trial_epochs,
                               shared.seed)
    tuner = make_tuner(space, hypermodel, directory or results / "tuning", shared.seed,
                       overwrite=overwrite, data_key=search_key(results, cnn))
    return SearchSetup(tuner=tuner, splits=splits, search_train=search_train,
                       val=(data.channels(splits.x_val), splits.y_val), cnn=cnn, space=space)


def run_search(setup: SearchSetup, verbose: int = 0) -> None:
    """Run or resume the prepared search (as chief, worker or alone, as the environment says)."""
    setup.tuner.search(setup.search_train, setup.val, epochs=setup.space.trial_epochs,
                       verbose=verbose)


def config_from_row(row: dict[str, Any], setup: SearchSetup) -> CnnParams:
    """The configuration of a trial row (`trial_rows`)."""
    return with_searched(setup.cnn, {k: row[k] for k in setup.space.space})


def retrain(setup: SearchSetup, config: CnnParams, seed: int):
    """Train `config` on the whole training split exactly as the CNN chapter trains its model.

    Same epochs, batch size, patience, recipe code and seed: only the searched keys differ.
    """
    seed_everything(seed)
    model = build_cnn_from(config)
    return fit_keras(model, (data.channels(setup.splits.x_train), setup.splits.y_train), setup.val,
                     epochs=config.epochs,
                     batch_size=config.batch_size, learning_rate=config.learning_rate,
                     patience=config.patience, recipe=Recipe.from_section(config), seed=seed)


def describe_search(setup: SearchSetup) -> str:
    """One paragraph: algorithm, fidelity, space size, data."""
    space = setup.space
    combos = int(np.prod([len(v) for v in space.space.values()]))
    iterations = hyperband_iterations(space.max_trials, space.trial_epochs)
    budget = (f"Hyperband, {iterations} iteration{'s' * (iterations > 1)} starting "
              f"{iterations * hyperband_configurations(space.trial_epochs)} configurations of "
              f"up to {space.trial_epochs} epochs"
              if space.algorithm == "hyperband" else
              f"{space.max_trials} trials of {space.trial_epochs} epochs ({space.algorithm})")
    return (f"Search: {budget}, on {len(setup.search_train[1]):,} training images, scored on "
            f"{len(setup.val[1]):,} validation images; the space holds {combos:,} "
            f"configurations over {', '.join(f'`{k}`' for k in space.space)}.")


@dataclass
class Outcome:
    """What the tuning chapter keeps: the retrained configuration, or the default CNN."""

    kept: str  # "tuned" or "default"
    summary: str
    chosen: dict[str, Any]
    changes: dict[str, tuple[Any, Any]]
    retrained_val_accuracy: float | None
    default_val_accuracy: float
    fit: Any = None

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


def decide(fit, default: dict[str, Any], chosen: dict[str, Any],
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


def default_cnn(results: Path, setup: SearchSetup, seed: int) -> tuple[dict[str, Any], Any]:
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


def keep_default(results: Path, setup: SearchSetup, record: dict[str, Any], model=None):
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


def flip_averaging(model, setup: SearchSetup, tta: bool) -> dict[str, dict[str, float]] | None:
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

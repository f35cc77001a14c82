"""Keras training: seeding, fitting with the best validation epoch kept, and timing.

The logistic regression's grid is `fmnist.linear`, beside its chapter's code.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from fmnist import interrupt
from fmnist.recipe import PLAIN, Recipe, epoch_setter, feed, make_batches, predict_probs


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and the Keras backend, and make TensorFlow's ops deterministic.

    On a GPU this selects TensorFlow's deterministic kernels (slower, and an op without one
    stops with TensorFlow's `UnimplementedError` naming it): reruns on the same GPU and driver
    repeat their numbers, which differ from a CPU's in the last digits.
    """
    os.environ["PYTHONHASHSEED"] = str(seed)
    keras.utils.set_random_seed(seed)  # seeds `random`, NumPy and the backend
    if keras.backend.backend() == "tensorflow":
        # Only under TensorFlow: Keras may run on another backend, without it installed.
        import tensorflow as tf  # noqa: PLC0415

        tf.config.experimental.enable_op_determinism()


def epoch_log_callback(epochs: int, log: Callable[[str], None] = print):
    """One short line per epoch: training and validation accuracy, the best so far, seconds.

    Replaces Keras' per-epoch lines, whose loss includes label smoothing and whose validation
    figures are not scored as the test set is; `log` receives each line.
    """
    class EpochLog(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            line = (f"epoch {epoch + 1:>{len(str(epochs))}}/{epochs}: "
                    f"train {100 * logs.get('accuracy', float('nan')):.2f} %, "
                    f"validation {100 * logs.get('val_accuracy', float('nan')):.2f} %, "
                    f"{time.perf_counter() - self.start:.0f} s")
            log(line)

    return EpochLog()


def interrupt_callback():
    """Stop training before the next batch after a Ctrl-C whose exception was swallowed.

    The check runs at a batch's start: a batch-end hook would turn off Keras' asynchronous
    dispatch of batches.
    """
    class StopOnInterrupt(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            interrupt.stop_if_interrupted()

    return StopOnInterrupt()


@dataclass
class FitResult:
    """A trained model with its per-epoch history, training wall time and best epoch."""

    model: Any
    history: dict[str, list[float]] = field(default_factory=dict)
    train_seconds: float = 0.0
    best_epoch: int = 0
    val_accuracy: float = 0.0  # of the kept (best) epoch, scored as the test set is
    val_predictions: np.ndarray | None = None  # that epoch's predicted validation labels

    def summary(self) -> str:
        """The training in one sentence: epochs run, time, and the epoch kept."""
        epochs = len(self.history.get("loss", []))
        return (f"Trained {epochs} epoch{'' if epochs == 1 else 's'} in "
                f"{self.train_seconds:.1f} s; best validation accuracy "
                f"{100 * self.val_accuracy:.2f} % at epoch {self.best_epoch}.")


def compile_model(model, learning_rate: float, total_steps: int, recipe: Recipe = PLAIN,
                  steps_per_epoch: int = 1) -> None:
    """Adam with cosine decay (after the recipe's linear warm-up), cross-entropy on one-hot
    targets with the recipe's label smoothing, accuracy; weight averaging when the recipe asks.
    """
    warmup = min(int(recipe.warmup_epochs * steps_per_epoch), total_steps - 1)
    if warmup > 0:
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0, decay_steps=total_steps - warmup, warmup_target=learning_rate,
            warmup_steps=warmup)
    else:
        schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=total_steps)
    ema = recipe.ema_momentum > 0
    optimizer = keras.optimizers.Adam(schedule, use_ema=ema,
                                      ema_momentum=recipe.ema_momentum if ema else 0.99)
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing)
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])


def best_epoch_callback(val: tuple[np.ndarray, np.ndarray], tta: bool, patience: int):
    """Score the validation split after every epoch, keep the best weights, stop early.

    The score is validation accuracy, the study's metric, computed as the test set's will be
    (with test-time flip averaging when the recipe uses it, on the averaged weights when the
    recipe averages them). Training stops after `patience` epochs without improvement.
    """
    x_val, y_val = val

    class BestEpoch(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.best, self.best_epoch, self.weights, self.wait = -1.0, 0, None, 0
            self.predictions = None

        def on_epoch_end(self, epoch, logs=None):
            probs = predict_probs(self.model, x_val, tta)
            acc = float(np.mean(probs.argmax(axis=1) == y_val))
            loss = float(-np.mean(np.log(np.clip(probs[np.arange(len(y_val)), y_val],
                                                 1e-7, 1.0))))
            if logs is not None:
                logs.update(val_accuracy=acc, val_loss=loss)
            if acc > self.best:
                self.best, self.best_epoch, self.wait = acc, epoch + 1, 0
                self.weights = self.model.get_weights()
                self.predictions = probs.argmax(axis=1).astype(np.uint8)
                return
            self.wait += 1
            if self.wait >= patience:
                self.model.stop_training = True

    return BestEpoch()


def training_callbacks(batches, recipe: Recipe, scorer: keras.callbacks.Callback,
                       extra: Sequence[keras.callbacks.Callback] = ()
                       ) -> list[keras.callbacks.Callback]:
    """The callbacks of every Keras fit here (a chapter's and a search trial's), in their order.

    Stop on a swallowed Ctrl-C; tell `batches` the epoch (its augmentation draws per epoch);
    with weight averaging, swap the averaged weights in, so that `scorer` (`best_epoch_callback`)
    scores and keeps them; then `extra`, which read the figures the scorer wrote into the logs.
    """
    swap = [keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if recipe.ema_momentum else []
    return [interrupt_callback(), epoch_setter(batches), *swap, scorer, *extra]


def fit_batches(model: keras.Model, batches, **kwargs: Any) -> keras.callbacks.History:
    """`model.fit(batches, **kwargs)` for `batches` from `recipe.make_batches`: through
    `recipe.feed` where Keras runs on TensorFlow, as they are on another backend."""
    if keras.backend.backend() != "tensorflow":
        return model.fit(batches, **kwargs)
    shuffle = kwargs.pop("shuffle", True)
    return model.fit(feed(batches, shuffle), shuffle=False, **kwargs)


def fit_keras(
    model,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    patience: int,
    recipe: Recipe = PLAIN,
    seed: int = 0,
    log: Callable[[str], None] | None = print,
) -> FitResult:
    """Train with `recipe` on `train`, stop early on validation accuracy, restore the best epoch.

    Batches are shuffled (and augmented) by `recipe.make_batches`, seeded from `seed`. Each
    epoch's line goes to `log` (None: silent).
    """
    batches = make_batches(*train, batch_size, recipe, seed)
    compile_model(model, learning_rate, len(batches) * epochs, recipe, len(batches))
    best = best_epoch_callback(val, recipe.tta, patience)
    start = time.perf_counter()
    lines = [epoch_log_callback(epochs, log)] if log else []
    callbacks = training_callbacks(batches, recipe, best, lines)
    history = fit_batches(model, batches, epochs=epochs, callbacks=callbacks, verbose=0)
    seconds = time.perf_counter() - start
    model.set_weights(best.weights)
    hist = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    return FitResult(model=model, history=hist, train_seconds=seconds, best_epoch=best.best_epoch,
                     val_accuracy=best.best, val_predictions=best.predictions)


def fit_section(model, train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray],
                section: Any, seed: int, log: Callable[[str], None] | None = print) -> FitResult:
    """Train `model` with its chapter's protocol: the profile section's (`DenseParams`,
    `CnnParams`) epochs, batch size, learning rate, patience and recipe (`fit_keras`)."""
    return fit_keras(model, train, val, epochs=section.epochs, batch_size=section.batch_size,
                     learning_rate=section.learning_rate, patience=section.patience,
                     recipe=Recipe.from_section(section), seed=seed, log=log)

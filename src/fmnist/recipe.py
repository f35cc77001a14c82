"""Training-time pieces of the recipe: augmentation, label smoothing, weight averaging, warm-up
and test-time flip averaging; and the batches they train on, and the pipeline that feeds them.

Every piece is off in `Recipe()`; a chapter's profile section switches each one on. Augmentation
is done in NumPy on whole batches (one vectorised flip and one gather per batch, seeded per
epoch), not with Keras' per-image preprocessing layers, which are slow on a CPU.

Keras (and TensorFlow) are imported only by the functions that use them: `evaluate` imports this
module, and the logistic regression's chapter, which evaluates with it, loads no TensorFlow.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from fmnist.data import N_CLASSES
from fmnist.schema import RecipeParams

SIDE = 28  # Fashion-MNIST images are 28 x 28


@dataclass(frozen=True)
class Recipe(RecipeParams):
    """The recipe pieces one Keras model trains with: the fields of the schema's `RecipeParams`
    (each piece declared there once, with its meaning and range); the defaults switch every
    piece off."""

    @classmethod
    def from_section(cls, section: Any) -> Recipe:
        """The recipe keys of a profile section (`DenseParams`, `CnnParams`)."""
        return cls(**{f.name: getattr(section, f.name) for f in fields(cls)})

    @property
    def augments(self) -> bool:
        return self.augment_flip or self.augment_shift > 0


PLAIN = Recipe()  # every piece off: the original study's training


def as_images(x: np.ndarray) -> np.ndarray:
    """View flat (N, 784) or channel (N, 28, 28, 1) inputs as (N, 28, 28, C) images."""
    return x.reshape(len(x), SIDE, SIDE, -1)


def flip_images(x: np.ndarray) -> np.ndarray:
    """Mirror every image left to right, keeping the input's layout (flat or channels)."""
    return as_images(x)[:, :, ::-1, :].reshape(x.shape)


def augment_batch(x: np.ndarray, rng: np.random.Generator, flip: bool, shift: int) -> np.ndarray:
    """A randomly mirrored and translated copy of a batch (zero fill at the borders)."""
    images = as_images(x)
    n = len(images)
    if flip:
        mirrored = rng.random(n) < 0.5
        images = np.where(mirrored[:, None, None, None], images[:, :, ::-1, :], images)
    if shift > 0:
        padded = np.pad(images, ((0, 0), (shift, shift), (shift, shift), (0, 0)))
        dy, dx = rng.integers(0, 2 * shift + 1, size=(2, n))
        rows = dy[:, None] + np.arange(SIDE)[None, :]
        cols = dx[:, None] + np.arange(SIDE)[None, :]
        images = padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
    return np.ascontiguousarray(images).reshape(x.shape)


def one_hot(y: np.ndarray, n_classes: int = N_CLASSES) -> np.ndarray:
    """Integer labels as float32 one-hot rows (the targets label smoothing works on)."""
    return np.eye(n_classes, dtype=np.float32)[y]


def epoch_rng(seed: int, epoch: int) -> np.random.Generator:
    """The random stream of one epoch: the same seed and epoch always give the same batches."""
    return np.random.default_rng([seed, epoch])


def make_batches(x: np.ndarray, y: np.ndarray, batch_size: int, recipe: Recipe, seed: int):
    """Shuffled, optionally augmented training batches with one-hot targets, for `model.fit`.

    A `keras.utils.PyDataset` whose batch `i` of epoch `e` depends only on (seed, e, i), so a
    rerun sees exactly the same batches; `EpochSetter` tells it the epoch.
    """
    import keras  # noqa: PLC0415 - TensorFlow (module docstring)

    class TrainBatches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.epoch = 0
            self._order: tuple[int, np.ndarray] | None = None

        def __len__(self) -> int:
            return -(-len(x) // batch_size)

        def _permutation(self) -> np.ndarray:
            if self._order is None or self._order[0] != self.epoch:
                self._order = (self.epoch, epoch_rng(seed, self.epoch).permutation(len(x)))
            return self._order[1]

        def __getitem__(self, i: int):
            idx = self._permutation()[i * batch_size:(i + 1) * batch_size]
            xb = x[idx]
            if recipe.augments:
                rng = np.random.default_rng([seed, self.epoch, i, 1])
                xb = augment_batch(xb, rng, recipe.augment_flip, recipe.augment_shift)
            return xb, one_hot(y[idx])

    return TrainBatches()


def feed(batches, shuffle: bool = True):
    """`batches` (from `make_batches`) as a tf.data pipeline that makes the next two batches
    while the model trains on one. With `shuffle`, each epoch takes them in the order in which
    Keras' own pipeline for them would (it shuffles them with Python's `random`, which
    `train.seed_everything` seeds), so that fitting on it with `shuffle=False` is fitting on
    `batches` with `shuffle`, to the last bit.

    Keras' own pipeline prefetches under tf.data's autotuning, and on two cores closing it at an
    epoch's end sometimes left both idle for seconds (`bench/NOTES.md`): here autotuning is off
    and the prefetch a fixed two batches.
    """
    import tensorflow as tf  # noqa: PLC0415 - TensorFlow (module docstring)

    if len(batches) == 0:
        raise ValueError("no training batches: the training data is empty")

    def generate():
        order = list(range(len(batches)))
        if shuffle:
            random.shuffle(order)  # as keras.src.trainers.data_adapters.PyDatasetAdapter does
        for i in order:
            yield batches[i]

    signature = tuple(tf.TensorSpec((None, *part.shape[1:]), tf.as_dtype(part.dtype))
                      for part in batches[0])
    options = tf.data.Options()
    options.autotune.enabled = False
    return (tf.data.Dataset.from_generator(generate, output_signature=signature)
            .apply(tf.data.experimental.assert_cardinality(len(batches)))
            .prefetch(2).with_options(options))


def epoch_setter(batches):
    """A callback that tells `batches` which epoch is starting (also when resumed mid-way)."""
    import keras  # noqa: PLC0415 - TensorFlow (module docstring)

    class EpochSetter(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            batches.epoch = epoch

    return EpochSetter()


def predict_probs(model, x: np.ndarray, tta: bool = False, batch_size: int = 1000) -> np.ndarray:
    """Class probabilities; with `tta`, the mean of the image's and its mirror's."""
    probs = model.predict(x, batch_size=batch_size, verbose=0)
    if tta:
        probs = (probs + model.predict(flip_images(x), batch_size=batch_size, verbose=0)) / 2
    return probs

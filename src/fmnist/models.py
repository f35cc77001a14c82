"""Pure model builders: plain keyword arguments in, an uncompiled model out. (The logistic
regression, which needs no Keras, is `fmnist.linear`'s.)

Keras 3 only (`import keras`), so any Keras backend works; TensorFlow stays the default.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence

import keras

from fmnist.data import N_CLASSES
from fmnist.schema import BN_PLACEMENTS, HEADS, CnnParams, DenseParams

IMAGE_SHAPE = (28, 28, 1)
BN_MOMENTUM = 0.9
# One convolution output value costs about as much training time on a CPU as this many
# multiply-accumulates: its batch normalisation, ReLU and pooling, forward and backward, are
# memory-bound. Least squares on CPU time per image over the tuning space, batch normalisation
# after pooling (bench/cnn_step_cost.py --fit; bench/NOTES.md).
ACTIVATION_MACS = 180
# The original study's networks, which the schema's defaults are: every builder's and cost's
# default, and (the CNN) the unit of `cnn_cost`.
ORIGINAL_DENSE = DenseParams()
ORIGINAL_CNN = CnnParams()
# The keys of a CNN section that set its cost per image (`cnn_macs`, `cnn_cost`).
COST_KEYS: tuple[str, ...] = ("filters", "kernel_size", "dense_units", "padding", "head")


def build_dense(
    units: Sequence[int] = ORIGINAL_DENSE.units,
    dropout: float = ORIGINAL_DENSE.dropout,
    n_inputs: int = math.prod(IMAGE_SHAPE),
) -> keras.Model:
    """An MLP: one ReLU layer per entry of `units`, each followed by dropout, then softmax.

    The defaults are the original study's network (the schema's `DenseParams`).
    """
    inputs = keras.Input(shape=(n_inputs,), name="pixels")
    x = inputs
    for i, n in enumerate(units, start=1):
        x = keras.layers.Dense(n, activation="relu", name=f"hidden{i}")(x)
        x = keras.layers.Dropout(dropout, name=f"dropout{i}")(x)
    outputs = keras.layers.Dense(N_CLASSES, activation="softmax", name="classes")(x)
    return keras.Model(inputs, outputs, name="dense")


def _conv_block(x, filters: int, kernel_size: int, padding: str, batch_norm: str, i: int):
    conv = keras.layers.Conv2D(filters, kernel_size, padding=padding,
                               # With batch normalisation the bias is redundant (BN shifts).
                               use_bias=batch_norm == "none",
                               activation="relu" if batch_norm == "none" else None,
                               name=f"conv{i}")
    x = conv(x)
    if batch_norm == "conv":
        x = _bn_relu(x, i)
    x = keras.layers.MaxPooling2D(2, name=f"pool{i}")(x)
    if batch_norm == "pool":
        x = _bn_relu(x, i)
    return x


def _bn_relu(x, i: int):
    # Momentum 0.9, not Keras' 0.99: inference uses the moving statistics, and with 0.99 a
    # one- or two-epoch tuning trial ends with them still near their initial values, which
    # scored every trial 10-29 % on validation (measured); 0.9 settles within ~50 steps.
    x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"bn{i}")(x)
    return keras.layers.Activation("relu", name=f"relu{i}")(x)


def build_cnn(
    filters: Sequence[int] = ORIGINAL_CNN.filters,
    kernel_size: Sequence[int] = ORIGINAL_CNN.kernel_size,
    dense_units: int = ORIGINAL_CNN.dense_units,
    dropout: float = ORIGINAL_CNN.dropout,
    batch_norm: str = ORIGINAL_CNN.batch_norm,
    padding: str = ORIGINAL_CNN.padding,
    head: str = ORIGINAL_CNN.head,
) -> keras.Model:
    """The original study's CNN: Conv2D + MaxPooling blocks, a dense layer, dropout, softmax.

    One block per entry of `filters` (the original has two). `batch_norm`: "none" (the
    original), "conv" (normalise each convolution's output, before pooling), "pool"
    (normalise after pooling: a quarter of the activations). `head`: "flatten" (the original) or
    "gap" (global average pooling: one value per channel, far fewer dense weights).
    """
    if batch_norm not in BN_PLACEMENTS:
        raise ValueError(f"batch_norm must be one of {BN_PLACEMENTS}, not {batch_norm!r}")
    if head not in HEADS:
        raise ValueError(f"head must be one of {HEADS}, not {head!r}")
    inputs = keras.Input(shape=IMAGE_SHAPE, name="image")
    x = inputs
    for i, (f, k) in enumerate(zip(filters, kernel_size, strict=True), start=1):
        x = _conv_block(x, f, k, padding, batch_norm, i)
    if head == "gap":
        x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    else:
        x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(dense_units, activation="relu", name="dense")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(N_CLASSES, activation="softmax", name="classes")(x)
    return keras.Model(inputs, outputs, name="cnn")


def _conv_shapes(filters: Sequence[int], kernel_size: Sequence[int], padding: str,
                 head: str = "flatten"):
    """(output side, input channels, filters, kernel) of each conv; the dense layer's inputs."""
    size, channels, shapes = IMAGE_SHAPE[0], IMAGE_SHAPE[2], []
    for f, k in zip(filters, kernel_size, strict=True):
        out = size if padding == "same" else size - k + 1
        if out < 2:
            raise ValueError(f"{len(filters)} conv blocks with kernels {list(kernel_size)} and "
                             f"padding {padding!r} shrink the 28-pixel image to nothing; use "
                             "padding 'same', fewer blocks or smaller kernels")
        shapes.append((out, channels, f, k))
        size, channels = out // 2, f
    return shapes, channels if head == "gap" else size * size * channels


def cnn_macs(
    filters: Sequence[int] = ORIGINAL_CNN.filters,
    kernel_size: Sequence[int] = ORIGINAL_CNN.kernel_size,
    dense_units: int = ORIGINAL_CNN.dense_units,
    padding: str = ORIGINAL_CNN.padding,
    head: str = ORIGINAL_CNN.head,
) -> int:
    """Multiply-accumulates of one forward pass of `build_cnn(...)` for one image."""
    shapes, flat = _conv_shapes(filters, kernel_size, padding, head)
    convs = sum(out * out * k * k * c * f for out, c, f, k in shapes)
    return convs + flat * dense_units + dense_units * N_CLASSES


def cnn_cost(
    filters: Sequence[int] = ORIGINAL_CNN.filters,
    kernel_size: Sequence[int] = ORIGINAL_CNN.kernel_size,
    dense_units: int = ORIGINAL_CNN.dense_units,
    padding: str = ORIGINAL_CNN.padding,
    head: str = ORIGINAL_CNN.head,
) -> float:
    """Training cost of `build_cnn(...)` per image, relative to the original CNN's (1.0).

    Multiply-accumulates plus the convolutions' output values weighted by `ACTIVATION_MACS`:
    a deterministic figure (a choice that weighs cost never depends on noisy timings) that
    follows measured CPU time much better than MACs alone (bench/cnn_step_cost.py).
    """
    return (_mac_equivalents(filters, kernel_size, dense_units, padding, head)
            / _mac_equivalents(*cost_arguments(ORIGINAL_CNN)))


def _mac_equivalents(filters: Sequence[int], kernel_size: Sequence[int], dense_units: int,
                     padding: str, head: str = "flatten") -> float:
    return (cnn_macs(filters, kernel_size, dense_units, padding, head)
            + ACTIVATION_MACS * cnn_activations(filters, kernel_size, padding))


def cnn_activations(
    filters: Sequence[int] = ORIGINAL_CNN.filters,
    kernel_size: Sequence[int] = ORIGINAL_CNN.kernel_size,
    padding: str = ORIGINAL_CNN.padding,
) -> int:
    """Values the convolutions output for one image (before pooling)."""
    shapes, _ = _conv_shapes(filters, kernel_size, padding)
    return sum(out * out * f for out, _, f, _ in shapes)


def cost_arguments(section: CnnParams) -> list:
    """The `COST_KEYS` of a CNN section, in order: `cnn_cost(*cost_arguments(section))`."""
    return [getattr(section, k) for k in COST_KEYS]


# The keys of a CNN profile section that `build_cnn` takes (its parameters); the rest is the
# training protocol.
CNN_BUILD_KEYS: tuple[str, ...] = tuple(inspect.signature(build_cnn).parameters)


def build_cnn_from(section) -> keras.Model:
    """`build_cnn` with the architecture keys of a CNN profile section (`CnnParams`)."""
    return build_cnn(**{k: getattr(section, k) for k in CNN_BUILD_KEYS})

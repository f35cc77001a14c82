"""Pure model builders: plain keyword arguments in, an uncompiled model out.

Keras 3 only (`import keras`), so any Keras backend works; TensorFlow stays the default.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

N_CLASSES = 10
IMAGE_SHAPE = (28, 28, 1)
BN_MOMENTUM = 0.9


def build_dense(
    units: Sequence[int] = (512, 256), dropout: float = 0.3, n_inputs: int = 784
) -> keras.Model:
    """An MLP: one ReLU layer per entry of `units`, each followed by dropout, then softmax."""
    inputs = keras.Input(shape=(n_inputs,), name="pixels")
    x = inputs
    for i, n in enumerate(units, start=1):
        x = keras.layers.Dense(n, activation="relu", name=f"hidden{i}")(x)
        x = keras.layers.Dropout(dropout, name=f"dropout{i}")(x)
    outputs = keras.layers.Dense(N_CLASSES, activation="softmax", name="classes")(x)
    return keras.Model(inputs, outputs, name="dense")


def _conv_block(x, filters: int, kernel_size: int, padding: str, batch_norm: bool, i: int):
    # With batch normalisation the convolution's bias is redundant (BN adds its own shift).
    x = keras.layers.Conv2D(filters, kernel_size, padding=padding, use_bias=not batch_norm,
                            activation=None if batch_norm else "relu", name=f"conv{i}")(x)
    if batch_norm:
        # Momentum 0.9, not Keras' 0.99: inference uses the moving statistics, and with 0.99 a
        # one- or two-epoch tuning trial ends with them still near their initial values, which
        # scored every trial 10-29 % on validation (measured); 0.9 settles within ~50 steps.
        x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"bn{i}")(x)
        x = keras.layers.Activation("relu", name=f"relu{i}")(x)
    return keras.layers.MaxPooling2D(2, name=f"pool{i}")(x)


def build_cnn(
    filters: Sequence[int] = (32, 64),
    kernel_size: Sequence[int] = (3, 3),
    dense_units: int = 128,
    dropout: float = 0.3,
    batch_norm: bool = False,
    padding: str = "valid",
) -> keras.Model:
    """The original study's CNN: Conv2D + MaxPooling blocks, a dense layer, dropout, softmax."""
    inputs = keras.Input(shape=IMAGE_SHAPE, name="image")
    x = inputs
    for i, (f, k) in enumerate(zip(filters, kernel_size, strict=True), start=1):
        x = _conv_block(x, f, k, padding, batch_norm, i)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(dense_units, activation="relu", name="dense")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(N_CLASSES, activation="softmax", name="classes")(x)
    return keras.Model(inputs, outputs, name="cnn")


def cnn_macs(
    filters: Sequence[int] = (32, 64),
    kernel_size: Sequence[int] = (3, 3),
    dense_units: int = 128,
    padding: str = "valid",
) -> int:
    """Multiply-accumulates of one forward pass of `build_cnn(...)` for one image.

    A deterministic stand-in for training cost (the convolutions dominate it on a CPU), so a
    choice that weighs cost never depends on noisy timings.
    """
    size, channels, macs = IMAGE_SHAPE[0], IMAGE_SHAPE[2], 0
    for f, k in zip(filters, kernel_size, strict=True):
        out = size if padding == "same" else size - k + 1
        macs += out * out * k * k * channels * f
        size, channels = out // 2, f
    flat = size * size * channels
    return macs + flat * dense_units + dense_units * N_CLASSES

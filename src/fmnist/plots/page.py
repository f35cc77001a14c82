"""The figures of a chapter's own page: the data chapter's (its classes and sample images) and
each model chapter's (its confusion matrix, learning curves and most confident mistakes)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from fmnist.data import CLASS_NAMES, N_CLASSES
from fmnist.evaluate import Evaluation, most_confident_mistakes
from fmnist.plots.style import WIDTH, count, describe, epoch_axis, styled


@styled
def plot_class_balance(counts: Mapping[str, Mapping[str, int]]) -> plt.Figure:
    """Images per class in each split, as grouped bars."""
    long = pd.DataFrame([{"class": c, "split": split, "images": n}
                         for split, per_class in counts.items()
                         for c, n in per_class.items()])
    fig, ax = plt.subplots(figsize=(WIDTH, 3.4))
    sns.barplot(long, x="class", y="images", hue="split", order=list(CLASS_NAMES), ax=ax)
    sns.move_legend(ax, "upper left", bbox_to_anchor=(1.0, 1.0), title=None)  # off the bars
    ax.tick_params(axis="x", rotation=30)
    ax.set_xlabel("")
    ax.set_title("Images per class")
    spans = "; ".join(f"{split} {_span(per_class.values())}" for split, per_class in counts.items())
    return describe(fig, f"Grouped bars of the number of images of each of the "
                         f"{N_CLASSES} classes in each split ({spans} images per class).")


def _span(values) -> str:
    low, high = min(values), max(values)
    return f"{low:,}" if low == high else f"{low:,} to {high:,}"


@styled
def plot_samples(images: np.ndarray, labels: np.ndarray, per_class: int, seed: int) -> plt.Figure:
    """A grid with one row per class (named) and `per_class` random images in it."""
    rng = np.random.default_rng(seed)
    side = min(0.8, (WIDTH - 1.4) / per_class)
    fig, axes = plt.subplots(len(CLASS_NAMES), per_class, squeeze=False,
                             figsize=(side * per_class + 1.4, side * len(CLASS_NAMES) + 0.5))
    for row, name in enumerate(CLASS_NAMES):
        picks = rng.choice(np.flatnonzero(labels == row), size=per_class, replace=False)
        for col, idx in enumerate(picks):
            ax = axes[row, col]
            ax.imshow(images[idx], cmap="gray_r")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            if col == 0:
                ax.set_ylabel(name, rotation=0, ha="right", va="center")
    fig.suptitle("Training images, one row per class", fontweight="bold")
    return describe(fig, f"A grid of {per_class} randomly drawn 28 by 28 greyscale training "
                         f"images for each class, one row each: {', '.join(CLASS_NAMES)}.")


@styled
def plot_confusion(cm: np.ndarray, title: str) -> plt.Figure:
    """The confusion matrix: counts written in each cell, shaded by the share of the true class
    (so the diagonal reads as each class's recall)."""
    share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(WIDTH, 6.4))
    sns.heatmap(share, annot=cm, fmt="d", cmap="Blues", vmin=0, vmax=1, square=True, ax=ax,
                xticklabels=CLASS_NAMES, yticklabels=CLASS_NAMES, annot_kws={"size": 9},
                cbar_kws={"label": "share of the true class", "shrink": 0.8})
    ax.tick_params(axis="x", rotation=40)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"{title}: confusion matrix (test set)")
    off = cm * (1 - np.eye(len(cm), dtype=cm.dtype))
    true, pred = np.unravel_index(int(off.argmax()), off.shape)
    recall = np.diag(share)
    return describe(fig, (
        f"A {len(cm)} by {len(cm)} grid of counts, true class in rows and predicted class in "
        f"columns, shaded by the share of the true class. {int(np.trace(cm)):,} of "
        f"{int(cm.sum()):,} test images lie on the diagonal (correct). The most frequent "
        f"confusion is {CLASS_NAMES[true]} taken for {CLASS_NAMES[pred]} ({int(off.max()):,} "
        f"images); the best recognised class is {CLASS_NAMES[int(recall.argmax())]} "
        f"({100 * recall.max():.0f} %), the worst {CLASS_NAMES[int(recall.argmin())]} "
        f"({100 * recall.min():.0f} %)."))


@styled
def plot_learning_curves(history: Mapping[str, Sequence[float]], title: str) -> plt.Figure:
    """Training and validation loss and accuracy per epoch."""
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 3.2))
    epochs = np.arange(1, len(history["loss"]) + 1)
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        ax.plot(epochs, history[metric], marker="o", label="training")
        ax.plot(epochs, history[f"val_{metric}"], marker="o", label="validation")
        epoch_axis(ax, len(epochs))
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.legend()
    fig.suptitle(f"{title}: learning curves", fontweight="bold")
    val = 100 * np.asarray(history["val_accuracy"], dtype=float)
    return describe(fig, (
        f"Two panels, loss and accuracy per epoch over {count(len(epochs), 'epoch')}, each with a "
        f"training and a validation line. Validation accuracy is highest, "
        f"{val.max():.2f} %, at epoch {int(val.argmax()) + 1}; training accuracy ends at "
        f"{100 * history['accuracy'][-1]:.2f} %."))


@styled
def plot_mistakes(images: np.ndarray, ev: Evaluation, n: int, title: str) -> plt.Figure:
    """The `n` test images an evaluation got wrong with the highest confidence, each with its
    true class, predicted class and that prediction's probability."""
    indices, y_true, probs = most_confident_mistakes(ev, n), ev.y_true, ev.probs
    cols = 6
    rows = max(1, int(np.ceil(len(indices) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(WIDTH, rows * 1.95), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, idx in zip(axes.flat, indices, strict=False):
        pred = int(probs[idx].argmax())
        ax.imshow(images[idx].reshape(28, 28), cmap="gray_r")
        ax.set_title(f"true: {CLASS_NAMES[y_true[idx]]}\npred: {CLASS_NAMES[pred]}\n"
                     f"{100 * probs[idx, pred]:.0f} %", fontsize=8, fontweight="normal")
    fig.suptitle(title, fontweight="bold")
    shown = "; ".join(f"{CLASS_NAMES[y_true[i]]} predicted as "
                      f"{CLASS_NAMES[int(probs[i].argmax())]} ({100 * probs[i].max():.0f} %)"
                      for i in indices)
    return describe(fig, f"The {len(indices)} test images predicted wrongly with the highest "
                         f"confidence, each with its true class, the predicted class and that "
                         f"prediction's probability: {shown or 'none'}.")

"""Every figure of the report, one function each; each returns its figure and can save a PNG."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from fmnist.data import CLASS_NAMES


def save(fig: plt.Figure, folder: str | Path | None, name: str) -> plt.Figure:
    """Save `fig` as `<folder>/<name>.png` when a folder is given; return it for display."""
    if folder is not None:
        path = Path(folder) / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return fig


def plot_class_balance(counts: Mapping[str, Mapping[str, int]]) -> plt.Figure:
    """Images per class in each split, as grouped bars."""
    fig, ax = plt.subplots(figsize=(9, 3.5))
    width = 0.8 / len(counts)
    x = np.arange(len(CLASS_NAMES))
    for i, (split, per_class) in enumerate(counts.items()):
        ax.bar(x + i * width, [per_class[c] for c in CLASS_NAMES], width, label=split)
    ax.set_xticks(x + width * (len(counts) - 1) / 2, CLASS_NAMES, rotation=30, ha="right")
    ax.set_ylabel("images")
    ax.set_title("Images per class")
    ax.legend()
    return fig


def plot_samples(images: np.ndarray, labels: np.ndarray, per_class: int, seed: int) -> plt.Figure:
    """A grid with one row per class (named) and `per_class` random images in it."""
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(len(CLASS_NAMES), per_class,
                             figsize=(per_class * 0.9, len(CLASS_NAMES) * 0.95), squeeze=False)
    for row, name in enumerate(CLASS_NAMES):
        picks = rng.choice(np.flatnonzero(labels == row), size=per_class, replace=False)
        for col, idx in enumerate(picks):
            ax = axes[row, col]
            ax.imshow(images[idx], cmap="gray_r")
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle("Training images, one row per class")
    return fig


def plot_confusion(cm: np.ndarray, title: str) -> plt.Figure:
    """Counts and row-normalised confusion matrices side by side, labelled with class names."""
    fig, axes = plt.subplots(1, 2, figsize=(15, 6.2))
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    for ax, values, fmt, sub in ((axes[0], cm, "d", "counts"),
                                 (axes[1], norm, ".2f", "row-normalised (recall on diagonal)")):
        ax.imshow(values, cmap="Blues")
        for (i, j), v in np.ndenumerate(values):
            dark = values[i, j] > values.max() / 2
            ax.text(j, i, format(v, fmt), ha="center", va="center", fontsize=7,
                    color="white" if dark else "black")
        ax.set_xticks(range(len(CLASS_NAMES)), CLASS_NAMES, rotation=45, ha="right")
        ax.set_yticks(range(len(CLASS_NAMES)), CLASS_NAMES)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{title}: {sub}")
    fig.tight_layout()
    return fig


def plot_learning_curves(history: Mapping[str, Sequence[float]], title: str) -> plt.Figure:
    """Training and validation loss and accuracy per epoch."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    epochs = np.arange(1, len(history["loss"]) + 1)
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        ax.plot(epochs, history[metric], marker="o", label="training")
        ax.plot(epochs, history[f"val_{metric}"], marker="o", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_title(f"{title}: {metric}")
        ax.legend()
    fig.tight_layout()
    return fig


def plot_mistakes(images: np.ndarray, y_true: np.ndarray, probs: np.ndarray,
                  indices: np.ndarray, title: str) -> plt.Figure:
    """The given test images with true class, predicted class and its probability."""
    cols = 6
    rows = max(1, int(np.ceil(len(indices) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.9, rows * 2.3), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, idx in zip(axes.flat, indices, strict=False):
        pred = int(probs[idx].argmax())
        ax.imshow(images[idx].reshape(28, 28), cmap="gray_r")
        ax.set_title(f"true: {CLASS_NAMES[y_true[idx]]}\npred: {CLASS_NAMES[pred]} "
                     f"({probs[idx, pred]:.0%})", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _no_results(title: str) -> plt.Figure:
    """A placeholder figure for a comparison with no model results yet."""
    fig, ax = plt.subplots(figsize=(7, 1.6))
    ax.text(0.5, 0.5, "No model chapter has results yet: run `fmnist report`.", ha="center",
            va="center")
    ax.set_axis_off()
    ax.set_title(title)
    return fig


def plot_accuracy_bars(names: Sequence[str], acc: Sequence[float],
                       ci: Sequence[Sequence[float]]) -> plt.Figure:
    """Test accuracy in % per model, with 95 % confidence intervals as error bars."""
    if not names:
        return _no_results("Test accuracy")
    acc = 100 * np.asarray(acc)
    ci = 100 * np.asarray(ci, dtype=float).reshape(-1, 2)
    err = np.vstack([acc - ci[:, 0], ci[:, 1] - acc])
    fig, ax = plt.subplots(figsize=(7, 3.8))
    ax.bar(names, acc, yerr=err, capsize=6, color="tab:blue")
    for i, a in enumerate(acc):
        ax.text(i, a + err[1, i] + 0.1, f"{a:.2f}", ha="center", fontsize=9)
    ax.set_ylim(max(0, acc.min() - 5), min(100, acc.max() + 2))
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Test accuracy with 95 % confidence intervals")
    return fig


def plot_f1_heatmap(names: Sequence[str], f1: np.ndarray) -> plt.Figure:
    """Per-class F1 per model (models x classes)."""
    if not names:
        return _no_results("Per-class F1")
    fig, ax = plt.subplots(figsize=(11, 0.6 * len(names) + 2))
    ax.imshow(f1, cmap="viridis", vmin=0.5, vmax=1.0, aspect="auto")
    for (i, j), v in np.ndenumerate(f1):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=11,
                color="black" if v > 0.8 else "white")
    ax.set_xticks(range(len(CLASS_NAMES)), CLASS_NAMES, rotation=30, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_title("Per-class F1 on the test set")
    fig.tight_layout()
    return fig


def plot_accuracy_vs_time(names: Sequence[str], acc: Sequence[float],
                          seconds: Sequence[float]) -> plt.Figure:
    """Test accuracy against training time (log scale); labels stay inside the frame."""
    if not names:
        return _no_results("Accuracy against training time")
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.scatter(seconds, 100 * np.asarray(acc), s=60)
    for name, s, a in zip(names, seconds, acc, strict=True):
        ax.annotate(name, (s, 100 * a), textcoords="offset points", xytext=(6, 4))
    ax.set_xscale("log")
    ax.margins(x=0.35, y=0.15)  # room for the last point's label
    ax.set_xlabel("training time (s, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Accuracy against training time")
    fig.tight_layout()
    return fig


def plot_trials(val_acc: Sequence[float]) -> plt.Figure:
    """Validation accuracy per trial (in the order they ran) with the best-so-far line."""
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(7, 3.5))
    trials = np.arange(1, len(val_acc) + 1)
    ax.plot(trials, val_acc, "o", label="trial")
    ax.step(trials, np.maximum.accumulate(val_acc), where="post", label="best so far")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    ax.set_ylabel("validation accuracy")
    ax.set_title("Search progress")
    ax.legend()
    return fig


def plot_trials_cost(rows: Sequence[Mapping[str, Any]], chosen: str,
                     group: str = "filters") -> plt.Figure:
    """Every trial's search score against its training cost, grouped by one searched key;
    the chosen trial circled."""
    fig, ax = plt.subplots(figsize=(7, 4))
    labels = [_label(r[group]) if group in r else "" for r in rows]
    for value in sorted(set(labels), key=lambda v: (len(v), v)):
        sel = [r for r, lab in zip(rows, labels, strict=True) if lab == value]
        ax.scatter([r["cost"] for r in sel], [100 * r["val_accuracy"] for r in sel], s=30,
                   label=f"{group} {value}" if value else None, alpha=0.85)
    pick = [r for r in rows if r["trial"] == chosen]
    ax.scatter([r["cost"] for r in pick], [100 * r["val_accuracy"] for r in pick], s=160,
               facecolors="none", edgecolors="black", linewidths=1.5, label="chosen")
    ax.set_xlabel("training cost per image (original CNN = 1)")
    ax.set_ylabel("search validation accuracy (%)")
    ax.set_title("Trials: score against cost")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def plot_hyperparameters(rows: Sequence[Mapping[str, Any]], names: Sequence[str]) -> plt.Figure:
    """Validation accuracy of every trial against each searched key's value, one panel each.

    Values are shown as categories (they are a search's candidate values, lists included), in a
    grid of at most three panels per row so that each stays legible at page width.
    """
    ncols = min(3, len(names))
    nrows = -(-len(names) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.8 * nrows), squeeze=False,
                             sharey=True)
    acc = 100 * np.array([r["val_accuracy"] for r in rows])
    for ax, name in zip(axes.flat, names, strict=False):
        labels = [_label(r[name]) for r in rows]
        categories = sorted(set(labels), key=lambda v: (len(v), v))
        x = np.array([categories.index(v) for v in labels], dtype=float)
        jitter = np.random.default_rng(0).uniform(-0.12, 0.12, len(x))
        ax.scatter(x + jitter, acc, s=22, alpha=0.8)
        ax.set_xticks(range(len(categories)), categories, rotation=20 if len(categories) > 3
                      else 0, fontsize=8)
        ax.set_xlabel(name)
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    for row in axes:
        row[0].set_ylabel("validation accuracy (%)")
    fig.tight_layout()
    return fig


def _label(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "-".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)

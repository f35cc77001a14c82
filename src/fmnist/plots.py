"""Every figure of the report, one function each, in one style; each returns its figure.

The style is seaborn's (white grid, colour-blind-safe palette) sized for the site's content
column: figures are at most `WIDTH` inches wide and drawn at `DPI`, so a figure is shown at about
two thirds of its pixel width and its smallest text (8 pt) stays legible. A model has one
colour in every figure (`model_color`).

Every figure also says what it shows in words (`describe`, `description`): its title and what
is plotted, with the numbers that matter, written by the function that draws it. `save` puts
that text in the PNG's `Description` field, in the saved file and in the notebook's output, and
the site's Sphinx extension (`fmnist.sphinx_ext`) makes it the image's alt text.

Longer than most modules: one function per figure of the report, all in one style, so that
a reader finds every figure's code in one place.
"""

from __future__ import annotations

import base64
import functools
import io
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from fmnist.chapters import MODELS, SHORT_MODELS
from fmnist.data import CLASS_NAMES
from fmnist.tuning.selection import value_label

WIDTH = 7.5  # inches: the content column (688 px) at two thirds of DPI
DPI = 144
PNG_DESCRIPTION = "Description"  # the PNG text key that carries a figure's words (its alt text)


def _theme() -> dict[str, Any]:
    import seaborn as sns
    from matplotlib import cycler

    return {**sns.axes_style("whitegrid"), **sns.plotting_context("notebook", font_scale=0.9),
            "axes.prop_cycle": cycler(color=sns.color_palette("colorblind")),
            "figure.dpi": DPI, "savefig.dpi": DPI, "figure.constrained_layout.use": True,
            "axes.titleweight": "bold", "legend.frameon": False}


def styled(plot: Callable[..., plt.Figure]) -> Callable[..., plt.Figure]:
    """Draw `plot`'s figure in the report's style (a context: importing this module sets none)."""

    @functools.wraps(plot)
    def wrapper(*args, **kwargs) -> plt.Figure:
        # Only the theme's own keys are set and restored: `plt.rc_context` restores every key,
        # `interactive` included, and so undid the notebook backend's showing of figures when
        # that backend first loaded inside the context.
        theme = _theme()
        saved = {key: plt.rcParams[key] for key in theme}
        plt.rcParams.update(theme)
        try:
            fig = plot(*args, **kwargs)
        finally:
            plt.rcParams.update(saved)
        if not getattr(fig, "description", ""):  # a figure without words is a bug here
            raise RuntimeError(f"{plot.__name__} drew a figure without describing it")
        return fig

    return wrapper


def _title(fig: plt.Figure) -> str:
    """The figure's title: its suptitle, or its panels' titles, on one line."""
    suptitle = fig.get_suptitle()
    titles = [suptitle] if suptitle else [ax.get_title() for ax in fig.axes if ax.get_title()]
    return "; ".join(" ".join(title.split()) for title in titles)


def describe(fig: plt.Figure, shows: str) -> plt.Figure:
    """Attach to `fig` what it shows in words, after its title (its images' alt text)."""
    title = _title(fig)
    fig.description = f"{title}. {shows}" if title else shows
    return fig


def description(fig: plt.Figure) -> str:
    """What `fig` shows in words (`describe`); its title when nothing more was said."""
    return getattr(fig, "description", "") or _title(fig)


def png_bytes(fig: plt.Figure) -> bytes:
    """The figure as the report shows it: a PNG at `DPI` carrying its title and description."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight",
                metadata={"Title": _title(fig), PNG_DESCRIPTION: description(fig)})
    return buffer.getvalue()


def _png_for_notebook(fig: plt.Figure) -> str:
    return base64.b64encode(png_bytes(fig)).decode("ascii")


def _describe_in_notebook() -> None:
    """In a Jupyter kernel, show figures as PNGs that carry their description.

    matplotlib's inline backend draws a figure's output without any text of its own; the site
    reads the description from the image itself, so the output must carry it.
    """
    if "IPython" not in sys.modules:  # a plain script: there is no notebook output
        return
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None and hasattr(shell, "display_formatter"):
        shell.display_formatter.formatters["image/png"].for_type(plt.Figure, _png_for_notebook)


def model_color(name: str) -> tuple[float, float, float]:
    """The colour of a model in every figure, by its chapter's slug or display name; a label
    that adds a note in parentheses ("Tuned CNN (retrain)") takes its model's colour; grey
    for anything else. The pipeline's order (`chapters.MODELS`) sets each model's colour."""
    import seaborn as sns

    palette = sns.color_palette("colorblind")
    model = name.split(" (", 1)[0]
    for i, (slug, display) in enumerate(MODELS.items()):
        if model in (slug, display):
            return palette[i]
    return palette[7]


def save(fig: plt.Figure, folder: str | Path | None, name: str) -> plt.Figure:
    """Save `fig` as `<folder>/<name>.png` when a folder is given; return it for display.

    The PNG, saved or shown in a notebook, carries the figure's description (`describe`).
    """
    if folder is not None:
        path = Path(folder) / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png_bytes(fig))
    _describe_in_notebook()
    return fig


@styled
def plot_class_balance(counts: Mapping[str, Mapping[str, int]]) -> plt.Figure:
    """Images per class in each split, as grouped bars."""
    import pandas as pd
    import seaborn as sns

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
                         f"{len(CLASS_NAMES)} classes in each split ({spans} images per class).")


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


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
    import seaborn as sns

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
        _epoch_axis(ax, len(epochs))
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.legend()
    fig.suptitle(f"{title}: learning curves", fontweight="bold")
    val = 100 * np.asarray(history["val_accuracy"], dtype=float)
    return describe(fig, (
        f"Two panels, loss and accuracy per epoch over {_count(len(epochs), 'epoch')}, each with a "
        f"training and a validation line. Validation accuracy is highest, "
        f"{val.max():.2f} %, at epoch {int(val.argmax()) + 1}; training accuracy ends at "
        f"{100 * history['accuracy'][-1]:.2f} %."))


@styled
def plot_validation_curves(histories: Mapping[str, Mapping[str, Sequence[float]]]) -> plt.Figure:
    """Validation accuracy per epoch of every Keras model, one colour per model; the kept
    (best) epoch of each marked."""
    if not histories:
        return _no_results("Validation accuracy per epoch")
    fig, ax = plt.subplots(figsize=(WIDTH, 3.6))
    longest = max(len(h["val_accuracy"]) for h in histories.values())
    for name, history in histories.items():
        acc = 100 * np.asarray(history["val_accuracy"])
        epochs = np.arange(1, len(acc) + 1)
        color = model_color(name)
        ax.plot(epochs, acc, marker="o", markersize=4, color=color, label=name)
        best = int(acc.argmax())
        ax.scatter(epochs[best], acc[best], s=110, facecolors="none", edgecolors=color,
                   linewidths=1.5, zorder=3)
    _epoch_axis(ax, longest)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title("Validation accuracy per epoch (circled: the epoch kept)")
    ax.legend(loc="lower right")
    kept = "; ".join(f"{name} {100 * max(h['val_accuracy']):.2f} % at epoch "
                     f"{int(np.argmax(h['val_accuracy'])) + 1}" for name, h in histories.items())
    return describe(fig, f"Validation accuracy (%) against epoch, one line per model, the kept "
                         f"epoch circled: {kept}.")


@styled
def plot_mistakes(images: np.ndarray, ev, n: int, title: str) -> plt.Figure:
    """The `n` test images an evaluation got wrong with the highest confidence, each with its
    true class, predicted class and that prediction's probability."""
    from fmnist.evaluate import most_confident_mistakes

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


def _no_results(title: str) -> plt.Figure:
    """A placeholder figure for a comparison with no model results yet."""
    fig, ax = plt.subplots(figsize=(WIDTH, 1.4))
    ax.text(0.5, 0.5, "No model chapter has results yet: run `fmnist report`.", ha="center",
            va="center")
    ax.set_axis_off()
    ax.set_title(title)
    return describe(fig, "No model chapter has results yet, so nothing is plotted: run `fmnist "
                         "report` to fill it.")


@styled
def plot_accuracy(names: Sequence[str], acc: Sequence[float],
                  ci: Sequence[Sequence[float]]) -> plt.Figure:
    """Test accuracy in % per model as a point with its 95 % confidence interval."""
    if not names:
        return _no_results("Test accuracy")
    acc = 100 * np.asarray(acc)
    ci = 100 * np.asarray(ci, dtype=float).reshape(-1, 2)
    fig, ax = plt.subplots(figsize=(WIDTH, 0.55 * len(names) + 1.3))
    y = np.arange(len(names))[::-1]
    for yi, name, a, (low, high) in zip(y, names, acc, ci, strict=True):
        ax.errorbar(a, yi, xerr=[[a - low], [high - a]], fmt="o", capsize=5, markersize=7,
                    color=model_color(name))
        ax.annotate(f"{a:.2f} %", (high, yi), xytext=(6, 0), textcoords="offset points",
                    va="center")
    ax.set_yticks(y, names)
    ax.margins(x=0.12, y=0.25)
    ax.set_xlabel("test accuracy (%)")
    ax.set_title("Test accuracy with 95 % confidence intervals")
    return describe(fig, "One point per model with its interval: " + "; ".join(
        f"{name} {a:.2f} % [{low:.2f}, {high:.2f}]"
        for name, a, (low, high) in zip(names, acc, ci, strict=True)) + ".")


@styled
def plot_f1_heatmap(names: Sequence[str], f1: np.ndarray) -> plt.Figure:
    """Per-class F1 per model (models x classes), every value written in its cell."""
    import seaborn as sns

    if not names:
        return _no_results("Per-class F1")
    fig, ax = plt.subplots(figsize=(WIDTH, 0.5 * len(names) + 2.2))
    sns.heatmap(np.asarray(f1), annot=True, fmt=".2f", cmap="viridis", vmin=0.5, vmax=1.0,
                xticklabels=CLASS_NAMES, yticklabels=list(names), annot_kws={"size": 10},
                cbar_kws={"label": "F1"}, ax=ax)
    ax.tick_params(axis="x", rotation=35)
    ax.tick_params(axis="y", rotation=0)
    ax.set_title("Per-class F1 on the test set")
    f1 = np.asarray(f1, dtype=float)
    worst = "; ".join(f"{name} {CLASS_NAMES[int(row.argmin())]} ({row.min():.2f})"
                      for name, row in zip(names, f1, strict=True))
    return describe(fig, f"A heatmap of F1 per model (rows) and class (columns), every value "
                         f"written in its cell, from {f1.min():.2f} to {f1.max():.2f}. Each "
                         f"model's hardest class: {worst}.")


@styled
def plot_accuracy_vs_time(names: Sequence[str], acc: Sequence[float], seconds: Sequence[float],
                          ci: Sequence[Sequence[float]] | None = None) -> plt.Figure:
    """Test accuracy (with its interval) against training time on a log scale; one colour per
    model, named in the legend (no label can fall outside the frame)."""
    if not names:
        return _no_results("Accuracy against training time")
    fig, ax = plt.subplots(figsize=(WIDTH, 3.8))
    _draw_models(ax, names, acc, seconds, ci, marker="o", label="{}")
    _seconds_axis(ax)
    ax.margins(x=0.15, y=0.15)
    ax.set_xlabel("training time (s, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Accuracy against training time")
    fig.legend(loc="outside right upper")  # beside the axes: it can hide no point
    return describe(fig, "Test accuracy (%) with its 95 % interval against training time "
                         "(seconds, log scale), one point per model: "
                         + _accuracy_in_time(names, acc, seconds) + ".")


def _accuracy_in_time(names, acc, seconds) -> str:
    return "; ".join(f"{name} {100 * a:.2f} % in {s:,.0f} s"
                     for name, a, s in zip(names, acc, seconds, strict=True))


def _draw_models(ax, names, acc, seconds, ci, marker: str, label: str, filled: bool = True,
                 **kwargs) -> None:
    acc = 100 * np.asarray(acc, dtype=float)
    for i, (name, a, s) in enumerate(zip(names, acc, seconds, strict=True)):
        color = model_color(name)
        err = None
        if ci is not None:
            low, high = 100 * np.asarray(ci[i], dtype=float)
            err = [[a - low], [high - a]]
        ax.errorbar(s, a, yerr=err, fmt=marker, markersize=8, capsize=4, color=color,
                    markerfacecolor=color if filled else "white", label=label.format(name),
                    **kwargs)


@styled
def plot_headline(study: Mapping[str, Mapping[str, Any]],
                  replica: Mapping[str, Mapping[str, Any]] | None = None,
                  published: Mapping[str, float] | None = None,
                  replica_note: str = "") -> plt.Figure:
    """The study's answer at a glance: test accuracy (with its interval) against training time
    for each model, beside the original procedure rerun on the same machine and, in their own
    panel (they report no time), the original study's published accuracies.

    `study` and `replica` map a model's name to `accuracy` (a fraction), `seconds` and, for the
    study, `ci95`; `published` maps a model's name to its published accuracy in %.
    """
    if not study:
        return _no_results("Accuracy against training time")
    fig, (ax, pub) = plt.subplots(1, 2, figsize=(WIDTH, 4.2), sharey=True,
                                  gridspec_kw={"width_ratios": [4.2, 1]})
    names = list(study)
    _draw_models(ax, names, [study[n]["accuracy"] for n in names],
                 [study[n]["seconds"] for n in names], [study[n]["ci95"] for n in names],
                 marker="o", label="{}")
    if replica:
        rnames = [n for n in replica if replica[n].get("accuracy") is not None]
        _draw_models(ax, rnames, [replica[n]["accuracy"] for n in rnames],
                     [replica[n]["seconds"] for n in rnames], None, marker="s",
                     label="_{}", filled=False, markeredgewidth=1.8)  # "_": no legend entry
        ax.plot([], [], "s", color="0.3", markerfacecolor="white", markeredgewidth=1.8,
                label="original procedure, rerun here" + (f" ({replica_note})"
                                                          if replica_note else ""))
    _seconds_axis(ax)
    ax.margins(x=0.15, y=0.12)
    ax.set_xlabel("training time (s, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Accuracy against training time")
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: labels[i] not in names)  # models first
    fig.legend([handles[i] for i in order], [labels[i] for i in order], ncol=3, fontsize=8,
               loc="outside lower center")  # below the axes: it can hide no point
    for i, (name, value) in enumerate((published or {}).items()):
        pub.scatter([i], [value], marker="D", s=55, color=model_color(name))
    pub.set_xticks(range(len(published or {})),
                   [_short(n) for n in (published or {})], rotation=60, fontsize=8)
    pub.margins(x=0.3)
    pub.set_title("Original study,\npublished", fontsize=9)
    shows = ("Left: test accuracy (%) with its 95 % interval against training time (seconds, "
             "log scale) for this study's models: " + _accuracy_in_time(
                 names, [study[n]["accuracy"] for n in names],
                 [study[n]["seconds"] for n in names]) + ".")
    if replica:
        shows += (" Open squares: the original procedure, rerun here: " + _accuracy_in_time(
            rnames, [replica[n]["accuracy"] for n in rnames],
            [replica[n]["seconds"] for n in rnames]) + ".")
    if published:
        shows += " Right: the original study's published accuracies: " + "; ".join(
            f"{name} {value:.2f} %" for name, value in published.items()) + "."
    return describe(fig, shows)


def _short(name: str) -> str:
    """A model's name on a narrow axis (`chapters.SHORT_MODELS`), from its display name."""
    return next((SHORT_MODELS[slug] for slug, display in MODELS.items() if display == name), name)


@styled
def plot_trials(val_acc: Sequence[float]) -> plt.Figure:
    """Validation accuracy per trial (in the order they ran) with the best-so-far line."""
    fig, ax = plt.subplots(figsize=(WIDTH, 3.2))
    trials = np.arange(1, len(val_acc) + 1)
    acc = 100 * np.asarray(val_acc, dtype=float)
    ax.plot(trials, acc, "o", label="trial")
    ax.step(trials, np.maximum.accumulate(acc), where="post", label="best so far")
    _epoch_axis(ax, len(trials))
    ax.set_xlabel("trial")
    ax.set_ylabel("search validation accuracy (%)")
    ax.set_title("Search progress")
    ax.legend(loc="lower right")
    return describe(fig, (
        f"Search validation accuracy (%) of each of {_count(len(acc), 'trial')} in the order they "
        f"ran, with the best-so-far line; the best, {acc.max():.2f} %, came at trial "
        f"{int(acc.argmax()) + 1}, the worst scored {acc.min():.2f} %."))


@styled
def plot_trials_cost(rows: Sequence[Mapping[str, Any]], chosen: str,
                     group: str = "filters") -> plt.Figure:
    """The search in one figure: every trial's score against its training cost, coloured by one
    searched key, the chosen trial circled and named."""
    fig, ax = plt.subplots(figsize=(WIDTH, 4))
    labels = [value_label(r[group]) if group in r else "" for r in rows]
    for value in sorted(set(labels), key=lambda v: (len(v), v)):
        sel = [r for r, lab in zip(rows, labels, strict=True) if lab == value]
        ax.scatter([r["cost"] for r in sel], [100 * r["val_accuracy"] for r in sel], s=40,
                   label=f"{group} {value}" if value else None, alpha=0.85)
    pick = [r for r in rows if r["trial"] == chosen]
    ax.scatter([r["cost"] for r in pick], [100 * r["val_accuracy"] for r in pick], s=200,
               facecolors="none", edgecolors="black", linewidths=1.5, label="chosen")
    for r in pick:
        ax.annotate(f"trial {r['trial']}", (r["cost"], 100 * r["val_accuracy"]),
                    xytext=(10, -14), textcoords="offset points", fontsize=8)
    ax.margins(0.12)
    ax.set_xlabel("training cost per image (original CNN = 1)")
    ax.set_ylabel("search validation accuracy (%)")
    ax.set_title("The search: each trial's score against its cost")
    ax.legend(fontsize=8, loc="best")
    chosen_text = "; ".join(f"the chosen trial, {r['trial']}, scored "
                            f"{100 * r['val_accuracy']:.2f} % at cost {r['cost']:.2f}"
                            for r in pick)
    return describe(fig, (
        f"Search validation accuracy (%) of each of {_count(len(rows), 'trial')} against its "
        f"training cost per image (original CNN = 1), coloured by {group}; "
        f"{chosen_text or 'no trial was chosen'}."))


@styled
def plot_hyperparameters(rows: Sequence[Mapping[str, Any]], names: Sequence[str]) -> plt.Figure:
    """An isolation plot: every trial's validation accuracy against each searched key's value,
    one panel per key, with the best trial of each value marked and joined.

    A key whose best-per-value line is flat did not matter in this search; a steep one did.
    Values are shown as categories (they are a search's candidate values, lists included), in a
    grid of at most three panels per row so that each stays legible at page width.
    """
    ncols = min(3, len(names))
    nrows = -(-len(names) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(WIDTH, 2.5 * nrows + 0.3), squeeze=False,
                             sharey=True)
    acc = 100 * np.array([r["val_accuracy"] for r in rows])
    for ax, name in zip(axes.flat, names, strict=False):
        labels = [value_label(r[name]) for r in rows]
        categories = sorted(set(labels), key=lambda v: (len(v), v))
        x = np.array([categories.index(v) for v in labels], dtype=float)
        jitter = np.random.default_rng(0).uniform(-0.12, 0.12, len(x))
        ax.scatter(x + jitter, acc, s=18, alpha=0.45, color="0.45", label="a trial")
        best = [acc[x == i].max() for i in range(len(categories))]
        ax.plot(range(len(categories)), best, "o-", color="C0", markersize=6,
                label="best trial with this value")
        ax.set_xticks(range(len(categories)), categories, rotation=20 if len(categories) > 3
                      else 0, fontsize=8)
        ax.set_xlim(-0.6, len(categories) - 0.4)  # a lone value stays one narrow column
        ax.set_xlabel(name)
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    for row in axes:
        row[0].set_ylabel("validation acc. (%)")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncols=2, frameon=False)
    return describe(fig, (
        "Validation accuracy by searched value: one panel per searched key, each trial's "
        "validation accuracy (%) against the key's value, the best trial with each value "
        "joined by a line. " + " ".join(_best_per_value(rows, acc, name) for name in names)))


def _best_per_value(rows, acc: np.ndarray, name: str) -> str:
    """One key's best trial per value, in words."""
    labels = np.array([value_label(r[name]) for r in rows])
    best = {v: acc[labels == v].max() for v in sorted(set(labels), key=lambda v: (len(v), v))}
    return f"{name}: " + ", ".join(f"{v} best {a:.2f} %" for v, a in best.items()) + "."


def _epoch_axis(ax, n: int) -> None:
    """Whole numbers 1..n (epochs, trials), never fractions, whatever n."""
    from matplotlib.ticker import FixedLocator, MaxNLocator

    locator = FixedLocator(range(1, n + 1)) if n <= 12 else MaxNLocator(integer=True)
    ax.xaxis.set_major_locator(locator)
    ax.set_xlim(0.5, n + 0.5)


def _seconds_axis(ax) -> None:
    """A log scale labelled 1, 2, 5, 10, 20, 50 ... in plain numbers."""
    from matplotlib.ticker import FuncFormatter

    def label(value: float, _pos) -> str:
        low, high = ax.get_xlim()
        # Within one decade every tick is named; over several, 1, 2 and 5 of each.
        named = range(1, 10) if high / max(low, 1e-12) < 10 else (1, 2, 5)
        mantissa = value / 10 ** np.floor(np.log10(value)) if value > 0 else 0
        return f"{value:g}" if round(mantissa, 6) in named else ""

    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(label))
    ax.xaxis.set_minor_formatter(FuncFormatter(label))


@styled
def plot_validation_history(series: Mapping[str, Sequence[float | None]]) -> plt.Figure:
    """Each model's validation accuracy in every run of the history, oldest to newest."""
    fig, ax = plt.subplots(figsize=(WIDTH, 3.4))
    n_runs = max(len(v) for v in series.values())
    for name, values in series.items():
        runs = [i + 1 for i, v in enumerate(values) if v is not None]
        acc = [100 * v for v in values if v is not None]
        ax.plot(runs, acc, marker="o", markersize=5, color=model_color(name), label=name)
    ax.set_xticks(range(1, n_runs + 1))
    ax.set_xlabel("run (oldest to newest)")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title("Validation accuracy across runs")
    ax.legend(loc="lower right")
    last = "; ".join(f"{name} {100 * [v for v in values if v is not None][-1]:.2f} %"
                     for name, values in series.items() if any(v is not None for v in values))
    return describe(fig, f"Validation accuracy (%) in each of {n_runs} runs, one line per "
                         f"model; in the newest run: {last}.")

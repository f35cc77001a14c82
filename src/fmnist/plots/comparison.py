"""The models side by side: the comparison chapter's figures (accuracy with its interval,
per-class F1, accuracy against training time, validation curves), the landing page's headline
and the runs page's validation history. A model keeps its colour (`style.model_color`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.ticker import FuncFormatter

from fmnist.chapters import MODELS, SHORT_MODELS
from fmnist.data import CLASS_NAMES
from fmnist.plots.style import WIDTH, describe, epoch_axis, model_color, styled


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
    epoch_axis(ax, longest)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title("Validation accuracy per epoch (circled: the epoch kept)")
    ax.legend(loc="lower right")
    kept = "; ".join(f"{name} {100 * max(h['val_accuracy']):.2f} % at epoch "
                     f"{int(np.argmax(h['val_accuracy'])) + 1}" for name, h in histories.items())
    return describe(fig, f"Validation accuracy (%) against epoch, one line per model, the kept "
                         f"epoch circled: {kept}.")


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


def _no_results(title: str) -> plt.Figure:
    """A placeholder figure for a comparison with no model results yet."""
    fig, ax = plt.subplots(figsize=(WIDTH, 1.4))
    ax.text(0.5, 0.5, "No model chapter has results yet: run `fmnist report`.", ha="center",
            va="center")
    ax.set_axis_off()
    ax.set_title(title)
    return describe(fig, "No model chapter has results yet, so nothing is plotted: run `fmnist "
                         "report` to fill it.")


def _seconds_axis(ax) -> None:
    """A log scale labelled 1, 2, 5, 10, 20, 50 ... in plain numbers."""
    def label(value: float, _pos) -> str:
        low, high = ax.get_xlim()
        # Within one decade every tick is named; over several, 1, 2 and 5 of each.
        named = range(1, 10) if high / max(low, 1e-12) < 10 else (1, 2, 5)
        mantissa = value / 10 ** np.floor(np.log10(value)) if value > 0 else 0
        return f"{value:g}" if round(mantissa, 6) in named else ""

    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(label))
    ax.xaxis.set_minor_formatter(FuncFormatter(label))

"""The tuning chapter's figures of its search: each trial's score in the order they ran,
against its cost, and by each searched key's value (labelled as the chapter's tables label
them, `tuning.selection.value_label`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from fmnist.plots.style import WIDTH, count, describe, epoch_axis, styled
from fmnist.tuning.selection import value_label


@styled
def plot_trials(val_acc: Sequence[float]) -> plt.Figure:
    """Validation accuracy per trial (in the order they ran) with the best-so-far line."""
    fig, ax = plt.subplots(figsize=(WIDTH, 3.2))
    trials = np.arange(1, len(val_acc) + 1)
    acc = 100 * np.asarray(val_acc, dtype=float)
    ax.plot(trials, acc, "o", label="trial")
    ax.step(trials, np.maximum.accumulate(acc), where="post", label="best so far")
    epoch_axis(ax, len(trials))
    ax.set_xlabel("trial")
    ax.set_ylabel("search validation accuracy (%)")
    ax.set_title("Search progress")
    ax.legend(loc="lower right")
    return describe(fig, (
        f"Search validation accuracy (%) of each of {count(len(acc), 'trial')} in the order they "
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
        f"Search validation accuracy (%) of each of {count(len(rows), 'trial')} against its "
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

"""Every figure draws from small real inputs, with class names, and saves as a PNG."""

from __future__ import annotations

import numpy as np
import pytest

from fmnist import evaluate, plots
from fmnist.data import CLASS_NAMES

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def ev():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(10), 6)
    probs = rng.dirichlet(np.ones(10), size=len(y))
    return evaluate.evaluate(probs, y)


def labels(ax):
    return [t.get_text() for t in ax.get_xticklabels()]


def test_confusion_has_counts_and_normalised_panels_with_class_names(ev, tmp_path):
    fig = plots.save(plots.plot_confusion(ev.confusion, "m"), tmp_path, "confusion")
    assert len(fig.axes) == 2 and labels(fig.axes[0]) == list(CLASS_NAMES)
    assert (tmp_path / "confusion.png").read_bytes()[:8] == PNG_MAGIC


def test_learning_curves_plot_training_and_validation():
    history = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.5, 0.8],
               "val_accuracy": [0.4, 0.7]}
    fig = plots.plot_learning_curves(history, "m")
    assert [len(ax.lines) for ax in fig.axes] == [2, 2]


def test_mistakes_gallery_names_true_and_predicted_classes(ev):
    idx = evaluate.most_confident_mistakes(ev, 4)
    fig = plots.plot_mistakes(np.zeros((len(ev.y_true), 28, 28)), ev.y_true, ev.probs, idx, "m")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 4 and all("true: " in t and "pred: " in t for t in titles)


def test_comparison_figures(ev):
    bars = plots.plot_accuracy_bars(["a", "b"], [0.8, 0.9], [[0.79, 0.81], [0.89, 0.91]])
    assert len(bars.axes[0].patches) == 2
    heat = plots.plot_f1_heatmap(["a", "b"], np.full((2, 10), 0.9))
    assert labels(heat.axes[0]) == list(CLASS_NAMES)
    scatter = plots.plot_accuracy_vs_time(["a", "b"], [0.8, 0.9], [1.0, 100.0])
    assert scatter.axes[0].get_xscale() == "log"


def test_data_and_tuning_figures():
    counts = {"train": {c: 5 for c in CLASS_NAMES}}
    assert len(plots.plot_class_balance(counts).axes[0].patches) == 10
    images, y = np.zeros((40, 28, 28)), np.repeat(np.arange(10), 4)
    assert len(plots.plot_samples(images, y, per_class=3, seed=0).axes) == 30
    trials = plots.plot_trials([0.5, 0.7, 0.6])
    assert list(trials.axes[0].lines[1].get_ydata()[-3:]) == [0.5, 0.7, 0.7]
    rows = [{"dropout": 0.2, "learning_rate": 1e-3, "val_accuracy": 0.8}]
    assert len(plots.plot_hyperparameters(rows, ["dropout", "learning_rate"]).axes) == 2


def test_trials_against_cost_group_by_a_key_and_circle_the_choice():
    rows = [{"trial": "0", "filters": [8, 16], "cost": 1.0, "val_accuracy": 0.8},
            {"trial": "1", "filters": [8, 16, 32], "cost": 2.0, "val_accuracy": 0.85},
            {"trial": "2", "filters": [8, 16], "cost": 1.1, "val_accuracy": 0.82}]
    fig = plots.plot_trials_cost(rows, chosen="1")
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == ["filters 8-16", "filters 8-16-32", "chosen"]
    assert list(ax.collections[-1].get_offsets()[0]) == [2.0, 85.0]


def test_trial_axis_counts_whole_trials():
    ax = plots.plot_trials([0.5, 0.7, 0.6]).axes[0]
    assert all(float(t).is_integer() for t in ax.get_xticks())


def test_comparison_figures_say_so_when_no_model_has_results():
    for fig in (plots.plot_accuracy_bars([], [], []), plots.plot_f1_heatmap([], np.zeros((0, 10))),
                plots.plot_accuracy_vs_time([], [], [])):
        assert "No model chapter has results yet" in fig.axes[0].texts[0].get_text()

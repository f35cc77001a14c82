"""Every figure draws from small real inputs, with class names, and saves as a PNG."""

from __future__ import annotations

import base64
import io

import matplotlib.pyplot as plt
import numpy as np
import pytest
from IPython.core.interactiveshell import InteractiveShell
from matplotlib.colors import to_rgb
from PIL import Image

from fmnist import evaluate, plots
from fmnist.data import CLASS_NAMES
from fmnist.plots import comparison, page, search, style
from fmnist.tuning.selection import key_effects

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def ev():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(10), 6)
    probs = rng.dirichlet(np.ones(10), size=len(y))
    return evaluate.evaluate(probs, y)


def labels(ax):
    return [t.get_text() for t in ax.get_xticklabels()]


def test_confusion_writes_every_count_in_its_cell_with_class_names(ev, tmp_path):
    fig = style.save(page.plot_confusion(ev.confusion, "m"), tmp_path, "confusion")
    ax = fig.axes[0]
    assert labels(ax) == list(CLASS_NAMES)
    assert [t.get_text() for t in ax.texts] == [str(v) for v in ev.confusion.flatten()]
    assert (tmp_path / "confusion.png").read_bytes()[:8] == PNG_MAGIC


def test_learning_curves_plot_training_and_validation():
    history = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.5, 0.8],
               "val_accuracy": [0.4, 0.7]}
    fig = page.plot_learning_curves(history, "m")
    assert [len(ax.lines) for ax in fig.axes] == [2, 2]


def test_mistakes_gallery_names_true_and_predicted_classes(ev):
    fig = page.plot_mistakes(np.zeros((len(ev.y_true), 28, 28)), ev, 4, "m")
    worst = evaluate.most_confident_mistakes(ev, 4)
    expected = [f"true: {CLASS_NAMES[ev.y_true[i]]}\npred: {CLASS_NAMES[ev.y_pred[i]]}"
                for i in worst]
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert [t.rsplit("\n", 1)[0] for t in titles] == expected, "worst first, each named"


NAMES = ["Logistic regression", "Dense network", "CNN", "Tuned CNN"]
ACC = [0.84, 0.90, 0.93, 0.935]
CI = [[0.83, 0.85], [0.89, 0.91], [0.925, 0.935], [0.93, 0.94]]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_accuracy_points_carry_their_intervals_and_every_model_is_named():
    fig = comparison.plot_accuracy(NAMES, ACC, CI)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == NAMES
    bars = [c for c in ax.containers if c.has_xerr]
    assert len(bars) == 4
    for bar, (low, high) in zip(bars, CI, strict=True):
        segment = bar.lines[2][0].get_segments()[0]
        assert np.allclose(sorted(segment[:, 0]), [100 * low, 100 * high])


def test_a_model_has_one_colour_in_every_figure():
    accuracy = comparison.plot_accuracy(NAMES, ACC, CI).axes[0]
    by_points = {name: tuple(np.round(to_rgb(bar.lines[0].get_color()), 4))
                 for name, bar in zip(NAMES, accuracy.containers, strict=True)}
    scatter = comparison.plot_accuracy_vs_time(NAMES, ACC, [1, 10, 100, 300], CI).axes[0]
    legend = {c.get_label(): tuple(np.round(to_rgb(c.lines[0].get_color()), 4))
              for c in scatter.containers}
    history = {"val_accuracy": [0.5, 0.6]}
    curves = comparison.plot_validation_curves({"CNN": history, "Tuned CNN (retrain)": history})
    lines = {line.get_label(): tuple(np.round(to_rgb(line.get_color()), 4))
             for line in curves.axes[0].lines}
    assert by_points == legend
    assert lines["CNN"] == legend["CNN"] and lines["Tuned CNN (retrain)"] == legend["Tuned CNN"]
    assert len(set(legend.values())) == 4


def test_f1_heatmap_writes_every_value_and_names_models_and_classes():
    f1 = np.linspace(0.6, 0.99, 20).reshape(2, 10)
    ax = comparison.plot_f1_heatmap(["a", "b"], f1).axes[0]
    assert labels(ax) == list(CLASS_NAMES)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    assert [t.get_text() for t in ax.texts] == [f"{v:.2f}" for v in f1.flatten()]


def test_accuracy_against_time_is_on_a_log_scale_in_plain_numbers():
    fig = comparison.plot_accuracy_vs_time(NAMES, ACC, [2, 30, 200, 700], CI)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    fig.canvas.draw()
    shown = [t.get_text() for t in ax.get_xticklabels(which="both") if t.get_text()]
    assert shown and all(text.replace(".", "").isdigit() for text in shown), shown
    assert [t.get_text() for t in fig.legends[0].get_texts()] == NAMES


def test_headline_shows_the_study_the_rerun_and_the_published_figures():
    study = {n: {"accuracy": a, "ci95": c, "seconds": s}
             for n, a, c, s in zip(NAMES, ACC, CI, [50, 80, 230, 520], strict=True)}
    replica = {"Logistic regression": {"accuracy": 0.844, "seconds": 118},
               "CNN": {"accuracy": 0.908, "seconds": 173}}
    published = {"Logistic regression": 84.38, "Dense network": 88.22, "CNN": 91.21,
                 "Tuned CNN": 91.97}
    fig = comparison.plot_headline(study, replica, published, replica_note="a machine, a date")
    main, side = fig.axes
    with_errors = [c for c in main.containers if c.has_yerr]
    assert len(with_errors) == 4, "each of the study's models with its interval"
    squares = [c for c in main.containers if c.lines[0].get_marker() == "s"]
    assert len(squares) == 2
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:4] == NAMES and "a machine, a date" in legend[-1]
    assert sorted(side.collections[i].get_offsets()[0][1] for i in range(4)) == \
        sorted(published.values())
    assert [t.get_text() for t in side.get_xticklabels()] == ["LogReg", "Dense", "CNN",
                                                              "Tuned CNN"]


def test_validation_curves_mark_each_kept_epoch():
    curves = {"Dense network": {"val_accuracy": [0.5, 0.7, 0.6]},
              "CNN": {"val_accuracy": [0.6, 0.8, 0.9]}}
    ax = comparison.plot_validation_curves(curves).axes[0]
    kept = [tuple(c.get_offsets()[0]) for c in ax.collections]
    assert kept == [(2.0, 70.0), (3.0, 90.0)]


def test_the_style_leaves_matplotlib_as_it_found_it():
    before = dict(plt.rcParams)
    search.plot_trials([0.5, 0.6])
    after = dict(plt.rcParams)
    assert {k for k in before if before[k] != after[k]} == set()


def test_figures_fit_the_content_column():
    figs = [comparison.plot_accuracy(NAMES, ACC, CI),
            page.plot_confusion(np.eye(10, dtype=int), "m"),
            comparison.plot_f1_heatmap(NAMES, np.full((4, 10), 0.9)),
            search.plot_hyperparameters([{"a": 1, "b": 2, "c": 3, "d": 4, "val_accuracy": 0.9}],
                                        ["a", "b", "c", "d"])]
    for fig in figs:
        assert fig.get_figwidth() <= style.WIDTH and fig.dpi == style.DPI


def test_data_and_tuning_figures():
    counts = {"train": {c: 5 for c in CLASS_NAMES}}
    assert len(page.plot_class_balance(counts).axes[0].containers[0]) == 10
    images, y = np.zeros((40, 28, 28)), np.repeat(np.arange(10), 4)
    assert len(page.plot_samples(images, y, per_class=3, seed=0).axes) == 30
    trials = search.plot_trials([0.5, 0.7, 0.6])
    assert list(trials.axes[0].lines[1].get_ydata()[-3:]) == [50.0, 70.0, 70.0]
    rows = [{"dropout": 0.2, "learning_rate": 1e-3, "val_accuracy": 0.8}]
    assert len(search.plot_hyperparameters(rows, ["dropout", "learning_rate"]).axes) == 2


def test_trials_against_cost_group_by_a_key_and_circle_the_choice():
    rows = [{"trial": "0", "filters": [8, 16], "cost": 1.0, "val_accuracy": 0.8},
            {"trial": "1", "filters": [8, 16, 32], "cost": 2.0, "val_accuracy": 0.85},
            {"trial": "2", "filters": [8, 16], "cost": 1.1, "val_accuracy": 0.82}]
    fig = search.plot_trials_cost(rows, chosen="1")
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == ["filters 8-16", "filters 8-16-32", "chosen"]
    assert list(ax.collections[-1].get_offsets()[0]) == [2.0, 85.0]


def test_the_search_figures_read_booleans_as_the_tables_beside_them():
    rows = [{"augment_flip": True, "val_accuracy": 0.9},
            {"augment_flip": False, "val_accuracy": 0.8}]
    ax = search.plot_hyperparameters(rows, ["augment_flip"]).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["no", "yes"]
    effects = key_effects([{**r, "trial": str(i)} for i, r in enumerate(rows)],
                          {"augment_flip": [False, True]})
    assert effects[0]["best value (mean)"] == "yes"


def test_trial_and_epoch_axes_count_whole_numbers():
    ax = search.plot_trials([0.5, 0.7, 0.6]).axes[0]
    assert all(float(t).is_integer() for t in ax.get_xticks())
    one_epoch = {"loss": [1.0], "val_loss": [1.1], "accuracy": [0.5], "val_accuracy": [0.4]}
    for ax in page.plot_learning_curves(one_epoch, "m").axes:
        visible = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert visible == [1.0]


def test_comparison_figures_say_so_when_no_model_has_results():
    for fig in (comparison.plot_accuracy([], [], []),
                comparison.plot_f1_heatmap([], np.zeros((0, 10))),
                comparison.plot_accuracy_vs_time([], [], [])):
        assert "No model chapter has results yet" in fig.axes[0].texts[0].get_text()


def test_a_log_axis_within_one_decade_names_every_tick():
    fig = comparison.plot_accuracy_vs_time(NAMES, ACC, [140, 150, 370, 580], CI)
    fig.canvas.draw()
    shown = [t.get_text() for t in fig.axes[0].get_xticklabels(which="both") if t.get_text()]
    assert {"200", "300", "400", "500"} <= set(shown), shown


def test_a_searched_key_with_one_value_tried_shows_one_column():
    rows = [{"padding": "valid", "val_accuracy": a} for a in (0.7, 0.8, 0.9)]
    ax = search.plot_hyperparameters(rows, ["padding"]).axes[0]
    low, high = ax.get_xlim()
    assert high - low >= 1.0, "the jitter must not fill the panel as if values differed"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["valid"]


def every_figure(ev):
    """One of each figure of the report, from small real inputs."""
    history = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.5, 0.8],
               "val_accuracy": [0.4, 0.7]}
    rows = [{"trial": "0", "filters": [8, 16], "cost": 1.0, "val_accuracy": 0.8},
            {"trial": "1", "filters": [8, 16, 32], "cost": 2.0, "val_accuracy": 0.85}]
    study = {n: {"accuracy": a, "ci95": c, "seconds": s}
             for n, a, c, s in zip(NAMES, ACC, CI, [50, 80, 230, 520], strict=True)}
    return {
        "class_balance": page.plot_class_balance({"train": {c: 5 for c in CLASS_NAMES}}),
        "samples": page.plot_samples(np.zeros((40, 28, 28)), np.repeat(np.arange(10), 4), 3, 0),
        "confusion": page.plot_confusion(ev.confusion, "Dense network"),
        "learning_curves": page.plot_learning_curves(history, "CNN"),
        "validation_curves": comparison.plot_validation_curves({"CNN": history}),
        "mistakes": page.plot_mistakes(np.zeros((len(ev.y_true), 28, 28)), ev, 3, "CNN: worst"),
        "accuracy": comparison.plot_accuracy(NAMES, ACC, CI),
        "f1_heatmap": comparison.plot_f1_heatmap(NAMES, np.full((4, 10), 0.9)),
        "accuracy_vs_time": comparison.plot_accuracy_vs_time(NAMES, ACC, [1, 10, 100, 300], CI),
        "headline": comparison.plot_headline(study, {"CNN": {"accuracy": 0.9, "seconds": 70}},
                                             {"CNN": 91.2}),
        "trials": search.plot_trials([0.5, 0.7]),
        "trials_cost": search.plot_trials_cost(rows, chosen="1"),
        "hyperparameters": search.plot_hyperparameters(rows, ["filters"]),
        "no_results": comparison.plot_accuracy([], [], []),
    }


def test_every_figure_says_in_words_its_title_and_what_it_plots(ev):
    figures = every_figure(ev)
    for name, fig in figures.items():
        text = style.description(fig)
        title = " ".join((fig.get_suptitle() or fig.axes[0].get_title()).split())
        assert text.startswith(title), (name, text)
        assert len(text.split()) >= 12 and text != title, f"{name} only names itself: {text}"
    # What is plotted comes with the numbers that matter, from the same inputs as the drawing.
    assert "84.00 % [83.00, 85.00]" in style.description(figures["accuracy"])
    confusion = style.description(figures["confusion"])
    assert f"{int(np.trace(ev.confusion))} of {len(ev.y_true)} test images" in confusion
    assert "best 85.00 %" in style.description(figures["hyperparameters"])
    assert "chosen trial, 1, scored 85.00 %" in style.description(figures["trials_cost"])


def test_a_figure_drawn_without_words_is_refused():
    @style.styled
    def plot_bare() -> plt.Figure:
        return plt.subplots()[0]

    with pytest.raises(RuntimeError, match="plot_bare drew a figure without describing it"):
        plot_bare()


def test_the_saved_png_carries_the_figure_description(ev, tmp_path):
    fig = style.save(page.plot_confusion(ev.confusion, "CNN"), tmp_path, "confusion")
    with Image.open(tmp_path / "confusion.png") as image:
        assert image.text[plots.PNG_DESCRIPTION] == style.description(fig)
        assert image.text["Title"] == "CNN: confusion matrix (test set)"


def test_a_notebook_shows_the_figure_as_a_png_carrying_its_description(ev, tmp_path):
    shell = InteractiveShell.instance()
    try:
        fig = style.save(search.plot_trials([0.5, 0.7]), None, "trials")
        data, _ = shell.display_formatter.format(fig)
    finally:
        InteractiveShell.clear_instance()
    with Image.open(io.BytesIO(base64.b64decode(data["image/png"]))) as image:
        assert image.text[plots.PNG_DESCRIPTION] == style.description(fig)


def test_a_saved_figure_is_shown_as_its_file_until_it_changes(ev, tmp_path):
    shell = InteractiveShell.instance()
    try:
        fig = style.save(page.plot_confusion(ev.confusion, "CNN"), tmp_path, "confusion")
        shown, _ = shell.display_formatter.format(fig)
        fig.axes[0].set_title("CNN: changed after saving")
        changed, _ = shell.display_formatter.format(fig)
    finally:
        InteractiveShell.clear_instance()
    saved = (tmp_path / "confusion.png").read_bytes()
    # Drawn once: the notebook shows the file's bytes (a second drawing gives other pixels).
    assert base64.b64decode(shown["image/png"]) == saved
    with Image.open(io.BytesIO(base64.b64decode(changed["image/png"]))) as image:
        assert image.text["Title"] == "CNN: changed after saving"

"""Builders are pure, and tiny real models learn (no mocks)."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from fmnist import linear, models, train


def blobs(n=300, seed=0):
    """Ten separable classes of 28x28 images: class k lights up row band k."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    x = rng.random((n, 28, 28), dtype=np.float32) * 0.2
    for i, k in enumerate(y):
        x[i, 2 * k:2 * k + 3, :] += 0.8
    return x, y


def test_builders_have_the_requested_shapes():
    dense = models.build_dense(units=[16, 8], dropout=0.1)
    assert dense.output_shape == (None, 10)
    assert dense.count_params() == 784 * 16 + 16 + 16 * 8 + 8 + 8 * 10 + 10
    cnn = models.build_cnn(filters=[4, 8], kernel_size=[3, 5], dense_units=12, batch_norm="conv",
                           padding="same")
    assert cnn.input_shape == (None, 28, 28, 1) and cnn.output_shape == (None, 10)
    assert cnn.get_layer("conv2").kernel_size == (5, 5)
    assert "bn1" in [layer.name for layer in cnn.layers]


@pytest.mark.parametrize("batch_norm, order", [
    ("none", ["conv1", "pool1", "conv2"]),
    ("conv", ["conv1", "bn1", "relu1", "pool1", "conv2"]),
    ("pool", ["conv1", "pool1", "bn1", "relu1", "conv2"]),
])
def test_batch_norm_placement(batch_norm, order):
    names = [layer.name for layer in models.build_cnn(batch_norm=batch_norm).layers]
    assert names[1:len(order) + 1] == order


def test_three_blocks_and_global_average_pooling():
    flat = models.build_cnn(**THREE_BLOCKS, batch_norm="pool")
    gap = models.build_cnn(**THREE_BLOCKS, batch_norm="pool", head="gap")
    assert flat.get_layer("conv3").filters == 32 and flat.get_layer("flatten").output.shape[1] \
        == 3 * 3 * 32
    assert gap.get_layer("gap").output.shape[1] == 32
    assert gap.count_params() < flat.count_params()
    with pytest.raises(ValueError, match="shrink the 28-pixel image"):
        models.cnn_macs([8, 16, 32], [5, 5, 5], padding="valid")
    with pytest.raises(ValueError, match="head must be"):
        models.build_cnn(head="avg")


def test_unknown_batch_norm_placement_is_refused():
    with pytest.raises(ValueError, match="batch_norm must be"):
        models.build_cnn(batch_norm="after")


def macs_from_layers(model) -> int:
    """Multiply-accumulates counted from the built model's own layer shapes."""
    total = 0
    for layer in model.layers:
        if layer.__class__.__name__ in ("Conv2D", "Dense"):
            kernel = layer.kernel.shape  # (k, k, c_in, c_out) or (n_in, n_out)
            spatial = int(np.prod(layer.output.shape[1:-1])) if len(kernel) == 4 else 1
            total += spatial * int(np.prod(kernel))
    return total


THREE_BLOCKS = {"filters": [8, 16, 32], "kernel_size": [3, 3, 3], "padding": "same"}


@pytest.mark.parametrize("kwargs", [{}, {"filters": [128, 32], "kernel_size": [5, 3]},
                                    {"filters": [8, 16], "dense_units": 64, "padding": "same"},
                                    THREE_BLOCKS, {**THREE_BLOCKS, "head": "gap"}])
def test_cnn_macs_matches_the_built_model(kwargs):
    assert models.cnn_macs(**kwargs) == macs_from_layers(models.build_cnn(**kwargs))


@pytest.mark.parametrize("kwargs", [{}, {"filters": [128, 32], "kernel_size": [5, 3]},
                                    {"filters": [8, 16], "padding": "same"}])
def test_cnn_activations_match_the_built_model(kwargs):
    model = models.build_cnn(**kwargs)
    convs = [layer for layer in model.layers if layer.__class__.__name__ == "Conv2D"]
    expected = sum(int(np.prod(layer.output.shape[1:])) for layer in convs)
    assert models.cnn_activations(**kwargs) == expected


def test_cnn_cost_follows_the_committed_cpu_measurements_better_than_macs():
    # bench/cnn_step_cost.py's measurements of the tuning space (batch norm after pooling).
    path = Path(__file__).resolve().parents[1] / "bench" / "results" / "cnn_step_cost.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r["batch_norm"] == "pool"]
    cpu = [r["cpu_seconds_per_10k"] for r in rows]
    cost = [models.cnn_cost(r["filters"], r["kernel_size"]) for r in rows]
    macs = [models.cnn_macs(r["filters"], r["kernel_size"]) for r in rows]
    assert len(rows) >= 10 and models.cnn_cost() == 1.0
    assert np.corrcoef(cost, cpu)[0, 1] > max(0.95, np.corrcoef(macs, cpu)[0, 1])


def test_cnn_macs_grows_with_the_filters():
    assert models.cnn_macs([32, 64]) < models.cnn_macs([64, 64]) < models.cnn_macs([128, 64])


def noisy_blobs(n: int, seed: int, noise: float = 0.0):
    """Blobs on a noisy background, a share `noise` of the labels replaced by random ones: a
    network fits the wrong labels after a few epochs, so its validation accuracy peaks before
    the last epoch."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    x = rng.random((n, 28, 28), dtype=np.float32)
    for i, k in enumerate(y):
        x[i, 2 * k:2 * k + 3, :] += 0.5
    wrong = rng.random(n) < noise
    y[wrong] = rng.integers(0, 10, int(wrong.sum()))
    return x, y


# Per network: label noise and learning rate under which, with seed 0, the best validation epoch
# comes before the last and scores strictly more (checked below, not assumed).
OVERFIT = {"dense": (0.5, 1e-2), "cnn": (0.6, 5e-3)}


@pytest.mark.parametrize("kind", ["dense", "cnn"])
def test_tiny_network_learns_and_early_stopping_restores_best(kind):
    noise, learning_rate = OVERFIT[kind]
    x, y = noisy_blobs(300, 0, noise)
    xv, yv = noisy_blobs(200, 1)
    train.seed_everything(0)
    if kind == "dense":
        model, x, xv = models.build_dense(units=[64, 32]), x.reshape(-1, 784), xv.reshape(-1, 784)
    else:
        model, x, xv = models.build_cnn(filters=[4, 8], dense_units=32, dropout=0.0), \
            x[..., None], xv[..., None]
    fit = train.fit_keras(model, (x, y), (xv, yv), epochs=15, batch_size=16,
                          learning_rate=learning_rate, patience=15, log=None)
    curve = fit.history["val_accuracy"]
    assert fit.history["loss"][-1] < fit.history["loss"][0]
    assert fit.best_epoch == int(np.argmax(curve)) + 1
    assert fit.best_epoch < len(curve) and curve[-1] < max(curve), "the last epoch is not the best"
    # The kept weights are the best epoch's, not the last one's: they score its accuracy.
    kept = float(np.mean(model.predict(xv, verbose=0).argmax(axis=1) == yv))
    assert kept == max(curve) == fit.val_accuracy


def test_batch_norm_statistics_settle_within_a_short_tuning_trial():
    # Inference uses the moving statistics. After 30 steps, Keras' default momentum (0.99) would
    # leave them about 74 % of the way from their initial values (0, 1) to the data's.
    x, y = blobs(320)
    x = x[..., None]
    train.seed_everything(0)
    model = models.build_cnn(filters=[4, 8], dense_units=16, batch_norm="conv")
    train.fit_keras(model, (x, y), (x, y), epochs=3, batch_size=32, learning_rate=1e-3,
                    patience=3, log=None)
    conv = keras.Model(model.input, model.get_layer("conv1").output)
    actual = np.asarray(conv(x)).mean(axis=(0, 1, 2))
    moving = np.asarray(model.get_layer("bn1").moving_mean)
    assert np.allclose(moving, actual, rtol=0.15, atol=0.01)


def test_logistic_regression_selection_converges_and_round_trips(tmp_path):
    x, y = blobs(400)
    xv, yv = blobs(200, seed=1)
    model, grid, seconds = linear.select_logreg((x.reshape(-1, 784), y), (xv.reshape(-1, 784), yv),
                                               solvers=["lbfgs"], c_grid=[0.1, 1.0],
                                               max_iter=500, tol=1e-4, seed=0)
    assert len(grid) == 2 and all(row["converged"] for row in grid)
    assert max(grid, key=lambda r: r["val_accuracy"])["C"] == model.C
    probs = model.predict_proba(xv.reshape(-1, 784))
    assert np.allclose(probs.sum(axis=1), 1) and (probs.argmax(1) == yv).mean() > 0.9
    model.save(tmp_path / "m.npz")
    again = linear.LogRegModel.load(tmp_path / "m.npz")
    np.testing.assert_allclose(again.predict_proba(xv.reshape(-1, 784)), probs)


def test_warm_started_fit_reaches_the_cold_optimum_in_fewer_iterations():
    x, y = blobs(400)
    x = x.reshape(-1, 784)
    first, _, _ = linear.fit_logreg_once(x, y, "lbfgs", 0.1, 1000, 1e-6, 0)
    cold, _, _ = linear.fit_logreg_once(x, y, "lbfgs", 1.0, 1000, 1e-6, 0)
    warm, _, converged = linear.fit_logreg_once(x, y, "lbfgs", 1.0, 1000, 1e-6, 0, start=first)
    assert converged and warm.n_iter_[0] < cold.n_iter_[0]
    np.testing.assert_allclose(warm.predict_proba(x), cold.predict_proba(x), atol=1e-3)


def test_the_grid_walks_from_strong_to_weak_regularisation_warm_started():
    x, y = blobs(300)
    _, grid, _ = linear.select_logreg((x.reshape(-1, 784), y), (x.reshape(-1, 784), y),
                                     solvers=["lbfgs"], c_grid=[1.0, 0.1], max_iter=500,
                                     tol=1e-4, seed=0)
    assert [(r["C"], r["warm_start"]) for r in grid] == [(0.1, False), (1.0, True)]


def test_without_required_convergence_an_unconverged_fit_can_be_chosen():
    x, y = blobs(300)
    model, grid, _ = linear.select_logreg(
        (x.reshape(-1, 784), y), (x.reshape(-1, 784), y), solvers=["lbfgs"], c_grid=[100.0],
        max_iter=2, tol=1e-8, seed=0, require_convergence=False)
    assert grid[0]["converged"] is False and model.C == 100.0


def test_a_fit_that_hits_max_iter_is_never_chosen():
    x, y = blobs(300)
    with pytest.raises(RuntimeError, match="No logistic regression converged"):
        linear.select_logreg((x.reshape(-1, 784), y), (x.reshape(-1, 784), y), solvers=["lbfgs"],
                            c_grid=[100.0], max_iter=2, tol=1e-8, seed=0)


@pytest.mark.parametrize("epochs, word", [(1, "1 epoch in"), (15, "15 epochs in")])
def test_a_training_says_in_one_sentence_what_it_ran_and_kept(epochs, word):
    fit = train.FitResult(None, {"loss": [1.0] * epochs}, train_seconds=12.34, best_epoch=1,
                          val_accuracy=0.91234)
    assert fit.summary() == (f"Trained {word} 12.3 s; best validation accuracy 91.23 % at "
                             "epoch 1.")

"""The training recipe: every piece does what it says, is seeded, and touches training only."""

from __future__ import annotations

import random

import keras
import numpy as np
import pytest
from test_models import blobs

from fmnist import models, recipe, train
from fmnist.evaluate import evaluate_keras
from fmnist.recipe import Recipe


def images(n=6, seed=0, channels=True):
    x = np.random.default_rng(seed).random((n, 28, 28), dtype=np.float32)
    return x[..., None] if channels else x.reshape(n, 784)


@pytest.mark.parametrize("channels", [True, False])
def test_flip_mirrors_left_to_right_in_either_layout(channels):
    x = images(channels=channels)
    flipped = recipe.flip_images(x)
    assert flipped.shape == x.shape
    pic, mirror = x.reshape(-1, 28, 28), flipped.reshape(-1, 28, 28)
    assert np.array_equal(mirror[:, :, 0], pic[:, :, 27])
    assert np.array_equal(mirror[:, 5, 27 - 3], pic[:, 5, 3])
    assert np.array_equal(recipe.flip_images(flipped), x)


def test_augmentation_is_seeded_and_off_means_identity():
    x = images(32)
    a = recipe.augment_batch(x, np.random.default_rng(1), flip=True, shift=2)
    b = recipe.augment_batch(x, np.random.default_rng(1), flip=True, shift=2)
    c = recipe.augment_batch(x, np.random.default_rng(2), flip=True, shift=2)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.array_equal(recipe.augment_batch(x, np.random.default_rng(1), False, 0), x)


def shifted(img: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """`img` moved down by dy and right by dx pixels, zero-filled."""
    out = np.zeros_like(img)
    src = img[max(0, -dy):28 - max(0, dy), max(0, -dx):28 - max(0, dx)]
    out[max(0, dy):max(0, dy) + src.shape[0], max(0, dx):max(0, dx) + src.shape[1]] = src
    return out


def test_each_augmented_image_is_a_mirror_or_translation_of_its_source():
    x = images(40)[..., 0]
    out = recipe.augment_batch(x[..., None], np.random.default_rng(3), flip=True, shift=2)[..., 0]
    flips, moves = 0, set()
    for src, got in zip(x, out, strict=True):
        matches = [(f, dy, dx) for f in (0, 1) for dy in range(-2, 3) for dx in range(-2, 3)
                   if np.array_equal(got, shifted(src[:, ::-1] if f else src, dy, dx))]
        assert len(matches) == 1, "every output is exactly one flip/shift of its input"
        flips += matches[0][0]
        moves.add(matches[0][1:])
    assert 8 < flips < 32, "about half the images are mirrored"
    assert len(moves) > 5, "the offsets vary across the batch"


def test_batches_cover_the_data_once_per_epoch_seeded_and_augment_training_only():
    x, y = images(50), np.arange(50) % 10
    rec = Recipe(augment_flip=True, augment_shift=1)
    batches = recipe.make_batches(x, y, 16, rec, seed=4)
    assert len(batches) == 4
    first = [batches[i] for i in range(len(batches))]
    labels = np.concatenate([yb.argmax(axis=1) for _, yb in first])
    assert sorted(labels) == sorted(y) and all(yb.shape[1] == 10 for _, yb in first)
    again = recipe.make_batches(x, y, 16, rec, seed=4)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(first, [again[i] for i in range(4)],
                                                           strict=True))
    batches.epoch = 1
    assert not np.array_equal(batches[0][1], first[0][1]), "each epoch has its own order"
    plain = recipe.make_batches(x, y, 50, recipe.PLAIN, seed=4)[0][0]
    assert {tuple(row.ravel()[:5]) for row in plain} == {tuple(row.ravel()[:5]) for row in x}
    assert np.array_equal(x, images(50)), "the source arrays are never modified"


@pytest.mark.parametrize("channels", [True, False])
def test_the_feed_gives_each_epochs_batches_in_kerass_order(channels):
    x, y = images(50, channels=channels), np.arange(50) % 10
    batches = recipe.make_batches(x, y, 16, Recipe(augment_flip=True, augment_shift=1), 4)
    fed = recipe.feed(batches)
    assert int(fed.cardinality()) == len(batches) == 4
    for epoch in (0, 3):
        batches.epoch = epoch
        random.seed(epoch)
        got = [(xb.numpy(), yb.numpy()) for xb, yb in fed]
        random.seed(epoch)
        order = list(range(len(batches)))
        random.shuffle(order)
        want = [batches[i] for i in order]
        assert all(np.array_equal(g[0], w[0]) and np.array_equal(g[1], w[1])
                   for g, w in zip(got, want, strict=True))
        assert got[0][0].dtype == np.float32 and got[0][0].shape[1:] == x.shape[1:]
    unshuffled = [xb.numpy() for xb, _ in recipe.feed(batches, shuffle=False)]
    assert all(np.array_equal(u, batches[i][0]) for i, u in enumerate(unshuffled))


def test_an_empty_training_set_is_named_not_fed():
    batches = recipe.make_batches(images(0), np.arange(0), 16, Recipe(), 4)
    with pytest.raises(ValueError, match="training data is empty"):
        recipe.feed(batches)


def test_training_through_the_feed_is_training_on_the_batches_bit_for_bit():
    x, y = blobs(96)
    x = x[..., None]
    rec = Recipe(augment_flip=True, augment_shift=1, label_smoothing=0.1)

    def weights(through_feed: bool) -> list[np.ndarray]:
        train.seed_everything(3)
        model = models.build_cnn(filters=[4, 8], dense_units=8)
        batches = recipe.make_batches(x, y, 32, rec, seed=5)
        train.compile_model(model, 1e-3, 3 * len(batches), rec, len(batches))
        fit = train.fit_batches if through_feed else keras.Model.fit
        fit(model, batches, epochs=3, verbose=0, callbacks=[recipe.epoch_setter(batches)])
        return model.get_weights()

    ours, keras_own = weights(True), weights(False)
    assert all(np.array_equal(a, b) for a, b in zip(ours, keras_own, strict=True))


def test_inside_fit_each_epoch_trains_on_that_epochs_batches():
    # Keras opens the next epoch's pipeline before the epoch setter runs; the batches must still
    # be drawn for the epoch they train in.
    x, y = blobs(64)
    batches = recipe.make_batches(x[..., None], y, 16, Recipe(augment_flip=True), seed=2)
    fitting, drawn = [None], []

    class Spy:
        epoch = property(lambda self: batches.epoch,
                         lambda self, e: setattr(batches, "epoch", e))

        def __len__(self):
            return len(batches)

        def __getitem__(self, i):
            drawn.append((fitting[0], batches.epoch))
            return batches[i]

    class Fitting(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            fitting[0] = epoch

    spy = Spy()
    model = models.build_cnn(filters=[4, 8], dense_units=8)
    train.compile_model(model, 1e-3, 3 * len(batches), Recipe(), len(batches))
    train.fit_batches(model, spy, epochs=3, verbose=0,
                      callbacks=[recipe.epoch_setter(spy), Fitting()])
    during = [(f, e) for f, e in drawn if f is not None]
    assert len(during) == 3 * len(batches) and all(f == e for f, e in during)


def test_label_smoothing_spreads_the_target_in_the_compiled_loss():
    model = models.build_dense(units=[8, 8])
    train.compile_model(model, 1e-3, 10, Recipe(label_smoothing=0.2))
    y = recipe.one_hot(np.array([3]))
    p = np.full((1, 10), 0.05, dtype=np.float32)
    p[0, 3] = 0.55
    expected = -np.sum((y * 0.8 + 0.02) * np.log(p))
    assert float(model.loss(y, p)) == pytest.approx(expected, rel=1e-5)


def test_warm_up_rises_linearly_then_decays():
    model = models.build_dense(units=[8, 8])
    train.compile_model(model, 1e-2, total_steps=100, recipe=Recipe(warmup_epochs=2),
                        steps_per_epoch=10)
    lr = model.optimizer._learning_rate  # the schedule object (the public attribute is its value)
    values = [float(lr(step)) for step in (0, 10, 20, 60, 100)]
    assert values[0] == pytest.approx(0.0, abs=1e-9)
    assert values[1] == pytest.approx(5e-3, rel=1e-3) and values[2] == pytest.approx(1e-2)
    assert values[2] > values[3] > values[4]


def test_tta_averages_the_image_and_its_mirror():
    train.seed_everything(0)
    model = models.build_cnn(filters=[4, 8], dense_units=8)
    x = images(8)
    plain = recipe.predict_probs(model, x)
    both = recipe.predict_probs(model, x, tta=True)
    mirrored = model.predict(recipe.flip_images(x), verbose=0)
    np.testing.assert_allclose(both, (plain + mirrored) / 2, rtol=1e-5, atol=1e-6)
    assert not np.allclose(both, plain)


@pytest.mark.parametrize("rec", [Recipe(tta=True), Recipe(ema_momentum=0.9, label_smoothing=0.1,
                                                         augment_flip=True, augment_shift=1)])
def test_validation_is_scored_like_the_test_set_and_the_best_epoch_is_kept(rec):
    # The kept weights score exactly the reported validation accuracy, computed the way the test
    # set is (with TTA when on; on the averaged weights when EMA is on), and it is the best epoch.
    x, y = blobs(320)
    xv, yv = blobs(100, seed=1)
    train.seed_everything(0)
    model = models.build_cnn(filters=[4, 8], dense_units=16)
    fit = train.fit_keras(model, (x[..., None], y), (xv[..., None], yv), epochs=4, batch_size=32,
                          learning_rate=5e-3, patience=4, recipe=rec, seed=0, log=None)
    assert fit.val_accuracy == max(fit.history["val_accuracy"])
    assert fit.best_epoch == int(np.argmax(fit.history["val_accuracy"])) + 1
    scored = evaluate_keras(model, xv[..., None], yv, tta=rec.tta)
    assert scored.metrics["accuracy"] == pytest.approx(fit.val_accuracy)
    assert scored.metrics["tta"] is rec.tta


def test_same_seed_same_training_with_every_piece_on():
    x, y = blobs(200)
    rec = Recipe(augment_flip=True, augment_shift=2, label_smoothing=0.1, ema_momentum=0.9,
                 warmup_epochs=1, tta=True)

    def weights(seed):
        train.seed_everything(seed)
        model = models.build_cnn(filters=[4, 8], dense_units=8)
        train.fit_keras(model, (x[..., None], y), (x[..., None], y), epochs=2, batch_size=32,
                        learning_rate=5e-3, patience=2, recipe=rec, seed=seed, log=None)
        return model.get_weights()

    first, second, other = weights(1), weights(1), weights(2)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))

"""The retrain run ahead of the tuning chapter and handed over: taken whole, once, and only by
the retrain it stands for."""

from __future__ import annotations

import dataclasses

import numpy as np
from tiny_search import CNN, tiny_data

from fmnist import models, train
from fmnist.tuning import handoff


def _tiny_fit():
    train.seed_everything(3)
    model = models.build_cnn_from(CNN)
    return train.fit_keras(model, tiny_data(), tiny_data(32, 1), epochs=2, batch_size=16,
                           learning_rate=1e-3, patience=2, seed=3, log=None)


def test_a_handed_over_retrain_is_taken_whole_once_and_only_by_its_own_key(tmp_path):
    fit = _tiny_fit()
    folder = tmp_path / "search" / handoff.FOLDER
    key = handoff.retrain_key(CNN, seed=3, threads=2)
    handoff.save(folder, fit, key)
    assert not folder.with_name(f"{folder.name}.partial").exists()
    # Another configuration, seed or thread count is another computation: not taken, kept.
    for other in (handoff.retrain_key(dataclasses.replace(CNN, dropout=0.4), 3, 2),
                  handoff.retrain_key(CNN, 4, 2), handoff.retrain_key(CNN, 3, 1)):
        assert other != key
        assert handoff.take(folder, other) is None
    assert folder.is_dir()
    taken = handoff.take(folder, key)
    assert taken is not None and not folder.exists()
    assert (taken.history, taken.best_epoch, taken.val_accuracy, taken.train_seconds) == (
        fit.history, fit.best_epoch, fit.val_accuracy, fit.train_seconds)
    np.testing.assert_array_equal(taken.val_predictions, fit.val_predictions)
    x = tiny_data(8, 2)[0]
    np.testing.assert_array_equal(taken.model.predict(x, verbose=0),
                                  fit.model.predict(x, verbose=0))
    assert handoff.take(folder, key) is None  # taken once: a rerun retrains


def test_a_damaged_handoff_is_not_taken(tmp_path):
    folder = tmp_path / handoff.FOLDER
    key = handoff.retrain_key(CNN, seed=3, threads=2)
    handoff.save(folder, _tiny_fit(), key)
    (folder / handoff.MODEL_FILE).write_bytes(b"not a model")
    assert handoff.take(folder, key) is None
    (folder / handoff.META_FILE).write_text("{")
    assert handoff.take(folder, key) is None

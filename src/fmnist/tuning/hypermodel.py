"""`CnnHyperModel`: KerasTuner's hypermodel for the CNN chapter's configuration.

`build` samples the space (`space.sample_config`) and builds with the CNN chapter's builder;
`fit` trains with the chapter's recipe code and scores every epoch as the chapter does.
"""

from __future__ import annotations

from typing import Any

import keras
import keras_tuner as kt
import numpy as np

from fmnist.models import build_cnn_from
from fmnist.recipe import Recipe, make_batches
from fmnist.schema import CnnParams
from fmnist.train import best_epoch_callback, compile_model, fit_batches, training_callbacks
from fmnist.tuning.space import sample_config, trial_seed


class CnnHyperModel(kt.HyperModel):
    """Samples the space, builds with `build_cnn` and trains with the chapter's recipe code.

    `fit` builds each trial's own batches, since augmentation is one of the searched keys.
    """

    def __init__(self, cnn: CnnParams, space: dict[str, list[Any]], n_train: int,
                 trial_epochs: int, seed: int):
        super().__init__()
        self.cnn, self.space, self.n_train = cnn, space, n_train
        self.trial_epochs, self.seed = trial_epochs, seed

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        # Each trial's initialisation and dropout depend only on the seed and the trial's own
        # values, not on which trials ran before it in this process: resumed and distributed
        # searches train every trial exactly as one uninterrupted search does.
        keras.utils.set_random_seed(trial_seed(self.seed, hp.values))
        config = sample_config(hp, self.cnn, self.space)
        model = build_cnn_from(config)
        steps = -(-self.n_train // config.batch_size)
        compile_model(model, config.learning_rate, steps * self.trial_epochs,
                      Recipe.from_section(config), steps)
        # Hyperband continues a trial from the previous round's checkpoint, optimizer state
        # included: an optimizer built now has the variables to receive it (unbuilt, Keras
        # skipped them with a UserWarning and the continued trial restarted Adam's moments).
        model.optimizer.build(model.trainable_variables)
        return model

    def fit(self, hp: kt.HyperParameters, model: keras.Model,
            train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray],
            **kwargs: Any) -> keras.callbacks.History:
        config = sample_config(hp, self.cnn, self.space)
        rec = Recipe.from_section(config)
        batches = make_batches(*train, config.batch_size, rec, self.seed)
        # Each epoch is scored as the CNN chapter scores its epochs (on the averaged weights when
        # the recipe averages them, with flip averaging when it mirrors): the scorer writes
        # `val_accuracy` into the epoch's logs before KerasTuner's callbacks read them, so the
        # search ranks configurations by the figure the retrain is judged on. Never stops early.
        scorer = best_epoch_callback(val, rec.tta, patience=kwargs.get("epochs", 1) + 1)
        callbacks = training_callbacks(batches, rec, scorer, kwargs.pop("callbacks", []))
        return fit_batches(model, batches, callbacks=callbacks, **kwargs)

"""The searched values: candidates as KerasTuner choices, and a trial's configuration and seed.

A search space maps keys of the CNN chapter's section to candidate values; a configuration is
that section with the searched keys changed. Plain functions on the section and on a trial's
values (`hp` is only asked for choices), so nothing here imports Keras or KerasTuner.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from fmnist.schema import CnnParams


def encode_choices(values: list[Any]) -> list[Any]:
    """Candidate values as KerasTuner choices: lists and mixed types become JSON strings."""
    plain = all(isinstance(v, bool) for v in values) or all(
        isinstance(v, str) for v in values) or all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    return list(values) if plain else [json.dumps(v) for v in values]


def decode_choice(values: list[Any], choice: Any) -> Any:
    """The candidate value a KerasTuner choice stands for."""
    return dict(zip(encode_choices(values), values, strict=True))[choice]


def with_searched(cnn: CnnParams, values: dict[str, Any]) -> CnnParams:
    """The CNN section with searched values.

    A searched depth (`filters` with more or fewer blocks) keeps the section's uniform kernel
    size in every block; a searched `augment_flip` brings test-time flip averaging with it, since
    averaging helps only a model trained on mirrored images (bench/frontier.py).
    """
    if "augment_flip" in values:
        values = {**values, "tta": values["augment_flip"]}
    config = dataclasses.replace(cnn, **values)
    if len(config.kernel_size) != len(config.filters):
        config = dataclasses.replace(config, kernel_size=[config.kernel_size[0]]
                                     * len(config.filters))
    return config


def sample_config(hp: Any, cnn: CnnParams, space: dict[str, list[Any]]) -> CnnParams:
    """One configuration: the CNN section with every searched key set to a value `hp` (a
    KerasTuner `HyperParameters`) samples."""
    return with_searched(cnn, {key: decode_choice(values, hp.Choice(key, encode_choices(values)))
                               for key, values in space.items()})


def config_of(values: dict[str, Any], cnn: CnnParams, space: dict[str, list[Any]]) -> CnnParams:
    """The configuration of a finished trial, from its hyperparameter values."""
    return with_searched(cnn, {k: decode_choice(space[k], values[k]) for k in space})


def trial_seed(seed: int, values: dict[str, Any]) -> int:
    """A seed for one trial, from the search's seed and the trial's hyperparameter values."""
    blob = json.dumps({"seed": seed, **values}, sort_keys=True, default=str).encode()
    return int(hashlib.sha256(blob).hexdigest()[:8], 16)


def searched_changes(config: CnnParams, cnn: CnnParams) -> dict[str, tuple[Any, Any]]:
    """The keys where a configuration differs from the CNN chapter's: (default, chosen)."""
    return {f.name: (getattr(cnn, f.name), getattr(config, f.name))
            for f in dataclasses.fields(cnn) if getattr(cnn, f.name) != getattr(config, f.name)}

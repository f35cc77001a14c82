"""Where a search lives on disk and which trials it holds, read without TensorFlow.

The runner reads a search's state to decide whether the tuning chapter is fresh; this module
keeps that decision from importing Keras (and its start-up lines) into the runner.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from fmnist.params import CnnParams, TuningParams, params_hash

PROJECT = "search"


def project_name(space: TuningParams, seed: int, data_key: str = "") -> str:
    """A search's folder name: same space, seed and data resume it; anything else starts anew."""
    # Keys that do not change which trials are run leave the search's folder alone.
    values = {k: v for k, v in dataclasses.asdict(space).items()
              if k not in ("overwrite", "selection")}
    return f"{PROJECT}-{params_hash({**values, 'seed': seed, 'data': data_key})}"


def search_key(results: Path, cnn: CnnParams) -> str:
    """What, besides the space and seed, names a search's folder: the split and the CNN."""
    from fmnist.data import split_key

    return split_key(results) + params_hash(dataclasses.asdict(cnn))


def search_state(results: Path, shared, space: TuningParams, cnn: CnnParams
                 ) -> list[tuple[str, str | None, float | None]]:
    """The trials of the search this profile runs: (trial, status, score), as saved on disk.

    What the tuning chapter's freshness depends on, so a search changed outside the chapter
    (`fmnist tune`) always reruns it.
    """
    folder = results / "tuning" / project_name(space, shared.seed,
                                               search_key(results, cnn))
    state = []
    for path in sorted(folder.glob("trial_*/trial.json")):
        try:
            trial = json.loads(path.read_text())
        except (OSError, ValueError):  # being written: counts as a change
            trial = {"status": "WRITING", "score": None}
        state.append((path.parent.name, trial.get("status"), trial.get("score")))
    return state

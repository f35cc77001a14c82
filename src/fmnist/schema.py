"""The parameters' schema: one frozen dataclass per chapter, each key with its default, a
one-line help and the range it allows, declared once; the error of breaking it (`ParamsError`);
and what each chapter receives of the others' sections (`READS`, from `chapters.PIPELINE`).

Loading and validating a profile against it is `params`'s job; reading a profile's YAML safely,
`profile_yaml`'s.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fmnist.chapters import PIPELINE

MAX_TRAIN = 60_000
BN_PLACEMENTS: tuple[str, ...] = ("none", "conv", "pool")  # models.build_cnn's batch_norm
HEADS: tuple[str, ...] = ("flatten", "gap")  # models.build_cnn's head


class ParamsError(ValueError):
    """A parameter file or override is invalid; the message says where and what is allowed."""


Check = Callable[[Any], bool]


def _param(default: Any, help: str, check: Check | None = None, allowed: str = "") -> Any:
    """A schema field: its default, a one-line help, and an optional range check."""
    if isinstance(default, list | dict):
        return field(default_factory=lambda: copy.deepcopy(default),
                     metadata={"help": help, "check": check, "allowed": allowed})
    return field(default=default, metadata={"help": help, "check": check, "allowed": allowed})


def _positive(v: Any) -> bool:
    return v > 0


def _all_positive(v: list) -> bool:
    return len(v) > 0 and all(x > 0 for x in v)


def _threads(default: int, what: str) -> Any:
    """A chapter's thread count: part of its parameters, never of the schedule, because
    TensorFlow's results move with it (so a chapter gives the same numbers whether it runs
    alone, beside another chapter, or in a reader's Jupyter)."""
    return _param(default, f"threads {what} (results depend on it; the schedule never changes it)",
                  lambda v: 1 <= v <= 64, "an integer in [1, 64]")


def _fraction(v: float) -> bool:
    return 0 <= v < 1


@dataclass(frozen=True)
class SharedParams:
    """Keys every chapter receives."""

    seed: int = _param(42, "seed for every random source", lambda v: v >= 0, "an integer >= 0")
    data_dir: str | None = _param(None, "folder with the IDX files (null: search the usual places)")
    results_dir: str = _param("results", "where chapters write outputs (inside the project)")


@dataclass(frozen=True)
class DataParams:
    """The data chapter: validation split and optional training subset."""

    val_fraction: float = _param(0.1, "share of the training set held out for validation",
                                 lambda v: 0 < v <= 0.5, "a number in (0, 0.5]")
    train_subset: int | None = _param(None, "stratified subset of the 60k training images",
                                      lambda v: v is None or 100 <= v <= MAX_TRAIN,
                                      f"null or an integer in [100, {MAX_TRAIN}]")
    samples_per_class: int = _param(8, "images per class in the sample grid",
                                    lambda v: 1 <= v <= 20, "an integer in [1, 20]")


@dataclass(frozen=True)
class BaselineParams:
    """Multinomial logistic regression; solver and C chosen on the validation split."""

    solvers: list[str] = _param(["lbfgs"], "solvers tried",
                                lambda v: len(v) > 0 and set(v) <= {"lbfgs", "saga", "sag",
                                                                     "newton-cg"},
                                "a non-empty list from lbfgs, saga, sag, newton-cg")
    c_grid: list[float] = _param([0.03, 0.1], "inverse regularisation strengths tried",
                                 _all_positive, "a non-empty list of numbers > 0")
    max_iter: int = _param(1000, "iteration cap (a fit that hits it fails, never warns)",
                           _positive, "an integer > 0")
    tol: float = _param(1e-4, "convergence tolerance", _positive, "a number > 0")
    require_convergence: bool = _param(True, "choose only among fits that converged (false: "
                                       "any fit, as the original's 100 saga iterations)")
    # One BLAS thread: OpenBLAS's second thread busy-waits more than it computes on this grid.
    threads: int = _threads(1, "for the solver's linear algebra (BLAS)")


@dataclass(frozen=True)
class RecipeParams:
    """The training recipe's pieces (`recipe.Recipe`), shared by the Keras chapters; every piece
    is off by default, as in the original study."""

    # A mirrored garment is the same garment: the flip keeps every label.
    augment_flip: bool = _param(False, "mirror a random half of each training batch left to right")
    augment_shift: int = _param(0, "translate training images by up to this many pixels",
                                lambda v: 0 <= v <= 4, "an integer in [0, 4]")
    label_smoothing: float = _param(0.0, "share of each target spread over the classes",
                                    lambda v: 0 <= v < 0.5, "a number in [0, 0.5)")
    ema_momentum: float = _param(0.0, "momentum of the weights' moving average (0: off)",
                                 lambda v: v == 0 or 0.9 <= v < 1, "0, or a number in [0.9, 1)")
    warmup_epochs: float = _param(0.0, "epochs of linear learning-rate warm-up",
                                  lambda v: v >= 0, "a number >= 0")
    tta: bool = _param(False, "average each image's and its mirror's predictions (validation "
                       "and test alike)")


@dataclass(frozen=True)
class DenseParams(RecipeParams):
    """Two hidden ReLU layers with dropout; the defaults are the original study's network."""

    units: list[int] = _param([128, 64], "units of the two hidden layers",
                              lambda v: len(v) == 2 and _all_positive(v),
                              "two integers > 0")
    dropout: float = _param(0.0, "dropout after each hidden layer", _fraction, "a number in [0, 1)")
    learning_rate: float = _param(1e-3, "Adam's initial learning rate (cosine decay)", _positive,
                                  "a number > 0")
    # 25: the cosine schedule then ends where training does (bench/results/epochs.md).
    epochs: int = _param(25, "maximum epochs (early stopping on validation accuracy)",
                         _positive, "an integer > 0")
    batch_size: int = _param(128, "batch size", _positive, "an integer > 0")
    patience: int = _param(5, "epochs without validation improvement before stopping",
                           lambda v: v >= 1, "an integer >= 1")
    # One thread: the report runs this chapter beside others, each on one core.
    threads: int = _threads(1, "for TensorFlow's operations")


@dataclass(frozen=True)
class CnnParams(RecipeParams):
    """Conv2D + MaxPooling blocks (two, as the original, or three), a dense layer and dropout;
    the defaults are the original study's CNN."""

    filters: list[int] = _param([32, 64], "filters of each conv block (two or three blocks)",
                                lambda v: len(v) in (2, 3) and _all_positive(v),
                                "two or three integers > 0")
    kernel_size: list[int] = _param([3, 3], "kernel size of each conv block",
                                    lambda v: len(v) in (2, 3) and _all_positive(v),
                                    "two or three integers > 0, one per block")
    dense_units: int = _param(128, "units of the dense layer", _positive, "an integer > 0")
    dropout: float = _param(0.3, "dropout before the output layer", _fraction,
                            "a number in [0, 1)")
    batch_norm: str = _param(
        "none", "batch normalisation: none, conv (each convolution's output, before pooling) or "
        "pool (after pooling: a quarter of the values, faster)",
        lambda v: v in BN_PLACEMENTS, "none, conv or pool")
    padding: str = _param("valid", "convolution padding", lambda v: v in ("valid", "same"),
                          "valid or same")
    head: str = _param("flatten", "flatten the last block (the original) or gap (global "
                       "average pooling)", lambda v: v in HEADS, "flatten or gap")
    learning_rate: float = _param(1e-3, "Adam's peak learning rate (cosine decay)", _positive,
                                  "a number > 0")
    epochs: int = _param(15, "maximum epochs (early stopping on validation accuracy)",
                         _positive, "an integer > 0")
    batch_size: int = _param(128, "batch size", _positive, "an integer > 0")
    patience: int = _param(4, "epochs without validation improvement before stopping",
                           lambda v: v >= 1, "an integer >= 1")
    # One thread: the report runs this chapter beside the tuning search, each on one core.
    threads: int = _threads(1, "for TensorFlow's operations")


# Keys of the CNN section a search may change: not the protocol (epochs, batch size, patience),
# which the tuned model shares with the default CNN, nor test-time averaging, which follows a
# searched `augment_flip` (it helps only models trained on mirrored images: bench/frontier.py),
# nor the thread count (the trials run with the tuning section's).
UNSEARCHABLE: tuple[str, ...] = ("epochs", "batch_size", "patience", "tta", "threads")
# The keys bench/frontier.py found to matter, each with the original's value among its candidates.
DEFAULT_SPACE: dict[str, list[Any]] = {
    "padding": ["valid", "same"],
    "batch_norm": ["none", "pool"],
    "filters": [[32, 64], [64, 128], [32, 64, 128]],
    "dropout": [0.3, 0.4],
    "learning_rate": [0.001, 0.002],
    "warmup_epochs": [0.0, 1.0],
    "augment_flip": [False, True],
    "augment_shift": [0, 1],
    "label_smoothing": [0.0, 0.1],
    "ema_momentum": [0.0, 0.99],
}


def is_space(v: Any) -> bool:
    """Whether `v` is a search space: searched keys, each with a non-empty list of values."""
    return len(v) > 0 and all(isinstance(k, str) and isinstance(c, list) and len(c) > 0
                              for k, c in v.items())


@dataclass(frozen=True)
class TuningParams:
    """A KerasTuner search over keys of the CNN section; the chosen trial is retrained like the
    CNN (same epochs, batch size, patience and seed)."""

    algorithm: str = _param("random", "tuner algorithm",
                            lambda v: v in ("random", "hyperband", "bayesian"),
                            "random, hyperband or bayesian")
    max_trials: int = _param(16, "trials (Hyperband: whole iterations starting the nearest "
                             "number of configurations)", _positive, "an integer > 0")
    trial_epochs: int = _param(2, "epochs per trial (Hyperband: the most a configuration gets)",
                               _positive, "an integer > 0")
    search_subset: int | None = _param(10_000, "training images used during the search",
                                       lambda v: v is None or 100 <= v <= MAX_TRAIN,
                                       f"null or an integer in [100, {MAX_TRAIN}]")
    space: dict = _param(DEFAULT_SPACE, "CNN keys searched, each with its candidate values",
                         is_space, "a mapping of cnn keys to non-empty lists of values")
    selection: str = _param("one_se", "which trial is retrained: the best, or the cheapest "
                            "within one standard error of the best (one_se)",
                            lambda v: v in ("best", "one_se"), "best or one_se")
    overwrite: bool = _param(False, "start the search afresh instead of resuming")
    # Two threads: the retrain, the longest single step of the report, runs alone at its end.
    threads: int = _threads(2, "for the trials' and the retrain's TensorFlow operations")


@dataclass(frozen=True)
class ComparisonParams:
    """The comparison chapter reads results only; it also holds how many runs the run history
    keeps (`fmnist runs` and the site's runs page compare them)."""

    show_references: bool = _param(True, "show published reference figures under the table")
    history: int = _param(20, "runs the run history keeps (the newest)", _positive,
                          "an integer > 0")


SCHEMAS: dict[str, type] = {
    "data": DataParams, "baseline": BaselineParams, "dense": DenseParams, "cnn": CnnParams,
    "tuning": TuningParams, "comparison": ComparisonParams,
}
# Sections a chapter receives besides its own (`chapters.PIPELINE`): every model chapter the
# split's keys of the data section (to make the split itself when the data chapter has not run,
# e.g. in a fresh Colab runtime); the tuning chapter also the CNN's configuration and protocol.
READS: dict[str, tuple[str, ...]] = {c.slug: tuple(c.receives) for c in PIPELINE if c.receives}


def received(chapter: str, section: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of another chapter's section that `chapter` receives (those that change its
    results), from all of the section's `values`."""
    keys = next(c for c in PIPELINE if c.slug == chapter).receives[section]
    return dict(values) if keys is None else {k: values[k] for k in keys}


def reads_key(section: str) -> str:
    """The parameter that carries another chapter's section (`data` is also a module's name)."""
    return f"{section}_params"

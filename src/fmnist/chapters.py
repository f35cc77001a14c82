"""The pipeline in one table: each chapter's slug, title and notebook, the profile sections (and
keys) it receives besides its own, the results it reads and the model it trains.

A leaf module (it imports nothing of the project's): what reruns, what a chapter receives, the
comparison's models and their colours and the benchmark's keys all derive from `PIPELINE`.
A model is named by its chapter's slug everywhere; `MODELS` gives its display name once, and
`SHORT_MODELS` the name a narrow axis shows. `notebooks` finds the chapters' notebooks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# The data section's keys that change the split every model chapter trains on (the sample grid's
# `samples_per_class` shapes only the data chapter's figure).
SPLIT_KEYS: tuple[str, ...] = ("val_fraction", "train_subset")
BOOK_DIR = "book"  # the chapters' notebooks, in a project


# What a model chapter's readers need from its folder (the figures are the pages' own business).
METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.npz"
MODEL_FILES = (METRICS_FILE, PREDICTIONS_FILE)


@dataclass(frozen=True)
class Chapter:
    """One chapter of the report and what flows into it."""

    slug: str
    number: int
    title: str
    # Other profile sections it receives (as `<section>_params`), each with the keys it gets
    # (None: the whole section).
    receives: Mapping[str, tuple[str, ...] | None] = field(default_factory=dict)
    reads: tuple[str, ...] = ()  # chapters whose results it reads
    # Of a read chapter's metrics, the keys that count (the whole file where not listed).
    reads_metrics: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    model: str | None = None  # display name of the model it trains
    writes: tuple[str, ...] = ()  # the files its readers need from its folder
    model_short: str | None = None  # its name where space is short (a figure's ticks)

    @property
    def notebook(self) -> str:
        """The chapter's notebook in `book/`."""
        return f"{self.number:02d}_{self.slug}.ipynb"

    def path(self, root: Path) -> Path:
        """The chapter's notebook in the project at `root`."""
        return root / BOOK_DIR / self.notebook


PIPELINE: tuple[Chapter, ...] = (  # in execution order: data flows one way
    Chapter("data", 1, "The data", writes=("split.npz",)),
    Chapter("baseline", 2, "Baseline: logistic regression", receives={"data": SPLIT_KEYS},
            reads=("data",), model="Logistic regression", model_short="LogReg",
            writes=(*MODEL_FILES, "model.npz")),
    Chapter("dense", 3, "Dense network", receives={"data": SPLIT_KEYS}, reads=("data",),
            model="Dense network", model_short="Dense", writes=(*MODEL_FILES, "model.keras")),
    Chapter("cnn", 4, "Convolutional network", receives={"data": SPLIT_KEYS}, reads=("data",),
            model="CNN", writes=(*MODEL_FILES, "model.keras")),
    # Every trial and the retrain are the CNN chapter's configuration with searched keys
    # changed; of the CNN's results it compares with the validation accuracy only.
    Chapter("tuning", 5, "Tuning the CNN", receives={"data": SPLIT_KEYS, "cnn": None},
            reads=("data", "cnn"), reads_metrics={"cnn": ("val_accuracy",)},
            # A kept default has a model only when the CNN chapter saved one.
            model="Tuned CNN", writes=MODEL_FILES),
    Chapter("comparison", 6, "Comparison", reads=("baseline", "dense", "cnn", "tuning")),
)
SLUGS: tuple[str, ...] = tuple(c.slug for c in PIPELINE)
MODELS: dict[str, str] = {c.slug: c.model for c in PIPELINE if c.model}
SHORT_MODELS: dict[str, str] = {c.slug: c.model_short or c.model for c in PIPELINE if c.model}


def chapter(slug: str) -> Chapter:
    """The chapter called `slug`."""
    for ch in PIPELINE:
        if ch.slug == slug:
            return ch
    raise ValueError(f"unknown chapter `{slug}`; chapters are: {', '.join(SLUGS)}")


def downstream(slug: str) -> list[str]:
    """`slug` and every chapter that reads its results, directly or not, in execution order."""
    selected = {chapter(slug).slug}
    for ch in PIPELINE:
        if any(dep in selected for dep in ch.reads):
            selected.add(ch.slug)
    return [s for s in SLUGS if s in selected]


def notebooks(root: Path) -> list[Path]:
    """Every chapter's notebook in the project at `root`, in execution order."""
    return [ch.path(root) for ch in PIPELINE]

"""The study's ladder: one family of tests over its rungs, and the tuned rung named by its parts.

The rungs are the consecutive compared models (logistic regression → dense network → CNN →
tuned CNN). McNemar's exact test on each rung's paired test predictions, Holm-adjusted over the
rungs, is the one p-value a rung shows on every page and in the README; pairs that are not rungs
are exploratory, adjusted among themselves and labelled so. "Significant" always refers to an
adjusted p-value.

The tuned rung mixes things a reader must be able to tell apart: a search space designed
beforehand by the explorations in `bench/`, what the search chose inside it, and test-time flip
averaging, which the tuned CNN uses and the CNN does not. The notes below name each part, read
from the results files and the benchmark's records.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from fmnist.chapters import MODELS
from fmnist.stats import holm, mcnemar

ALPHA = 0.05
LADDER_FAMILY = "ladder rung"
EXPLORATORY_FAMILY = "exploratory"
# Where the benchmark records what the report's pages quote beside their own results.
BENCH = Path("bench") / "results"
SEEDS_FILE = BENCH / "latest.json"  # its `seeds` entry: bench/seeds.py
ARCHITECTURE_FILE = BENCH / "architecture_search.json"  # bench/architecture_search.py
EXPLORATION_FILE = BENCH / "exploration.json"  # bench/exploration.py
# The CNN section's searchable keys by what they change; flip averaging follows a searched
# `augment_flip` (`tuning.space.with_searched`), so evaluation is named apart from training.
KEY_GROUPS: dict[str, tuple[str, ...]] = {
    "architecture": ("filters", "kernel_size", "dense_units", "padding", "batch_norm", "head"),
    "training": ("dropout", "learning_rate", "warmup_epochs", "augment_flip", "augment_shift",
                 "label_smoothing", "ema_momentum"),
}


class Study(Protocol):
    """What the ladder reads of `compare.Comparison`."""

    metrics: dict[str, dict[str, Any] | None]
    compared_slugs: list[str]
    correct_by_slug: dict[str, np.ndarray]


@dataclass(frozen=True)
class PairTest:
    """One pair of models on the paired test predictions, with its family's adjusted p."""

    lower: str  # chapter slugs; `upper` is the later (more complex) model
    upper: str
    gain: float  # upper's test accuracy minus lower's
    only_upper_right: int
    only_lower_right: int
    p_adjusted: float
    family: str

    @property
    def name(self) -> str:
        return f"{MODELS[self.lower]} vs {MODELS[self.upper]}"


def _tests(study: Study, pairs: list[tuple[str, str]], family: str) -> list[PairTest]:
    correct = study.correct_by_slug
    tests = [mcnemar(correct[b], correct[a]) for a, b in pairs]
    adjusted = holm([t["p_value"] for t in tests])
    return [PairTest(a, b, study.metrics[b]["accuracy"] - study.metrics[a]["accuracy"],
                     t["only_a_correct"], t["only_b_correct"], p, family)
            for (a, b), t, p in zip(pairs, tests, adjusted, strict=True)]


def rung_pairs(study: Study) -> list[tuple[str, str]]:
    """Consecutive compared models, in the ladder's order."""
    ladder = [s for s in MODELS if s in study.compared_slugs]
    return list(itertools.pairwise(ladder))


def rungs(study: Study) -> list[PairTest]:
    """Each rung's gain and McNemar's exact p, Holm-adjusted over the rungs."""
    return _tests(study, rung_pairs(study), LADDER_FAMILY)


def exploratory(study: Study) -> list[PairTest]:
    """Every other pair of compared models, Holm-adjusted among themselves."""
    ladder = [s for s in MODELS if s in study.compared_slugs]
    steps = set(rung_pairs(study))
    return _tests(study, [p for p in itertools.combinations(ladder, 2) if p not in steps],
                  EXPLORATORY_FAMILY)


def all_pairs(study: Study) -> list[PairTest]:
    """The rungs, then the exploratory pairs: each pair once, with its one adjusted p."""
    return rungs(study) + exploratory(study)


def pair(study: Study, a: str, b: str) -> PairTest:
    """The test of the pair of slugs `a`, `b` (either order)."""
    return next(t for t in all_pairs(study) if {t.lower, t.upper} == {a, b})


def verdict(test: PairTest, alpha: float = ALPHA) -> str:
    """'significant' or 'not significant', saying which adjustment the p-value carries."""
    word = "**significant**" if test.p_adjusted < alpha else "**not significant**"
    within = "over the ladder's rungs" if test.family == LADDER_FAMILY else (
        "over the exploratory pairs")
    return (f"{word} at the {alpha:g} level (McNemar p = {test.p_adjusted:.2g}, Holm-adjusted "
            f"{within})")


# ---- the tuned rung by its parts ------------------------------------------------------------


def flip_averaging_parts(tuned: dict[str, Any], cnn: dict[str, Any]) -> str:
    """The tuned rung stated with and without test-time flip averaging, and the part the
    averaging accounts for (evaluation only: one trained model scored both ways)."""
    parts = tuned.get("flip_averaging")
    if not parts:
        return ("The tuned CNN does not average flipped images at test time: training and "
                "evaluation are the same as the CNN's, only the searched keys differ.")
    w, wo = parts["with"], parts["without"]
    gain = 100 * (w["accuracy"] - cnn["accuracy"])
    plain = 100 * (wo["accuracy"] - cnn["accuracy"])
    return (f"The tuned CNN averages each image's prediction with its mirror's (flip "
            f"averaging); the CNN does not. Both are trained with the same protocol (split, "
            f"epochs, early stopping, batch size, seed); their evaluation differs in that one "
            f"step. Scored both ways, the same trained tuned CNN reaches "
            f"{100 * w['val_accuracy']:.2f} % validation and {100 * w['accuracy']:.2f} % test "
            f"with averaging, {100 * wo['val_accuracy']:.2f} % and {100 * wo['accuracy']:.2f} % "
            f"without. Against the CNN's {100 * cnn['accuracy']:.2f} % test, the rung is "
            f"{gain:+.2f} points with averaging and {plain:+.2f} without: "
            f"{gain - plain:+.2f} points come from averaging at evaluation "
            f"({100 * (w['val_accuracy'] - wo['val_accuracy']):+.2f} on validation), the rest "
            f"from what the search changed in training and architecture.")


def tuned_rung_sentence(tuned: dict[str, Any], cnn: dict[str, Any]) -> str:
    """One sentence for a verdict: what the tuned rung is, and the part flip averaging holds."""
    parts = tuned.get("flip_averaging")
    flip = ""
    if parts:
        gain = 100 * (tuned["accuracy"] - cnn["accuracy"])
        averaging = 100 * (parts["with"]["accuracy"] - parts["without"]["accuracy"])
        flip = (f"; {averaging:+.2f} of its {gain:+.2f} test points over the CNN come from "
                "flip averaging at evaluation, which the CNN does not use")
    return (f"The tuned CNN's rung is a search inside a space designed beforehand by the "
            f"project's benchmarks, not a search from scratch{flip} (the tuning chapter names "
            f"each part).")


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def group_keys(space: dict[str, list[Any]]) -> dict[str, list[str]]:
    """The searched keys by what they change: architecture, training, evaluation."""
    groups = {g: [k for k in space if k in keys] for g, keys in KEY_GROUPS.items()}
    groups["other"] = [k for k in space if not any(k in keys for keys in KEY_GROUPS.values())]
    groups["evaluation"] = (["flip averaging (follows `augment_flip`)"]
                            if "augment_flip" in space else [])
    return {g: keys for g, keys in groups.items() if keys}


def space_origin(space: dict[str, list[Any]], n_val: int, exploration: Path) -> str:
    """Where the searched space came from, and so what the tuned rung measures."""
    groups = "; ".join(f"{g}: {', '.join(k if ' ' in k else f'`{k}`' for k in keys)}"
                       for g, keys in group_keys(space).items())
    record = _read(exploration)
    cost = (f" (about {record['total_cpu_seconds']:,.0f} CPU-seconds, "
            f"`bench/results/exploration.md`)" if record else "")
    return (f"**The space was designed before this search.** Its keys ({groups}) and their "
            f"candidates were chosen by the explorations in `bench/`{cost}, which scored on the "
            f"same {n_val:,}-image validation split this search scores on. The search then picks "
            f"inside a space already known to hold good configurations: this rung measures **a "
            f"search inside a designed space** over the original study's CNN, not what a "
            f"search finds from scratch. What the original's kind of search, over its "
            f"architecture keys alone, buys is shown below the decision.")


def architecture_search_note(tuned: dict[str, Any] | None, record_file: Path) -> str:
    """An architecture-only search (the original's space) beside this report's own gain, both
    on validation; where the benchmark has not run, a sentence that says so."""
    s = _read(record_file)
    if not s:
        return ("What an architecture-only search buys has not been measured for this copy of "
                "the project (`python bench/architecture_search.py`).")
    sd = f" ± {s['gain_sd']:.2f}" if s.get("gain_sd") is not None else ""
    each = ", ".join(f"{g:+.2f}" for g in s["gains"])
    text = (f"**What an architecture-only search buys.** The original study's search space "
            f"(filters, kernel sizes, dense units and dropout; no recipe keys), searched with "
            f"this study's protocol at the same budget ({s['max_trials']} trials of "
            f"{s['trial_epochs']} epochs on {s['search_subset']:,} images) with "
            f"{len(s['seeds'])} search seeds, each pick retrained as the tuning chapter "
            f"retrains its choice, gains {s['gain_mean']:+.2f}{sd} points on validation over "
            f"the default CNN "
            f"trained the same way (mean ± standard deviation; each seed: {each}; "
            f"`bench/architecture_search.py`, {s['machine']}, {s['date']}).")
    if tuned and tuned.get("kept") == "tuned" and tuned.get("default_val_accuracy"):
        gain = 100 * (tuned["val_accuracy"] - tuned["default_val_accuracy"])
        parts = tuned.get("flip_averaging")
        averaging = (100 * (parts["with"]["val_accuracy"] - parts["without"]["val_accuracy"])
                     if parts else 0.0)
        flip = f", of which {averaging:+.2f} come from flip averaging" if parts else ""
        rest = "the rest of the difference" if parts else "the difference"
        text += (f" This report's search in the designed space gains {gain:+.2f} points on "
                 f"validation{flip}: {rest} from the architecture-only search is what the "
                 f"designed space adds over the original's kind of search (its recipe keys and "
                 f"its own architecture candidates).")
    return text


def seed_spread(record_file: Path) -> dict[str, Any] | None:
    """The tuned-minus-CNN gain over fresh training seeds (`bench/seeds.py`), or None."""
    record = _read(record_file)
    return (record or {}).get("seeds") or None


def seed_spread_note(record_file: Path) -> str:
    """The gain over fresh training seeds, leading; the report's own (gated) run kept apart."""
    s = seed_spread(record_file)
    if not s or "fresh" not in s:
        return ("The gain over fresh training seeds has not been measured for this copy of the "
                "project (`python bench/seeds.py`).")
    f, own = s["fresh"], s.get("report_run")
    low, high = f["gain_ci95"]
    text = (f"Over {f['n_seeds']} fresh training seeds ({', '.join(map(str, f['seeds']))}; the "
            f"split fixed; `bench/seeds.py`), the tuned configuration's test accuracy minus the "
            f"CNN's is {100 * f['gain_mean']:+.2f} ± {100 * f['gain_sd']:.2f} points (mean ± "
            f"standard deviation; 95 % t-interval {100 * low:+.2f} to {100 * high:+.2f}); on "
            f"validation {100 * f['val_gain_mean']:+.2f} ± {100 * f['val_gain_sd']:.2f}.")
    if own:
        # Its gain is not quoted from the record: the page states this run's own, which a rerun
        # since the record was made may have moved.
        text += (f" The report's own run (seed {own['seed']}), the one that passed the "
                 f"keep-or-reject gate on validation, is not among the fresh seeds.")
    return text


def landing_note(study: Study, root: Path) -> str:
    """The landing page's paragraph on the tuned rung: what it is made of, its gain over fresh
    seeds, and what an architecture-only search buys; empty before the tuning chapter ran."""
    tuned, cnn = study.metrics.get("tuning"), study.metrics.get("cnn")
    if not tuned or not cnn or "tuning" not in study.compared_slugs:
        return ""
    test = pair(study, "cnn", "tuning")
    seeds = seed_spread_note(root / SEEDS_FILE) if seed_spread(root / SEEDS_FILE) else ""
    text = ["**The tuned rung, by its parts.**", seeds,
            f"In this run the tuned CNN scores {100 * test.gain:+.2f} points over the CNN on "
            f"test, {verdict(test)}.", tuned_rung_sentence(tuned, cnn),
            architecture_search_note(tuned, root / ARCHITECTURE_FILE)
            if (root / ARCHITECTURE_FILE).is_file() else ""]
    return " ".join(t for t in text if t) + "\n"

"""`fmnist verify`: rerun model chapters in a scratch copy of the project and compare each
model's test predictions with a published run's.

A published run is a results folder (each chapter's `metrics.json` and `predictions.npz`), the
benchmark's record (`bench/results/latest.json`) or a run's JSON file: per model its accuracy and
`test_predictions_sha256` (`evaluate.predictions_digest`). Where the predictions are at hand they
are compared image by image, with McNemar's exact test between the two sets; where only the
digest is, the digests are (identical or not: counting the images needs the predictions).

The rerun uses the published run's parameters (or `--params`), in a temporary copy of the book,
so the project's own results are never touched and another run may hold the project meanwhile.

Somewhat over 300 lines: a published run is read in each of its three forms, and every way it
can disagree with the rerun is said in words.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fmnist import stats
from fmnist.chapters import MODELS, PIPELINE, SLUGS
from fmnist.evaluate import DIGEST_KEY, predictions_digest
from fmnist.params import Profile, apply_overrides, load_profile, profile_from_mapping
from fmnist.paths import RUN_FILE
from fmnist.report import ChapterFailed, run_chapters
from fmnist.results import PREDICTIONS_FILE, load_metrics, load_predictions
from fmnist.schema import ParamsError

QUICK = "dense"  # `--quick`: a TensorFlow chapter that reruns in well under two minutes
PROJECT_FILES = ("_config.yml", "_toc.yml", "book", "params")  # what running a chapter reads
DIGEST = re.compile(r"[0-9a-f]{64}")
# The versions a reader compares first, by their key in a metrics file's `versions`.
SHOWN_VERSIONS = {"python": "Python", "tensorflow": "TensorFlow", "keras": "Keras",
                  "scikit-learn": "scikit-learn", "numpy": "NumPy"}


class VerifyError(ValueError):
    """The published run cannot be compared with (missing, unreadable, or lacking a model's
    predictions and digest); the message says what to give instead."""


@dataclass(frozen=True)
class Model:
    """One model's test result, here or in the published run."""

    accuracy: float
    digest: str
    versions: Mapping[str, str]
    y_pred: np.ndarray | None = None  # the predicted labels, where they are at hand


@dataclass(frozen=True)
class Published:
    """A published run: where it is, the parameters it ran with and its models."""

    source: str
    models: dict[str, Model]
    params: dict[str, Any] | None = None
    profile: str = "published"


@dataclass(frozen=True)
class Outcome:
    """One model compared: identical or not, how many images differ, McNemar's p."""

    slug: str
    here: Model
    published: Model
    differ: int | None = None  # None: only the digests could be compared
    mcnemar: dict[str, float] = field(default_factory=dict)

    @property
    def identical(self) -> bool:
        if self.differ is not None:
            return self.differ == 0
        return self.here.digest == self.published.digest


def model_chapters(selected: list[str], quick: bool) -> list[str]:
    """The model chapters to compare: those named, `QUICK` with `quick`, else all of them."""
    if quick and selected:
        raise ParamsError("give chapters or --quick, not both (--quick checks the "
                          f"`{QUICK}` chapter alone).")
    unknown = [s for s in selected if s not in MODELS]
    if unknown:
        raise ParamsError(f"{', '.join(unknown)}: not a model chapter; the model chapters are "
                          f"{', '.join(MODELS)}.")
    return [QUICK] if quick else list(dict.fromkeys(selected or MODELS))


def chapters_to_run(slugs: list[str]) -> list[str]:
    """`slugs` and every chapter whose results they read, in execution order."""
    needed = set(slugs)
    for ch in reversed(PIPELINE):
        if ch.slug in needed:
            needed.update(ch.reads)
    return [s for s in SLUGS if s in needed]


def _record_model(raw: Any, slug: str, where: str, versions: Mapping[str, str]) -> Model:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("accuracy"), int | float):
        raise VerifyError(f"{where}: no test accuracy recorded for `{slug}`.")
    digest = raw.get(DIGEST_KEY)
    if not isinstance(digest, str) or not DIGEST.fullmatch(digest):
        raise VerifyError(f"{where}: no `{DIGEST_KEY}` (the SHA-256 of its test predictions) "
                          f"for `{slug}`: the run was recorded before digests were. Compare with "
                          "a results folder instead (`--against results`), or record the run "
                          "again.")
    return Model(float(raw["accuracy"]), digest, versions)


def _machine_versions(raw: Mapping[str, Any]) -> dict[str, str]:
    """A record's versions, with the machine named where the record says it elsewhere."""
    versions = dict(raw.get("versions") or {})
    machine = raw.get("machine")
    if "machine" not in versions and machine:
        versions["machine"] = machine.get("cpu", "") if isinstance(machine, Mapping) else machine
    return versions


def _first(sections: list[Mapping[str, Any]], *keys: str) -> Any:
    """The first value any section holds under any of `keys` (sections in priority order)."""
    return next((s[k] for s in sections for k in keys if s.get(k) is not None), None)


def load_record(path: Path, slugs: list[str]) -> Published:
    """A run's JSON record: the benchmark's (the report's run under `report`), the site's
    download (the run's metadata under `run`, its `parameters`) or any JSON object with per-model
    accuracy and digest under `models`."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise VerifyError(f"{path}: not a readable JSON record ({type(err).__name__}).") from None
    if not isinstance(raw, Mapping):
        raise VerifyError(f"{path}: a run's record is a JSON object with `models`.")
    sections = [s for s in (raw.get("report"), raw.get("run"), raw) if isinstance(s, Mapping)]
    models = _first(sections, "models")
    if not isinstance(models, Mapping):
        raise VerifyError(f"{path}: no `models` in this record: it is not a run's record.")
    versions: dict[str, str] = {}
    for section in reversed(sections):  # the run's own versions over the record's
        versions.update(_machine_versions(section))
    missing = [s for s in slugs if s not in models]
    if missing:
        raise VerifyError(f"{path}: no result for {', '.join(missing)} in this record "
                          f"(it has {', '.join(models) or 'none'}).")
    return Published(str(path), {s: _record_model(models[s], s, str(path), versions)
                                 for s in slugs},
                     _first(sections, "params", "parameters"),
                     str(_first(sections, "profile") or "published"))


def _folder_model(folder: Path, slug: str) -> Model:
    metrics = load_metrics(folder / slug)  # DamagedResults (exit 2) when unreadable
    if metrics is None:
        raise VerifyError(f"{folder / slug} has no results: the `{slug}` chapter has not run "
                          "there. Name the chapters it has, or another published run.")
    y_pred = None
    if (folder / slug / PREDICTIONS_FILE).is_file():
        y_pred = load_predictions(folder / slug)[0].argmax(axis=1)
    # The saved predictions, where there are any, are what the digest stands for.
    digest = predictions_digest(y_pred) if y_pred is not None else metrics.get(DIGEST_KEY)
    if digest is None:
        raise VerifyError(f"{folder / slug}: neither its test predictions nor their digest.")
    return Model(float(metrics["accuracy"]), digest, metrics.get("versions", {}), y_pred)


def load_results(folder: Path, slugs: list[str]) -> Published:
    """A results folder: each model's metrics and, where saved, its predictions; the run's
    parameters from its `run.json`."""
    run = {}
    if (folder / RUN_FILE).is_file():
        try:
            run = json.loads((folder / RUN_FILE).read_text(encoding="utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise VerifyError(f"{folder / RUN_FILE}: not readable JSON.") from None
    return Published(str(folder), {s: _folder_model(folder, s) for s in slugs},
                     run.get("params"), str(run.get("profile", "published")))


def load_published(path: Path, slugs: list[str]) -> Published:
    """The published run at `path`: a results folder or a JSON record."""
    if path.is_dir():
        return load_results(path, slugs)
    if path.is_file():
        return load_record(path, slugs)
    raise VerifyError(f"{path}: no such results folder or run record. Give `--against` a "
                      "results folder, bench/results/latest.json or a run's JSON file.")


def rerun_profile(root: Path, published: Published, params: str | None,
                  overrides: list[str]) -> Profile:
    """The parameters to rerun with: `params` when given, else the published run's (else the
    default profile), always writing into the scratch copy's `results`."""
    overrides = [*overrides, "results_dir=results"]
    if params:
        return load_profile(params, overrides)
    if published.params is None:
        return load_profile(root / "params" / "default.yaml", overrides)
    raw = dict(published.params)
    if raw.get("data_dir") and not Path(str(raw["data_dir"])).is_dir():
        raw["data_dir"] = None  # the publisher's data folder: here, the usual places
    return profile_from_mapping(apply_overrides(raw, overrides),
                                f"the parameters recorded in {published.source}",
                                name=published.profile)


def scratch_copy(root: Path, scratch: Path) -> Path:
    """A copy of what running the chapters reads (the book, the profiles, the site's config)."""
    for name in PROJECT_FILES:
        source, target = root / name, scratch / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        else:
            shutil.copy2(source, target)
    return scratch


def compare(slug: str, here: Model, published: Model, y_true: np.ndarray) -> Outcome:
    """One model here against the published run: image by image where the published
    predictions are at hand, else by digest."""
    if published.y_pred is None:
        return Outcome(slug, here, published)
    if len(published.y_pred) != len(y_true):
        raise VerifyError(f"the published `{slug}` predictions cover {len(published.y_pred):,} "
                          f"images, the test set {len(y_true):,}.")
    differ = int(np.sum(here.y_pred != published.y_pred))
    test = stats.mcnemar(here.y_pred == y_true, published.y_pred == y_true)
    return Outcome(slug, here, published, differ, test)


def _machine(versions: Mapping[str, str]) -> str:
    shown = ", ".join(f"{name} {versions[key]}" for key, name in SHOWN_VERSIONS.items()
                      if key in versions)
    where = versions.get("machine", "machine not recorded")
    if versions.get("accelerator") not in (None, "CPU"):
        where += f", {versions['accelerator']}"
    return f"{where}; {shown}" if shown else where


def describe(outcome: Outcome, n_test: int) -> str:
    """An outcome in a few lines: the verdict, both accuracies, McNemar's p, both machines."""
    here, pub = outcome.here, outcome.published
    accuracy = (f"test accuracy {100 * here.accuracy:.2f} % here, {100 * pub.accuracy:.2f} % "
                "published")
    if outcome.identical:
        verdict = f"identical: all {n_test:,} test predictions agree; {accuracy}"
    elif outcome.differ is None:
        verdict = (f"differs: the test predictions' digests differ ({accuracy}); counting the "
                   "images that differ, and McNemar's test, need the published predictions "
                   "(its results folder)")
    else:
        t = outcome.mcnemar
        verdict = (f"differs: {outcome.differ:,} of {n_test:,} test predictions differ; "
                   f"{accuracy}; McNemar's exact p = {t['p_value']:.3g} (right here only: "
                   f"{t['only_a_correct']}, right in the published run only: "
                   f"{t['only_b_correct']})")
    return (f"{MODELS[outcome.slug]}: {verdict}\n  here:      {_machine(here.versions)}\n"
            f"  published: {_machine(pub.versions)}")


def rerun(root: Path, profile: Profile, slugs: list[str], scratch: Path,
          log: Callable[[str], None]) -> dict[str, tuple[Model, np.ndarray]]:
    """Run the chapters `slugs` need in a scratch copy; each model's result and test labels."""
    copy = scratch_copy(root, scratch)
    run_chapters(copy, profile, chapters_to_run(slugs), force=True, log=log)
    out = {}
    for slug in slugs:
        folder = copy / "results" / slug
        metrics = load_metrics(folder)
        probs, y_true = load_predictions(folder)
        y_pred = probs.argmax(axis=1)
        out[slug] = (Model(metrics["accuracy"], predictions_digest(y_pred),
                           metrics.get("versions", {}), y_pred), y_true)
    return out


def run_verify(root: Path, against: Path, slugs: list[str], params: str | None = None,
               overrides: list[str] | None = None, log: Callable[[str], None] = print) -> int:
    """Rerun `slugs` and compare with the published run at `against`: 0 when every model is
    identical, 1 when any differs."""
    published = load_published(against, slugs)  # checked before minutes of training
    profile = rerun_profile(root, published, params, overrides or [])
    log(f"verify: rerunning {', '.join(chapters_to_run(slugs))} with profile `{profile.name}` "
        f"(parameters hash {profile.digest()}) in a scratch copy of the project, to compare "
        f"with {published.source}")
    scratch = Path(tempfile.mkdtemp(prefix="fmnist-verify-"))
    try:
        results = rerun(root, profile, slugs, scratch, log)
    except ChapterFailed:
        raise  # the failed chapter's executed notebook stays in the scratch copy, for reading
    except BaseException:  # an interrupt or an unexpected error: nothing worth keeping
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    shutil.rmtree(scratch, ignore_errors=True)
    outcomes = [compare(s, results[s][0], published.models[s], results[s][1]) for s in slugs]
    for outcome in outcomes:
        log(describe(outcome, len(results[outcome.slug][1])))
    differ = [o for o in outcomes if not o.identical]
    if not differ:
        log(f"verify: {len(outcomes)} model(s) compared; every one identical.")
        return 0
    log(f"verify: {len(differ)} of {len(outcomes)} model(s) differ. TensorFlow's results move "
        "between processor families and thread counts; on the same kind of machine and the "
        "same versions they are identical (docs/verify.md).")
    return 1

"""The run history: what each run of the model chapters produced, kept so runs can be compared.

Every command that runs a model chapter records a run in `results/runs/<id>/`: `run.json` (when,
the profile, its hash, the parameters that changed since the previous run, and per model its
validation and test accuracy with intervals and training time) and `predictions.npz` (each
model's predicted labels on the validation and the test images, a few kilobytes), so any two
runs compare image by image with McNemar's exact test. Validation leads every comparison:
choosing parameters by the test column would overfit the test set, which this study exists to
avoid. The history keeps the newest `comparison.history` runs; an unreadable entry is named and
skipped, the others kept.

Longer than most modules: a run is recorded, read back, compared with another and shown both in
the terminal (`fmnist runs`) and on the site's runs page, from the same records and tests.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fmnist.chapters import MODELS
from fmnist.results import (
    METRICS_FILE,
    PREDICTIONS_FILE,
    atomic_write,
    atomic_write_text,
    load_metrics,
)
from fmnist.stats import accuracy_ci95, mcnemar

RUNS_DIR = "runs"
RUN_RECORD = "run.json"
RUN_PREDICTIONS = "predictions.npz"
VAL_PREDICTIONS_FILE = "val_predictions.npz"  # in each model chapter's folder
ALPHA = 0.05
WHY_VALIDATION = ("Compare runs on validation: choosing parameters by the test column would "
                  "overfit the test set, which this study exists to avoid; the test change is "
                  "shown for the record.")


def save_validation(folder: str | Path, predicted: np.ndarray, y_true: np.ndarray) -> None:
    """A model chapter's predicted validation labels, kept beside its test predictions."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / VAL_PREDICTIONS_FILE, lambda tmp: np.savez_compressed(
        tmp, predicted=np.asarray(predicted, dtype=np.uint8),
        y_true=np.asarray(y_true, dtype=np.uint8)))


def _labels(path: Path, predicted: str) -> tuple[np.ndarray, np.ndarray] | None:
    try:
        with np.load(path) as f:
            pred = f[predicted]
            return (pred.argmax(axis=1) if pred.ndim == 2 else pred).astype(np.uint8), \
                f["y_true"].astype(np.uint8)
    except (OSError, ValueError, KeyError):
        return None


@dataclass
class Run:
    """One entry of the history: its record and its predictions (read when first needed)."""

    id: str
    path: Path
    record: dict[str, Any]

    @functools.cached_property
    def predictions(self) -> dict[str, np.ndarray]:
        # Read once: a comparison pairs every model's validation and test labels.
        with np.load(self.path / RUN_PREDICTIONS) as f:
            return {k: f[k] for k in f.files}


class RunHistoryError(ValueError):
    """A run asked for that the history does not hold; the message says which exist."""


def runs_folder(results: Path) -> Path:
    return Path(results) / RUNS_DIR


def load_runs(results: Path) -> tuple[list[Run], list[str]]:
    """The readable runs, oldest first, and a note for each damaged entry (skipped)."""
    runs, damaged = [], []
    folder = runs_folder(results)
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if not path.is_dir() or path.name.startswith("."):
            continue
        try:
            record = json.loads((path / RUN_RECORD).read_text())
            if not isinstance(record.get("models"), dict):
                raise ValueError("no models")
            with np.load(path / RUN_PREDICTIONS) as f:
                f.files  # noqa: B018 (opening the archive checks it)
        except (OSError, ValueError, KeyError, AttributeError) as err:
            damaged.append(f"run {path.name} is damaged ({type(err).__name__}: {err}); skipped")
            continue
        runs.append(Run(path.name, path, record))
    return runs, damaged


def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in values.items():
        if isinstance(value, dict) and key != "space":
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def changed_params(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, list]:
    """The parameters that differ between two profiles, as `section.key: [before, after]`."""
    if before is None:
        return {}
    a, b = _flatten(before), _flatten(after)
    return {k: [a.get(k), b.get(k)] for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


def _model_entry(results: Path, slug: str, metrics: dict[str, Any], reran: bool,
                 labels: dict[str, np.ndarray]) -> dict[str, Any]:
    entry = {"accuracy": metrics["accuracy"], "accuracy_ci95": metrics["accuracy_ci95"],
             "val_accuracy": metrics.get("val_accuracy"),
             "train_seconds": float(metrics.get("train_seconds", 0.0))
             + float(metrics.get("search_seconds") or 0.0), "reran": reran,
             "test_predictions_sha256": metrics.get("test_predictions_sha256")}
    test = _labels(results / slug / PREDICTIONS_FILE, "probs")
    if test is not None:
        labels[f"{slug}/test"], labels["y_test"] = test
    val = _labels(results / slug / VAL_PREDICTIONS_FILE, "predicted")
    if val is not None:
        labels[f"{slug}/val"], labels["y_val"] = val
        correct = int(np.sum(val[0] == val[1]))
        entry["val_accuracy_ci95"] = list(accuracy_ci95(correct, len(val[1])))
    return entry


def _new_id(folder: Path, now: dt.datetime) -> str:
    """A name that sorts after every entry (the history's order), from the start time."""
    name = now.strftime("%Y-%m-%dT%H-%M-%S")
    last = max((p.name for p in folder.iterdir() if not p.name.startswith(".")), default="")
    n = 1
    while name <= last:  # two runs in one second (or a clock set back)
        n += 1
        name = f"{last[:19]}-{n:03d}"
    return name


def record_run(results: Path, profile, reran: list[str], keep: int) -> Run | None:
    """Record the current results as a run (when a model chapter ran) and keep the newest
    `keep` runs; the entry is written in a hidden folder and renamed into place."""
    reran = [s for s in reran if s in MODELS]
    if not reran:
        return None
    results = Path(results)
    labels: dict[str, np.ndarray] = {}
    models = {}
    for slug in MODELS:
        metrics = load_metrics(results / slug) if (results / slug / METRICS_FILE).is_file() \
            else None
        if metrics is not None:
            models[slug] = _model_entry(results, slug, metrics, slug in reran, labels)
    history, _ = load_runs(results)
    previous = history[-1].record if history else None
    now = dt.datetime.now().astimezone()
    folder = runs_folder(results)
    folder.mkdir(parents=True, exist_ok=True)
    run_id = _new_id(folder, now)
    record = {"id": run_id, "date": now.isoformat(timespec="seconds"), "profile": profile.name,
              "params_hash": profile.digest(), "params": profile.as_dict(),
              "changed": changed_params(previous and previous.get("params"),
                                        profile.as_dict()),
              "reran": reran, "models": models}
    staging = folder / f".{run_id}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    atomic_write(staging / RUN_PREDICTIONS, lambda tmp: np.savez_compressed(tmp, **labels))
    atomic_write_text(staging / RUN_RECORD, json.dumps(record, indent=2))
    staging.rename(folder / run_id)
    prune(results, keep)
    return Run(run_id, folder / run_id, record)


def prune(results: Path, keep: int) -> None:
    """Remove the oldest entries (damaged ones included) beyond the newest `keep`."""
    folder = runs_folder(results)
    entries = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    for path in entries[:max(0, len(entries) - keep)]:
        shutil.rmtree(path, ignore_errors=True)


@dataclass(frozen=True)
class Change:
    """One model's change between two runs, validation first."""

    model: str  # chapter slug
    val_before: float | None
    val_after: float | None
    val_p: float | None  # McNemar's exact p on the paired validation predictions
    test_before: float
    test_after: float
    test_p: float | None

    @property
    def beyond_noise(self) -> bool | None:
        return None if self.val_p is None else self.val_p < ALPHA


def _paired_p(a: Run, b: Run, slug: str, split: str) -> float | None:
    pa, pb = a.predictions, b.predictions
    key, truth = f"{slug}/{split}", f"y_{split}"
    if key not in pa or key not in pb or truth not in pa or truth not in pb \
            or not np.array_equal(pa[truth], pb[truth]):
        return None  # not paired: a different split, or predictions not kept
    return mcnemar(pb[key] == pb[truth], pa[key] == pa[truth])["p_value"]


def compare(a: Run, b: Run, only_reran: bool = False) -> list[Change]:
    """Each model in both runs (or only those `b` reran), from `a` to `b`."""
    out = []
    for slug in MODELS:
        ma, mb = a.record["models"].get(slug), b.record["models"].get(slug)
        if ma is None or mb is None or (only_reran and not mb.get("reran")):
            continue
        out.append(Change(slug, ma.get("val_accuracy"), mb.get("val_accuracy"),
                          _paired_p(a, b, slug, "val"), ma["accuracy"], mb["accuracy"],
                          _paired_p(a, b, slug, "test")))
    return out


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.2f}"


def change_line(c: Change) -> str:
    """'cnn: validation 92.33 -> 92.61 % (+0.28, p = 0.21: within noise)'."""
    if c.val_before is None or c.val_after is None:
        return f"{c.model}: no validation accuracy to compare"
    diff = 100 * (c.val_after - c.val_before)
    if c.val_p is None:
        verdict = "not paired: no test"
    else:
        verdict = (f"p {'= ' * (c.val_p > 0)}{_p(c.val_p)}: "
                   + ("beyond noise" if c.beyond_noise else "within noise"))
    return (f"{c.model}: validation {_pct(c.val_before)} -> {_pct(c.val_after)} % "
            f"({diff:+.2f}, {verdict})")


def find(runs: list[Run], key: str) -> Run:
    """A run by its number in the history (1 is the oldest) or by the start of its id/date."""
    if key.isdigit() and 1 <= int(key) <= len(runs):
        return runs[int(key) - 1]
    matches = [r for r in runs if r.id == key] or [
        r for r in runs if r.id.startswith(key) or r.record["date"].startswith(key)]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(f"{i} ({r.id})" for i, r in enumerate(runs, start=1)) or "none"
    what = "matches several runs" if matches else "is no run"
    raise RunHistoryError(f"`{key}` {what}; the history holds: {known}. Give a run's number "
                          f"or the start of its date.")


def after_run_lines(results: Path) -> list[str]:
    """What the newest run changed on validation against the one before, per model it reran."""
    history, _ = load_runs(results)
    if len(history) < 2:
        return []
    return [change_line(c) for c in compare(history[-2], history[-1], only_reran=True)]


def _changes_text(record: dict[str, Any], first: bool) -> str:
    if first:
        return "The first run in the history: nothing to compare with."
    changed = record.get("changed") or {}
    if not changed:
        return "No parameter changed since the previous run (a rerun, or a change of code)."
    return "Changed since the previous run: " + ", ".join(
        f"`{k}` {json.dumps(a)} → {json.dumps(b)}" for k, (a, b) in changed.items()) + "."


def _p(p: float | None) -> str:
    if p is None:
        return "not paired"
    return f"{p:.2g}" if p > 0 else "< 1e-300"  # below what a float holds


def changes_table(changes: list[Change]) -> str:
    """Validation first (with its paired test); the test change after it, for the record."""
    lines = ["| model | validation | change | p (validation) | verdict | "
             "test, for the record | p (test) |", "|---|---|---|---|---|---|---|"]
    for c in changes:
        val = ("–" if c.val_before is None or c.val_after is None else
               f"{100 * (c.val_after - c.val_before):+.2f}")
        verdict = ("–" if c.val_p is None else
                   "beyond noise" if c.beyond_noise else "within noise")
        lines.append(f"| {MODELS[c.model]} | {_pct(c.val_before)} → {_pct(c.val_after)} % | "
                     f"{val} | {_p(c.val_p)} | {verdict} | "
                     # Set in italics: the record, not a column to choose by.
                     f"*{_pct(c.test_before)} → {_pct(c.test_after)} %* | *{_p(c.test_p)}* |")
    return "\n".join(lines)


def page_markdown(history: list[Run], damaged: list[str]) -> str:
    """The runs page's body: newest run first, each against the one before it."""
    if not history:
        return "*No run has been recorded yet: `fmnist report` records the first.*\n"
    parts = [f"The history holds {len(history)} run{'s' * (len(history) > 1)}, newest first. "
             f"{WHY_VALIDATION} A change is called beyond noise when McNemar's exact test on "
             f"the paired validation predictions gives p < {ALPHA:g}."]
    parts += [f"*{note}*" for note in damaged]
    for i in range(len(history) - 1, -1, -1):
        run = history[i]
        r = run.record
        head = (f"## Run {i + 1}: {r['date'][:16].replace('T', ' ')}\n\nProfile "
                f"`{r['profile']}`, parameters hash `{r['params_hash']}`; reran: "
                f"{', '.join(MODELS[s] for s in r['reran'])}. {_changes_text(r, i == 0)}")
        parts.append(head)
        if i > 0:
            changes = compare(history[i - 1], run, only_reran=True)
            if changes:
                parts.append(changes_table(changes))
    return "\n\n".join(parts) + "\n"


def validation_series(history: list[Run]) -> dict[str, list[float | None]]:
    """Each model's validation accuracy in every run of the history, oldest first."""
    return {MODELS[slug]: [r.record["models"].get(slug, {}).get("val_accuracy")
                           for r in history]
            for slug in MODELS if any(slug in r.record["models"] for r in history)}


def history_lines(history: list[Run]) -> list[str]:
    """`fmnist runs`: one block per run, oldest first, validation before test."""
    if not history:
        return []
    lines = [WHY_VALIDATION]
    for i, run in enumerate(history, start=1):
        r = run.record
        lines.append(f"{i:>3}  {r['date'][:16].replace('T', ' ')}  profile {r['profile']}  "
                     f"hash {r['params_hash']}  reran: {', '.join(r['reran'])}")
        if r.get("changed"):
            lines.append("     changed: " + ", ".join(
                f"{k} {json.dumps(a)} -> {json.dumps(b)}" for k, (a, b) in r["changed"].items()))
        lines.append("     validation: " + ", ".join(
            f"{slug} {_pct(m.get('val_accuracy'))} %" for slug, m in r["models"].items()))
        lines.append("     test (for the record): " + ", ".join(
            f"{slug} {_pct(m['accuracy'])} %" for slug, m in r["models"].items()))
    return lines


def comparison_lines(a: Run, b: Run, history: list[Run]) -> list[str]:
    """`fmnist runs A B`: what changed, then each model on validation, then on test."""
    number = {run.id: i for i, run in enumerate(history, start=1)}
    changed = changed_params(a.record.get("params"), b.record.get("params", {}))
    lines = [f"run {number[a.id]} ({a.record['date'][:16]}) -> run {number[b.id]} "
             f"({b.record['date'][:16]})",
             "changed: " + (", ".join(f"{k} {json.dumps(x)} -> {json.dumps(y)}"
                                      for k, (x, y) in changed.items()) or "no parameter"),
             "validation (McNemar's exact test on the paired validation predictions):"]
    changes = compare(a, b)
    lines += [f"  {change_line(c)}" for c in changes]
    lines.append("test, for the record (choose on validation, never on the test set):")
    lines += [f"  {c.model}: test {_pct(c.test_before)} -> {_pct(c.test_after)} % "
              f"({100 * (c.test_after - c.test_before):+.2f}, p {'= ' * bool(c.test_p)}"
              f"{_p(c.test_p)})"
              for c in changes]
    return lines

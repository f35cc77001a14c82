"""What a reader can take away from the site: each chapter's results tables as CSV files and the
run's results as one JSON file, written when the site is built from the results folder (never
typed), and the markdown that links them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fmnist import compare
from fmnist.chapters import MODELS, PIPELINE
from fmnist.data import CLASS_NAMES
from fmnist.paths import RUN_FILE

FOLDER = "downloads"  # inside the staged book; Sphinx copies each linked file into the site
RESULTS_JSON = "fmnist-results.json"
# What the JSON keeps of each model's metrics.json (the training history and the versions,
# which the run records once, are left out); absent keys are skipped.
MODEL_KEYS = ("model", "accuracy", "accuracy_ci95", "n_test", "macro", "per_class",
              "confusion_matrix", "val_accuracy", "train_seconds", "search_seconds",
              "inference_ms_per_1k", "n_params", "tta", "best_epoch", "kept", "changes",
              "params", "test_predictions_sha256")
SCHEMA = 1  # raised when the JSON's layout changes


@dataclass(frozen=True)
class Download:
    """One file written for the site: the chapter it belongs to, its name and what it holds."""

    chapter: str
    name: str
    title: str


def _plain(value: Any) -> Any:
    """`value` with NumPy scalars as Python ones and NaN as null (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def summary_table(comparison: compare.Comparison) -> pd.DataFrame:
    """One row per model with results: test accuracy and its 95 % interval, macro scores,
    validation accuracy, times and size, as numbers."""
    rows = []
    for slug, m in comparison.metrics.items():
        if m is None:
            continue
        low, high = m["accuracy_ci95"]
        rows.append({"chapter": slug, "model": MODELS[slug],
                     "test_accuracy": m["accuracy"], "ci95_low": low, "ci95_high": high,
                     **{f"macro_{k}": v for k, v in m["macro"].items()},
                     "val_accuracy": m.get("val_accuracy"),
                     "train_seconds": m["train_seconds"],
                     "search_seconds": m.get("search_seconds"),
                     "inference_ms_per_1k": m.get("inference_ms_per_1k"),
                     "parameters": m.get("n_params"),
                     "same_as_cnn": slug == "tuning" and comparison.tuned_is_default})
    return pd.DataFrame(rows).set_index("chapter") if rows else pd.DataFrame()


def model_tables(metrics: dict[str, Any]) -> dict[str, tuple[str, pd.DataFrame]]:
    """A model chapter's tables, by file stem: (title, table)."""
    per_class = pd.DataFrame(metrics["per_class"]).T.rename_axis("class")
    per_class["support"] = per_class["support"].astype(int)
    confusion = pd.DataFrame(metrics["confusion_matrix"], index=list(CLASS_NAMES),
                             columns=list(CLASS_NAMES)).rename_axis("true \\ predicted")
    tables = {"per-class": ("per-class precision, recall and F1", per_class),
              "confusion-matrix": ("confusion matrix", confusion)}
    grid = (metrics.get("selection") or {}).get("grid")
    if grid:
        tables["grid"] = ("regularisation grid", pd.DataFrame(grid))
    if metrics.get("changes"):
        changes = pd.DataFrame([{"key": k, "CNN chapter": a, "chosen": b}
                                for k, (a, b) in metrics["changes"].items()])
        tables["changes"] = ("what the search changed", changes.set_index("key"))
    return tables


def chapter_tables(comparison: compare.Comparison
                   ) -> dict[str, dict[str, tuple[str, pd.DataFrame]]]:
    """Every chapter's results tables, by chapter slug then file stem (chapters without
    results have none)."""
    tables = {slug: model_tables(m) for slug, m in comparison.metrics.items() if m is not None}
    if len(comparison.compared_slugs) >= 1:
        tables["comparison"] = {"models": ("every model's results",
                                           summary_table(comparison))}
    if len(comparison.compared_slugs) >= 2:
        tables["comparison"]["pairwise"] = ("McNemar's tests, every pair",
                                            compare.pairwise_table(comparison))
    return tables


def run_results(results: Path, comparison: compare.Comparison) -> dict[str, Any]:
    """The run's results in one document: its record (date, profile, parameters, versions,
    times), each model's metrics and the pairwise tests."""
    run = (json.loads((results / RUN_FILE).read_text(encoding="utf-8"))
           if (results / RUN_FILE).is_file() else None)
    pairwise = (compare.pairwise_table(comparison).reset_index().to_dict(orient="records")
                if len(comparison.compared_slugs) >= 2 else [])
    models = {slug: {k: m[k] for k in MODEL_KEYS if k in m}
              for slug, m in comparison.metrics.items() if m is not None}
    return _plain({
        "schema": SCHEMA,
        "run": None if run is None else {k: v for k, v in run.items() if k != "params"},
        "parameters": None if run is None else run.get("params"),
        "class_names": list(CLASS_NAMES),
        "models": models,
        "pairwise_tests": pairwise,
    })


def write_downloads(results: Path, comparison: compare.Comparison, folder: Path
                    ) -> list[Download]:
    """Write the JSON file and every chapter's CSV files into `folder`; return what was
    written, the JSON first."""
    document = run_results(results, comparison)
    if document["run"] is None and not document["models"]:
        return []  # nothing has run: nothing to take away
    folder.mkdir(parents=True, exist_ok=True)
    (folder / RESULTS_JSON).write_text(json.dumps(document, indent=2, allow_nan=False) + "\n",
                                       encoding="utf-8")
    written = [Download("", RESULTS_JSON, "the run's results (JSON)")]
    for slug, tables in chapter_tables(comparison).items():
        for stem, (title, table) in tables.items():
            name = f"{slug}-{stem}.csv"
            table.to_csv(folder / name)
            written.append(Download(slug, name, title))
    return written


def _link(download: Download, text: str | None = None) -> str:
    return f"{{download}}`{text or download.name} <{FOLDER}/{download.name}>`"


def links_markdown(downloads: list[Download], chapter: str | None = None) -> str:
    """Markdown (for a page in the book's folder) linking the downloads: every file, grouped
    by chapter, when `chapter` is None, else that chapter's files and the JSON."""
    if not downloads:
        return "*No results yet: run `fmnist report` to make them.*\n"
    lines = [f"- The run's results in one JSON file: {_link(downloads[0])}\n"]
    for ch in PIPELINE:
        files = " · ".join(_link(d, d.title) for d in downloads[1:] if d.chapter == ch.slug)
        if not files or chapter not in (None, ch.slug):
            continue
        lines.append(f"- [{ch.title}]({ch.notebook}), as CSV: {files}\n" if chapter is None
                     else f"- This chapter's tables as CSV: {files}\n")
    return "".join(lines)

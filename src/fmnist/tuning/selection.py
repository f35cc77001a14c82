"""Choosing among a search's finished trials, and what the trials show: pure functions on
trial rows (`steps.trial_rows`), no Keras or KerasTuner."""

from __future__ import annotations

import json
from typing import Any

import numpy as np


def competing(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The trials trained for the most epochs: Hyperband's first rounds train fewer, and their
    lower scores measure the shorter training, not the configuration."""
    longest = max((r.get("epochs") or 0 for r in rows), default=0)
    return [r for r in rows if (r.get("epochs") or 0) == longest]


def select_trial(rows: list[dict[str, Any]], n_val: int, rule: str = "one_se") -> dict[str, Any]:
    """The trial to retrain: the best by validation accuracy, or under `one_se` the cheapest
    (lowest `cost`) among those within one standard error of the best.

    The one-standard-error rule (Breiman et al., 1984) prefers the cheaper of configurations the
    validation split cannot tell apart; the standard error is the binomial one of the best
    accuracy on `n_val` images. Ties go to the higher accuracy, then the earlier trial. Only
    the trials trained for the most epochs compete (`competing`).
    """
    if not rows:
        raise ValueError("no finished trials to choose from: run the search first")
    rows = competing(rows)
    best = max(rows, key=lambda r: r["val_accuracy"])
    if rule == "best":
        return best
    if rule != "one_se":
        raise ValueError(f"unknown selection rule {rule!r}: use 'best' or 'one_se'")
    floor = best["val_accuracy"] - standard_error(best["val_accuracy"], n_val)
    close = [r for r in rows if r["val_accuracy"] >= floor]
    return min(close, key=lambda r: (r["cost"], -r["val_accuracy"]))  # first of equals wins


def standard_error(accuracy: float, n: int) -> float:
    """The binomial standard error of an accuracy measured on `n` images."""
    return float(np.sqrt(accuracy * (1 - accuracy) / n))


def value_label(value: Any) -> str:
    """A searched value as every figure and table of the search shows it: lists and numbers in
    their plain form, booleans as yes or no."""
    if isinstance(value, list | tuple):
        return "-".join(map(str, value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def isolation(rows: list[dict[str, Any]], space: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """For each searched key and each of its candidates, the best competing trial with that
    value: its score and how many trials tried the value (none: never sampled).

    A key whose candidates' best scores differ by more than the noise of the validation split
    mattered in this search; one whose best scores agree did not (Google's tuning playbook calls
    this an isolation plot).
    """
    rows = competing(rows)
    out = []
    for key, candidates in space.items():
        for value in candidates:
            tried = [r for r in rows if json.dumps(r[key]) == json.dumps(value)]
            best = max(tried, key=lambda r: r["val_accuracy"]) if tried else None
            out.append({"key": key, "value": value_label(value), "trials": len(tried),
                        "best_val_accuracy": best["val_accuracy"] if best else None,
                        "best_trial": best["trial"] if best else None})
    return out


def key_effects(rows: list[dict[str, Any]], space: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Per searched key: the mean score of the trials with each value, the gap between the
    best and the worst value's mean, and whether that gap exceeds twice its standard error.

    In a random search every other key is drawn independently, so a difference of means
    estimates what the key itself does at the search's fidelity; the best trial of each value
    (`isolation`) differs in the other keys too. A key with values tried once has no error bar.
    """
    rows = competing(rows)
    out = []
    for key, candidates in space.items():
        groups = {value_label(v): np.array([r["val_accuracy"] for r in rows
                                            if json.dumps(r[key]) == json.dumps(v)])
                  for v in candidates}
        groups = {v: g for v, g in groups.items() if len(g)}
        if not groups:
            continue
        means = {v: float(g.mean()) for v, g in groups.items()}
        top, low = max(means, key=means.get), min(means, key=means.get)
        gap = means[top] - means[low]
        spread = [groups[v] for v in (top, low)]
        se = (float(np.sqrt(sum(g.var(ddof=1) / len(g) for g in spread)))
              if top != low and all(len(g) > 1 for g in spread) else None)
        out.append({"key": key, "best value (mean)": top,
                    "mean score by value": ", ".join(f"{v}: {100 * m:.1f} %"
                                                     for v, m in means.items()),
                    "gap of means": gap, "its standard error": se,
                    "clear": bool(se is not None and gap > 2 * se)})
    return out

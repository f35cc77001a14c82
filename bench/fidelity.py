"""Does the search's score rank configurations the way their full training does?

Samples configurations from the default profile's search space (seeded), trains each at several
search fidelities (epochs per trial x share of the training split, as a trial of the tuning
chapter trains them) and once with the CNN chapter's full protocol, and reports the Spearman
rank correlation between each fidelity's validation accuracy and the fully trained one, with the
training time each fidelity costs.

Each row records the space it was drawn from; the table reads only the rows of the default
profile's current space.

Usage: python bench/fidelity.py [--configs 8] [--seed 0]   appends to results/fidelity.jsonl
       (another --seed draws further configurations)
       python bench/fidelity.py --table                    renders results/fidelity.md
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np
from readme import provenance, record, render
from scipy.stats import spearmanr

from fmnist import data, environment, models, params, recipe, train
from fmnist.tuning.space import with_searched

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "fidelity.jsonl"
# (epochs per trial, training images): the chapter's default and the candidates around it.
FIDELITIES: list[tuple[int, int | None]] = [(2, 10_000), (3, 20_000), (4, 27_000)]
TRIALS = 16  # the default search's trials at the cheapest fidelity: the budget compared


def sample_configs(space: dict[str, list], n: int, seed: int) -> list[dict]:
    """`n` distinct configurations drawn uniformly from the space's product."""
    combos = list(itertools.product(*space.values()))
    picks = np.random.default_rng(seed).choice(len(combos), size=min(n, len(combos)),
                                               replace=False)
    return [dict(zip(space, combos[i], strict=True)) for i in picks]


def train_once(config: params.CnnParams, xy, val, epochs: int, seed: int) -> dict:
    """Train `config` for `epochs` (no early stopping) and score it on validation."""
    train.seed_everything(seed)
    model = models.build_cnn_from(config)
    cpu = time.process_time()
    fit = train.fit_keras(model, xy, val, epochs=epochs, batch_size=config.batch_size,
                          learning_rate=config.learning_rate, patience=epochs,
                          recipe=recipe.Recipe.from_section(config), seed=seed, log=None)
    return {"val_accuracy": fit.val_accuracy, "seconds": round(fit.train_seconds, 1),
            "cpu_seconds": round(time.process_time() - cpu, 1),
            "epochs_run": len(fit.history["loss"])}


def measure(n_configs: int, seed: int) -> None:
    profile = params.load_profile(ROOT / "params" / "default.yaml")
    shared, cnn = profile.shared, profile.sections["cnn"]
    ds = data.load_dataset(shared.data_dir)
    tr, va = data.split_indices(ds.y_train, profile.sections["data"].val_fraction, shared.seed)
    x = data.channels(data.to_float(ds.x_train))
    full, val = (x[tr], ds.y_train[tr]), (x[va], ds.y_train[va])
    space = profile.sections["tuning"].space
    for i, values in enumerate(sample_configs(space, n_configs, seed)):
        config = with_searched(cnn, values)
        row = {"config": i, "draw": seed, "values": values, "space": params.params_hash(space),
               "machine": environment.machine_description(), "date": time.strftime("%Y-%m-%d"),
               "fidelities": []}
        for epochs, subset in FIDELITIES:
            xy = data.stratified_subset(*full, subset, shared.seed)
            row["fidelities"].append({"epochs": epochs, "subset": subset,
                                      **train_once(config, xy, val, epochs, shared.seed)})
            print(json.dumps(row["fidelities"][-1]), flush=True)
        # The full protocol, early stopping included, as the tuning chapter retrains.
        train.seed_everything(shared.seed)
        fit = train.fit_section(models.build_cnn_from(config), full, val, config, shared.seed,
                                log=None)
        row["retrained"] = {"val_accuracy": fit.val_accuracy,
                            "seconds": round(fit.train_seconds, 1),
                            "epochs_run": len(fit.history["loss"])}
        record(OUT, row)


def spearman(a, b) -> tuple[float, float]:
    """Spearman's rank correlation and its two-sided p-value."""
    result = spearmanr(a, b)
    return float(result.statistic), float(result.pvalue)


def default_space_hash() -> str:
    return params.params_hash(params.load_profile(ROOT / "params" / "default.yaml")
                              .sections["tuning"].space)


def current_rows(rows: list[dict], space: str) -> list[dict]:
    """The measurements of the search space hashed `space` (the default profile's current one),
    at today's fidelities, each configuration once."""
    wanted = [[e, s] for e, s in FIDELITIES]
    kept, seen = [], set()
    for r in rows:
        values = json.dumps(r["values"], sort_keys=True)  # another draw may repeat a configuration
        if (r.get("space") == space and values not in seen
                and [[f["epochs"], f["subset"]] for f in r["fidelities"]] == wanted):
            kept.append(r)
            seen.add(values)
    return kept


def report_pick_line(retrained: np.ndarray, current_space: str) -> str:
    """Where the default report's own choice, retrained (`bench/run.py`), falls among the
    sampled configurations' retrained validation accuracies (when that record is the default
    profile's, with the current search space)."""
    latest = ROOT / "bench" / "results" / "latest.json"
    report = (json.loads(latest.read_text()).get("report") or {}) if latest.is_file() else {}
    space = report.get("params", {}).get("tuning", {}).get("space")
    mine = report.get("models", {}).get("tuning", {}).get("retrained_val_accuracy")
    if (report.get("profile") != "default" or mine is None or space is None
            or params.params_hash(space) != current_space):
        return ""
    below = int(np.sum(retrained < mine))
    machine = (json.loads(latest.read_text()).get("machine") or {}).get("cpu", "unknown machine")
    return (f"\nThe default report's own choice, retrained (`bench/results/latest.json`, "
            f"{machine}): {100 * mine:.2f} % validation, above {below} of these "
            f"{len(retrained)} configurations (TensorFlow's figures move slightly between "
            "processor families, so a comparison across machines is approximate).")


def pick_at_cost(scores: list[float], retrained: np.ndarray, n: int, draws: int = 20_000
                 ) -> float:
    """The expected retrained accuracy of the top-scoring configuration among `n` drawn at
    random from the sample (a seeded Monte Carlo over subsets): what a search of `n` trials at
    this fidelity would retrain, judged on the measured configurations."""
    rng = np.random.default_rng(0)
    scores = np.asarray(scores)
    picks = [retrained[subset[np.argmax(scores[subset])]]
             for subset in (rng.choice(len(scores), size=n, replace=False)
                            for _ in range(draws))]
    return float(np.mean(picks))


def table(rows: list[dict]) -> str:
    """Per fidelity: Spearman with the retrained accuracy (and its p-value), mean CPU time,
    where its top pick's retrained accuracy ranks among the configurations measured, and what
    its pick retrains to when it gets the cheapest fidelity's budget of `TRIALS` trials."""
    space = default_space_hash()
    rows = current_rows(rows, space)
    if not rows:
        return "No measurement of the current search space yet: `python bench/fidelity.py`.\n"
    retrained = np.array([r["retrained"]["val_accuracy"] for r in rows])
    lines = [f"{len(rows)} configurations drawn from the default search space; retrained with "
             f"the CNN chapter's protocol: validation {100 * retrained.min():.2f}–"
             f"{100 * retrained.max():.2f} % (median {100 * np.median(retrained):.2f} %), mean "
             f"{np.mean([r['retrained']['seconds'] for r in rows]):.0f} s each.\n",
             "| epochs per trial | training images | Spearman ρ with retrained accuracy (p) | "
             "mean CPU seconds per trial | its top pick, retrained | rank of that pick | "
             f"trials for the cost of {TRIALS} cheapest ones | their pick, retrained (expected) |",
             "|---|---|---|---|---|---|---|---|"]
    # CPU seconds: one thread each, they hold when other work shares the machine; wall does not.
    seconds = [np.mean([f.get("cpu_seconds", f["seconds"])
                        for f in (r["fidelities"][k] for r in rows)])
               for k in range(len(FIDELITIES))]
    for k, (epochs, subset) in enumerate(FIDELITIES):
        scores = [r["fidelities"][k]["val_accuracy"] for r in rows]
        pick = int(np.argmax(scores))
        rho, p = spearman(scores, retrained)
        rank = int(np.sum(retrained > retrained[pick])) + 1
        n = min(len(rows), max(1, int(TRIALS * seconds[0] / seconds[k])))
        lines.append(f"| {epochs} | {subset or 'all'} | {rho:.2f} ({p:.2g}) | "
                     f"{seconds[k]:.0f} | {100 * retrained[pick]:.2f} % | "
                     f"{rank} of {len(rows)} | {n} | "
                     f"{100 * pick_at_cost(scores, retrained, n):.2f} % |")
    lines.append(report_pick_line(retrained, space))
    lines.append(provenance(rows, "python bench/fidelity.py"))
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--table", action="store_true", help="render the saved measurements")
    args = parser.parse_args()
    if not args.table:
        measure(args.configs, args.seed)
    print(render(OUT, table))


if __name__ == "__main__":
    main()

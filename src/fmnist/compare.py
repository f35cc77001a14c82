"""The comparison: read every model chapter's results (never retrain), tabulate and test them.

Somewhat over 300 lines: one small function per table, sentence and figure input of the
comparison chapter and the landing page, each tested on its own.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fmnist import ladder
from fmnist.chapters import MODELS
from fmnist.data import CLASS_NAMES
from fmnist.evaluate import format_accuracy
from fmnist.results import load_metrics, load_predictions

# Published figures, not run here: shown beneath the table, clearly marked. The original study
# trained this study's models (named as `chapters.MODELS` names them); Zalando's benchmark names
# its own, a logistic regression among them.
ORIGINAL = "Original 2025 study"
ZALANDO = "Zalando benchmark (Xiao et al., 2017)"
REFERENCES: list[dict[str, Any]] = [
    {"source": ORIGINAL, "model": MODELS["baseline"], "accuracy_pct": 84.38},
    {"source": ORIGINAL, "model": MODELS["dense"], "accuracy_pct": 88.22},
    {"source": ORIGINAL, "model": MODELS["cnn"], "accuracy_pct": 91.21},
    {"source": ORIGINAL, "model": MODELS["tuning"], "accuracy_pct": 91.97},
    {"source": ZALANDO, "model": MODELS["baseline"], "accuracy_pct": 84.2},
    {"source": ZALANDO, "model": "MLP", "accuracy_pct": 87.1},
    {"source": ZALANDO, "model": "Best SVC", "accuracy_pct": 89.7},
]


@dataclass
class Comparison:
    """Every model chapter's results, each file read once: metrics now, test-set predictions
    (for the paired tests) the first time they are needed."""

    results: Path
    metrics: dict[str, dict[str, Any] | None]  # by chapter slug; None where it has not run

    @property
    def available(self) -> dict[str, dict[str, Any]]:
        """Only the models whose results exist, keyed by display name."""
        return {MODELS[s]: m for s, m in self.metrics.items() if m is not None}

    @property
    def tuned_is_default(self) -> bool:
        """Whether the tuning chapter kept the default CNN (its results are the CNN's)."""
        tuned = self.metrics.get("tuning")
        return tuned is not None and tuned.get("kept") == "default"

    @property
    def compared_slugs(self) -> list[str]:
        """The models that enter the figures, the paired tests and the conclusion: every model
        with results, less a tuned CNN that is the default CNN (no model is tested against
        itself)."""
        return [s for s, m in self.metrics.items()
                if m is not None and not (s == "tuning" and self.tuned_is_default)]

    @property
    def compared(self) -> dict[str, dict[str, Any]]:
        """The compared models' metrics, keyed by display name."""
        return {MODELS[s]: self.metrics[s] for s in self.compared_slugs}

    @functools.cached_property
    def correct_by_slug(self) -> dict[str, np.ndarray]:
        """Per compared model (by chapter slug), whether each test image was classified
        correctly."""
        out = {}
        for slug in self.compared_slugs:
            probs, y_true = load_predictions(self.results / slug)
            out[slug] = probs.argmax(axis=1) == y_true
        return out

    @property
    def correct(self) -> dict[str, np.ndarray]:
        """`correct_by_slug`, keyed by display name."""
        return {MODELS[s]: c for s, c in self.correct_by_slug.items()}


def load(results: Path) -> Comparison:
    """Read every model chapter's metrics (never retrain)."""
    results = Path(results)
    return Comparison(results, {slug: load_metrics(results / slug) for slug in MODELS})


def results_table(comparison: Comparison) -> pd.DataFrame:
    """One row per model: accuracy with 95 % CI, macro F1, times and size; missing ones marked."""
    rows = []
    for slug, m in comparison.metrics.items():
        name = MODELS[slug]
        if m is None:
            rows.append({"model": name,
                         "test accuracy (%)": f"missing: run `fmnist run {slug}`",
                         "macro F1": "", "train time (s)": "", "inference (ms / 1k)": "",
                         "parameters": ""})
            continue
        if slug == "tuning" and comparison.tuned_is_default:
            rows.append({"model": name,
                         "test accuracy (%)": "the CNN's: the search found no better "
                                              "configuration",
                         "macro F1": "", "train time (s)": (
                             f"{m.get('search_seconds') or 0:.1f} search + "
                             f"{m['train_seconds']:.1f} rejected retrain"),
                         "inference (ms / 1k)": "", "parameters": ""})
            continue
        rows.append({
            "model": name,
            "test accuracy (%)": format_accuracy(m, "table"),
            "macro F1": f"{m['macro']['f1']:.4f}",
            "train time (s)": f"{m['train_seconds']:.1f}" + (
                f" + {m['search_seconds']:.1f} search" if m.get("search_seconds") else ""),
            "inference (ms / 1k)": f"{m['inference_ms_per_1k']:.1f}",
            "parameters": f"{m['n_params']:,}",
        })
    return pd.DataFrame(rows)


def references_table() -> pd.DataFrame:
    """Published reference figures (not run here)."""
    table = pd.DataFrame(REFERENCES).rename(columns={"accuracy_pct": "published accuracy (%)"})
    return table.set_index(["source", "model"])


def pairwise_table(comparison: Comparison) -> pd.DataFrame:
    """Every pair of models: its family, discordant counts and its one adjusted p-value.

    The ladder's rungs are one family (Holm over the rungs), the other pairs another, labelled
    exploratory (Holm among themselves): each pair shows the same p here as everywhere else.
    """
    rows = [{"pair": t.name, "family": t.family, "only the first right": t.only_lower_right,
             "only the second right": t.only_upper_right, "p (Holm)": t.p_adjusted}
            for t in ladder.all_pairs(comparison)]
    columns = ["pair", "family", "only the first right", "only the second right", "p (Holm)"]
    return pd.DataFrame(rows, columns=columns).set_index("pair")


def intervals_note(n_models: int) -> str:
    """What the report's intervals and tests cover, and what they do not."""
    return ("The 95 % intervals and McNemar's tests measure one source of uncertainty: which "
            "10,000 images happen to be in the test set. They do not cover the training seed: "
            f"each of the {n_models} models was trained once, with one seed, and a retrain with "
            "another seed moves its accuracy too (the project's benchmark measures that spread "
            "for the default CNN over several seeds). A difference smaller than that spread is "
            "not a finding about the model, even when a test calls it significant.")


def top_confusions(metrics: dict[str, Any], n: int = 3) -> list[tuple[str, str, int]]:
    """The `n` most frequent (true, predicted) mistakes of one model."""
    cm = np.array(metrics["confusion_matrix"])
    np.fill_diagonal(cm, 0)
    flat = np.argsort(-cm, axis=None)[:n]
    return [(CLASS_NAMES[i], CLASS_NAMES[j], int(cm[i, j]))
            for i, j in zip(*np.unravel_index(flat, cm.shape), strict=True)]


def conclusion(comparison: Comparison, alpha: float = 0.05) -> str:
    """A short conclusion whose every number comes from the results files.

    A tuned CNN that is the default CNN is not a model of its own: the conclusion says what the
    search cost and found, and ranks the others."""
    models = comparison.compared
    if not models:
        return "No model chapter has results yet."
    ranked = sorted(models.items(), key=lambda kv: -kv[1]["accuracy"])
    best, worst = ranked[0], ranked[-1]
    text = [f"The best model on the 10,000 test images is the **{best[0]}** with "
            f"{format_accuracy(best[1])} accuracy."]
    if len(ranked) > 1:
        gap = 100 * (best[1]["accuracy"] - worst[1]["accuracy"])
        text.append(f"It is {gap:.2f} points ahead of the {worst[0]} "
                    f"({100 * worst[1]['accuracy']:.2f} %).")
        runner = ranked[1]
        slug = {name: s for s, name in MODELS.items()}
        test = ladder.pair(comparison, slug[best[0]], slug[runner[0]])
        text.append(f"Its lead over the runner-up, the {runner[0]} "
                    f"({100 * runner[1]['accuracy']:.2f} %), is "
                    f"{ladder.verdict(test, alpha)}.")
        fastest = min(models.items(), key=lambda kv: training_seconds(kv[1]))
        text.append(f"The fastest to train is the {fastest[0]} "
                    f"({training_seconds(fastest[1]):.1f} s); the {best[0]} took "
                    f"{training_seconds(best[1]):.1f} s"
                    + (" with its search." if best[1].get("search_seconds") else "."))
    hard = top_confusions(best[1], 1)[0]
    text.append(f"Its most frequent mistake is {hard[0]} taken for {hard[1]} ({hard[2]} times).")
    if "tuning" in comparison.compared_slugs and comparison.metrics["cnn"] is not None:
        text.append(ladder.tuned_rung_sentence(comparison.metrics["tuning"],
                                               comparison.metrics["cnn"]))
    if comparison.tuned_is_default:
        tuned = comparison.metrics["tuning"]
        text.append(f"The search found no configuration that beat the CNN on validation, so "
                    f"there is no tuned model to rank: it cost "
                    f"{tuned.get('search_seconds') or 0:.0f} s of search and "
                    f"{tuned['train_seconds']:.0f} s of a retrain that was rejected.")
    return " ".join(text)


def to_markdown(df: pd.DataFrame) -> str:
    """A DataFrame as a pipe table (no extra dependency)."""
    header = "| " + " | ".join(map(str, df.columns)) + " |"
    rule = "|" + "---|" * len(df.columns)
    body = ["| " + " | ".join(map(str, row)) + " |" for row in df.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def f1_matrix(models: dict[str, dict[str, Any]]) -> np.ndarray:
    """Per-class F1, models x classes, in class-name order."""
    return np.array([[m["per_class"][c]["f1"] for c in CLASS_NAMES] for m in models.values()])


def confusions_table(models: dict[str, dict[str, Any]], n: int = 3) -> pd.DataFrame:
    """Each model's `n` most frequent confusions as 'true → predicted (count)'."""
    return pd.DataFrame({name: [f"{t} → {p} ({c})" for t, p, c in top_confusions(m, n)]
                         for name, m in models.items()},
                        index=[f"#{i}" for i in range(1, n + 1)]).T


def tuned_vs_default(comparison: Comparison, alpha: float = 0.05) -> str:
    """Plain-words verdict: validation first, then McNemar's test on the test predictions."""
    tuned, default = comparison.metrics["tuning"], comparison.metrics["cnn"]
    if tuned is None or default is None:
        return "The comparison needs both the CNN and the tuning chapters' results."
    if tuned.get("kept") == "default":
        retrained = tuned.get("retrained_val_accuracy")
        tried = ("" if retrained is None else
                 f" (its retrained choice reached {100 * retrained:.2f} % on validation against "
                 f"the default's {100 * tuned['default_val_accuracy']:.2f} %)")
        return (f"**Tuning did not help**: no searched configuration beat the default CNN on the "
                f"validation split{tried}, so the tuned CNN is the default CNN and its test "
                f"accuracy is the same {100 * default['accuracy']:.2f} %. The search cost "
                f"{tuned['search_seconds']:.0f} s and the retrain {tuned['train_seconds']:.0f} s.")
    test = ladder.pair(comparison, "cnn", "tuning")
    return (f"On validation the tuned CNN scored {100 * tuned['val_accuracy']:.2f} % against the "
            f"default CNN's {100 * tuned['default_val_accuracy']:.2f} %. On the test set it "
            f"scores {100 * tuned['accuracy']:.2f} % against {100 * default['accuracy']:.2f} % "
            f"({100 * test.gain:+.2f} points). On the paired test predictions the tuned CNN "
            f"alone is right on {test.only_upper_right} images and the default CNN alone on "
            f"{test.only_lower_right}. The difference is {ladder.verdict(test, alpha)}.\n\n"
            + ladder.flip_averaging_parts(tuned, default))


# The file bench/run.py's last run wrote (its models keyed by chapter slug).
BENCH_FILE = Path("bench") / "results" / "latest.json"


def training_seconds(metrics: dict[str, Any]) -> float:
    """What producing a model cost: its training, plus its search for the tuned CNN."""
    return float(metrics["train_seconds"]) + float(metrics.get("search_seconds") or 0.0)


def published_accuracy() -> dict[str, float]:
    """The original study's published test accuracy (%) per model."""
    return {r["model"]: r["accuracy_pct"] for r in REFERENCES if r["source"] == ORIGINAL}


def headline_inputs(comparison: Comparison, bench: Path | None = None) -> dict[str, Any]:
    """What the landing page's figure shows: this study's models (accuracy, interval, time),
    the original procedure as the benchmark reran it (where it has them) and the published
    figures; `replica_note` says which machine and date the rerun is from."""
    study = {name: {"accuracy": m["accuracy"], "ci95": m["accuracy_ci95"],
                    "seconds": training_seconds(m)}
             for name, m in comparison.compared.items()}
    replica, note = {}, ""
    if bench is not None and bench.is_file():
        record = json.loads(bench.read_text())
        for key, m in ((record.get("seed_replica") or {}).get("models") or {}).items():
            if key in MODELS and m.get("accuracy") is not None:
                replica[MODELS[key]] = {"accuracy": m["accuracy"],
                                              "seconds": training_seconds(m)}
        machine = record.get("machine", {})
        note = f"{machine.get('cpu', 'unknown machine')}, {record.get('date', '')}".strip(", ")
    return {"study": study, "replica": replica, "published": published_accuracy(),
            "replica_note": note}


def validation_histories(comparison: Comparison) -> dict[str, dict[str, list[float]]]:
    """Each network's per-epoch history, labelled by what it shows: when the tuning chapter
    kept the default CNN, its history is the retrained choice it rejected, and says so."""
    out = {}
    for name, m in comparison.available.items():
        if not m.get("history"):
            continue
        if name == MODELS["tuning"] and m.get("kept") == "default":
            name = f"{name} (retrained choice, not kept)"
        out[name] = m["history"]
    return out


def published_note(slug: str, metrics: dict[str, Any]) -> str:
    """This chapter's test accuracy beside what the original study published for its model."""
    published = published_accuracy().get(MODELS[slug])
    if published is None:
        return ""
    name = MODELS[slug]
    name = name if name.split()[0].isupper() else name[0].lower() + name[1:]  # CNN stays CNN
    return (f"The original study published {published:.2f} % for its {name}, "
            f"with choices made on the test set itself; under this study's protocol the same "
            f"model scores {format_accuracy(metrics)} on the test set, touched once.")


RECIPE_VARIANTS = {"dense": "dense_wide_reg_40ep"}  # bench/frontier.py's best network per rung


def recipe_note(slug: str, frontier: Path) -> str:
    """What the training recipe reached for this rung's kind of network in the benchmark
    (`bench/frontier.py`), and the profile that runs it; empty where it was not measured."""
    variant = RECIPE_VARIANTS.get(slug)
    if variant is None or not frontier.is_file():
        return ""
    rows = [json.loads(line) for line in frontier.read_text().splitlines() if line.strip()]
    row = next((r for r in rows if r["variant"] == variant), None)
    if row is None:
        return ""
    units = "-".join(map(str, row["config"]["units"]))
    return (f"What the recipe reaches for this kind of network: {units} units with label "
            f"smoothing and weight averaging, up to {row['config']['epochs']} epochs, scored "
            f"{100 * row['val_accuracy']:.2f} % on validation and "
            f"{100 * row['test_accuracy']:.2f} % on test in the project's benchmark "
            f"(`bench/frontier.py`, {row['machine']}, {row['date']}); the profile "
            f"`params/larger.yaml` runs it.")

"""A lever measured and taken: how training gets its batches. Keras' own pipeline for the
recipe's batches prefetches under tf.data's autotuning; `recipe.feed` prefetches a fixed two
batches with autotuning off, in the same order.

The tuned configuration (two threads, as the tuning chapter retrains it) trains a few epochs on
a stratified subset of the report's training split with the chapter's protocol
(`train.fit_section`), once through each pipeline, each in a process of its own, the two
alternated over `--repeats` rounds (this kind of machine's speed swings within minutes).
Recorded: the seconds from each epoch's end to the next's (validation scored, the pipeline
closed and opened again), and a digest of the trained weights, so the table says both what the
lever buys and that it moves no number. To train through Keras' own pipeline, the child
replaces `train.fit_batches` with a plain `model.fit` of the batches.

Usage: python bench/feed.py [--repeats 2] [--epochs 8] [--images 20000]
       (after `python bench/run.py`: the tuned configuration is read from its results)
       appends to results/feed.jsonl, writes results/feed.md
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from readme import child_row, provenance, record, render
from steps_per_execution import timed_training, weights_digest

from fmnist import environment, train

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "feed.jsonl"
PIPELINES = ("keras", "feed")
STALL = 1.5  # an epoch this many times its run's median is counted as stalled


def one_run(pipeline: str, epochs: int, images: int, profile_path: str) -> dict:
    """In this process: train the tuned configuration through `pipeline`; its row."""
    if pipeline == "keras":
        train.fit_batches = lambda model, batches, **kwargs: model.fit(batches, **kwargs)
    fit, seconds, threads = timed_training("tuned", epochs, images, profile_path)
    return {"pipeline": pipeline, "threads": threads, "images": images,
            "epoch_seconds": seconds, "val_accuracy": fit.val_accuracy,
            "weights": weights_digest(fit.model),
            "machine": environment.machine_description(), "date": time.strftime("%Y-%m-%d")}


def table(rows: list[dict]) -> str:
    """Per run length and pipeline: runs, epochs measured, median and total seconds, the stalled
    epochs and the seconds they took beyond the median, and the weights' digests."""
    out = ["| epochs a run | pipeline | runs | epochs measured (after the first) | median epoch | "
           f"all measured | stalled epochs (over {STALL}x the run's median) | their seconds over "
           "the median | validation | weights (digest) |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    lengths = sorted({len(r["epoch_seconds"]) + 1 for r in rows})
    for length, pipeline in ((n, p) for n in lengths for p in PIPELINES):
        mine = [r for r in rows
                if r["pipeline"] == pipeline and len(r["epoch_seconds"]) + 1 == length]
        if not mine:
            continue
        seconds = [s for r in mine for s in r["epoch_seconds"]]
        stalled = [(s, float(np.median(r["epoch_seconds"]))) for r in mine
                   for s in r["epoch_seconds"] if s > STALL * np.median(r["epoch_seconds"])]
        scores = sorted({f"{100 * r['val_accuracy']:.2f} %" for r in mine})
        digests = sorted({r["weights"][:12] for r in mine})
        out.append(f"| {length} | {pipeline} | {len(mine)} | {len(seconds)} | "
                   f"{np.median(seconds):.2f} s | {sum(seconds):.1f} s | {len(stalled)} | "
                   f"{sum(s - m for s, m in stalled):.1f} s | {', '.join(scores)} | "
                   f"{', '.join(digests)} |")
    return "\n".join(out) + "\n" + provenance(rows, "python bench/feed.py --epochs N") + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--images", type=int, default=20_000)
    ap.add_argument("--params", default="params/default.yaml")
    ap.add_argument("--one", choices=PIPELINES, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one_run(args.one, args.epochs, args.images, args.params)))
        return
    for _ in range(args.repeats):
        for pipeline in PIPELINES:
            record(OUT, child_row([sys.executable, __file__, "--one", pipeline, "--epochs",
                                   str(args.epochs), "--images", str(args.images),
                                   "--params", args.params], f"{pipeline} pipeline"))
    print(render(OUT, table))


if __name__ == "__main__":
    main()

"""A lever measured and not taken: Keras' `steps_per_execution`, several training steps per
call into TensorFlow, measured on the two trainings that set the default report's length.

The CNN (one thread) and the tuned configuration (two threads, as the tuning chapter retrains
it) each train a few epochs on a stratified subset of the report's training split with the
chapter's protocol (`train.fit_section`), once with one step per call and once with `--steps`
per call, each in a process of its own with its thread count, the two settings alternated over
`--repeats` rounds (this kind of machine's speed swings within minutes). Recorded: the seconds
of each epoch after the first (which traces), and a digest of the trained weights, so the table says
both what the lever buys and whether it moves a number.

Usage: python bench/steps_per_execution.py [--steps 16] [--repeats 2] [--images 20000]
       (after `python bench/run.py`: the tuned configuration is read from its results)
       appends to results/steps_per_execution.jsonl, writes results/steps_per_execution.md
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
from readme import child_row, provenance, record, render
from seeds import model_config

from fmnist import data, environment, models, params, train

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "steps_per_execution.jsonl"
EPOCHS = 3


def weights_digest(model) -> str:
    """SHA-256 of every weight array, in order: equal digests, equal models."""
    digest = hashlib.sha256()
    for w in model.get_weights():
        digest.update(np.ascontiguousarray(w).tobytes())
    return digest.hexdigest()


def timed_training(model_name: str, epochs: int, images: int,
                   profile_path: str) -> tuple[train.FitResult, list[float], int]:
    """In this process: train `model_name` (`cnn` or `tuned`) `epochs` epochs on `images`
    stratified training images with its chapter's protocol and thread count; the fit, the
    seconds from each epoch's end to the next's, and the thread count."""
    profile = params.load_profile(ROOT / profile_path)
    config, threads = model_config(profile, model_name)
    environment.use_threads(threads)
    shared = profile.shared
    splits = data.load_splits(ROOT / shared.results_dir, shared.data_dir,
                              profile.sections["data"], shared.seed)
    x, y = data.stratified_subset(data.channels(splits.x_train), splits.y_train, images,
                                  shared.seed)
    ends: list[float] = []  # when each epoch's line is written: its end, validation scored
    train.seed_everything(shared.seed)
    fit = train.fit_section(models.build_cnn_from(config), (x, y),
                            (data.channels(splits.x_val), splits.y_val),
                            dataclasses.replace(config, epochs=epochs), shared.seed,
                            log=lambda _: ends.append(time.perf_counter()))
    return fit, [round(b - a, 2) for a, b in zip(ends, ends[1:], strict=False)], threads


def one_run(model_name: str, steps: int, images: int, profile_path: str) -> dict:
    """In this process: train one model `EPOCHS` epochs with `steps` steps per call; its row."""
    compile_model = train.compile_model

    def compile_with_steps(model, *args, **kwargs):
        compile_model(model, *args, **kwargs)
        model.steps_per_execution = steps  # read when the training function is built, at fit

    train.compile_model = compile_with_steps
    fit, seconds, threads = timed_training(model_name, EPOCHS, images, profile_path)
    return {"model": model_name, "steps_per_execution": steps, "threads": threads,
            "images": images, "epoch_seconds": seconds,
            "val_accuracy": fit.val_accuracy, "weights": weights_digest(fit.model),
            "machine": environment.machine_description(), "date": time.strftime("%Y-%m-%d")}


def in_process(args: argparse.Namespace, model: str, steps: int) -> dict:
    """`one_run` in a child process; its row."""
    return child_row([sys.executable, __file__, "--one", model, str(steps), "--images",
                      str(args.images), "--params", args.params],
                     f"{model}, {steps} steps per call")


def table(rows: list[dict]) -> str:
    """Per model, training-set size and setting: the median epoch's seconds after the first,
    the peak memory where measured, and the weights' digest."""
    out = ["| model | threads | images | steps per call | epoch seconds (after the first; "
           "median) | peak memory | validation | weights (digest) |",
           "|---|---|---|---|---|---|---|---|"]
    keys = sorted({(r["model"], r["images"], r["steps_per_execution"]) for r in rows})
    for model, images, steps in keys:
        mine = [r for r in rows if (r["model"], r["images"], r["steps_per_execution"])
                == (model, images, steps)]
        seconds = [s for r in mine for s in r["epoch_seconds"]]
        peaks = [r["peak_rss_mib"] for r in mine if "peak_rss_mib" in r]
        digests = sorted({r["weights"][:12] for r in mine})
        out.append(f"| {model} | {mine[0]['threads']} | {images:,} | {steps} | "
                   f"{np.median(seconds):.2f} s ({len(seconds)} epochs) | "
                   f"{f'{max(peaks):,} MiB' if peaks else '–'} | "
                   f"{100 * mine[0]['val_accuracy']:.2f} % | {', '.join(digests)} |")
    return "\n".join(out) + "\n" + provenance(rows, "python bench/steps_per_execution.py") + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--images", type=int, default=20_000)
    ap.add_argument("--params", default="params/default.yaml")
    ap.add_argument("--one", nargs=2, metavar=("MODEL", "STEPS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one_run(args.one[0], int(args.one[1]), args.images, args.params)))
        return
    for _ in range(args.repeats):
        for model in ("cnn", "tuned"):
            for steps in (1, args.steps):
                record(OUT, in_process(args, model, steps))
    print(render(OUT, table))


if __name__ == "__main__":
    main()

"""What a CNN configuration costs to train here, against its deterministic size figures.

Trains each configuration of the tuning space (with the CNN chapter's batch size and the chosen
batch-normalisation placement) for one warm-up and two timed epochs over 6,400 images and
records the process CPU seconds per 10,000 images (wall time on this VM varies ~2x with the
host's load; CPU time much less). Then fits CPU seconds ~ MACs + activations + constant, the
cost model `models.cnn_cost` uses to pick the cheapest trial within one standard error.

Usage: python bench/cnn_step_cost.py [none|conv|pool ...]  appends to results/cnn_step_cost.jsonl
       python bench/cnn_step_cost.py --fit                  fits and prints the cost model
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from readme import read_rows, record

from fmnist import data, environment, models, train

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "cnn_step_cost.jsonl"
N_IMAGES = 6_400
BATCH = 128
# (filters, kernel sizes): every filter pair of the default space with 3x3 kernels, and four
# with 5x5 kernels in one or both blocks.
CONFIGS = [((f1, f2), (3, 3)) for f1 in (32, 64, 128) for f2 in (32, 64, 128)] + [
    ((32, 64), (5, 5)), ((64, 64), (5, 3)), ((128, 32), (3, 5)), ((32, 128), (5, 5))]


def measure(filters, kernels, batch_norm: str, x, y) -> dict:
    """CPU and wall seconds per 10,000 training images of one configuration (best of two)."""
    train.seed_everything(0)
    model = models.build_cnn(filters=filters, kernel_size=kernels, batch_norm=batch_norm)
    train.compile_model(model, 1e-3, 1000)
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)  # warm-up: tracing, allocation
    runs = []
    for _ in range(2):
        wall, cpu = time.perf_counter(), time.process_time()
        model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
        runs.append((time.process_time() - cpu, time.perf_counter() - wall))
    cpu, wall = min(runs)
    scale = 10_000 / len(x)
    return {"filters": list(filters), "kernel_size": list(kernels), "batch_norm": batch_norm,
            "cpu_seconds_per_10k": round(cpu * scale, 2),
            "wall_seconds_per_10k": round(wall * scale, 2),
            "macs": models.cnn_macs(filters, kernels), "activations":
            models.cnn_activations(filters, kernels), "machine": environment.machine_description()}


def least_squares(a: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Coefficients, fitted values and R2 of `y ~ a`."""
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    pred = a @ coef
    return coef, pred, 1 - ((y - pred) ** 2).sum() / ((y - y.mean()) ** 2).sum()


def fit(rows: list[dict]) -> None:
    """Least squares of CPU seconds on MACs and activations, per placement."""
    for placement in sorted({r["batch_norm"] for r in rows}):
        sel = [r for r in rows if r["batch_norm"] == placement]
        a = np.array([[r["macs"] / 1e6, r["activations"] / 1e3, 1.0] for r in sel])
        y = np.array([r["cpu_seconds_per_10k"] for r in sel])
        coef, pred, r2 = least_squares(a, y)
        _, _, r2_mac = least_squares(a[:, [0, 2]], y)  # without the activations
        print(f"batch_norm={placement}: {len(sel)} configurations; CPU s per 10k images = "
              f"{coef[0]:.3f} x MMACs + {coef[1]:.3f} x k-activations + {coef[2]:.2f}; "
              f"R2 {r2:.3f} (MACs alone: R2 {r2_mac:.3f}); one activation costs "
              f"{1e3 * coef[1] / coef[0]:.0f} MACs")
        for r, p in zip(sel, pred, strict=True):
            print(f"  {r['filters']} {r['kernel_size']}: measured {r['cpu_seconds_per_10k']:.1f}"
                  f"  fitted {p:.1f}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--fit"]:
        fit(read_rows(OUT))
        sys.exit()
    ds = data.load_dataset(None)
    x = data.channels(data.to_float(ds.x_train[:N_IMAGES]))
    y = ds.y_train[:N_IMAGES]
    for placement in sys.argv[1:] or ["pool"]:
        for filters, kernels in CONFIGS:
            row = measure(filters, kernels, placement, x, y)
            record(OUT, row)

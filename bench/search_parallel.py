"""One search process with two threads, or two single-threaded KerasTuner workers?

Runs the default profile's search twice in a scratch copy of the project (with the data
chapter's split): once in one process (`fmnist tune`, TensorFlow's default threads), once as a
chief and two workers with one thread each (`fmnist tune --workers 2`). Records each search's
wall time and trial count on this machine.

Usage: python bench/search_parallel.py [--params params/default.yaml] [--set KEY=VALUE ...]
Appends to bench/results/search_parallel.jsonl.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from readme import record

from fmnist import data
from fmnist.environment import machine_description
from fmnist.params import load_profile

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "search_parallel.jsonl"


def fmnist(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "fmnist", *args], cwd=cwd, text=True,
                          capture_output=True)
    if proc.returncode:
        sys.exit(f"fmnist {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return proc


def scratch_project(folder: Path) -> Path:
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, folder)
    for name in ("book", "params"):
        shutil.copytree(ROOT / name, folder / name)
    return folder


def write_split(root: Path, params: str) -> None:
    """The data chapter's split, written directly (`fmnist run data` would also run every
    chapter after it)."""
    profile = load_profile(root / params)
    ds = data.load_dataset(profile.shared.data_dir)
    split = profile.sections["data"]
    train, val = data.split_indices(ds.y_train, split.val_fraction, profile.shared.seed,
                                    split.train_subset)
    data.save_split(root / profile.shared.results_dir / "data", train, val, ds.source)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params/default.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    sets = sum((["--set", o] for o in [*args.overrides, "tuning.overwrite=true"]), [])
    with tempfile.TemporaryDirectory() as tmp:
        root = scratch_project(Path(tmp))
        write_split(root, args.params)
        for label, extra in (("one process, default threads", []),
                             ("chief + 2 workers, 1 thread each", ["--workers", "2"])):
            start = time.perf_counter()
            proc = fmnist(["tune", "--no-report", "--params", args.params, *sets, *extra], root)
            row = {"mode": label, "seconds": round(time.perf_counter() - start, 1),
                   "summary": proc.stdout.strip().splitlines()[-1], "params": args.params,
                   "overrides": args.overrides, "machine": machine_description(),
                   "date": time.strftime("%Y-%m-%d")}
            record(OUT, row)


if __name__ == "__main__":
    main()

"""A profile's search, run in this process or as KerasTuner's distributed search on this
machine: one chief oracle and N workers, each a `fmnist tune --in-process` on the same profile.

Launching the processes needs no TensorFlow: the search's own modules are imported inside the
functions that search, so a launcher starts without TensorFlow's seconds and start-up lines; and
`console`, which needs jupyter_client (the `report` extra), inside the one that starts them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from fmnist import interrupt
from fmnist.environment import use_threads
from fmnist.params import Profile
from fmnist.paths import results_path
from fmnist.tuning.folders import TUNER_ID_VAR

if TYPE_CHECKING:
    from fmnist.tuning.steps import SearchSetup


class SearchFailed(RuntimeError):
    """A distributed search whose chief oracle did not finish it."""


def search_here(root: Path, profile: Profile) -> SearchSetup:
    """Run this process's part of the profile's search: all of it, or a chief's or a worker's
    as the KERASTUNER_* variables say, with the tuning section's thread count. One line per
    trial, from the tuner."""
    from fmnist.train import seed_everything  # noqa: PLC0415 - Keras
    from fmnist.tuning.steps import run_search  # noqa: PLC0415 - Keras

    use_threads(profile.sections["tuning"].threads)  # before TensorFlow's first operation
    seed_everything(profile.shared.seed)
    setup = _prepare(root, profile)
    run_search(setup)
    return setup


def search_profile(root: Path, profile: Profile, workers: int = 0, params: str | Path = "",
                   overrides: Sequence[str] = ()) -> Counter[str]:
    """Run the profile's search alone in this process (`workers` 0), or as a chief oracle and
    `workers` workers started with the profile file `params` and its `overrides`; return how
    many finished trials each worker ran (`local`: this process)."""
    if workers == 0:
        setup = search_here(root, profile)
    else:
        _prepare(root, profile)  # applies `overwrite` once, here, before the chief and workers
        launch_distributed(worker_command(root, params, overrides), workers,
                           threads=profile.sections["tuning"].threads)
        # Reload: the trials were recorded on disk by the chief, not in this process.
        setup = _prepare(root, profile, overwrite=False)
    return Counter(row["worker"] for row in setup.rows())


def _prepare(root: Path, profile: Profile, overwrite: bool | None = None) -> SearchSetup:
    from fmnist.tuning.steps import prepare_search  # noqa: PLC0415 - Keras

    tuning, cnn, split = (profile.sections[k] for k in ("tuning", "cnn", "data"))
    return prepare_search(results_path(root, profile.shared.results_dir), profile.shared,
                          tuning, cnn, overwrite=overwrite, split=split)


def worker_command(root: Path, params: str | Path, overrides: Sequence[str]) -> list[str]:
    """The command the chief and every worker run: this search, in its own process, resuming
    what the launcher prepared (never starting it afresh a second time)."""
    return [sys.executable, "-m", "fmnist", "--root", str(root), "tune", "--in-process",
            "--params", str(params), *sum((["--set", o] for o in overrides), []),
            "--set", "tuning.overwrite=false"]


def free_port() -> int:
    """A free TCP port on the loopback interface, for the chief oracle."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def worker_threads(workers: int, threads: int) -> int:
    """Threads per worker: the profile's `threads`, or fewer, so that the workers share this
    machine's cores without oversubscribing."""
    return max(1, min(threads, (os.cpu_count() or 1) // max(workers, 1)))


def _start(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    """Start one search process; its stderr reaches the terminal without start-up noise."""
    from fmnist.console import forward  # noqa: PLC0415 - jupyter_client: the report extra

    proc = interrupt.track(subprocess.Popen(command, env=interrupt.child_environment(env),
                                            stderr=subprocess.PIPE))
    forward(proc.stderr)
    return proc


def launch_distributed(command: list[str], workers: int, ip: str = "127.0.0.1",
                       port: int | None = None, timeout: float | None = None,
                       threads: int = 1) -> None:
    """Run `command` as one chief oracle and `workers` workers (KerasTuner's gRPC mode).

    Every process runs the same search in the same results folder; the chief serves the
    oracle and the workers train the trials it hands out, each with at most `threads` threads
    (`worker_threads`: the cores shared out among the workers), passed as the parameter it is.
    `SearchFailed` if the chief does not end the search.
    """
    env = {**os.environ, "KERASTUNER_ORACLE_IP": ip,
           "KERASTUNER_ORACLE_PORT": str(port or free_port())}
    share = [*command, "--set", f"tuning.threads={worker_threads(workers, threads)}"]
    chief = _start(command, {**env, TUNER_ID_VAR: "chief"})
    time.sleep(2)  # let the chief's server come up before workers ask it for trials
    procs = [_start(share, {**env, TUNER_ID_VAR: f"tuner{i}"}) for i in range(workers)]
    codes = [p.wait(timeout=timeout) for p in procs]
    chief_code = chief.wait(timeout=timeout)
    # KerasTuner's chief exits 0 only once every trial has ended: the search is complete. A
    # worker that then finds it gone (a search that was already complete, or its last trial
    # taken by another worker) exits with a connection error that loses nothing.
    if chief_code:
        raise SearchFailed(f"distributed search failed: chief exit {chief_code}, "
                           f"workers {codes}")

"""Launching KerasTuner's distributed search on this machine: one chief oracle, N workers."""

from __future__ import annotations

import os
import socket
import subprocess
import time

from fmnist import interrupt

TUNER_ID_VAR = "KERASTUNER_TUNER_ID"


def free_port() -> int:
    """A free TCP port on the loopback interface, for the chief oracle."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def worker_threads(workers: int) -> int:
    """TensorFlow threads per worker that share this machine's cores without oversubscribing."""
    return max(1, (os.cpu_count() or 1) // max(workers, 1))


def _start(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    """Start one search process; its stderr reaches the terminal without start-up noise."""
    # Imported here: `console` needs jupyter_client, which only the `report` extra installs.
    from fmnist.console import forward

    proc = interrupt.track(subprocess.Popen(command, env=env, stderr=subprocess.PIPE))
    forward(proc.stderr)
    return proc


def launch_distributed(command: list[str], workers: int, ip: str = "127.0.0.1",
                       port: int | None = None, timeout: float | None = None,
                       threads: int | None = None) -> None:
    """Run `command` as one chief oracle and `workers` workers (KerasTuner's gRPC mode).

    Every process runs the same search in the same results folder; the chief serves the
    oracle and the workers train the trials it hands out, each with `threads` TensorFlow
    threads (default: the cores shared out among the workers).
    """
    env = {**os.environ, "KERASTUNER_ORACLE_IP": ip,
           "KERASTUNER_ORACLE_PORT": str(port or free_port())}
    n = str(threads or worker_threads(workers))
    worker_env = {**env, "TF_NUM_INTRAOP_THREADS": n, "TF_NUM_INTEROP_THREADS": n}
    chief = _start(command, {**env, TUNER_ID_VAR: "chief"})
    time.sleep(2)  # let the chief's server come up before workers ask it for trials
    procs = [_start(command, {**worker_env, TUNER_ID_VAR: f"tuner{i}"}) for i in range(workers)]
    codes = [p.wait(timeout=timeout) for p in procs]
    chief_code = chief.wait(timeout=timeout)
    # KerasTuner's chief exits 0 only once every trial has ended: the search is complete. A
    # worker that then finds it gone (a search that was already complete, or its last trial
    # taken by another worker) exits with a connection error that loses nothing.
    if chief_code:
        raise RuntimeError(f"distributed search failed: chief exit {chief_code}, workers {codes}")

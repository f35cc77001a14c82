"""The terminal during a run: kernels' progress shown live, library start-up noise kept off.

A chapter's kernel writes two kinds of text the runner's user does not need: TensorFlow's
start-up lines (absl logs them before any log level applies, so `TF_CPP_MIN_LOG_LEVEL` cannot
silence them) and ipykernel's warning that its local transport is unencrypted. Both are dropped
from the kernel's stderr; everything else on it, warnings and errors included, is passed on.
The kernel's stdout (one line per epoch or trial) is echoed, indented, as it arrives.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import IO, Any

from jupyter_client.manager import AsyncKernelManager

from fmnist import interrupt

_ABSL = r"[IWE]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\] "  # absl's prefix: level, date, time, thread, file
NOISE = re.compile("|".join([
    r"WARNING: All log messages before absl::InitializeLog\(\) is called",
    r"I\d{4} [\d:.]+ +\d+ [\w.]+:\d+\] ",  # every informational line (oneDNN, no CUDA ...)
    # Two error-level lines TensorFlow prints on every CPU-only run, each harmless by its own
    # words: looking for a GPU ("GPU will not be used") and a graph attribute it ignores.
    _ABSL + r"failed call to cuInit",
    _ABSL + r"NodeDef mentions attribute \w+ which is not in the op definition",
    r"To enable the following instructions: .* rebuild TensorFlow with",
    r"\[IPKernelApp\] WARNING \| Kernel is running over TCP without encryption",
    # Printed by a kernel interrupted while papermill shuts it down, after its chapter ended
    # (a chapter that fails is reported by papermill, with its cell and exception).
    r"\[IPKernelApp\] ERROR \| KeyboardInterrupt caught in kernel",
]))


# Set when the run is interrupted (Ctrl-C): the kernels, interrupted too, die with tracebacks
# about their closed sockets that say nothing to the user; the runner's one line says it all.
SILENCED = threading.Event()


class _QuietWhenStopped(logging.Filter):
    """papermill's client logs a kernel's death as an error ("Kernel died while waiting for
    execute reply"); when the command stopped that kernel itself (Ctrl-C, or a chapter failing
    beside it), the command's own line says it all."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not SILENCED.is_set()


logging.getLogger("papermill").addFilter(_QuietWhenStopped())


def is_noise(line: str) -> bool:
    """True for an informational start-up line of TensorFlow or ipykernel."""
    return bool(NOISE.match(line))


def forward(source: IO[bytes], target: IO[str] | None = None,
            prefix: str = "") -> threading.Thread:
    """Copy `source` to `target` (default: stderr) line by line in a thread, minus the noise,
    each line after `prefix` (which names its chapter when chapters run side by side)."""

    def pump() -> None:
        out = target or sys.stderr
        for raw in iter(source.readline, b""):
            line = raw.decode(errors="replace")
            if is_noise(line) or SILENCED.is_set():
                continue
            try:
                out.write(prefix + line if line.strip() else line)
                out.flush()
            except (OSError, ValueError):  # the terminal went away: keep draining the source,
                pass  # or its writer would block on a full pipe
        source.close()

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return thread


@contextmanager
def quiet_stderr() -> Iterator[None]:
    """Within this block, this process's own stderr (file descriptor 2, where TensorFlow's C++
    writes) is passed on minus the start-up noise, as a kernel's is; afterwards it is restored.

    For the commands that train in their own process (`fmnist tune`); a crash's traceback is
    printed once the block has been left, so it is never filtered.
    """
    sys.stderr.flush()
    terminal = os.fdopen(os.dup(2), "w")
    read, write = os.pipe()
    os.dup2(write, 2)
    os.close(write)
    pump = forward(os.fdopen(read, "rb"), terminal)
    try:
        yield
    finally:
        try:
            sys.stderr.flush()
        finally:  # restored even if a second Ctrl-C lands here, so its message is seen
            os.dup2(terminal.fileno(), 2)  # closes the pipe's last writer: the pump drains it
        pump.join(timeout=5)
        if not pump.is_alive():  # else a child still holds the pipe: the pump keeps the file
            terminal.close()


class QuietKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel's stderr reaches the terminal without start-up noise, each
    line after `prefix`, and whose kernel runs at `niceness` (`prefixed` makes one for a
    chapter)."""

    prefix = ""
    niceness = 0

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        kw["stderr"] = subprocess.PIPE
        await super()._async_launch_kernel(kernel_cmd, **kw)
        process = self.provisioner.process
        interrupt.track(process)  # stopped with the command, whatever stops it
        forward(process.stderr, prefix=self.prefix)
        lower_priority(process.pid, self.niceness)


def lower_priority(pid: int, niceness: int) -> None:
    """Run process `pid`, and the threads it starts from now on (TensorFlow's, BLAS's),
    `niceness` steps below this process (0: at its priority; 19 is the lowest there is). The
    priority only orders who waits for a core: nothing computed depends on it. Where the system
    refuses or has no such call, the process keeps its own."""
    if niceness and hasattr(os, "setpriority"):
        with suppress(OSError):
            own = os.getpriority(os.PRIO_PROCESS, 0)
            os.setpriority(os.PRIO_PROCESS, pid, min(own + niceness, 19))


def prefixed(prefix: str, niceness: int = 0) -> type[QuietKernelManager]:
    """A `QuietKernelManager` whose kernel's stderr lines start with `prefix` and whose kernel
    runs at `niceness` (papermill takes a class, not an instance)."""
    return type("QuietKernelManager", (QuietKernelManager,),
                {"prefix": prefix, "niceness": niceness})


class Echo:
    """A file for papermill's `stdout_file`: each complete line, indented, on the terminal."""

    def __init__(self, target: IO[str] | None = None, indent: str = "      "):
        self.target, self.indent, self._partial = target, indent, ""

    def write(self, text: str) -> int:
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        out = self.target or sys.stdout
        for line in lines:
            if line.strip():
                out.write(f"{self.indent}{line.rstrip()}\n")
        out.flush()
        return len(text)

    def flush(self) -> None:
        (self.target or sys.stdout).flush()

"""One run per project folder: `report`, `run`, `tune` and `build` hold an exclusive lock.

The lock is an operating-system file lock (`filelock`), released by the kernel when its holder
exits, so a killed run never blocks the next one. Beside it, a small JSON file says who holds
it (process, command, start time) for the message a second run prints.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

LOCK_FILE = ".fmnist.lock"
HOLDER_FILE = ".fmnist.lock.json"


class LockBusy(RuntimeError):
    """Another run holds the project's lock and the caller asked not to wait."""


def holder(root: Path) -> str:
    """Who holds (or last held) the lock, in words."""
    try:
        info = json.loads((root / HOLDER_FILE).read_text())
    except (OSError, ValueError):
        return "another fmnist run"
    return f"`{info['command']}` (process {info['pid']}, started {info['started']})"


@contextmanager
def project_lock(root: Path, wait: bool = True,
                 say: Callable[[str], None] = lambda m: print(m, flush=True)) -> Iterator[None]:
    """Hold the project's run lock; wait for it (saying so), or raise `LockBusy`."""
    lock = FileLock(root / LOCK_FILE)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if not wait:
            raise LockBusy(f"{root} is busy: {holder(root)} is running there. Wait for it to "
                           "finish, or run without --no-wait to queue behind it.") from None
        say(f"waiting: {holder(root)} is running in {root}; this run starts when it ends")
        lock.acquire()
    try:
        (root / HOLDER_FILE).write_text(json.dumps({
            "pid": os.getpid(), "command": " ".join(["fmnist", *sys.argv[1:]]),
            "started": time.strftime("%Y-%m-%d %H:%M:%S")}))
        yield
    finally:
        lock.release()

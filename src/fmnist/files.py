"""Writing a file so that a reader never sees half of it: the whole project's one way to write
results, records and stamps."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any


def atomic_write(path: Path, write: Callable[[Path], Any]) -> None:
    """Call `write` on a temporary file beside `path`, then rename it to `path`: a reader
    never sees half a file, and a run killed while writing leaves the old one.

    The data reaches the disk (fsync) before the rename, and the rename before returning: after
    a power loss `path` holds the old content or the new, never a renamed empty file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        write(tmp)
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync(path.parent)


def _fsync(path: Path) -> None:
    """Flush a file's (or a folder's entries') data to disk, whoever wrote it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_text(path: Path, text: str) -> None:
    """Write UTF-8 text to `path` atomically."""
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))

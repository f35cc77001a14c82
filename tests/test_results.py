"""A results file reaches the disk before it takes its final name."""

from __future__ import annotations

import os

import numpy as np
import pytest

from fmnist import results


def test_a_write_is_flushed_to_disk_before_its_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append(("fsync", os.fstat(fd).st_ino)),
                                                 real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append(("replace", a, b)),
                                                     real_replace(a, b))[1])
    path = tmp_path / "chapter" / "predictions.npz"
    results.atomic_write(path, lambda tmp: np.savez_compressed(tmp, probs=np.eye(3)))
    inode = path.stat().st_ino
    rename = next(i for i, e in enumerate(events) if e[0] == "replace")
    assert ("fsync", inode) in events[:rename], "the file's data is on disk before the rename"
    assert ("fsync", path.parent.stat().st_ino) in events[rename:], "and the rename after it"
    with np.load(path) as f:
        np.testing.assert_array_equal(f["probs"], np.eye(3))


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path):
    path = tmp_path / "metrics.json"
    results.atomic_write_text(path, '{"accuracy": 0.9}')

    def fails_half_way(tmp):
        tmp.write_text('{"accura')
        raise OSError("No space left on device")

    with pytest.raises(OSError, match="No space left"):
        results.atomic_write(path, fails_half_way)
    assert path.read_text() == '{"accuracy": 0.9}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]

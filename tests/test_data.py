"""The data loader: verification, clear errors, splits and shapes."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import idx_bytes, real_data_dir

from fmnist import data


def test_parse_idx_round_trips_shape_and_values():
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(data.parse_idx(idx_bytes(array)), array)


def test_missing_files_name_the_places_tried_and_how_to_get_the_data(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "KERAS_CACHE", tmp_path / "no-cache")
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "no-debian")
    with pytest.raises(data.DataError) as err:
        data.find_data_dir(None, allow_download=False)
    message = str(err.value)
    for place in ("no-cache", "no-debian"):
        assert place in message
    assert "apt-get install dataset-fashion-mnist" in message


def test_a_named_data_dir_is_used_or_refused_never_passed_over(tmp_path, tiny_idx_dir):
    # The usual places hold the real data on this machine: a named folder must still win or fail.
    with pytest.raises(data.DataError, match=r"empty does not exist.*set it to null"):
        data.find_data_dir(tmp_path / "empty", allow_download=True)
    (tmp_path / "partial").mkdir()
    (tmp_path / "partial" / "t10k-labels-idx1-ubyte").write_bytes(b"")
    with pytest.raises(data.DataError, match="partial lacks train-images-idx3-ubyte, "
                       "train-labels-idx1-ubyte, t10k-images-idx3-ubyte \\(or their .gz\\)"):
        data.find_data_dir(tmp_path / "partial")
    assert data.find_data_dir(tiny_idx_dir) == tiny_idx_dir
    assert data.describe_source(tiny_idx_dir, tiny_idx_dir) == "the data_dir you named"


def test_planted_corrupt_file_is_named(tiny_idx_dir):
    path = tiny_idx_dir / "train-labels-idx1-ubyte.gz"
    expected = "train-labels-idx1-ubyte.gz is truncated or corrupted"
    with pytest.raises(data.DataError, match=expected):
        data.read_verified(path, "train-labels-idx1-ubyte")


def test_truncated_gzip_is_a_clear_error(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(b"\x00" * 5000)[:40])
    with pytest.raises(data.DataError, match="truncated or corrupted"):
        data.read_verified(path, "t10k-labels-idx1-ubyte")


def test_split_is_stratified_seeded_and_disjoint():
    labels = np.repeat(np.arange(10), 100)
    train_a, val_a = data.split_indices(labels, 0.2, seed=1)
    train_b, val_b = data.split_indices(labels, 0.2, seed=1)
    np.testing.assert_array_equal(val_a, val_b)
    assert not set(train_a) & set(val_a)
    assert len(train_a) + len(val_a) == len(labels)
    assert np.all(np.bincount(labels[val_a]) == 20)
    _, val_c = data.split_indices(labels, 0.2, seed=2)
    assert not np.array_equal(val_a, val_c)


def test_train_subset_is_stratified():
    labels = np.repeat(np.arange(10), 100)
    train, val = data.split_indices(labels, 0.1, seed=0, train_subset=500)
    assert len(train) + len(val) == 500
    assert np.all(np.bincount(labels[np.concatenate([train, val])]) == 50)


def test_shapes_and_scaling():
    images = np.full((3, 28, 28), 255, dtype=np.uint8)
    x = data.to_float(images)
    assert x.dtype == np.float32 and x.max() == 1.0
    assert data.flat(x).shape == (3, 784)
    assert data.channels(x).shape == (3, 28, 28, 1)


def test_real_data_loads_verified(real_dataset):
    assert real_dataset.x_train.shape == (60_000, 28, 28)
    assert real_dataset.x_test.shape == (10_000, 28, 28)
    assert real_dataset.x_train.dtype == np.uint8
    assert sorted(set(real_dataset.y_test)) == list(range(10))
    assert data.class_counts(real_dataset.y_test)["Ankle boot"] == 1000


def test_truncated_copy_of_real_file_is_rejected(tmp_path):
    source = real_data_dir()
    if source is None:
        pytest.skip("Fashion-MNIST not installed")
    for name in data.SHA256:
        shutil.copy(data.file_in(source, name), tmp_path)
    victim = next(tmp_path.glob("t10k-images*"))
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    with pytest.raises(data.DataError, match=str(victim.name)):
        data.load_dataset(tmp_path, allow_download=False)


def test_decompressed_files_are_accepted(tmp_path):
    source = real_data_dir()
    if source is None:
        pytest.skip("Fashion-MNIST not installed")
    for name in data.SHA256:
        raw = data.read_verified(data.file_in(source, name), name)
        Path(tmp_path / name).write_bytes(raw)
    assert data.find_data_dir(tmp_path, allow_download=False) == tmp_path
    assert data.load_dataset(tmp_path, allow_download=False).y_train.shape == (60_000,)

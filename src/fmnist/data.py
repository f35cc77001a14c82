"""Find, verify and load the official Fashion-MNIST IDX files; split and reshape them.

The command line and the runner import this module to find the data and read the split: Keras
(its download, the last resort) and scikit-learn (the stratified splits, a second to import) are
imported only by the functions that use them.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fmnist.files import atomic_write

CLASS_NAMES: tuple[str, ...] = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
N_CLASSES = len(CLASS_NAMES)

# SHA-256 of the *decompressed* files: Debian recompresses the .gz files, so their bytes differ.
SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

KERAS_CACHE = Path("~/.keras/datasets/fashion-mnist")
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
HOW_TO_GET = (
    "Get the data with `apt-get install dataset-fashion-mnist` (Debian), or run with internet "
    "access so Keras can download it, or point the `data_dir` parameter at a folder holding the "
    "four IDX files (.gz or decompressed)."
)
SPLIT_FILE = "split.npz"


class DataError(RuntimeError):
    """The data is missing, truncated or corrupted; the message says where and how to fix it."""


@dataclass(frozen=True)
class Dataset:
    """The official train and test sets as uint8 images (N, 28, 28) and int labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str


@dataclass(frozen=True)
class Splits:
    """Train/validation/test arrays as float32 in [0, 1], shaped (N, 28, 28)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str


def candidate_dirs(data_dir: str | Path | None) -> list[Path]:
    """The folders searched, in order: `data_dir`, the Keras cache, Debian's package."""
    dirs = [Path(data_dir).expanduser()] if data_dir else []
    return dirs + [KERAS_CACHE.expanduser(), DEBIAN_DIR]


def file_in(folder: Path, name: str) -> Path | None:
    """The file `name` or `name.gz` in `folder`, if present."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _has_all_files(folder: Path) -> bool:
    return all(file_in(folder, name) for name in SHA256)


def read_verified(path: Path, name: str) -> bytes:
    """Return the decompressed bytes of `path`, checked against the known SHA-256 of `name`."""
    try:
        raw = path.read_bytes()
        data = gzip.decompress(raw) if path.suffix == ".gz" else raw
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise DataError(f"Cannot read {path}: {err}. The file is truncated or corrupted. "
                        f"{HOW_TO_GET}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256[name]:
        raise DataError(
            f"{path} is truncated or corrupted: SHA-256 of its content is {digest}, "
            f"expected {SHA256[name]}. Delete it and get the data again. {HOW_TO_GET}")
    return data


def parse_idx(data: bytes) -> np.ndarray:
    """Parse an IDX byte string of unsigned bytes into an array of its declared shape."""
    ndim = data[3]
    dims = np.frombuffer(data, dtype=">u4", count=ndim, offset=4).astype(int)
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _download_with_keras() -> Path:
    import keras  # noqa: PLC0415 - TensorFlow's start-up, only when the data must be downloaded

    keras.datasets.fashion_mnist.load_data()
    return KERAS_CACHE.expanduser()


def find_data_dir(data_dir: str | Path | None = None, allow_download: bool = True) -> Path:
    """The folder with the four files: `data_dir` when given (or an error); otherwise the first
    usual place that has them, with Keras' download as a last resort."""
    if data_dir:
        folder = Path(data_dir).expanduser()
        if not folder.is_dir():
            raise DataError(f"data_dir {folder} does not exist. Point `data_dir` at the folder "
                            "holding the four Fashion-MNIST files, or set it to null to search "
                            f"the usual places. {HOW_TO_GET}")
        missing = [name for name in SHA256 if file_in(folder, name) is None]
        if missing:
            raise DataError(f"data_dir {folder} lacks {', '.join(missing)} (or their .gz). Put "
                            "the four files there, or set `data_dir` to null to search the "
                            f"usual places. {HOW_TO_GET}")
        return folder
    tried = candidate_dirs(data_dir)
    for folder in tried:
        if _has_all_files(folder):
            return folder
    if allow_download:
        try:
            return _download_with_keras()
        except Exception as err:  # noqa: BLE001 - any download failure means "no data here"
            tried.append(Path(f"Keras download ({type(err).__name__}: {err})"))
    places = "; ".join(str(p) for p in tried)
    raise DataError(f"Fashion-MNIST files not found (need {', '.join(SHA256)}). "
                    f"Places tried: {places}. {HOW_TO_GET}")


def describe_source(folder: str | Path, data_dir: str | Path | None = None) -> str:
    """Which of the usual places a data folder is, in words."""
    folder = Path(folder)
    if data_dir and folder == Path(data_dir).expanduser():
        return "the data_dir you named"
    if folder == KERAS_CACHE.expanduser():
        return "Keras' cache (downloaded by Keras, now or earlier)"
    if folder == DEBIAN_DIR:
        return "Debian's dataset-fashion-mnist package"
    return "a folder found by search"


def load_dataset(data_dir: str | Path | None = None, allow_download: bool = True) -> Dataset:
    """Load and verify the official 60k/10k Fashion-MNIST from the first place that has it."""
    folder = find_data_dir(data_dir, allow_download)
    arrays = {name: parse_idx(read_verified(file_in(folder, name), name)) for name in SHA256}
    return Dataset(
        x_train=arrays["train-images-idx3-ubyte"],
        y_train=arrays["train-labels-idx1-ubyte"].astype(np.int64),
        x_test=arrays["t10k-images-idx3-ubyte"],
        y_test=arrays["t10k-labels-idx1-ubyte"].astype(np.int64),
        source=str(folder),
    )


def split_indices(
    labels: np.ndarray, val_fraction: float, seed: int, train_subset: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified split of the training set into train and validation indices.

    With `train_subset`, a stratified subset of that many images is split instead (quick runs).
    """
    from sklearn.model_selection import train_test_split  # noqa: PLC0415 - a second to import

    indices = np.arange(len(labels))
    if train_subset is not None and train_subset < len(labels):
        indices, _ = train_test_split(indices, train_size=train_subset, stratify=labels,
                                      random_state=seed)
    train, val = train_test_split(indices, test_size=val_fraction, stratify=labels[indices],
                                  random_state=seed)
    return np.sort(train), np.sort(val)


def to_float(images: np.ndarray) -> np.ndarray:
    """Scale uint8 pixels to float32 in [0, 1] (float32 end to end: faster than float64)."""
    return (images / np.float32(255.0)).astype(np.float32)


def flat(x: np.ndarray) -> np.ndarray:
    """(N, 28, 28) -> (N, 784) for logistic regression and the dense net."""
    return x.reshape(len(x), -1)


def channels(x: np.ndarray) -> np.ndarray:
    """(N, 28, 28) -> (N, 28, 28, 1) for CNNs."""
    return x.reshape(*x.shape[:3], 1)


def save_split(folder: Path, train: np.ndarray, val: np.ndarray, source: str) -> Path:
    """Write the split indices and the data source the data chapter used."""
    path = folder / SPLIT_FILE
    atomic_write(path, lambda tmp: np.savez(tmp, train=train, val=val, source=np.array(source)))
    return path


def load_splits(results_dir: str | Path, data_dir: str | Path | None = None,
                split: Any = None, seed: int = 0) -> Splits:
    """Load the data and apply the data chapter's split (float32 in [0, 1]).

    When the data chapter has not run (a chapter opened alone, e.g. in Colab) and `split` (the
    profile's `DataParams`) is given, the split is made here exactly as that chapter makes it,
    with `seed`, and saved for the next chapters.
    """
    path = Path(results_dir) / "data" / SPLIT_FILE
    ds = load_dataset(data_dir)
    if not path.is_file():
        if split is None:
            raise DataError(f"{path} not found: the data chapter writes it. Run it first "
                            "(`fmnist run data`).")
        train, val = split_indices(ds.y_train, split.val_fraction, seed, split.train_subset)
        save_split(path.parent, train, val, ds.source)
        print(f"The data chapter's split was missing: made it here with the same parameters "
              f"({len(train):,} training, {len(val):,} validation images) and saved it to "
              f"{path}.")
    with np.load(path) as saved:
        train, val = saved["train"], saved["val"]
    return Splits(
        x_train=to_float(ds.x_train[train]), y_train=ds.y_train[train],
        x_val=to_float(ds.x_train[val]), y_val=ds.y_train[val],
        x_test=to_float(ds.x_test), y_test=ds.y_test, source=ds.source,
    )


def class_counts(labels: np.ndarray) -> dict[str, int]:
    """Images per class, keyed by class name."""
    counts = np.bincount(labels, minlength=N_CLASSES)
    return {name: int(n) for name, n in zip(CLASS_NAMES, counts, strict=True)}


def stratified_subset(x: np.ndarray, y: np.ndarray, size: int | None, seed: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """A seeded stratified subset of `size` examples (all of them when `size` is None)."""
    if size is None or size >= len(y):
        return x, y
    from sklearn.model_selection import train_test_split  # noqa: PLC0415 - a second to import

    idx, _ = train_test_split(np.arange(len(y)), train_size=size, stratify=y, random_state=seed)
    idx = np.sort(idx)
    return x[idx], y[idx]


def split_key(results_dir: str | Path) -> str:
    """A short hash of the data chapter's split (its indices and source, not the file's bytes)."""
    path = Path(results_dir) / "data" / SPLIT_FILE
    if not path.is_file():
        return "none"
    digest = hashlib.sha256()
    with np.load(path) as saved:
        for name in ("train", "val"):
            digest.update(np.ascontiguousarray(saved[name]).tobytes())
    return digest.hexdigest()[:12]

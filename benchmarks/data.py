"""Benchmark data: MNIST from IDX files when present, else a synthetic set of the same shape.

Where MNIST is looked for: the ``--data`` folder when given (and only there); otherwise the folders
that `scratchnet.datasets.load_mnist` searches, in its order (``$SCRATCHNET_MNIST``,
``$SCRATCHNET_DATA/mnist``, the user cache ``~/.cache/scratchnet/mnist``, see
`scratchnet.datasets.dataset_search_paths`). Nothing is downloaded. A folder counts when it holds
the four IDX files, gzip-compressed (``train-images-idx3-ubyte.gz``, ...) or not.

Images are scaled to [0, 1] in float32 (or float64) row by row into one preallocated array, so that
loading never holds more than the compressed-file bytes and the result at once (this matters for the
peak-memory measurement, which starts after loading).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scratchnet.datasets import dataset_search_paths, read_idx  # the library's search and reader

#: rows converted per step when scaling images or drawing synthetic rows
CHUNK_ROWS = 8192
N_FEATURES = 784
N_CLASSES = 10
MNIST_TRAIN = 60_000
MNIST_TEST = 10_000
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


@dataclass
class Dataset:
    """A classification task held in host NumPy arrays.

    Attributes
    ----------
    X_train : ndarray of shape (n_train, n_features)
        Features in [0, 1], C-contiguous, of the benchmark dtype.
    y_train : ndarray of shape (n_train,)
        Class indices (int64).
    X_test : ndarray of shape (n_test, n_features)
    y_test : ndarray of shape (n_test,)
    source : str
        Where the data came from (``"mnist:<folder>"`` or ``"synthetic"``).
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    source: str

    @property
    def n_features(self) -> int:
        """Number of input columns."""
        return int(self.X_train.shape[1])

    @property
    def n_classes(self) -> int:
        """Number of classes: the largest label in either split, plus one."""
        return max(int(self.y_train.max()), int(self.y_test.max())) + 1

    @property
    def train_bytes(self) -> int:
        """Bytes held by the training features and labels."""
        return int(self.X_train.nbytes + self.y_train.nbytes)

    def describe(self) -> dict:
        """JSON-friendly summary (shapes, dtype, size, source)."""
        return {
            "source": self.source,
            "n_train": int(self.X_train.shape[0]),
            "n_test": int(self.X_test.shape[0]),
            "n_features": self.n_features,
            "n_classes": self.n_classes,
            "dtype": str(self.X_train.dtype),
            "train_mib": self.train_bytes / 2**20,
        }


def mnist_file(folder: Path, name: str) -> Path | None:
    """The IDX file ``name`` (a value of `MNIST_FILES`) in ``folder``, compressed or not, or None."""
    for candidate in (folder / name, folder / name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def has_mnist(folder: Path) -> bool:
    """True when ``folder`` holds the four MNIST IDX files (each ``.gz`` or uncompressed)."""
    return all(mnist_file(folder, name) is not None for name in MNIST_FILES.values())


def mnist_search_paths() -> list[Path]:
    """The folders searched without ``--data``, in order: those of ``load_mnist``.

    ``$SCRATCHNET_MNIST`` and ``$SCRATCHNET_DATA/mnist`` where set, then the user cache
    (``$XDG_CACHE_HOME/scratchnet/mnist`` or ``~/.cache/scratchnet/mnist``); see
    `scratchnet.datasets.dataset_search_paths`.
    """
    return dataset_search_paths("mnist")


def find_mnist_dir() -> Path | None:
    """The first folder of `mnist_search_paths` that holds the four files, or None."""
    for folder in mnist_search_paths():
        if folder.is_dir() and has_mnist(folder):
            return folder
    return None


def scale_images(images: np.ndarray, n_rows: int, dtype: str) -> np.ndarray:
    """The first ``n_rows`` images as a (n_rows, pixels) array in [0, 1], converted in chunks."""
    flat = images.reshape(images.shape[0], -1)
    n_rows = min(n_rows, flat.shape[0])
    out = np.empty((n_rows, flat.shape[1]), dtype=dtype)
    scale = out.dtype.type(1.0 / 255.0)
    for start in range(0, n_rows, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, n_rows)
        out[start:stop] = flat[start:stop]
        out[start:stop] *= scale
    return out


def load_mnist_idx(folder: Path, n_train: int, n_test: int, dtype: str) -> Dataset:
    """MNIST from the four IDX files in ``folder``, the first ``n_train``/``n_test`` rows."""

    def read(key: str) -> np.ndarray:
        file = mnist_file(folder, MNIST_FILES[key])
        if file is None:
            raise FileNotFoundError(f"{folder} lacks {MNIST_FILES[key]}")
        return read_idx(file)

    X_train = scale_images(read("train_images"), n_train, dtype)
    y_train = read("train_labels")[: X_train.shape[0]].astype(np.int64)
    X_test = scale_images(read("test_images"), n_test, dtype)
    y_test = read("test_labels")[: X_test.shape[0]].astype(np.int64)
    return Dataset(X_train, y_train, X_test, y_test, f"mnist:{folder}")


def synthetic(
    n_train: int = MNIST_TRAIN,
    n_test: int = MNIST_TEST,
    n_features: int = N_FEATURES,
    n_classes: int = N_CLASSES,
    dtype: str = "float32",
    seed: int = 0,
) -> Dataset:
    """A learnable MNIST-shaped set: each row mixes its class's prototype with uniform noise.

    Row i is ``0.1 * prototype[y_i] + 0.9 * noise_i`` with prototypes and noise drawn from U[0, 1),
    so values lie in [0, 1) like scaled pixels. Accuracy on it is not comparable with MNIST's.
    """
    rng = np.random.default_rng(seed)
    prototypes = rng.random((n_classes, n_features), dtype=np.float32).astype(dtype)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, n_classes, size=n, dtype=np.int64)
        X = np.empty((n, n_features), dtype=dtype)
        for start in range(0, n, CHUNK_ROWS):
            stop = min(start + CHUNK_ROWS, n)
            noise = rng.random((stop - start, n_features), dtype=np.float32)
            X[start:stop] = noise
            X[start:stop] *= X.dtype.type(0.9)
            X[start:stop] += X.dtype.type(0.1) * prototypes[y[start:stop]]
        return X, y

    X_train, y_train = draw(n_train)
    X_test, y_test = draw(n_test)
    return Dataset(X_train, y_train, X_test, y_test, "synthetic")


def load_dataset(
    path: str | Path | None = None,
    n_train: int = MNIST_TRAIN,
    n_test: int = MNIST_TEST,
    dtype: str = "float32",
    synthetic_only: bool = False,
    seed: int = 0,
) -> Dataset:
    """The benchmark task: MNIST when found, else a synthetic set of the same shape.

    Parameters
    ----------
    path : str or Path, optional
        Folder with the four MNIST IDX files (``.gz`` or uncompressed); then the only folder
        looked at, and one that lacks the files is an error. None searches `mnist_search_paths`
        (``$SCRATCHNET_MNIST``, ``$SCRATCHNET_DATA/mnist``, ``~/.cache/scratchnet/mnist``) and
        falls back to the synthetic set where none holds the files. Nothing is downloaded.
    n_train, n_test : int
        Rows to keep (the first ones).
    dtype : {"float32", "float64"}
    synthetic_only : bool
        Skip MNIST and draw the synthetic set.
    seed : int
        Seed of the synthetic set.

    Returns
    -------
    Dataset
    """
    if not synthetic_only:
        if path is not None:
            folder = Path(path).expanduser()
            if not has_mnist(folder):
                names = ", ".join(MNIST_FILES.values())
                raise FileNotFoundError(
                    f"--data {folder} does not hold the MNIST files ({names}; compressed or not)"
                )
            return load_mnist_idx(folder, n_train, n_test, dtype)
        found = find_mnist_dir()
        if found is not None:
            return load_mnist_idx(found, n_train, n_test, dtype)
    return synthetic(n_train, n_test, dtype=dtype, seed=seed)

"""Benchmark data: MNIST from IDX files when present, else a synthetic set of the same shape.

Images are scaled to [0, 1] in float32 (or float64) row by row into one preallocated array, so that
loading never holds more than the compressed-file bytes and the result at once (this matters for the
peak-memory measurement, which starts after loading).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scratchnet.datasets import read_idx  # the library's checked IDX reader

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
        Where the data came from (``"mnist:<folder>"``, ``"scratchnet.datasets.load_mnist"``, ``"synthetic"``).
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


def repo_root() -> Path:
    """The repository root (the folder holding ``benchmarks/``)."""
    return Path(__file__).resolve().parents[1]


def default_mnist_dir() -> Path:
    """``../shared/data/mnist`` relative to the repository root."""
    return repo_root().parent / "shared" / "data" / "mnist"


def has_mnist(folder: Path) -> bool:
    """True when ``folder`` holds the four MNIST ``.gz`` IDX files."""
    return all((folder / name).is_file() for name in MNIST_FILES.values())


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
    X_train = scale_images(read_idx(folder / MNIST_FILES["train_images"]), n_train, dtype)
    y_train = read_idx(folder / MNIST_FILES["train_labels"])[: X_train.shape[0]].astype(np.int64)
    X_test = scale_images(read_idx(folder / MNIST_FILES["test_images"]), n_test, dtype)
    y_test = read_idx(folder / MNIST_FILES["test_labels"])[: X_test.shape[0]].astype(np.int64)
    return Dataset(X_train, y_train, X_test, y_test, f"mnist:{folder}")


def _load_from_scratchnet(n_train: int, n_test: int, dtype: str) -> Dataset | None:
    """MNIST through ``scratchnet.datasets.load_mnist`` (no download), or None when unavailable.

    The loader searches its own places (``$SCRATCHNET_MNIST``, the user cache) and returns
    ``X_train, y_train, X_test, y_test`` with features scaled to [0, 1].
    """
    try:
        from scratchnet.datasets import load_mnist
    except ImportError:
        return None
    try:
        X_train, y_train, X_test, y_test = load_mnist(download=False, dtype=dtype)
    except (OSError, RuntimeError, TypeError, ValueError):
        return None

    def rows(X: np.ndarray, n: int) -> np.ndarray:
        X = np.asarray(X)[:n]
        return np.ascontiguousarray(X.reshape(X.shape[0], -1), dtype=dtype)

    return Dataset(
        rows(X_train, n_train),
        np.asarray(y_train)[:n_train].astype(np.int64),
        rows(X_test, n_test),
        np.asarray(y_test)[:n_test].astype(np.int64),
        "scratchnet.datasets.load_mnist",
    )


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
        Folder with the MNIST IDX ``.gz`` files. None looks at `default_mnist_dir`, then at
        ``scratchnet.datasets.load_mnist`` (if the library has one). A given path that lacks the
        files is an error.
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
                raise FileNotFoundError(f"--data {folder} does not hold the MNIST files ({names})")
            return load_mnist_idx(folder, n_train, n_test, dtype)
        if has_mnist(default_mnist_dir()):
            return load_mnist_idx(default_mnist_dir(), n_train, n_test, dtype)
        loaded = _load_from_scratchnet(n_train, n_test, dtype)
        if loaded is not None:
            return loaded
    return synthetic(n_train, n_test, dtype=dtype, seed=seed)

"""Real image data for examples: scikit-learn's digits, and MNIST where it can be had.

:func:`load_digits` splits scikit-learn's bundled 8x8 digits; :func:`load_real_dataset` loads
MNIST or Fashion-MNIST (see :mod:`scratchnet.datasets.mnist`) or the digits, and says which in a
:class:`DatasetInfo`.

Examples
--------
Real data, where available (MNIST if found or downloadable, else scikit-learn's digits):

>>> from scratchnet.datasets import load_real_dataset
>>> X_train, y_train, X_test, y_test, info = load_real_dataset("auto")  # doctest: +SKIP
>>> print(info)  # doctest: +SKIP
MNIST handwritten digits: 60000 training and 10000 test images of 28x28 pixels, 10 classes (...)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..data import train_test_split
from .fetch import _DATASETS, DatasetNotFoundError, _IdxDataset
from .idx import PathLike
from .mnist import DatasetSplit, _float_dtype, _load_idx_dataset

# ----------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class DatasetInfo:
    """Which real data set :func:`load_real_dataset` returned; ``str(info)`` is the description.

    Attributes
    ----------
    name : str
        ``"mnist"``, ``"fashion-mnist"`` or ``"digits"``.
    description : str
        One line for logs and reports: the set, its sizes and where it came from.
    source : str
        The folder the IDX files were read from, or ``"scikit-learn"`` for the digits.
    n_classes : int
        Number of classes (10 for all three), also where a slice of the labels lacks some.
    """

    name: str
    description: str
    source: str
    n_classes: int

    def __str__(self) -> str:
        return self.description


class RealDataset(NamedTuple):
    """:func:`load_real_dataset`'s result; unpacks as ``X_train, y_train, X_test, y_test, info``."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    info: DatasetInfo


# ----------------------------------------------------------------------------------------------
# scikit-learn's digits and the real-data chooser


def load_digits(
    test_size: float = 0.25, seed: int | None = 0, *, dtype: Any = "float32"
) -> DatasetSplit:
    """scikit-learn's 8x8 handwritten digits (1,797 images, bundled: no download), split.

    Parameters
    ----------
    test_size : float in (0, 1), default 0.25
        Share of the images held out, stratified by class.
    seed : int or None, default 0
        Seed of the split.
    dtype : str or numpy dtype, default "float32"
        Floating dtype of the images.

    Returns
    -------
    DatasetSplit
        ``X_train, y_train, X_test, y_test``: images of shape (n, 64) scaled from 0..16 to
        [0, 1]; labels int64 in 0..9. With the defaults, 1347 training and 450 test rows.

    Raises
    ------
    ImportError
        Where scikit-learn is not installed; ``pip install 'scratchnet[examples]'`` adds it.

    Examples
    --------
    >>> X_train, y_train, X_test, y_test = load_digits()  # doctest: +SKIP
    >>> X_train.shape, X_test.shape  # doctest: +SKIP
    ((1347, 64), (450, 64))
    """
    out_dtype = _float_dtype(dtype, normalize=True)
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError as err:
        raise ImportError(
            "load_digits needs scikit-learn, which is not installed here; install it with "
            "pip install 'scratchnet[examples]' (or pip install scikit-learn)"
        ) from err
    bunch = sklearn_digits()
    X = np.asarray(bunch.data, dtype=out_dtype) / out_dtype.type(16)
    y = np.asarray(bunch.target, dtype=np.int64)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, seed=seed, stratify=True
    )
    return DatasetSplit(X_train, y_train, X_test, y_test)


#: names :func:`load_real_dataset` accepts
REAL_DATASETS = ("auto", "mnist", "fashion-mnist", "digits")


def _idx_info(
    spec: _IdxDataset, split: DatasetSplit, folder: Path, shape: tuple[int, ...]
) -> DatasetInfo:
    rows, cols = shape
    text = (
        f"{spec.title} {spec.description}: {split.X_train.shape[0]} training and "
        f"{split.X_test.shape[0]} test images of {rows}x{cols} pixels, {spec.n_classes} classes "
        f"(from {folder})"
    )
    return DatasetInfo(spec.name, text, str(folder), spec.n_classes)


def load_real_dataset(
    name: str = "auto",
    *,
    path: PathLike | None = None,
    download: bool = True,
    dtype: Any = "float32",
    test_size: float = 0.25,
    seed: int | None = 0,
    timeout: float = 120.0,
) -> RealDataset:
    """A real image-classification set for examples: MNIST where it can be had, else digits.

    Parameters
    ----------
    name : {"auto", "mnist", "fashion-mnist", "digits"}, default "auto"
        ``"auto"`` loads MNIST when it is found (``path``, environment, cache; see
        :func:`dataset_search_paths`) or can be downloaded (``download=True``), and falls back
        to scikit-learn's 8x8 digits otherwise. A named set is loaded or raises.
    path : str or os.PathLike, optional
        Folder of the IDX files, for ``"auto"``, ``"mnist"`` and ``"fashion-mnist"``.
    download : bool, default True
        Whether MNIST / Fashion-MNIST may be downloaded into the user cache (or ``path``).
    dtype : str or numpy dtype, default "float32"
        Floating dtype of the images, scaled to [0, 1].
    test_size, seed
        Split of the digits set (MNIST comes with its own split).
    timeout : float, default 120.0
        Wall-clock deadline, in seconds, of each download transfer (one file from one mirror).

    Returns
    -------
    RealDataset
        ``X_train, y_train, X_test, y_test, info``: images of shape (n, 784) for MNIST and
        Fashion-MNIST, (n, 64) for digits, labels int64 in 0..9; ``info`` is a
        :class:`DatasetInfo` whose ``str`` is a one-line description of the set used.

    Raises
    ------
    DatasetNotFoundError
        For ``"mnist"`` / ``"fashion-mnist"`` where the files are neither found nor fetched.
    ImportError
        For ``"digits"``, or ``"auto"`` falling back to it, without scikit-learn.

    Examples
    --------
    >>> X_train, y_train, X_test, y_test, info = load_real_dataset(download=False)  # doctest: +SKIP
    >>> print(info)  # doctest: +SKIP
    scikit-learn 8x8 digits: 1347 training and 450 test images of 8x8 pixels, 10 classes (...)
    """
    key = str(name).strip().lower().replace("_", "-")
    if key not in REAL_DATASETS:
        raise ValueError(f"name must be one of {list(REAL_DATASETS)}, got {name!r}")
    if key == "digits" and path is not None:
        raise ValueError("path applies to the IDX sets (MNIST, Fashion-MNIST), not to 'digits'")
    fallback_note = ""
    if key != "digits":
        spec = _DATASETS["mnist" if key == "auto" else key]
        try:
            split, folder = _load_idx_dataset(
                spec,
                path,
                download=download,
                normalize=True,
                flatten=False,
                dtype=dtype,
                verify=True,
                timeout=timeout,
            )
        except DatasetNotFoundError as not_found:
            if key != "auto":
                raise
            try:
                digits = load_digits(test_size, seed, dtype=dtype)
            except ImportError as err:
                raise ImportError(
                    f"load_real_dataset('auto') found no MNIST and cannot fall back to the "
                    f"digits set: {err}.\n{not_found}"
                ) from err
            fallback_note = (
                "; MNIST was not found locally"
                + (" and could not be downloaded" if download else " and download=False")
                + ", see scratchnet.datasets.dataset_search_paths('mnist')"
            )
        else:
            image_shape = split.X_train.shape[1:]
            flat = DatasetSplit(
                split.X_train.reshape(split.X_train.shape[0], -1),
                split.y_train,
                split.X_test.reshape(split.X_test.shape[0], -1),
                split.y_test,
            )
            return RealDataset(*flat, _idx_info(spec, flat, folder, image_shape))
    else:
        digits = load_digits(test_size, seed, dtype=dtype)
    text = (
        f"scikit-learn 8x8 digits: {digits.X_train.shape[0]} training and "
        f"{digits.X_test.shape[0]} test images of 8x8 pixels, 10 classes "
        f"(stratified split, test_size={test_size}, seed={seed}{fallback_note})"
    )
    return RealDataset(*digits, DatasetInfo("digits", text, "scikit-learn", 10))

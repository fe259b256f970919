"""MNIST and Fashion-MNIST from IDX files: :func:`load_mnist` and :func:`load_fashion_mnist`.

Where the IDX loaders look
--------------------------
:func:`load_mnist` and :func:`load_fashion_mnist` read the four standard IDX files
(``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
``t10k-labels-idx1-ubyte``, each gzip-compressed as ``.gz`` or uncompressed) from the first folder
that holds all four:

1. the ``path`` argument, when given (then only there, and downloads go there);
2. ``$SCRATCHNET_MNIST`` (``$SCRATCHNET_FASHION_MNIST``): a folder holding the four files;
3. ``$SCRATCHNET_DATA/mnist`` (``$SCRATCHNET_DATA/fashion-mnist``);
4. the user cache, ``$XDG_CACHE_HOME/scratchnet/<name>`` or ``~/.cache/scratchnet/<name>``;
5. for Fashion-MNIST, Debian's ``/usr/share/datasets/fashion-mnist``
   (``apt-get install dataset-fashion-mnist``).

Where none has them and ``download=True``, the files are fetched into the cache (or ``path``),
each into a temporary file that is renamed into place only after its MD5 checks out, so an
interrupted or corrupted download never lands in the cache. Each transfer (one file from one
mirror) must end within ``timeout`` seconds of wall-clock time and may not exceed the file's
known size; a folder the download created and left empty is removed. ``SCRATCHNET_OFFLINE=1`` turns
downloads off. :func:`dataset_search_paths` lists the folders; the error raised when nothing is
found (:class:`DatasetNotFoundError`) lists them too, with what each one lacks.

Every file's IDX header is checked against the published shape before its data is read, and its
uncompressed contents against the published MD5 while they are decompressed (``verify=True``);
every file is read as a stream bounded by what its header declares, so a truncated, foreign or
over-long file (such as a gzip bomb) is named in a ``ValueError`` without being expanded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..validation import check_float
from .fetch import (
    _DATASETS,
    OFFLINE_ENV,
    _download,
    _idx_file,
    _IdxDataset,
    _locations,
    _not_found,
    _offline,
    _read_checked,
    cache_dir,
)
from .idx import PathLike

# ----------------------------------------------------------------------------------------------
# results


class DatasetSplit(NamedTuple):
    """A train/test split; unpacks as ``X_train, y_train, X_test, y_test``.

    Attributes
    ----------
    X_train : ndarray of shape (n_train, n_features), or (n_train, rows, cols) unflattened
    y_train : ndarray of int64, shape (n_train,)
    X_test : ndarray of shape (n_test, n_features), or (n_test, rows, cols) unflattened
    y_test : ndarray of int64, shape (n_test,)
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


# ----------------------------------------------------------------------------------------------
# loading


def _float_dtype(dtype: Any, normalize: bool) -> np.dtype:
    dt = np.dtype(dtype)
    if normalize and dt.kind != "f":
        raise ValueError(
            f"normalize=True scales pixels to [0, 1] and needs a floating dtype, got {dt}; "
            "pass normalize=False to keep the raw 0..255 values"
        )
    return dt


def _load_idx_dataset(
    spec: _IdxDataset,
    path: PathLike | None,
    *,
    download: bool,
    normalize: bool,
    flatten: bool,
    dtype: Any,
    verify: bool,
    timeout: float,
) -> tuple[DatasetSplit, Path]:
    out_dtype = _float_dtype(dtype, normalize)
    timeout = check_float(timeout, "timeout", low=0.0, low_open=True)
    locations = _locations(spec, path)
    folder: Path | None = None
    problems: list[str] = []
    for candidate, _ in locations:
        if not candidate.is_dir():
            problems.append("no such folder")
            continue
        missing = [f.stem for f in spec.files if _idx_file(candidate, f.stem) is None]
        if not missing:
            folder = candidate
            break
        problems.append("missing " + ", ".join(missing))
    if folder is None:
        target = locations[0][0] if path is not None else cache_dir(spec.name)
        if not download:
            note = "Downloading was off (download=False)."
        elif _offline():
            note = f"Downloading was off ({OFFLINE_ENV} is set)."
        else:
            failures = _download(spec, target, timeout)
            if failures:
                shown = "\n".join(f"    {f}" for f in failures[:8])
                note = f"Downloading into {target} failed:\n{shown}"
            else:
                folder = target
        if folder is None:
            raise _not_found(spec, locations[: len(problems)], problems, note)

    files = [_idx_file(folder, f.stem) for f in spec.files]
    arrays = [
        _read_checked(file, entry if verify else None, spec.title)
        for file, entry in zip(files, spec.files, strict=True)
    ]
    out = []
    for k in (0, 2):
        X, y = arrays[k], arrays[k + 1]
        img_file, lab_file = files[k], files[k + 1]
        if X.ndim != 3 or X.dtype != np.uint8:
            raise ValueError(
                f"{img_file}: expected uint8 images of shape (n, rows, cols), got {X.dtype.name} "
                f"of shape {X.shape}"
            )
        if y.ndim != 1 or y.dtype != np.uint8:
            raise ValueError(
                f"{lab_file}: expected uint8 labels of shape (n,), got {y.dtype.name} of shape "
                f"{y.shape}"
            )
        if X.shape[0] != y.shape[0]:
            raise ValueError(
                f"{img_file} holds {X.shape[0]} images but {lab_file} holds {y.shape[0]} labels"
            )
        if y.size and int(y.max()) >= spec.n_classes:
            raise ValueError(
                f"{lab_file}: labels must lie in [0, {spec.n_classes}), found {int(y.max())}"
            )
        X = X.astype(out_dtype)  # a fresh, writable copy
        if normalize:
            X /= 255
        if flatten:
            X = X.reshape(X.shape[0], -1)
        out += [X, y.astype(np.int64)]
    return DatasetSplit(*out), folder


_LOADER_PARAMETERS = """
    Parameters
    ----------
    path : str or os.PathLike, optional
        Folder holding the four IDX files. Given, it is the only folder searched and downloads
        go there; otherwise the folders of :func:`dataset_search_paths` are searched in order.
    download : bool, default True
        Fetch missing files (into ``path`` or the user cache) where no folder has them.
        ``SCRATCHNET_OFFLINE=1`` in the environment turns downloads off.
    normalize : bool, default True
        Scale pixels from 0..255 to [0, 1] (needs a floating ``dtype``). False keeps the raw
        values, cast to ``dtype`` (``dtype="uint8"`` gives the bytes as stored).
    flatten : bool, default True
        Images as rows of 784 features; False keeps them as 28x28 arrays.
    dtype : str or numpy dtype, default "float32"
        Dtype of the images.
    verify : bool, default True
        Check each file's IDX header against the published shape (before reading its data) and
        the MD5 of its uncompressed contents against the published value.
    timeout : float, default 120.0
        Wall-clock deadline, in seconds, of each transfer (one file from one mirror: connecting,
        the response and the whole body), after which the next mirror is tried; a connection
        silent for 30 s fails sooner. A mirror that times out is not tried for the other files.

    Returns
    -------
    DatasetSplit
        ``X_train, y_train, X_test, y_test`` as NumPy arrays: images of shape (60000, 784) and
        (10000, 784) (or (n, 28, 28) unflattened), labels int64 of shape (60000,) and
        (10000,) in 0..9.

    Raises
    ------
    DatasetNotFoundError
        A ``FileNotFoundError`` where no folder holds the files and none could be downloaded;
        its message lists the folders searched, the environment variables and the file names.
    ValueError
        Naming the file, where one is truncated, longer than its header says, not IDX, not of
        the published shape or fails its checksum.
    PermissionError
        Naming the file, where one may not be read.
"""


def load_mnist(
    path: PathLike | None = None,
    *,
    download: bool = True,
    normalize: bool = True,
    flatten: bool = True,
    dtype: Any = "float32",
    verify: bool = True,
    timeout: float = 120.0,
) -> DatasetSplit:
    return _load_idx_dataset(
        _DATASETS["mnist"],
        path,
        download=download,
        normalize=normalize,
        flatten=flatten,
        dtype=dtype,
        verify=verify,
        timeout=timeout,
    )[0]


def load_fashion_mnist(
    path: PathLike | None = None,
    *,
    download: bool = True,
    normalize: bool = True,
    flatten: bool = True,
    dtype: Any = "float32",
    verify: bool = True,
    timeout: float = 120.0,
) -> DatasetSplit:
    return _load_idx_dataset(
        _DATASETS["fashion-mnist"],
        path,
        download=download,
        normalize=normalize,
        flatten=flatten,
        dtype=dtype,
        verify=verify,
        timeout=timeout,
    )[0]


load_mnist.__doc__ = (
    """MNIST handwritten digits (LeCun, Cortes, Burges): 60,000 training and 10,000 test images.
"""
    + _LOADER_PARAMETERS
    + """
    Examples
    --------
    >>> X_train, y_train, X_test, y_test = load_mnist()  # doctest: +SKIP
    >>> X_train.shape, X_train.dtype, y_train[:5]  # doctest: +SKIP
    ((60000, 784), dtype('float32'), array([5, 0, 4, 1, 9]))
    """
)

load_fashion_mnist.__doc__ = (
    """Fashion-MNIST (Xiao, Rasul, Vollgraf; Zalando, MIT licence): MNIST's format, clothing images.

    Ten balanced classes: 0 T-shirt/top, 1 trouser, 2 pullover, 3 dress, 4 coat, 5 sandal,
    6 shirt, 7 sneaker, 8 bag, 9 ankle boot. Also searched in Debian's
    ``/usr/share/datasets/fashion-mnist`` (``apt-get install dataset-fashion-mnist``).
"""
    + _LOADER_PARAMETERS
)

"""Host-side data plumbing: one-hot codes, label encoding, splits and mini-batch boundaries.

Everything here works on NumPy arrays and index arrays; the device only ever sees the gathered
mini-batches (``xp.take(X, idx, axis=0)``), so training never copies the whole data set per epoch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np


def one_hot(labels: Any, n_classes: int | None = None, dtype: Any = np.float64) -> np.ndarray:
    """One-hot matrix of integer class indices.

    Parameters
    ----------
    labels : array_like of int, shape (n,)
        Class indices in [0, n_classes).
    n_classes : int, optional
        Number of columns V; default max(labels) + 1.

    Returns
    -------
    ndarray of shape (n, V), the notes' indicator 1(y_i = v).

    Examples
    --------
    >>> one_hot([0, 2, 1])
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 1., 0.]])
    """
    y = np.asarray(labels)
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise ValueError(
            f"labels must be a 1-D integer array, got shape {y.shape}, dtype {y.dtype}"
        )
    k = int(y.max()) + 1 if n_classes is None else int(n_classes)
    if y.size and (y.min() < 0 or y.max() >= k):
        raise ValueError(f"labels must lie in [0, {k}), got range [{y.min()}, {y.max()}]")
    out = np.zeros((y.shape[0], k), dtype=dtype)
    out[np.arange(y.shape[0]), y] = 1
    return out


def encode_labels(y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Map arbitrary labels (strings, ints, floats) to indices 0..K-1.

    Returns
    -------
    indices : ndarray of int64, shape (n,)
    classes : ndarray of shape (K,), sorted; ``classes[indices]`` gives ``y`` back.

    Examples
    --------
    >>> idx, classes = encode_labels(["cat", "dog", "cat"])
    >>> idx.tolist(), classes.tolist()
    ([0, 1, 0], ['cat', 'dog'])
    """
    classes, indices = np.unique(np.asarray(y), return_inverse=True)
    return indices.astype(np.int64).reshape(-1), classes


def batch_bounds(n: int, batch_size: int | None) -> Iterator[tuple[int, int]]:
    """(start, stop) of consecutive mini-batches of ``n`` rows; None means one full batch (GD).

    The last batch is shorter when ``batch_size`` does not divide ``n``; stops never pass ``n``.

    >>> list(batch_bounds(5, 2))
    [(0, 2), (2, 4), (4, 5)]
    """
    size = n if batch_size is None else batch_size
    for start in range(0, n, size):
        yield start, min(start + size, n)


def split_indices(
    n: int,
    fraction: float,
    rng: np.random.Generator,
    stratify: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Random (train, held-out) row indices, stratified by class where ``stratify`` is given.

    Parameters
    ----------
    n : int
        Number of rows.
    fraction : float in (0, 1)
        Share of rows held out; at least one row goes to each side.
    rng : numpy.random.Generator
    stratify : ndarray of int, shape (n,), optional
        Class indices: each class is split in the same proportion (classes with a single sample
        stay in the training part).

    Returns
    -------
    train_idx, held_idx : sorted int64 arrays
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"the held-out fraction must lie in (0, 1), got {fraction}")
    if n < 2:
        raise ValueError(f"cannot split {n} sample(s) into a training and a held-out part")
    if stratify is None:
        perm = rng.permutation(n)
        n_held = min(max(1, round(fraction * n)), n - 1)
        return np.sort(perm[n_held:]), np.sort(perm[:n_held])
    held = []
    for cls in np.unique(stratify):
        members = rng.permutation(np.flatnonzero(stratify == cls))
        if members.size >= 2:
            held.append(members[: max(1, round(fraction * members.size))])
    held_idx = np.sort(np.concatenate(held)) if held else np.empty(0, dtype=np.int64)
    if held_idx.size == 0 or held_idx.size == n:
        return split_indices(n, fraction, rng, None)
    mask = np.ones(n, dtype=bool)
    mask[held_idx] = False
    return np.flatnonzero(mask), held_idx


def train_test_split(
    X: Any,
    y: Any,
    test_size: float = 0.25,
    seed: int | None = 0,
    stratify: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split host arrays into train and test parts (stratified by label for 1-D integer labels).

    Returns
    -------
    X_train, X_test, y_train, y_test

    Examples
    --------
    >>> import numpy as np
    >>> X, y = np.arange(20.0).reshape(10, 2), np.array([0, 1] * 5)
    >>> [a.shape for a in train_test_split(X, y, test_size=0.2)]
    [(8, 2), (2, 2), (8,), (2,)]
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]}")
    strat = encode_labels(y)[0] if stratify and y.ndim == 1 and y.dtype.kind in "iub" else None
    train, test = split_indices(X.shape[0], test_size, np.random.default_rng(seed), strat)
    return X[train], X[test], y[train], y[test]

"""Seeded toy sets: XOR, two moons, two circles and spirals, as float64 points and int64 labels.

Examples
--------
>>> from scratchnet.datasets import make_moons
>>> X, y = make_moons(n_samples=100, noise=0.1, seed=0)
>>> X.shape, X.dtype, y.shape, y.dtype
((100, 2), dtype('float64'), (100,), dtype('int64'))
>>> [int(c) for c in np.bincount(y)]
[50, 50]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..validation import check_float, check_positive_int


def _toy_args(n_samples: Any, noise: Any, n_classes: int) -> tuple[int, float]:
    n = check_positive_int(n_samples, "n_samples")
    if n < n_classes:
        raise ValueError(
            f"n_samples must be >= {n_classes} so that each of the {n_classes} classes has a "
            f"sample, got {n}"
        )
    return n, check_float(noise, "noise", low=0.0)


def _counts(n: int, k: int) -> list[int]:
    """``n`` split into ``k`` parts as equal as possible (the first ones take the remainder)."""
    return [n // k + (i < n % k) for i in range(k)]


def _finish(
    X: np.ndarray, y: np.ndarray, noise: float, rng: np.random.Generator, shuffle: bool
) -> tuple[np.ndarray, np.ndarray]:
    if noise > 0:
        X = X + rng.normal(0.0, noise, size=X.shape)
    if shuffle:
        order = rng.permutation(X.shape[0])
        X, y = X[order], y[order]
    return X, y


def make_xor(
    n_samples: int = 200,
    noise: float = 0.1,
    seed: int | np.random.Generator | None = 0,
    *,
    shuffle: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """The XOR problem: points around the four corners of the unit square, labelled x1 XOR x2.

    Corners (0, 0) and (1, 1) are class 0; (0, 1) and (1, 0) class 1. No line separates them,
    one hidden layer does. Corners get ``n_samples // 4`` points each (the first ones one more),
    so the two classes differ in size by at most one.

    Parameters
    ----------
    n_samples : int >= 2, default 200
    noise : float >= 0, default 0.1
        Standard deviation of the Gaussian noise added to each coordinate.
    seed : int, numpy.random.Generator or None, default 0
    shuffle : bool, default True
        Shuffle the rows; False keeps them grouped by corner in the order above.

    Returns
    -------
    X : ndarray of float64, shape (n_samples, 2)
    y : ndarray of int64, shape (n_samples,), in {0, 1}

    Examples
    --------
    >>> X, y = make_xor(4, noise=0.0, shuffle=False)
    >>> X.tolist(), y.tolist()
    ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1, 0])
    """
    n, noise = _toy_args(n_samples, noise, 2)
    rng = np.random.default_rng(seed)
    # order (0,0), (0,1), (1,0), (1,1): a remainder of 1..3 tops up both classes evenly
    corners = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    reps = _counts(n, 4)
    X = np.repeat(corners, reps, axis=0)
    y = np.repeat(np.array([0, 1, 1, 0], dtype=np.int64), reps)
    return _finish(X, y, noise, rng, shuffle)


def make_moons(
    n_samples: int = 200,
    noise: float = 0.1,
    seed: int | np.random.Generator | None = 0,
    *,
    shuffle: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles.

    Class 0 lies on the upper half of the unit circle, (cos t, sin t) for t in [0, pi]; class 1
    on the lower half circle (1 - cos t, 0.5 - sin t). Class 0 gets ``n_samples // 2`` points.

    Parameters
    ----------
    n_samples : int >= 2, default 200
    noise : float >= 0, default 0.1
        Standard deviation of the Gaussian noise added to each coordinate.
    seed : int, numpy.random.Generator or None, default 0
    shuffle : bool, default True

    Returns
    -------
    X : ndarray of float64, shape (n_samples, 2)
    y : ndarray of int64, shape (n_samples,), in {0, 1}
    """
    n, noise = _toy_args(n_samples, noise, 2)
    rng = np.random.default_rng(seed)
    n0, n1 = n // 2, n - n // 2
    t0, t1 = np.linspace(0.0, np.pi, n0), np.linspace(0.0, np.pi, n1)
    X = np.concatenate(
        [
            np.stack([np.cos(t0), np.sin(t0)], axis=1),
            np.stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)], axis=1),
        ]
    )
    y = np.repeat(np.array([0, 1], dtype=np.int64), [n0, n1])
    return _finish(X, y, noise, rng, shuffle)


def make_circles(
    n_samples: int = 200,
    noise: float = 0.05,
    seed: int | np.random.Generator | None = 0,
    *,
    factor: float = 0.5,
    shuffle: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric circles: class 0 of radius 1, class 1 of radius ``factor``.

    Parameters
    ----------
    n_samples : int >= 2, default 200
        Class 0 gets ``n_samples // 2`` points, evenly spaced in angle before the noise.
    noise : float >= 0, default 0.05
        Standard deviation of the Gaussian noise added to each coordinate.
    seed : int, numpy.random.Generator or None, default 0
    factor : float in (0, 1), default 0.5
        Radius of the inner circle.
    shuffle : bool, default True

    Returns
    -------
    X : ndarray of float64, shape (n_samples, 2)
    y : ndarray of int64, shape (n_samples,), in {0, 1}
    """
    n, noise = _toy_args(n_samples, noise, 2)
    factor = check_float(factor, "factor", low=0.0, high=1.0, low_open=True, high_open=True)
    rng = np.random.default_rng(seed)
    n0, n1 = n // 2, n - n // 2
    t0 = np.linspace(0.0, 2 * np.pi, n0, endpoint=False)
    t1 = np.linspace(0.0, 2 * np.pi, n1, endpoint=False)
    X = np.concatenate(
        [
            np.stack([np.cos(t0), np.sin(t0)], axis=1),
            factor * np.stack([np.cos(t1), np.sin(t1)], axis=1),
        ]
    )
    y = np.repeat(np.array([0, 1], dtype=np.int64), [n0, n1])
    return _finish(X, y, noise, rng, shuffle)


def make_spirals(
    n_samples: int = 300,
    n_classes: int = 3,
    noise: float = 0.2,
    seed: int | np.random.Generator | None = 0,
    *,
    shuffle: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one per class (the CS231n spiral set, for any number of arms).

    Arm k holds the points r (sin t, cos t) with radius r rising evenly from 1/m to 1 over its
    m points and angle t = 4 r + 2 pi k / n_classes + noise * N(0, 1): the noise is on the angle,
    so every point keeps its radius.

    Parameters
    ----------
    n_samples : int >= n_classes, default 300
        Total number of points; arms get ``n_samples // n_classes`` each (the first ones one
        more).
    n_classes : int >= 2, default 3
    noise : float >= 0, default 0.2
        Standard deviation of the noise on the angle, in radians.
    seed : int, numpy.random.Generator or None, default 0
    shuffle : bool, default True

    Returns
    -------
    X : ndarray of float64, shape (n_samples, 2), inside the unit disc
    y : ndarray of int64, shape (n_samples,), in 0..n_classes-1
    """
    k = check_positive_int(n_classes, "n_classes")
    if k < 2:
        raise ValueError(f"n_classes must be >= 2, got {n_classes!r}")
    n, noise = _toy_args(n_samples, noise, k)
    rng = np.random.default_rng(seed)
    parts, labels = [], []
    for cls, m in enumerate(_counts(n, k)):
        r = np.arange(1, m + 1) / m
        t = 4.0 * r + 2 * np.pi * cls / k + noise * rng.standard_normal(m)
        parts.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        labels.append(np.full(m, cls, dtype=np.int64))
    X, y = np.concatenate(parts), np.concatenate(labels)
    return _finish(X, y, 0.0, rng, shuffle)

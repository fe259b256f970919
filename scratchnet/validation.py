"""Input checks at the public boundary: errors that say what was expected and what came (contract 7).

Arrays are checked once, at the call that receives them (fit, predict, loss_and_gradients, ...),
before anything is computed; the math never sees bad input.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .backends import Backend, describe_array, library_of, to_device, to_numpy

#: rows per chunk when scanning large host arrays for NaN/inf (keeps the scan's memory small)
_SCAN_ROWS = 8192


def _host_numeric(x: Any, name: str) -> np.ndarray:
    """``np.asarray(x)`` with a numeric dtype, or `TypeError`."""
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array, got {type(x).__name__} ({exc})") from exc
    if arr.dtype.kind == "O":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"{name} must hold numbers; got an object array that does not convert to float "
                f"({exc})"
            ) from exc
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must be a numeric array (bool, int or float), got dtype {arr.dtype}"
        )
    return arr


def check_library(x: Any, backend: Backend, name: str) -> None:
    """Refuse arrays of another library, or of this library on another device."""
    library = library_of(x)
    if library is None or library == "numpy":
        return  # host data is always welcome; it crosses to the device once
    if library != backend.name:
        raise TypeError(
            f"{name} is {describe_array(x)}, but the model runs on {backend.describe()}; pass a "
            f"NumPy array or an array of the model's backend (scratchnet.to_device({name}, "
            f"{backend.name!r}) moves it)"
        )
    dev = backend.array_device(x)
    if dev != backend.device and str(dev) != str(backend.device):
        raise ValueError(
            f"{name} lives on device {dev}, but the model runs on {backend.describe()}; arrays "
            f"of two devices cannot be mixed (scratchnet.to_device({name}, {backend.name!r}, "
            "device=...) moves it)"
        )


def check_features(
    X: Any,
    backend: Backend,
    dtype: Any,
    n_features: int | None = None,
    name: str = "X",
) -> Any:
    """Validate a feature matrix and return it on the backend's device in ``dtype``.

    Parameters
    ----------
    X : array_like of shape (n_samples, n_features)
        NumPy array, nested list, or an array of the model's backend and device.
    backend : Backend
    dtype : dtype object of the backend
    n_features : int, optional
        Expected number of columns (the built model's input width).
    name : str
        Argument name used in messages.

    Returns
    -------
    Array of shape (n_samples, n_features) on the backend's device.

    Raises
    ------
    TypeError
        Non-numeric dtype; an array of another library.
    ValueError
        Not 2-D, empty, NaN/inf, wrong feature count, another device.
    """
    check_library(X, backend, name)
    if backend.is_native(X) and backend.name != "numpy":
        xp = backend.xp
        if not xp.isdtype(X.dtype, ("real floating", "integral", "bool")):
            raise TypeError(f"{name} must be a numeric array, got dtype {X.dtype}")
        _check_shape(tuple(X.shape), n_features, name)
        Xd = backend.asarray(X, dtype=dtype)
        if not bool(xp.all(xp.isfinite(Xd))):
            raise ValueError(f"{name} contains NaN or infinite values; clean or impute them first")
        return Xd
    arr = _host_numeric(X, name)
    _check_shape(arr.shape, n_features, name)
    check_finite_host(arr, name)
    return backend.asarray(arr, dtype=dtype)


def _check_shape(shape: tuple[int, ...], n_features: int | None, name: str) -> None:
    if len(shape) != 2:
        hint = (
            f" (for a single feature use {name}.reshape(-1, 1); for a single sample "
            f"{name}.reshape(1, -1))"
            if len(shape) == 1
            else ""
        )
        raise ValueError(
            f"{name} must be 2-D of shape (n_samples, n_features), got shape {shape}{hint}"
        )
    if shape[0] == 0:
        raise ValueError(f"{name} is empty: it has 0 samples (shape {shape})")
    if shape[1] == 0:
        raise ValueError(f"{name} has 0 features (shape {shape})")
    if n_features is not None and shape[1] != n_features:
        raise ValueError(
            f"{name} has {shape[1]} features, but the model was built for {n_features}"
        )


def check_finite_host(arr: np.ndarray, name: str) -> None:
    """Raise `ValueError` if a host array holds NaN or inf (scanned in chunks to save memory)."""
    if arr.dtype.kind != "f":
        return
    flat = arr.reshape(arr.shape[0], -1) if arr.ndim > 1 else arr.reshape(-1, 1)
    for start in range(0, flat.shape[0], _SCAN_ROWS):
        if not np.isfinite(flat[start : start + _SCAN_ROWS]).all():
            raise ValueError(f"{name} contains NaN or infinite values; clean or impute them first")


def host_labels(y: Any, n_samples: int, name: str = "y") -> np.ndarray:
    """Labels or targets as a host NumPy array with ``n_samples`` rows; numeric and finite."""
    if y is None:
        raise ValueError(f"{name} is required")
    library = library_of(y)
    if library not in (None, "numpy"):
        y = to_numpy(y)
    arr = _host_numeric(y, name)
    if arr.ndim == 0 or arr.ndim > 2:
        raise ValueError(f"{name} must have shape (n,) or (n, k), got shape {arr.shape}")
    if arr.shape[0] != n_samples:
        raise ValueError(f"{name} has {arr.shape[0]} rows but X has {n_samples} samples")
    check_finite_host(arr, name)
    return arr


def sample_weights(w: Any, n_samples: int, name: str = "sample_weight") -> np.ndarray | None:
    """Per-sample weights as float64 of shape (n,): finite, >= 0, not all zero."""
    if w is None:
        return None
    library = library_of(w)
    if library not in (None, "numpy"):
        w = to_numpy(w)
    arr = _host_numeric(w, name).astype(np.float64)
    if arr.shape != (n_samples,):
        raise ValueError(f"{name} must have shape ({n_samples},), got {arr.shape}")
    check_finite_host(arr, name)
    if (arr < 0).any():
        raise ValueError(f"{name} must be >= 0, found {arr.min()}")
    if not arr.sum() > 0:
        raise ValueError(f"{name} sums to zero: at least one sample needs a positive weight")
    return arr


def check_positive_int(value: Any, name: str, allow_none: bool = False) -> int | None:
    """An int >= 1 (bools refused), or None where allowed."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    return int(value)


def check_float(
    value: Any,
    name: str,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A finite real number within [low, high] (ends open where asked)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    v = float(value)
    if low is not None and (v < low or (low_open and v == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {value!r}")
    if high is not None and (v > high or (high_open and v == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {value!r}")
    return v


def named_arrays(
    values: Any, shapes: dict[str, tuple], what: str, backend: Any, dtype_name: str
) -> dict[str, Any]:
    """``values`` (name -> array) checked against ``shapes`` and copied to ``backend``.

    Parameters
    ----------
    values : dict
        NumPy arrays or arrays of the backend, one per name of ``shapes``.
    shapes : dict
        Expected name -> shape.
    what : str
        ``"parameters"`` or ``"state"``, for messages.
    """
    if not isinstance(values, dict):
        raise TypeError(f"{what} must be a dict name -> array, got {type(values).__name__}")
    missing = [n for n in shapes if n not in values]
    extra = [n for n in values if n not in shapes]
    if missing or extra:
        raise ValueError(
            f"{what} keys do not match the model: missing {missing}, unexpected {extra}"
        )
    converted = {}
    for name, shape in shapes.items():
        arr = to_device(values[name], backend, dtype=dtype_name)
        if tuple(arr.shape) != shape:
            raise ValueError(f"{what}[{name!r}] has shape {tuple(arr.shape)}, expected {shape}")
        converted[name] = backend.asarray(arr, copy=True)
    return converted

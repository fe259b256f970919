"""Input checks at the public boundary: errors that say what was expected and what came (contract 7).

Arrays are checked once, at the call that receives them (fit, predict, loss_and_gradients, ...),
before anything is computed; the math never sees bad input. Besides shapes and dtypes:

- NaN and inf are refused, naming the first offending row and column;
- a value that is finite in the input's dtype but overflows the model's (float64 data for a
  float32 model) is refused, naming its row, column and value: the cast would make it inf;
- a SciPy sparse matrix is refused with the ``.toarray()`` advice (SciPy is never imported);
- a masked array with masked entries is refused: its mask would otherwise be dropped silently.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .backends import Backend, describe_array, library_of, to_device, to_numpy

#: rows per chunk when scanning large host arrays for NaN/inf (keeps the scan's memory small)
_SCAN_ROWS = 8192


def refuse_unsupported(x: Any, name: str) -> None:
    """Refuse containers whose meaning ``np.asarray`` would silently change.

    A SciPy sparse matrix becomes a 0-d object array, and a masked array loses its mask (the
    masked entries' placeholder values would be trained on). SciPy is never imported here: a
    sparse matrix is recognised by its module, or by ``toarray`` and ``nnz``.
    """
    kind = type(x)
    if kind.__module__.startswith("scipy.sparse") or (hasattr(x, "toarray") and hasattr(x, "nnz")):
        shape = tuple(getattr(x, "shape", ()))
        dense = f"{name}.toarray()" + (".ravel()" if shape[1:] == (1,) else "")
        raise TypeError(
            f"{name} is a SciPy sparse matrix ({kind.__name__} of shape {shape} with "
            f"{getattr(x, 'nnz', '?')} stored values); scratchnet trains on dense arrays: pass "
            f"{dense} (it takes the memory of every entry, zeros included)"
        )
    if isinstance(x, np.ma.MaskedArray):
        mask = np.ma.getmaskarray(x)
        if mask.any():
            first = tuple(int(i) for i in np.argwhere(mask)[0])
            raise ValueError(
                f"{name} is a masked array with {int(mask.sum())} masked entries (the first at "
                f"index {first}); scratchnet does not honour masks: fill them "
                f"({name}.filled(value)), drop the rows that hold them, or pass "
                f"np.ma.getdata({name}) if the values under the mask are meant"
            )


def _host_numeric(x: Any, name: str) -> np.ndarray:
    """``np.asarray(x)`` with a numeric dtype, or `TypeError`."""
    refuse_unsupported(x, name)
    try:
        arr = np.asarray(np.ma.getdata(x) if isinstance(x, np.ma.MaskedArray) else x)
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
    expected: str | None = None,
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
    expected : str, optional
        Where ``n_features`` comes from, for the message (default "the model was built for").

    Returns
    -------
    Array of shape (n_samples, n_features) on the backend's device.

    Raises
    ------
    TypeError
        Non-numeric dtype; an array of another library; a SciPy sparse matrix.
    ValueError
        Not 2-D, empty, NaN/inf, a finite value that overflows ``dtype`` (float64 data for a
        float32 model), wrong feature count, another device, a masked array with masked entries.
    """
    check_library(X, backend, name)
    if backend.is_native(X) and backend.name != "numpy":
        xp = backend.xp
        if not xp.isdtype(X.dtype, ("real floating", "integral", "bool")):
            raise TypeError(f"{name} must be a numeric array, got dtype {X.dtype}")
        _check_shape(tuple(X.shape), n_features, name, expected)
        with backend.quiet_floating_point():  # an overflowing cast is reported just below
            Xd = backend.asarray(X, dtype=dtype)
        if not bool(xp.all(xp.isfinite(Xd))):
            _explain_nonfinite_native(X, Xd, backend, name)
        return Xd
    arr = _host_numeric(X, name)
    _check_shape(arr.shape, n_features, name, expected)
    check_finite_host(arr, name, numpy_float(backend, dtype))
    return backend.asarray(arr, dtype=dtype)


def numpy_float(backend: Backend, dtype: Any) -> np.dtype:
    """The NumPy float dtype of the same width as a backend's float ``dtype``."""
    return np.dtype(f"float{backend.xp.finfo(dtype).bits}")


def _explain_nonfinite_native(X: Any, Xd: Any, backend: Backend, name: str) -> None:
    """Raise for a backend array whose cast to the model's dtype is not finite (error path)."""
    xp = backend.xp
    bad = np.asarray(backend.to_numpy(~xp.all(xp.isfinite(Xd), axis=0)))
    col = int(np.flatnonzero(bad)[0])
    source = X[:, col]
    floating = xp.isdtype(X.dtype, "real floating")
    if floating and not bool(xp.all(xp.isfinite(source))):
        raise ValueError(
            f"{name} contains NaN or infinite values (the first in column {col}); clean or impute "
            "them first"
        )
    value = float(backend.to_numpy(xp.max(xp.abs(source))))
    target = numpy_float(backend, Xd.dtype)
    raise ValueError(_overflow_message(name, value, f"column {col}", target))


def _overflow_message(name: str, value: float, where: str, target: np.dtype) -> str:
    return (
        f"{name} has a value too large for the model's {target}: {value:.6g} (at {where}) is "
        f"finite in {name}'s own dtype but overflows to inf in {target}, whose largest value is "
        f"{float(np.finfo(target).max):.4g}; rescale it (e.g. standardise the columns) or build "
        "the model with dtype='float64'"
    )


def _check_shape(
    shape: tuple[int, ...], n_features: int | None, name: str, expected: str | None = None
) -> None:
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
            f"{name} has {shape[1]} features, but {expected or 'the model was built for'} "
            f"{n_features}"
        )


def check_finite_host(arr: np.ndarray, name: str, target: Any = None) -> None:
    """Raise `ValueError` if a host array holds NaN or inf, or, when ``target`` (a NumPy float
    dtype) is narrower than the array's, a finite value that overflows to inf in ``target``.

    Scanned in chunks of rows to keep the memory small. Without a narrowing cast it is one
    ``isfinite`` pass; with one, a per-column max and min (NaN propagates through both), so the
    overflow check costs no extra pass. Errors name the row and column of the first offender.
    """
    if arr.dtype.kind != "f":
        return  # integers and bools are finite and fit every float dtype we train in
    narrowing = target is not None and arr.dtype.itemsize > np.dtype(target).itemsize
    flat = arr.reshape(arr.shape[0], -1) if arr.ndim > 1 else arr.reshape(-1, 1)
    for start in range(0, flat.shape[0], _SCAN_ROWS):
        chunk = flat[start : start + _SCAN_ROWS]
        if not narrowing:
            if not np.isfinite(chunk).all():
                _raise_nonfinite(chunk, start, arr.ndim, name)
            continue
        big = np.maximum(chunk.max(axis=0), -chunk.min(axis=0))
        if not np.isfinite(big).all():
            _raise_nonfinite(chunk, start, arr.ndim, name)
        with np.errstate(over="ignore"):
            if np.isinf(big.astype(target)).any():
                row, col = np.argwhere(np.isinf(chunk.astype(target)))[0]
                where = _where(start + int(row), int(col), arr.ndim)
                value = float(chunk[row, col])
                raise ValueError(_overflow_message(name, value, where, np.dtype(target)))


def _where(row: int, col: int, ndim: int) -> str:
    return f"row {row}, column {col}" if ndim > 1 else f"index {row}"


def _raise_nonfinite(chunk: np.ndarray, start: int, ndim: int, name: str) -> None:
    row, col = np.argwhere(~np.isfinite(chunk))[0]
    where = _where(start + int(row), int(col), ndim)
    raise ValueError(
        f"{name} contains NaN or infinite values (the first, {chunk[row, col]}, at {where}); "
        "clean or impute them first"
    )


def host_labels(y: Any, n_samples: int, name: str = "y", target: Any = None) -> np.ndarray:
    """Labels or targets as a host NumPy array with ``n_samples`` rows; numeric and finite.

    ``target`` (a NumPy float dtype, for regression targets): also refuse finite values that
    overflow it.
    """
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
    check_finite_host(arr, name, target)
    return arr


def sample_weights(
    w: Any, n_samples: int, name: str = "sample_weight", target: Any = None
) -> np.ndarray | None:
    """Per-sample weights as float64 of shape (n,): finite, >= 0, not all zero, and (with
    ``target``, a NumPy float dtype) finite in ``target`` too."""
    if w is None:
        return None
    library = library_of(w)
    if library not in (None, "numpy"):
        w = to_numpy(w)
    arr = _host_numeric(w, name).astype(np.float64)
    if arr.shape != (n_samples,):
        raise ValueError(f"{name} must have shape ({n_samples},), got {arr.shape}")
    check_finite_host(arr, name, target)
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

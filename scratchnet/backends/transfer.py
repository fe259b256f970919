"""Moving arrays between libraries and devices, and telling which backend an array belongs to."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Backend
from .registry import get_backend


def library_of(x: Any) -> str | None:
    """The backend name of an array's library, or None for non-arrays (lists, scalars).

    Uses array-api-compat's type checks, which never import a library that is not loaded yet.
    """
    import array_api_compat as compat

    if isinstance(x, np.ndarray):
        return "numpy"
    if compat.is_cupy_array(x):
        return "cupy"
    if compat.is_torch_array(x):
        return "torch"
    if compat.is_jax_array(x):
        return "jax"
    if type(x).__module__.startswith("array_api_strict"):
        return "array_api_strict"
    return None


def describe_array(x: Any) -> str:
    """``"a torch array on cuda:0"``-style text for error messages."""
    library = library_of(x)
    if library is None:
        return f"a {type(x).__name__}"
    if library == "numpy":
        return "a NumPy array"
    import array_api_compat as compat

    return f"a {library} array on {compat.device(x)}"


def to_numpy(x: Any) -> Any:
    """Copy an array (or a dict/list/tuple of arrays) of any backend to NumPy on the host.

    Parameters
    ----------
    x : array, or dict/list/tuple of arrays
        Arrays of NumPy, CuPy, PyTorch, JAX or array-api-strict; other values pass through
        ``numpy.asarray``.

    Returns
    -------
    numpy.ndarray, or the same container of them

    Examples
    --------
    >>> import scratchnet as sn
    >>> sn.to_numpy([1.0, 2.0])
    array([1., 2.])
    """
    if isinstance(x, dict):
        return {k: to_numpy(v) for k, v in x.items()}
    if isinstance(x, list | tuple) and x and library_of(x[0]) is not None:
        return type(x)(to_numpy(v) for v in x)
    library = library_of(x)
    if library is None or library == "numpy":
        return np.asarray(x)
    # the shared default backend of that library copies arrays of any of its devices home
    return get_backend(library).to_numpy(x)


def to_device(x: Any, backend: str | Backend = "numpy", device: Any = None, dtype: Any = None):
    """Move an array (or a dict/list/tuple of arrays) to a backend and device.

    Parameters
    ----------
    x : array, or dict/list/tuple of arrays
        Arrays of any supported library, or array-likes.
    backend : str or Backend
        Target library name (see `get_backend`) or a `Backend`.
    device : optional
        Target device of that library (default: the library's default device).
    dtype : str, optional
        ``"float32"`` or ``"float64"`` to cast on the way; None keeps the dtype.

    Returns
    -------
    Array of the target backend, or the same container of them.

    Examples
    --------
    >>> import numpy as np, scratchnet as sn
    >>> y = sn.to_device(np.ones(3), "array_api_strict")
    >>> sn.to_numpy(y).sum()
    np.float64(3.0)
    """
    target = get_backend(backend, device)
    if isinstance(x, dict):
        return {k: to_device(v, target, dtype=dtype) for k, v in x.items()}
    if isinstance(x, list | tuple) and x and library_of(x[0]) is not None:
        return type(x)(to_device(v, target, dtype=dtype) for v in x)
    library = library_of(x)
    if library not in (None, "numpy", target.name):
        x = to_numpy(x)  # cross-library moves go through the host
    return target.asarray(x, dtype=None if dtype is None else target.dtype(dtype))

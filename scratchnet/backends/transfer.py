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


def to_numpy(x: Any, copy: bool | None = None) -> Any:
    """An array (or a dict/list/tuple of arrays) of any backend as NumPy on the host.

    Parameters
    ----------
    x : array, or dict/list/tuple of arrays
        Arrays of NumPy, CuPy, PyTorch, JAX or array-api-strict; other values pass through
        ``numpy.asarray``.
    copy : bool, optional
        None (the default) shares memory where the library hands over host memory (a NumPy
        array is returned as it is; PyTorch and JAX arrays on the CPU give views, JAX's
        read-only) and copies otherwise (CuPy and GPU tensors, array-api-strict). True always
        returns fresh, writable arrays: ask for it before writing into the result or keeping
        it while the source changes. False never copies and raises `ValueError` where the data
        is not in host memory.

    Returns
    -------
    numpy.ndarray, or the same container of them

    Examples
    --------
    >>> import numpy as np, scratchnet as sn
    >>> sn.to_numpy([1.0, 2.0])
    array([1., 2.])
    >>> a = np.zeros(2)
    >>> sn.to_numpy(a) is a, sn.to_numpy(a, copy=True) is a
    (True, False)
    """
    _check_copy(copy)
    if isinstance(x, dict):
        return {k: to_numpy(v, copy) for k, v in x.items()}
    if isinstance(x, list | tuple) and x and library_of(x[0]) is not None:
        return type(x)(to_numpy(v, copy) for v in x)
    library = library_of(x)
    if library is None or library == "numpy":
        try:
            return np.asarray(x) if copy is None else np.array(x, copy=copy)
        except ValueError as exc:
            raise ValueError(
                f"to_numpy(copy=False) cannot avoid a copy of {describe_array(x)}: {exc}"
            ) from exc
    # the shared default backend of that library brings arrays of any of its devices home
    return get_backend(library).to_numpy(x, copy=copy)


def to_device(
    x: Any,
    backend: str | Backend = "numpy",
    device: Any = None,
    dtype: Any = None,
    copy: bool | None = None,
):
    """Move an array (or a dict/list/tuple of arrays) to a backend and device, sharing memory
    through DLPack wherever both libraries can.

    Parameters
    ----------
    x : array, or dict/list/tuple of arrays
        Arrays of any supported library, or array-likes.
    backend : str or Backend
        Target library name (see `get_backend`) or a `Backend`.
    device : optional
        Target device of that library (default: the library's default device).
    dtype : str, optional
        ``"float32"`` or ``"float64"`` to cast on the way (a cast is a copy); None keeps the
        dtype.
    copy : bool, optional
        None (the default) shares memory where it can and copies where it must; True always
        copies; False never copies and raises `ValueError` where the move needs a copy.

    Returns
    -------
    Array of the target backend, or the same container of them.

    Notes
    -----
    An array already in host memory (NumPy, PyTorch or JAX on the CPU, array-api-strict) or on
    the same kind of GPU is handed over with DLPack: the result is a view of the same memory.
    A copy is made where the devices differ (host and GPU: through the host), where ``dtype``
    asks for a cast, where DLPack cannot carry the array (a tensor that requires a gradient,
    dtypes the target lacks, unaligned or non-contiguous NumPy data for JAX), and where a
    library whose arrays are always writable (PyTorch, CuPy) would receive a read-only buffer
    (a JAX array, a read-only NumPy array). The rules, case by case, are in docs/backends.md.

    Examples
    --------
    >>> import numpy as np, scratchnet as sn
    >>> y = sn.to_device(np.ones(3), "array_api_strict")
    >>> sn.to_numpy(y).sum()
    np.float64(3.0)
    """
    _check_copy(copy)
    target = get_backend(backend, device)
    if isinstance(x, dict):
        return {k: to_device(v, target, dtype=dtype, copy=copy) for k, v in x.items()}
    if isinstance(x, list | tuple) and x and library_of(x[0]) is not None:
        return type(x)(to_device(v, target, dtype=dtype, copy=copy) for v in x)
    dt = None if dtype is None else target.dtype(dtype)
    library = library_of(x)
    if library is None or library == target.name:
        out = target.asarray(x, dtype=dt, copy=copy)
    else:
        shared = _import_dlpack(x, target)
        if shared is None:  # another kind of device, or DLPack cannot carry it: via the host
            out = target.asarray(to_numpy(x), dtype=dt, copy=copy)
        else:
            # a writable library must not alias a buffer that its owner treats as immutable
            fresh = copy or (target.writable_imports and not _is_writeable(x))
            if fresh and data_pointer(shared) is not None and not _same_memory(x, shared):
                fresh = False  # the importer already copied (JAX does for unaligned NumPy data)
            out = target.asarray(shared, dtype=dt, copy=True if fresh else None)
    if copy is False and not _same_memory(x, out):
        raise ValueError(
            f"to_device(copy=False): moving {describe_array(x)} to {target.describe()}"
            f"{'' if dt is None else f' as {dtype}'} needs a copy (different device, a dtype "
            "cast, or a buffer the target cannot share); use copy=None"
        )
    return out


def _check_copy(copy: Any) -> None:
    if copy is not None and not isinstance(copy, bool):
        raise TypeError(f"copy must be None, True or False, got {copy!r}")


def _import_dlpack(x: Any, target: Backend) -> Any:
    """``x`` as an array of ``target``'s library sharing its memory, or None where DLPack
    cannot do it (another kind of device, an array DLPack cannot carry)."""
    get_device = getattr(x, "__dlpack_device__", None)
    wanted = target.dlpack_device()
    if get_device is None or wanted is None:
        return None
    try:
        kind = int(get_device()[0])
    except (TypeError, ValueError, RuntimeError, BufferError):
        return None
    if kind != wanted[0]:  # host <-> GPU: the data must be copied across anyway
        return None
    try:
        return target.from_dlpack(x)
    except (BufferError, TypeError, ValueError, RuntimeError, NotImplementedError):
        return None


def _is_writeable(x: Any) -> bool:
    import array_api_compat as compat

    return bool(compat.is_writeable_array(x))


def data_pointer(x: Any) -> int | None:
    """Address of an array's first element, or None where the library does not say.

    Two arrays with the same address share memory (one is a view of the other); used to prove
    that a move was zero-copy.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.arange(3.0)
    >>> data_pointer(a) == data_pointer(a[:2]), data_pointer(a) == data_pointer(a.copy())
    (True, False)
    """
    library = library_of(x)
    try:
        if library == "numpy":
            return int(x.__array_interface__["data"][0])
        if library == "torch":
            return int(x.data_ptr())
        if library == "jax":
            return int(x.unsafe_buffer_pointer())
        if library == "cupy":
            return int(x.data.ptr)
        if library == "array_api_strict":
            return int(np.from_dlpack(x).__array_interface__["data"][0])
    except (AttributeError, BufferError, RuntimeError, TypeError, ValueError):
        return None
    return None


def _same_memory(a: Any, b: Any) -> bool:
    pa, pb = data_pointer(a), data_pointer(b)
    return pa is not None and pa == pb

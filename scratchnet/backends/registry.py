"""Backend names to `Backend` objects, ``"auto"``, and what works on this machine."""

from __future__ import annotations

import importlib
from typing import Any

from .base import Backend, BackendStatus

BACKEND_NAMES = ("numpy", "cupy", "torch", "jax", "array_api_strict")

_MODULES = {
    "numpy": ("numpy_backend", "NumpyBackend"),
    "cupy": ("cupy_backend", "CupyBackend"),
    "torch": ("torch_backend", "TorchBackend"),
    "jax": ("jax_backend", "JaxBackend"),
    "array_api_strict": ("strict_backend", "StrictBackend"),
}
_ALIASES = {"np": "numpy", "pytorch": "torch", "strict": "array_api_strict"}


def normalize_name(name: str) -> str:
    """Canonical backend name for ``name`` (case-insensitive; a few aliases), or `ValueError`."""
    if not isinstance(name, str):
        raise TypeError(f"backend must be a name (str) or a Backend, got {type(name).__name__}")
    key = _ALIASES.get(name.strip().lower(), name.strip().lower())
    if key != "auto" and key not in _MODULES:
        valid = ", ".join(repr(n) for n in (*BACKEND_NAMES, "auto"))
        raise ValueError(f"unknown backend {name!r}; valid names are {valid}")
    return key


def get_backend(name: str | Backend = "numpy", device: Any = None) -> Backend:
    """The `Backend` for a library name and device.

    Parameters
    ----------
    name : {"numpy", "cupy", "torch", "jax", "array_api_strict", "auto"} or Backend
        ``"auto"`` picks CuPy when a CUDA device is usable, else NumPy.
    device : optional
        A device of that library, or a string it understands (``"cuda:1"``, ``"device1"``).

    Returns
    -------
    Backend

    Raises
    ------
    ValueError
        Unknown name or device.
    ImportError
        The library is not installed; the message names the extra to install.
    RuntimeError
        The library is installed but cannot run here (CuPy without a GPU).

    Examples
    --------
    >>> from scratchnet.backends import get_backend
    >>> get_backend("numpy").describe()
    'numpy on cpu'
    """
    if isinstance(name, Backend):
        return name if device is None else get_backend(name.name, device)
    key = normalize_name(name)
    if key == "auto":
        key = "cupy" if _cuda_usable() else "numpy"
    module_name, class_name = _MODULES[key]
    module = importlib.import_module(f"{__package__}.{module_name}")
    return getattr(module, class_name)(device)


def _cuda_usable() -> bool:
    try:
        from .cupy_backend import cuda_device_count, import_cupy

        return cuda_device_count(import_cupy()) > 0
    except ImportError:
        return False


def available_backends() -> dict[str, BackendStatus]:
    """Which backends work on this machine, and why the others do not.

    Returns
    -------
    dict
        Backend name -> `BackendStatus` (``.available``, ``.reason``), in `BACKEND_NAMES` order.

    Examples
    --------
    >>> import scratchnet as sn
    >>> sn.available_backends()["numpy"].available
    True
    """
    report = {}
    for name in BACKEND_NAMES:
        try:
            get_backend(name)
        except (ImportError, RuntimeError, ValueError) as exc:
            report[name] = BackendStatus(False, str(exc))
        else:
            report[name] = BackendStatus(True, "ok")
    return report

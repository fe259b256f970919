"""Backend names to `Backend` objects, ``"auto"``, and what works on this machine.

`get_backend` builds each (library, device) backend once and hands out that instance afterwards,
so a model, its copies and `to_numpy` share one object and the CUDA driver is asked only once.
The backend modules import optional libraries inside their functions; this module imports them by
name (`importlib`) only when a backend is asked for.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from .base import Backend, BackendStatus
from .devices import DeviceSpec, parse_device

BACKEND_NAMES = ("numpy", "cupy", "torch", "jax", "array_api_strict")

_MODULES = {
    "numpy": ("numpy_backend", "NumpyBackend"),
    "cupy": ("cupy_backend", "CupyBackend"),
    "torch": ("torch_backend", "TorchBackend"),
    "jax": ("jax_backend", "JaxBackend"),
    "array_api_strict": ("strict_backend", "StrictBackend"),
}
_ALIASES = {"np": "numpy", "pytorch": "torch", "strict": "array_api_strict"}

# (name, DeviceSpec) -> Backend: both the spec asked for and the device the backend resolved it to,
# so get_backend("torch") is get_backend("torch", "cpu"). Only successes are kept.
_CACHE: dict[tuple[str, DeviceSpec], Backend] = {}


def normalize_name(name: str) -> str:
    """Canonical backend name for ``name`` (case-insensitive; a few aliases), or `ValueError`."""
    if not isinstance(name, str):
        raise TypeError(f"backend must be a name (str) or a Backend, got {type(name).__name__}")
    key = _ALIASES.get(name.strip().lower(), name.strip().lower())
    if key != "auto" and key not in _MODULES:
        valid = ", ".join(repr(n) for n in (*BACKEND_NAMES, "auto"))
        raise ValueError(f"unknown backend {name!r}; valid names are {valid}")
    return key


def backend_module(name: str) -> ModuleType:
    """The module of a canonical backend name (imports no array library by itself)."""
    return importlib.import_module(f"{__package__}.{_MODULES[name][0]}")


def get_backend(name: str | Backend = "numpy", device: Any = None) -> Backend:
    """The `Backend` for a library name and device, built once and shared afterwards.

    Parameters
    ----------
    name : {"numpy", "cupy", "torch", "jax", "array_api_strict", "auto"} or Backend
        ``"auto"`` picks CuPy when a CUDA device is usable, else NumPy.
    device : optional
        Any spec `parse_device` accepts: None, ``"cpu"``, ``"cuda:1"``, ``"gpu:1"``, an index, a
        library device name (``"device1"``) or a device object of the library.

    Returns
    -------
    Backend
        The same object for the same name and device (``"cuda:1"``, ``1`` and
        ``torch.device("cuda:1")`` are one device).

    Raises
    ------
    ValueError
        Unknown name or device.
    ImportError
        The library is not installed; the message names the extra to install.
    RuntimeError
        The library is installed but cannot run here (CuPy without a GPU; the message keeps the
        CUDA error).

    Examples
    --------
    >>> from scratchnet.backends import get_backend
    >>> get_backend("numpy").describe()
    'numpy on cpu'
    >>> get_backend("numpy") is get_backend("np", "cpu")
    True
    """
    if isinstance(name, Backend):
        return name if device is None else get_backend(name.name, device)
    key = normalize_name(name)
    spec = parse_device(device)
    cached = _CACHE.get((key, spec))
    if cached is not None:
        return cached
    if key == "auto":
        backend = get_backend(_auto_choice(spec), device)
    else:
        backend = getattr(backend_module(key), _MODULES[key][1])(device)
        # one instance per resolved device; setdefault keeps the first if two threads race
        backend = _CACHE.setdefault((key, parse_device(backend.device)), backend)
    return _CACHE.setdefault((key, spec), backend)


def _auto_choice(spec: DeviceSpec) -> str:
    if spec.kind not in (None, "cuda"):
        return "numpy"
    return "cupy" if backend_module("cupy").probe(spec).available else "numpy"


def available_backends() -> dict[str, BackendStatus]:
    """Which backends work on this machine, and why the others do not.

    Asks each backend module's ``probe()``, which imports the library and checks its default
    device without building a backend.

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
    return {name: backend_module(name).probe() for name in BACKEND_NAMES}

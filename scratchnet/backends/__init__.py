"""Array libraries behind one interface; the only package that imports them.

A reading order for newcomers, each module importing only those before it:

* `devices` - `parse_device`: every ``device=`` argument, parsed once (imports nothing);
* `base` - the `Backend` interface, `DeviceRNG`, `BackendStatus` (imports nothing);
* `kernels`, `inplace` - optimiser, layer and head kernels, portable and in place; ``numba_kernels``
  (with its head loops in ``numba_head_loops``) fuses them where Numba is installed;
* ``numpy_backend``, ``cupy_backend``, ``torch_backend``, ``jax_backend``, ``strict_backend`` - one
  library each, with its ``probe(device)``; the library itself is imported inside functions;
* `registry` - `get_backend` (cached per library and device), ``"auto"``, `available_backends`;
* `transfer` - `to_device`, `to_numpy`, `library_of`, `data_pointer`.

>>> from scratchnet.backends import get_backend
>>> be = get_backend("numpy")
>>> be.xp.__name__
'array_api_compat.numpy'
"""

from .base import Backend, BackendStatus, DeviceRNG
from .devices import DeviceSpec, parse_device
from .registry import BACKEND_NAMES, available_backends, get_backend
from .transfer import data_pointer, describe_array, library_of, to_device, to_numpy

__all__ = [
    "BACKEND_NAMES",
    "Backend",
    "BackendStatus",
    "DeviceRNG",
    "DeviceSpec",
    "available_backends",
    "data_pointer",
    "describe_array",
    "get_backend",
    "library_of",
    "parse_device",
    "to_device",
    "to_numpy",
]

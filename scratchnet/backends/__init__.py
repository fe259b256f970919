"""Array libraries behind one interface; the only package that imports them.

>>> from scratchnet.backends import get_backend
>>> be = get_backend("numpy")
>>> be.xp.__name__
'array_api_compat.numpy'
"""

from .base import Backend, BackendStatus, DeviceRNG
from .registry import BACKEND_NAMES, available_backends, get_backend
from .transfer import describe_array, library_of, to_device, to_numpy

__all__ = [
    "BACKEND_NAMES",
    "Backend",
    "BackendStatus",
    "DeviceRNG",
    "available_backends",
    "describe_array",
    "get_backend",
    "library_of",
    "to_device",
    "to_numpy",
]

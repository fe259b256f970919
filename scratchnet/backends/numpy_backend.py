"""NumPy on the CPU: the reference backend."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Backend, BackendStatus, DeviceRNG
from .devices import parse_device
from .inplace import UfuncKernels
from .numba_kernels import numba_kernels


def resolve_device(device: Any = None) -> str:
    """``"cpu"`` for every spec of the CPU (None, ``"cpu"``, a CPU device object), else
    `ValueError`."""
    spec = parse_device(device)
    if spec.kind not in (None, "cpu") or spec.index not in (None, 0):
        raise ValueError(f"the numpy backend runs on device 'cpu' only, got {device!r}")
    return "cpu"


def probe(device: Any = None) -> BackendStatus:
    """Whether ``get_backend("numpy", device)`` works here (it does, for the CPU)."""
    return BackendStatus.of(resolve_device, device)


class NumpyRNG(DeviceRNG):
    """A `numpy.random.Generator` (PCG64) that draws float32 directly when asked."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._gen = np.random.default_rng(seed)

    def _init_args(self) -> tuple:
        return (self._seed,)

    def uniform(self, shape, dtype):
        return self._gen.random(shape, dtype=dtype)

    def normal(self, shape, dtype):
        return self._gen.standard_normal(shape, dtype=dtype)

    def integers(self, high, shape):
        return self._gen.integers(0, high, size=shape, dtype=np.int64)

    def get_state(self) -> dict:
        return {"host": self._gen.bit_generator.state}

    def set_state(self, state: dict) -> None:
        self._gen.bit_generator.state = state["host"]


class NumpyBackend(Backend):
    """NumPy arrays through ``array_api_compat.numpy``; optimiser updates run in place.

    The kernels are `NumbaKernels` (one fused loop per optimiser step) where Numba is
    installed (``pip install 'scratchnet[fast]'``) and ``SCRATCHNET_NUMBA`` is not ``"0"``, else
    `UfuncKernels`; both give the same bits.
    """

    name = "numpy"

    def __init__(self, device: Any = None) -> None:
        import array_api_compat.numpy as xp

        kernels = numba_kernels(xp) or UfuncKernels(xp, np)  # fused loops where Numba is here
        super().__init__(xp, resolve_device(device), kernels=kernels)

    def is_native(self, x: Any) -> bool:
        return isinstance(x, np.ndarray | np.generic)

    def asarray(self, x, dtype=None, copy=None):
        return np.array(x, dtype=dtype, copy=copy)

    def from_dlpack(self, x: Any) -> np.ndarray:
        # read-only where the source is (JAX arrays, read-only NumPy arrays)
        return np.from_dlpack(x)

    def make_rng(self, seed: int) -> DeviceRNG:
        return NumpyRNG(seed)

"""NumPy on the CPU: the reference backend."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Backend, DeviceRNG
from .inplace import UfuncKernels


class NumpyRNG(DeviceRNG):
    """A `numpy.random.Generator` (PCG64) that draws float32 directly when asked."""

    def __init__(self, seed: int) -> None:
        self._gen = np.random.default_rng(seed)

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
    """NumPy arrays through ``array_api_compat.numpy``; optimiser updates run in place."""

    name = "numpy"

    def __init__(self, device: Any = None) -> None:
        import array_api_compat.numpy as xp

        if device not in (None, "cpu"):
            raise ValueError(f"the numpy backend runs on device 'cpu' only, got {device!r}")
        super().__init__(xp, "cpu")
        self.kernels = UfuncKernels(xp, np)

    def is_native(self, x: Any) -> bool:
        return isinstance(x, np.ndarray | np.generic)

    def asarray(self, x, dtype=None, copy=None):
        return np.array(x, dtype=dtype, copy=copy)

    def make_rng(self, seed: int) -> DeviceRNG:
        return NumpyRNG(seed)

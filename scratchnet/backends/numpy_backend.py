"""NumPy on the CPU: the reference backend."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Backend, BackendStatus, DeviceRNG
from .devices import parse_device
from .inplace import UfuncKernels
from .numba_kernels import PROMOTE_AFTER_SECONDS, numba_kernels, numba_loaded, numba_policy


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

    The kernels are `UfuncKernels` or, where Numba is installed (``pip install
    'scratchnet[fast]'``), `NumbaKernels` (fused loops); both give the same bits. When the Numba
    loops take over follows ``SCRATCHNET_NUMBA`` (`numba_kernels.numba_policy`): ``1`` from the
    start, ``0`` never, ``auto`` (default) once this process has trained for
    `numba_kernels.PROMOTE_AFTER_SECONDS` (`record_training`, which `fit` calls after every
    epoch), or at once where an earlier fit of the process loaded them. `use_numba` switches now.
    """

    name = "numpy"

    def __init__(self, device: Any = None) -> None:
        import array_api_compat.numpy as xp

        policy = numba_policy()
        fused = None
        if policy == "eager" or (policy == "auto" and numba_loaded()):
            fused = numba_kernels(xp)
        super().__init__(xp, resolve_device(device), kernels=fused or UfuncKernels(xp, np))
        #: the Numba loops wait for `PROMOTE_AFTER_SECONDS` of training
        self.numba_deferred = policy == "auto" and fused is None
        self.trained_seconds = 0.0

    def record_training(self, seconds: float) -> bool:
        if not self.numba_deferred:
            return False
        self.trained_seconds += float(seconds)
        if self.trained_seconds < PROMOTE_AFTER_SECONDS:
            return False
        before = self.kernels
        self.use_numba()
        return self.kernels is not before

    def use_numba(self) -> bool:
        """Switch to the Numba loops now (unless ``SCRATCHNET_NUMBA=0`` or Numba is missing).

        Models built afterwards use them, and `fit` hands them to the layers of the model it
        trains. Returns True when the Numba loops are in use.
        """
        self.numba_deferred = False
        if self.kernels.name != "numba":
            fused = numba_kernels(self.xp)
            if fused is not None:
                self.kernels = fused
        return self.kernels.name == "numba"

    def is_native(self, x: Any) -> bool:
        return isinstance(x, np.ndarray | np.generic)

    def asarray(self, x, dtype=None, copy=None):
        return np.array(x, dtype=dtype, copy=copy)

    def from_dlpack(self, x: Any) -> np.ndarray:
        # read-only where the source is (JAX arrays, read-only NumPy arrays)
        return np.from_dlpack(x)

    def make_rng(self, seed: int) -> DeviceRNG:
        return NumpyRNG(seed)

"""CuPy on an NVIDIA GPU.

Importing CuPy succeeds on machines without a GPU; the first allocation then fails with a raw
CUDA runtime error. `CupyBackend` probes with ``cupy.cuda.is_available()`` first and turns a missing
device into a `RuntimeError` that says so (contract 7).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Backend, DeviceRNG
from .inplace import UfuncKernels

INSTALL_HINT = "pip install 'scratchnet[cuda12]' (CUDA 12) or 'scratchnet[cuda13]' (CUDA 13)"


def import_cupy() -> Any:
    """Import CuPy, or raise `ImportError` naming the extra to install."""
    try:
        import cupy
    except ImportError as exc:
        raise ImportError(
            f"the 'cupy' backend needs CuPy, which is not installed: {INSTALL_HINT}. ({exc})"
        ) from exc
    return cupy


def cuda_device_count(cupy: Any) -> int:
    """Number of usable CUDA devices; 0 where the driver or the device is missing."""
    try:
        if not cupy.cuda.is_available():
            return 0
        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:  # a broken driver raises CUDARuntimeError; treat it as no device
        return 0


class CupyRNG(DeviceRNG):
    """``cupy.random.default_rng``: masks and noise are drawn on the GPU."""

    def __init__(self, cupy: Any, seed: int) -> None:
        self._cupy = cupy
        self._seed = seed
        self._gen = cupy.random.default_rng(seed)
        self._draws = 0

    def uniform(self, shape, dtype):
        self._draws += 1
        return self._gen.random(shape, dtype=dtype)

    def normal(self, shape, dtype):
        self._draws += 1
        return self._gen.standard_normal(shape, dtype=dtype)

    def integers(self, high, shape):
        self._draws += 1
        return self._gen.integers(0, high, size=shape, dtype=np.int64)

    def get_state(self) -> dict:
        # CuPy's generators expose no state to save. A restored generator is reseeded from the
        # seed and the number of draws so far: deterministic, but not the uninterrupted stream.
        return {"seed": self._seed, "draws": self._draws}

    def set_state(self, state: dict) -> None:
        self._seed = int(state["seed"])
        self._draws = int(state["draws"])
        mixed = np.random.SeedSequence([self._seed, self._draws]).generate_state(1)[0]
        self._gen = self._cupy.random.default_rng(int(mixed))


class CupyBackend(Backend):
    """CuPy arrays on one GPU; optimiser updates run in place."""

    name = "cupy"

    def __init__(self, device: Any = None) -> None:
        cupy = import_cupy()
        count = cuda_device_count(cupy)
        if count == 0:
            raise RuntimeError(
                "CuPy is installed but no usable CUDA device was found (no GPU, or no driver). "
                "Use backend='numpy', or backend='auto' to pick CuPy only where a GPU works."
            )
        index = _device_index(device)
        if index >= count:
            raise ValueError(f"CUDA device {index} requested, but only {count} device(s) exist")
        import array_api_compat.cupy as xp

        self._cupy = cupy
        super().__init__(xp, cupy.cuda.Device(index))
        self.kernels = UfuncKernels(xp, cupy)

    def is_native(self, x: Any) -> bool:
        return isinstance(x, self._cupy.ndarray)

    def asarray(self, x, dtype=None, copy=None):
        with self.device:
            if self.is_native(x):
                if copy or x.device != self.device:
                    return self._cupy.array(x, dtype=dtype, copy=True)
                return x if dtype is None or x.dtype == dtype else x.astype(dtype)
            return self._cupy.asarray(np.asarray(x), dtype=dtype)

    def activate(self):
        return self.device  # a cupy.cuda.Device is a context manager making it current

    def to_numpy(self, x):
        return self._cupy.asnumpy(x)

    def synchronize(self) -> None:
        self.device.synchronize()

    def make_rng(self, seed: int) -> DeviceRNG:
        with self.device:
            return CupyRNG(self._cupy, seed)

    def describe(self) -> str:
        return f"cupy on cuda:{self.device.id}"

    def device_spec(self) -> int:
        return int(self.device.id)


def _device_index(device: Any) -> int:
    """Parse ``None``, ``0``, ``"cuda"``, ``"cuda:1"``, ``"gpu:1"`` or a CuPy device into an index."""
    if device is None:
        return 0
    if isinstance(device, int):
        return device
    if hasattr(device, "id"):
        return int(device.id)
    text = str(device).lower()
    for prefix in ("cuda:", "gpu:"):
        if text.startswith(prefix) and text[len(prefix) :].isdigit():
            return int(text[len(prefix) :])
    if text in ("cuda", "gpu"):
        return 0
    raise ValueError(
        f"cupy device must be an index, 'cuda', 'cuda:N' or a cupy.cuda.Device, got {device!r}"
    )

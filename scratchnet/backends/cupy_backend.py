"""CuPy on an NVIDIA GPU.

Importing CuPy succeeds on machines without a GPU; the first allocation then fails with a raw
CUDA runtime error. `CupyBackend` asks the driver first and turns a missing device into a
`RuntimeError` that says so and keeps the driver's own reason (contract 7), e.g.
``cudaErrorInsufficientDriver: CUDA driver version is insufficient for CUDA runtime version``.

CuPy allocates on the *current* device, which a ``cupy.cuda.Device`` makes current as a context
manager. Such an object keeps the device to restore on itself, so one object shared by two threads
restores the wrong device: `CupyBackend.activate` returns a fresh one per call.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Backend, BackendStatus, DeviceRNG
from .cupy_kernels import CupyFusedKernels
from .devices import parse_device

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


def cupy_namespace() -> Any:
    """The Array API namespace for CuPy arrays (``array_api_compat.cupy``)."""
    import array_api_compat.cupy as xp

    return xp


def cuda_devices(cupy: Any) -> tuple[int, str]:
    """Number of usable CUDA devices and, where there are none, the driver's reason.

    ``cupy.cuda.is_available()`` answers without raising but forgets why; when it says False,
    asking for the device count again recovers the CUDA error (e.g. ``CUDARuntimeError:
    cudaErrorNoDevice: no CUDA-capable device is detected``).
    """
    try:
        if cupy.cuda.is_available():
            return int(cupy.cuda.runtime.getDeviceCount()), "ok"
        count = int(cupy.cuda.runtime.getDeviceCount())
    except Exception as exc:  # CUDARuntimeError and friends: keep the driver's words
        return 0, f"cupy.cuda.is_available() is False: {type(exc).__name__}: {exc}"
    if count > 0:  # is_available() remembers an earlier failure; the driver works now
        return count, "ok"
    return 0, "cupy.cuda.is_available() is False: cupy.cuda.runtime.getDeviceCount() is 0"


def resolve_device(device: Any = None) -> tuple[Any, int]:
    """CuPy and the index of the requested device, or the error `get_backend` raises."""
    spec = parse_device(device)
    cupy = import_cupy()
    count, reason = cuda_devices(cupy)
    if count == 0:
        raise RuntimeError(
            f"CuPy is installed but no usable CUDA device was found (no GPU, or no driver): "
            f"{reason}. Use backend='numpy', or backend='auto' to pick CuPy only where a GPU works."
        )
    if spec.kind not in (None, "cuda"):
        raise ValueError(
            "cupy device must be an index, 'cuda', 'cuda:N', 'gpu:N' or a cupy.cuda.Device, "
            f"got {device!r}"
        )
    index = spec.index or 0
    if index >= count:
        raise ValueError(f"CUDA device {index} requested, but only {count} device(s) exist")
    return cupy, index


def probe(device: Any = None) -> BackendStatus:
    """Whether ``get_backend("cupy", device)`` works here; the reason keeps the CUDA error."""
    return BackendStatus.of(resolve_device, device)


class CupyRNG(DeviceRNG):
    """``cupy.random.default_rng`` on one GPU: masks and noise are drawn there."""

    def __init__(self, seed: int, device: int = 0) -> None:
        self._seed = seed
        self._device = int(device)
        self._draws = 0
        self._gen = self._new_generator(seed)

    def _init_args(self) -> tuple:
        return (self._seed, self._device)

    def _new_generator(self, seed: int) -> Any:
        cupy = import_cupy()
        with cupy.cuda.Device(self._device):  # the generator's state lives on that device
            return cupy.random.default_rng(seed)

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
        self._gen = self._new_generator(int(mixed))


class CupyBackend(Backend):
    """CuPy arrays on one GPU; optimiser updates run in place."""

    name = "cupy"
    writable_imports = True  # its arrays are always writable: see Backend.writable_imports

    def __init__(self, device: Any = None) -> None:
        cupy, index = resolve_device(device)
        xp = cupy_namespace()
        self._cupy = cupy
        super().__init__(xp, cupy.cuda.Device(index), kernels=CupyFusedKernels(xp, cupy))

    def is_native(self, x: Any) -> bool:
        return isinstance(x, self._cupy.ndarray)

    def asarray(self, x, dtype=None, copy=None):
        with self.activate():
            if self.is_native(x):
                if copy or x.device != self.device:
                    return self._cupy.array(x, dtype=dtype, copy=True)
                return x if dtype is None or x.dtype == dtype else x.astype(dtype)
            return self._cupy.asarray(np.asarray(x), dtype=dtype)

    def activate(self):
        # A new Device per call: each keeps its own stack of devices to restore (thread-safe).
        return self._cupy.cuda.Device(self.device.id)

    def to_numpy(self, x, copy=None):
        if copy is False:
            raise ValueError(
                "to_numpy(copy=False) cannot share memory with a CuPy array: it lives in GPU "
                "memory, which NumPy cannot read; use copy=None or True"
            )
        return self._cupy.asnumpy(x)

    def dlpack_device(self) -> tuple[int, int]:
        return (2, int(self.device.id))

    def from_dlpack(self, x):
        with self.activate():
            return self._cupy.from_dlpack(x)

    def synchronize(self) -> None:
        self.device.synchronize()

    def make_rng(self, seed: int) -> DeviceRNG:
        return CupyRNG(seed, self.device.id)

    def describe(self) -> str:
        return f"cupy on cuda:{self.device.id}"

    def device_spec(self) -> int:
        return int(self.device.id)

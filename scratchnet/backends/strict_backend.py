"""array-api-strict: the standard and nothing else.

Running the test suite on it proves that the math uses only the Array API. Its extra test devices
(``"device1"``, ``"device2"``) prove that code carries the device through. It has no random module,
so masks are drawn on the host and moved (see `HostRNG`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Backend, BackendStatus
from .devices import parse_device
from .kernels import PortableKernels


def import_strict() -> Any:
    """Import array-api-strict, or raise `ImportError` naming the extra to install."""
    try:
        import array_api_strict
    except ImportError as exc:
        raise ImportError(
            "the 'array_api_strict' backend needs array-api-strict, which is not installed: "
            f"pip install 'scratchnet[test]'. ({exc})"
        ) from exc
    return array_api_strict


def resolve_device(device: Any = None) -> Any:
    """The ``array_api_strict.Device`` for a device spec (None or ``"cpu"``: ``"CPU_DEVICE"``;
    ``"device1"``, ``"device2"``; a Device), or the error `get_backend` raises."""
    spec = parse_device(device)
    xp = import_strict()
    if spec.library == "array_api_strict":
        return spec.native
    if spec.kind in (None, "cpu") and spec.index in (None, 0):
        return xp.Device("CPU_DEVICE")
    try:
        if spec.index is not None:
            raise ValueError("its device names carry no index")
        return xp.Device(spec.kind)
    except ValueError as exc:
        raise ValueError(f"array_api_strict has no device {device!r} ({exc})") from exc


def probe(device: Any = None) -> BackendStatus:
    """Whether ``get_backend("array_api_strict", device)`` works here, and if not, why."""
    return BackendStatus.of(resolve_device, device)


class StrictBackend(Backend):
    """array-api-strict arrays on one of its devices (``"CPU_DEVICE"``, ``"device1"``, ``"device2"``)."""

    name = "array_api_strict"

    def __init__(self, device: Any = None) -> None:
        dev = resolve_device(device)
        xp = import_strict()
        super().__init__(xp, dev, kernels=PortableKernels(xp))
        self._array_type = type(xp.asarray(0.0))

    def is_native(self, x: Any) -> bool:
        return isinstance(x, self._array_type)

    def asarray(self, x, dtype=None, copy=None):
        if self.is_native(x):
            if x.device != self.device:
                x = x.to_device(self.device)
            return self.xp.asarray(x, dtype=dtype, copy=copy)
        return self.xp.asarray(np.asarray(x), dtype=dtype, device=self.device, copy=copy)

    def to_numpy(self, x, copy=None):
        view = np.from_dlpack(x)  # every array-api-strict device keeps its data in host memory
        return view if copy is False else view.copy()

    def from_dlpack(self, x):
        return self.xp.from_dlpack(x, device=self.device)

    def device_spec(self) -> str:
        return str(self.device._device)

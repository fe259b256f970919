"""array-api-strict: the standard and nothing else.

Running the test suite on it proves that the math uses only the Array API. Its extra test devices
(``"device1"``, ``"device2"``) prove that code carries the device through. It has no random module,
so masks are drawn on the host and moved (see `HostRNG`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Backend


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


class StrictBackend(Backend):
    """array-api-strict arrays on one of its devices (``"CPU_DEVICE"``, ``"device1"``, ``"device2"``)."""

    name = "array_api_strict"

    def __init__(self, device: Any = None) -> None:
        xp = import_strict()
        if device is None or device == "cpu":
            dev = xp.Device("CPU_DEVICE")
        elif isinstance(device, str):
            try:
                dev = xp.Device(device)
            except ValueError as exc:
                raise ValueError(f"array_api_strict has no device {device!r} ({exc})") from exc
        else:
            dev = device
        super().__init__(xp, dev)
        self._array_type = type(xp.asarray(0.0))

    def is_native(self, x: Any) -> bool:
        return isinstance(x, self._array_type)

    def asarray(self, x, dtype=None, copy=None):
        if self.is_native(x):
            if x.device != self.device:
                x = x.to_device(self.device)
            return self.xp.asarray(x, dtype=dtype, copy=copy)
        return self.xp.asarray(np.asarray(x), dtype=dtype, device=self.device, copy=copy)

    def to_numpy(self, x):
        return np.from_dlpack(x).copy()

    def device_spec(self) -> str:
        return str(self.device._device)

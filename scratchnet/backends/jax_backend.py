"""JAX arrays (CPU, GPU or TPU). JAX arrays are immutable, so the portable kernels are used."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Backend, DeviceRNG


def import_jax() -> Any:
    """Import JAX, or raise `ImportError` naming the extra to install."""
    try:
        import jax
    except ImportError as exc:
        raise ImportError(
            f"the 'jax' backend needs JAX, which is not installed: pip install 'scratchnet[jax]'. ({exc})"
        ) from exc
    return jax


class JaxRNG(DeviceRNG):
    """A threefry key that is split before each draw."""

    def __init__(self, jax: Any, device: Any, seed: int) -> None:
        self._jax = jax
        self._device = device
        self._key = jax.device_put(jax.random.key(int(seed)), device)  # draws happen there

    def _next(self):
        self._key, sub = self._jax.random.split(self._key)
        return sub

    def _put(self, a):
        return self._jax.device_put(a, self._device)

    def uniform(self, shape, dtype):
        return self._put(self._jax.random.uniform(self._next(), shape, dtype=dtype))

    def normal(self, shape, dtype):
        return self._put(self._jax.random.normal(self._next(), shape, dtype=dtype))

    def integers(self, high, shape):
        draw = self._jax.random.randint(self._next(), shape, 0, high)
        return self._put(draw)

    def get_state(self) -> dict:
        data = np.asarray(self._jax.random.key_data(self._key))
        return {"key": [int(v) for v in data.ravel()]}

    def set_state(self, state: dict) -> None:
        data = np.asarray(state["key"], dtype=np.uint32)
        self._key = self._jax.device_put(self._jax.random.wrap_key_data(data), self._device)


class JaxBackend(Backend):
    """JAX arrays on one JAX device (the default device unless one is given)."""

    name = "jax"

    def __init__(self, device: Any = None) -> None:
        jax = import_jax()
        import jax.numpy as xp

        self._jax = jax
        super().__init__(xp, _resolve_device(jax, device))

    def dtype(self, name: str) -> Any:
        if name == "float64" and not self._jax.config.jax_enable_x64:
            raise ValueError(
                "JAX runs in 32-bit mode and would silently truncate float64 to float32. "
                "Set the environment variable JAX_ENABLE_X64=1 before importing JAX, "
                "or use dtype='float32'."
            )
        return super().dtype(name)

    def is_native(self, x: Any) -> bool:
        return isinstance(x, self._jax.Array)

    def array_device(self, x: Any) -> Any:
        devices = x.devices()
        return next(iter(devices)) if len(devices) == 1 else devices

    def asarray(self, x, dtype=None, copy=None):
        if not self.is_native(x):
            x = np.asarray(x)
        out = self.xp.asarray(x, dtype=dtype)
        return self._jax.device_put(out, self.device)

    def to_numpy(self, x):
        return np.asarray(x)

    def synchronize(self) -> None:
        # Block on a tiny computation placed on the device: JAX executes in order per device.
        self._jax.device_put(np.zeros(1), self.device).block_until_ready()

    def make_rng(self, seed: int) -> DeviceRNG:
        return JaxRNG(self._jax, self.device, seed)

    def device_spec(self) -> str:
        return f"{self.device.platform}:{self.device.id}"


def _resolve_device(jax: Any, device: Any) -> Any:
    if device is None:
        return jax.devices()[0]
    if isinstance(device, str):
        platform, _, index = device.partition(":")
        platform = {"cuda": "gpu"}.get(platform, platform)
        try:
            devices = jax.devices(platform)
        except RuntimeError as exc:
            raise ValueError(f"JAX has no {platform!r} devices here ({exc})") from exc
        i = int(index) if index.isdigit() else 0
        if i >= len(devices):
            raise ValueError(f"JAX device {device!r} requested, but only {len(devices)} exist")
        return devices[i]
    return device

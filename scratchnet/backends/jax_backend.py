"""JAX arrays (CPU, GPU or TPU). JAX arrays are immutable, so the portable kernels are used."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Backend, BackendStatus, DeviceRNG
from .devices import parse_device
from .kernels import PortableKernels


def import_jax() -> Any:
    """Import JAX, or raise `ImportError` naming the extra to install."""
    try:
        import jax
    except ImportError as exc:
        raise ImportError(
            f"the 'jax' backend needs JAX, which is not installed: pip install 'scratchnet[jax]'. ({exc})"
        ) from exc
    return jax


def resolve_device(device: Any = None) -> Any:
    """The JAX device for a device spec (``"cpu"``, ``"gpu:1"``, ``"cuda:1"``, ``"tpu:0"``, a JAX
    device; None: JAX's default device), or the error `get_backend` raises."""
    spec = parse_device(device)
    jax = import_jax()
    if spec.library == "jax":
        return spec.native
    if spec.kind is None:
        return jax.devices()[0]
    platform = {"cuda": "gpu"}.get(spec.kind, spec.kind)
    try:
        devices = jax.devices(platform)
    except RuntimeError as exc:
        raise ValueError(f"JAX has no {platform!r} devices here ({exc})") from exc
    index = spec.index or 0
    if index >= len(devices):
        raise ValueError(f"JAX device {device!r} requested, but only {len(devices)} exist")
    return devices[index]


def probe(device: Any = None) -> BackendStatus:
    """Whether ``get_backend("jax", device)`` works here, and if not, why."""
    return BackendStatus.of(resolve_device, device)


def device_spec(device: Any) -> str:
    """``"cpu:0"``-style text that `resolve_device` turns back into ``device``."""
    return f"{device.platform}:{device.id}"


class JaxRNG(DeviceRNG):
    """A threefry key that is split before each draw, kept on one device."""

    def __init__(self, seed: int, device: Any = None) -> None:
        import jax

        self._seed = seed
        self._device = resolve_device(device)
        self._key = jax.device_put(jax.random.key(int(seed)), self._device)  # draws happen there

    def _init_args(self) -> tuple:
        return (self._seed, device_spec(self._device))

    def _next(self):
        import jax

        self._key, sub = jax.random.split(self._key)
        return sub

    def _put(self, a):
        import jax

        return jax.device_put(a, self._device)

    def uniform(self, shape, dtype):
        import jax

        return self._put(jax.random.uniform(self._next(), shape, dtype=dtype))

    def normal(self, shape, dtype):
        import jax

        return self._put(jax.random.normal(self._next(), shape, dtype=dtype))

    def integers(self, high, shape):
        import jax

        return self._put(jax.random.randint(self._next(), shape, 0, high))

    def get_state(self) -> dict:
        import jax

        data = np.asarray(jax.random.key_data(self._key))
        return {"key": [int(v) for v in data.ravel()]}

    def set_state(self, state: dict) -> None:
        import jax

        data = np.asarray(state["key"], dtype=np.uint32)
        self._key = jax.device_put(jax.random.wrap_key_data(data), self._device)


class JaxBackend(Backend):
    """JAX arrays on one JAX device (the default device unless one is given)."""

    name = "jax"

    def __init__(self, device: Any = None) -> None:
        dev = resolve_device(device)
        import jax
        import jax.numpy as xp

        self._jax = jax
        super().__init__(xp, dev, kernels=PortableKernels(xp))

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
            x = np.asarray(x)  # jnp.asarray copies host data (measured: JAX 0.10, CPU)
        out = self.xp.asarray(x, dtype=dtype, copy=True if copy else None)
        return self._jax.device_put(out, self.device)

    def to_numpy(self, x, copy=None):
        if copy is False:
            if {d.platform for d in x.devices()} != {"cpu"}:
                raise ValueError(
                    f"to_numpy(copy=False) cannot share memory with a JAX array on {x.devices()}: "
                    "NumPy reads host memory only; use copy=None or True"
                )
            return np.from_dlpack(x)  # a read-only view: JAX arrays are immutable
        return np.asarray(x) if copy is None else np.array(x, copy=True)

    def dlpack_device(self) -> tuple[int, int] | None:
        kind = {"cpu": 1, "gpu": 2, "cuda": 2, "rocm": 10}.get(self.device.platform)
        if kind is None:
            return None
        return (kind, 0 if kind == 1 else int(getattr(self.device, "local_hardware_id", 0)))

    def from_dlpack(self, x):
        return self.xp.from_dlpack(x)

    def synchronize(self) -> None:
        # Block on a tiny computation placed on the device: JAX executes in order per device.
        self._jax.device_put(np.zeros(1), self.device).block_until_ready()

    def make_rng(self, seed: int) -> DeviceRNG:
        return JaxRNG(seed, self.device)

    def device_spec(self) -> str:
        return device_spec(self.device)

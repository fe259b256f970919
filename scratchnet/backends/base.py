"""The one place that knows array libraries: the `Backend` interface.

A backend bundles what the Array API standard leaves out: which namespace and device to use, how to
bring arrays in (`asarray`) and home (`to_numpy`), a seeded random generator that draws on the device,
and `synchronize()` for honest timings on asynchronous devices. Math files never import an array
library; they receive a `Backend` (or call ``array_namespace`` on their inputs) and use ``xp.*`` only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np

FLOAT_DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class BackendStatus:
    """Whether a backend works on this machine and, if not, why.

    Attributes
    ----------
    available : bool
        True when ``get_backend(name)`` succeeds here.
    reason : str
        "ok" when available, else what is missing and how to get it.
    """

    available: bool
    reason: str

    def __bool__(self) -> bool:
        return self.available

    @classmethod
    def of(cls, check: Callable[..., object], *args: Any) -> BackendStatus:
        """Run ``check(*args)``; available unless it raises ImportError, RuntimeError or
        ValueError, whose message becomes the reason."""
        try:
            check(*args)
        except (ImportError, RuntimeError, ValueError) as exc:
            return cls(False, str(exc))
        return cls(True, "ok")


class DeviceRNG(ABC):
    """Seeded random numbers drawn on a backend's device (contract 5).

    Subclasses implement `uniform`, `normal`, `integers` and the state pair; `bernoulli` is derived
    from `uniform`. Every method returns an array of the backend with the requested shape and dtype.

    Generators hold no library modules. They copy and pickle through their constructor arguments
    (`_init_args`: the seed and a plain device spec) and `get_state`, so ``copy.deepcopy(rng)`` and
    ``pickle.loads(pickle.dumps(rng))`` continue the same stream (CuPy's: see `CupyRNG`).
    """

    @abstractmethod
    def uniform(self, shape: tuple[int, ...], dtype: Any) -> Any:
        """Samples of U[0, 1) with the given shape and dtype."""

    @abstractmethod
    def normal(self, shape: tuple[int, ...], dtype: Any) -> Any:
        """Samples of N(0, 1) with the given shape and dtype."""

    @abstractmethod
    def integers(self, high: int, shape: tuple[int, ...]) -> Any:
        """Integers drawn uniformly from [0, high) (int64; int32 under JAX's 32-bit mode)."""

    @abstractmethod
    def get_state(self) -> dict:
        """The generator's state as a JSON-friendly dict (lists of ints, strings)."""

    @abstractmethod
    def set_state(self, state: dict) -> None:
        """Restore a state from `get_state`."""

    def bernoulli(self, shape: tuple[int, ...], p: float, dtype: Any, xp: Any) -> Any:
        """A 0/1 mask with P(1) = p, as a float array of ``dtype`` (dropout's M in the notes)."""
        return xp.astype(self.uniform(shape, dtype) < p, dtype)

    def _init_args(self) -> tuple | None:
        """Arguments that rebuild this generator's class (before `set_state`); None where a
        subclass does not say, which copies and pickles its attributes as they are."""
        return None

    def __getstate__(self) -> dict:
        args = self._init_args()
        if args is None:
            return dict(self.__dict__)
        return {"__init_args__": args, "__rng_state__": self.get_state()}

    def __setstate__(self, saved: dict) -> None:
        if "__init_args__" not in saved:
            self.__dict__.update(saved)
            return
        self.__init__(*saved["__init_args__"])
        self.set_state(saved["__rng_state__"])


class HostRNG(DeviceRNG):
    """Draws with a host ``numpy.random.Generator`` and moves the result to the device.

    Used by libraries without a random module of their own (array-api-strict); exact and portable,
    but each draw crosses the host-device boundary.
    """

    def __init__(self, seed: int, backend: Backend) -> None:
        self._seed = seed
        self._backend = backend
        self._gen = np.random.default_rng(seed)

    def _init_args(self) -> tuple:
        return (self._seed, self._backend)

    def uniform(self, shape, dtype):
        return self._backend.asarray(self._gen.random(shape), dtype=dtype)

    def normal(self, shape, dtype):
        return self._backend.asarray(self._gen.standard_normal(shape), dtype=dtype)

    def integers(self, high, shape):
        draw = self._gen.integers(0, high, size=shape, dtype=np.int64)
        return self._backend.asarray(draw)

    def get_state(self) -> dict:
        """JSON-friendly state, so that training can resume exactly."""
        return {"host": self._gen.bit_generator.state}

    def set_state(self, state: dict) -> None:
        self._gen.bit_generator.state = state["host"]


class Backend(ABC):
    """An array library on one device.

    Attributes
    ----------
    name : str
        Registry name ("numpy", "cupy", "torch", "jax", "array_api_strict").
    xp : module
        The Array API namespace (the array-api-compat wrapper where one is needed).
    device : object
        The library's own device object; pass it on, never a string literal.
    kernels : object
        Element-wise optimiser kernels (`scratchnet.backends.kernels.PortableKernels` or a faster
        subclass), chosen by the concrete backend.

    `scratchnet.backends.get_backend` shares one instance per library and device, so a backend is
    a handle rather than a value: copying returns the same object, and pickling rebuilds it from
    its class and `device_spec`.
    """

    name: str = ""

    def __init__(self, xp: Any, device: Any, kernels: Any) -> None:
        self.xp = xp
        self.device = device
        self.kernels = kernels

    def record_training(self, seconds: float) -> bool:
        """Count ``seconds`` of training on this backend; True when that made it switch to
        faster kernels (then ``kernels`` is a new object that gives the same bits, and models
        hand it to their layers). Only the NumPy backend switches (to Numba's loops)."""
        return False

    # ----- dtypes --------------------------------------------------------------------------
    def dtype(self, name: str) -> Any:
        """The library's float dtype object for ``"float32"`` or ``"float64"``."""
        if name not in FLOAT_DTYPES:
            raise ValueError(f"dtype must be one of {FLOAT_DTYPES}, got {name!r}")
        return getattr(self.xp, name)

    # ----- arrays in and out ---------------------------------------------------------------
    @abstractmethod
    def is_native(self, x: Any) -> bool:
        """True when ``x`` is an array of this backend's library."""

    def array_device(self, x: Any) -> Any:
        """The device an array of this library lives on."""
        from array_api_compat import device

        return device(x)

    @abstractmethod
    def asarray(self, x: Any, dtype: Any = None, copy: bool | None = None) -> Any:
        """Bring ``x`` (a NumPy array, a nested list or an array of this library) to this device.

        Parameters
        ----------
        x : array_like
        dtype : dtype object, optional
            A dtype of this library (see `dtype`); ``None`` keeps the input's.
        copy : bool, optional
            True forces a copy; None copies only when needed.
        """

    def to_numpy(self, x: Any, copy: bool | None = None) -> np.ndarray:
        """An array of this library, on any of its devices, as a host `numpy.ndarray`.

        Parameters
        ----------
        x : array of this library
        copy : bool, optional
            None (the default) shares memory where the library hands over host memory
            (NumPy itself, PyTorch and JAX on the CPU) and copies otherwise; True always
            returns a fresh, writable array; False never copies and raises `ValueError` where
            the data is not in host memory.
        """
        try:
            return np.asarray(x) if copy is None else np.array(x, copy=copy)
        except ValueError as exc:
            raise ValueError(
                f"to_numpy(copy=False) cannot share this array's memory: {exc}"
            ) from exc

    # ----- DLPack: sharing memory with other libraries -------------------------------------
    #: True where every array of the library is writable (PyTorch, CuPy). Such a backend copies
    #: what it imports from a read-only buffer (a JAX array, a read-only NumPy array), so that an
    #: in-place operation cannot change memory whose owner treats it as immutable.
    writable_imports: bool = False

    def dlpack_device(self) -> tuple[int, int] | None:
        """This backend's device in DLPack's numbering, ``(device_type, index)``: ``(1, 0)`` for
        the CPU, ``(2, N)`` for CUDA device N; None where DLPack cannot reach it."""
        return (1, 0)

    def from_dlpack(self, x: Any) -> Any:
        """An array of this library sharing the memory of ``x`` (any object with
        ``__dlpack__``), on the device ``x`` lives on.

        Raises
        ------
        BufferError, TypeError, RuntimeError, ValueError
            Where the two libraries cannot exchange this array (unsupported dtype, a tensor
            that requires a gradient, a device this library cannot address); callers then copy
            through the host.
        """
        return self.xp.from_dlpack(x)

    def synchronize(self) -> None:
        """Block until queued device work has finished (a no-op on the CPU)."""

    def activate(self) -> AbstractContextManager:
        """Make this backend's device the current one while a model computes (CuPy allocates on
        the current device; the other libraries take the device from their arrays)."""
        return nullcontext()

    def quiet_floating_point(self) -> AbstractContextManager:
        """Silence overflow/invalid warnings inside training, where a diverging loss is caught
        and reported once by the NaN guard. Only NumPy-based libraries (NumPy itself and
        array-api-strict) warn per operation; the others are unaffected."""
        return np.errstate(over="ignore", invalid="ignore", divide="ignore")

    def make_rng(self, seed: int) -> DeviceRNG:
        """A generator drawing on this device, seeded with ``seed``."""
        return HostRNG(seed, self)

    def describe(self) -> str:
        """A short human-readable description, e.g. ``"numpy on cpu"``."""
        return f"{self.name} on {self.device}"

    def device_spec(self) -> Any:
        """A plain value (str or int) that `get_backend` turns back into this device."""
        return str(self.device)

    def __reduce__(self):
        return (type(self), (self.device_spec(),))

    def __copy__(self) -> Backend:
        return self

    def __deepcopy__(self, memo: dict) -> Backend:
        return self  # a handle on a library and device, shared like the cached instance it is

    def __repr__(self) -> str:
        return f"Backend({self.name!r}, device={self.device!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Backend)
            and other.name == self.name
            and str(other.device) == str(self.device)
        )

    def __hash__(self) -> int:
        return hash((self.name, str(self.device)))

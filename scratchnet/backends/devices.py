"""Every device argument scratchnet accepts, parsed in one place.

`parse_device` turns what a user may pass as ``device=`` into a `DeviceSpec`: a kind (``"cpu"``,
``"cuda"``, or a library's own device name such as array-api-strict's ``"device1"``) and an index.
Each backend then maps the spec onto its library's device object, and `get_backend` uses it as the
cache key, so ``"gpu:1"``, ``"cuda:1"``, ``1`` and ``torch.device("cuda", 1)`` name one device.

This module imports nothing: library device objects are recognised by their attributes.

>>> parse_device("gpu:1")
DeviceSpec(kind='cuda', index=1)
>>> parse_device(None)
DeviceSpec(kind=None, index=None)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# Kinds matched case-insensitively and renamed; other names keep their spelling (array-api-strict's
# device names are case-sensitive).
_KINDS = {
    "cpu": "cpu",
    "cpu_device": "cpu",  # array-api-strict's default device
    "cuda": "cuda",
    "gpu": "cuda",  # JAX's platform name for CUDA devices
    "tpu": "tpu",
    "mps": "mps",
    "xpu": "xpu",
}
_NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::([0-9]+))?")

EXPECTED = (
    "None, a GPU index (0, 1, ...), 'cpu', 'cuda', 'cuda:N', 'gpu', 'gpu:N', a device name of the "
    "library ('device1'), or a device object of the library (torch.device, cupy.cuda.Device, a JAX "
    "device, array_api_strict.Device)"
)


@dataclass(frozen=True)
class DeviceSpec:
    """A parsed device argument.

    Attributes
    ----------
    kind : str or None
        ``"cpu"``, ``"cuda"``, another platform (``"tpu"``, ``"mps"``), a library's own device name
        (``"device1"``), or None for "the library's default device".
    index : int or None
        Device number within the kind; None when not given.
    library : str or None
        ``"torch"``, ``"cupy"``, ``"jax"`` or ``"array_api_strict"`` when the spec came from that
        library's device object, else None.
    native : object or None
        That device object, passed through so its library can use it unchanged.

    Two specs are equal when kind and index are: ``"cuda:1"`` equals ``torch.device("cuda:1")``.
    """

    kind: str | None = None
    index: int | None = None
    library: str | None = field(default=None, compare=False, repr=False)
    native: Any = field(default=None, compare=False, repr=False)

    @property
    def is_default(self) -> bool:
        """True when no device was named (``device=None``)."""
        return self.kind is None

    def __str__(self) -> str:
        if self.kind is None:
            return "default"
        return self.kind if self.index is None else f"{self.kind}:{self.index}"


def parse_device(spec: Any) -> DeviceSpec:
    """Parse a ``device=`` argument.

    Parameters
    ----------
    spec : None, int, str, DeviceSpec or a library's device object
        None (the library's default device); an int N (CUDA device N); ``"cpu"``; ``"cuda"``,
        ``"cuda:N"``, ``"gpu"``, ``"gpu:N"`` (CUDA); another name, optionally ``":N"``
        (``"tpu:0"``, ``"device1"``); a ``torch.device``, ``cupy.cuda.Device``, JAX device or
        ``array_api_strict.Device``.

    Returns
    -------
    DeviceSpec

    Raises
    ------
    ValueError
        Anything else (negative indices, floats, malformed strings); the message lists what is
        accepted.

    Examples
    --------
    >>> parse_device(0)
    DeviceSpec(kind='cuda', index=0)
    >>> str(parse_device("CUDA"))
    'cuda'
    >>> parse_device("cuda:x")
    Traceback (most recent call last):
    ...
    ValueError: device must be None, a GPU index (0, 1, ...), 'cpu', 'cuda', 'cuda:N', 'gpu', 'gpu:N', a device name of the library ('device1'), or a device object of the library (torch.device, cupy.cuda.Device, a JAX device, array_api_strict.Device); got 'cuda:x'
    """
    if spec is None:
        return DeviceSpec()
    if isinstance(spec, DeviceSpec):
        return spec
    if isinstance(spec, bool):
        raise ValueError(f"device must be {EXPECTED}; got {spec!r}")
    if hasattr(type(spec), "__index__") and not isinstance(spec, str):  # int, numpy integers
        index = spec.__index__()
        if index < 0:
            raise ValueError(f"device must be {EXPECTED}; got {spec!r}")
        return DeviceSpec("cuda", index)
    if isinstance(spec, str):
        return _parse_name(spec, spec)
    return _parse_object(spec)


def _parse_name(text: str, spec: Any, library: str | None = None, native: Any = None) -> DeviceSpec:
    match = _NAME.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"device must be {EXPECTED}; got {spec!r}")
    name, index = match.groups()
    kind = _KINDS.get(name.lower(), name)
    return DeviceSpec(kind, None if index is None else int(index), library, native)


def _parse_object(obj: Any) -> DeviceSpec:
    """A library's device object, recognised without importing the library."""
    module = type(obj).__module__ or ""
    root = module.partition(".")[0]
    if root == "torch" and hasattr(obj, "type") and hasattr(obj, "index"):
        return DeviceSpec(_KINDS.get(obj.type, obj.type), obj.index, "torch", obj)
    if root in ("jax", "jaxlib") and hasattr(obj, "platform") and hasattr(obj, "id"):
        return DeviceSpec(_KINDS.get(obj.platform, obj.platform), int(obj.id), "jax", obj)
    if root in ("cupy", "cupy_backends") and hasattr(obj, "id"):
        return DeviceSpec("cuda", int(obj.id), "cupy", obj)
    if root == "array_api_strict" and isinstance(getattr(obj, "_device", None), str):
        return _parse_name(obj._device, obj, "array_api_strict", obj)
    raise ValueError(f"device must be {EXPECTED}; got {obj!r}")

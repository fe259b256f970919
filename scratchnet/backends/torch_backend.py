"""PyTorch tensors (CPU or CUDA) through ``array_api_compat.torch``; no autograd is used."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from .base import Backend, BackendStatus, DeviceRNG
from .devices import parse_device
from .torch_kernels import TorchFusedKernels


def import_torch() -> Any:
    """Import PyTorch, or raise `ImportError` naming the extra to install."""
    try:
        import torch
    except ImportError as exc:
        raise ImportError(
            "the 'torch' backend needs PyTorch, which is not installed: "
            f"pip install 'scratchnet[torch]'. ({exc})"
        ) from exc
    return torch


def resolve_device(device: Any = None) -> tuple[Any, Any]:
    """PyTorch and the ``torch.device`` for a device spec, or the error `get_backend` raises."""
    spec = parse_device(device)
    torch = import_torch()
    if spec.library == "torch":
        dev = spec.native
    elif spec.kind is None:
        dev = torch.device("cpu")
    else:
        try:
            dev = torch.device(spec.kind, spec.index)
        except (RuntimeError, TypeError, ValueError) as exc:
            raise ValueError(
                f"torch device must be 'cpu', 'cuda', 'cuda:N' or a torch.device, got {device!r}"
            ) from exc
    if dev.type == "cpu":  # tensors report "cpu", never "cpu:0"
        return torch, torch.device("cpu")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"torch device {str(dev)!r} was requested, but PyTorch finds no usable CUDA device; "
            "use device='cpu'"
        )
    if dev.type == "cuda" and dev.index is None:  # tensors report "cuda:N", never "cuda"
        dev = torch.device("cuda", torch.cuda.current_device())
    return torch, dev


def probe(device: Any = None) -> BackendStatus:
    """Whether ``get_backend("torch", device)`` works here, and if not, why."""
    return BackendStatus.of(resolve_device, device)


class TorchRNG(DeviceRNG):
    """A `torch.Generator` on one device (``"cpu"``, ``"cuda:0"``; kept as text, not objects)."""

    def __init__(self, seed: int, device: Any = "cpu") -> None:
        torch = import_torch()
        self._seed = seed
        self._device = str(device)
        self._gen = torch.Generator(device=self._device)
        self._gen.manual_seed(int(seed))

    def _init_args(self) -> tuple:
        return (self._seed, self._device)

    def uniform(self, shape, dtype):
        import torch

        return torch.rand(shape, generator=self._gen, dtype=dtype, device=self._device)

    def normal(self, shape, dtype):
        import torch

        return torch.randn(shape, generator=self._gen, dtype=dtype, device=self._device)

    def integers(self, high, shape):
        import torch

        return torch.randint(
            0, high, shape, generator=self._gen, dtype=torch.int64, device=self._device
        )

    def get_state(self) -> dict:
        raw = self._gen.get_state().numpy().tobytes()
        return {"torch": base64.b64encode(raw).decode("ascii")}

    def set_state(self, state: dict) -> None:
        import torch

        raw = np.frombuffer(base64.b64decode(state["torch"]), dtype=np.uint8).copy()
        self._gen.set_state(torch.from_numpy(raw))


class TorchBackend(Backend):
    """PyTorch tensors on ``"cpu"`` or ``"cuda[:N]"``; optimiser updates run in place."""

    name = "torch"
    writable_imports = True  # its arrays are always writable: see Backend.writable_imports

    def __init__(self, device: Any = None) -> None:
        torch, dev = resolve_device(device)
        import array_api_compat.torch as xp

        self._torch = torch
        super().__init__(xp, dev, kernels=TorchFusedKernels(xp))

    def is_native(self, x: Any) -> bool:
        return isinstance(x, self._torch.Tensor)

    def array_device(self, x: Any) -> Any:
        return x.device

    def asarray(self, x, dtype=None, copy=None):
        if self.is_native(x):
            x = x.detach()
            out = x.to(device=self.device, dtype=x.dtype if dtype is None else dtype)
        else:
            host = np.asarray(x)
            if not host.flags.writeable:  # torch cannot share memory with a read-only array
                host = host.copy()
            out = self._torch.as_tensor(host, dtype=dtype, device=self.device)
        return out.clone() if copy else out

    def to_numpy(self, x, copy=None):
        x = x.detach()
        if x.device.type != "cpu":
            if copy is False:
                raise ValueError(
                    f"to_numpy(copy=False) cannot share memory with a tensor on {x.device}: "
                    "NumPy reads host memory only; use copy=None or True"
                )
            return x.cpu().numpy()  # the transfer to the host is the copy
        out = x.numpy()  # shares the tensor's memory
        return out.copy() if copy else out

    def dlpack_device(self) -> tuple[int, int] | None:
        if self.device.type == "cpu":
            return (1, 0)
        if self.device.type == "cuda":
            return (2, int(self.device.index))
        return None

    def from_dlpack(self, x):
        return self._torch.from_dlpack(x)

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            self._torch.cuda.synchronize(self.device)

    def make_rng(self, seed: int) -> DeviceRNG:
        return TorchRNG(seed, self.device)

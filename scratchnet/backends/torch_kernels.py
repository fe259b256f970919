"""In-place optimiser kernels for PyTorch, with Adam as PyTorch's own fused multi-tensor kernel.

The other updates chain PyTorch's in-place methods (``mul_``, ``add_``, ``addcmul_``,
``addcdiv_``), one pass each over the flat parameter buffer. Adam is the most used, and its chain
needs five passes plus a temporary for the denominator; ``torch._fused_adam_`` (the kernel behind
``torch.optim.Adam(fused=True)``, on the CPU since PyTorch 2.4) reads p, g, m and v once and
writes them once, over PyTorch's thread pool.

That kernel derives the bias corrections from a step count. The model's optimiser hands over the
corrections c1 = 1 - b1^t and c2 = 1 - b2^t instead, so the kernel runs with an infinite step
count (its own corrections are then exactly 1) and the corrections are folded into the rate and
epsilon, an exact rewriting of the formula::

    p - (lr / c1) m / (sqrt(v) / sqrt(c2) + eps)  =  p - (lr sqrt(c2) / c1) m / (sqrt(v) + eps sqrt(c2))

The rounding differs from the portable kernels' (as the chained methods' does):
``tests/test_fused_layers.py`` compares both with them to float tolerance. Where the kernel is
missing (older PyTorch) or refuses the arrays, the chained methods run; a device and dtype it
once refused (no implementation there) keep the chained methods, every other pair keeps the
kernel.
"""

from __future__ import annotations

import math
from typing import Any

from .kernels import PortableKernels


class TorchFusedKernels(PortableKernels):
    """In-place optimiser updates for PyTorch tensors; Adam through ``torch._fused_adam_``.

    Parameters
    ----------
    xp : module
        ``array_api_compat.torch``.
    """

    in_place = True
    name = "torch"

    def __init__(self, xp: Any) -> None:
        super().__init__(xp)
        import torch

        self._torch = torch
        self._fused_adam = getattr(torch, "_fused_adam_", None)
        self._steps: dict[str, Any] = {}  # device -> 0-d tensor holding +inf (the step count)
        #: (device, dtype) pairs the fused kernel refused once: the chained methods serve them
        self._refused: set[tuple[str, str]] = set()

    def sgd(self, p, g, lr):
        return p.add_(g, alpha=-lr)

    def momentum(self, p, g, v, lr, mu, nesterov):
        v.mul_(mu).add_(g, alpha=-lr)
        if nesterov:
            p.add_(v, alpha=mu).add_(g, alpha=-lr)
        else:
            p.add_(v)
        return p, v

    def adagrad(self, p, g, s, lr, eps):
        s.addcmul_(g, g)
        p.addcdiv_(g, s.sqrt().add_(eps), value=-lr)
        return p, s

    def rmsprop(self, p, g, s, lr, rho, eps):
        s.mul_(rho).addcmul_(g, g, value=1.0 - rho)
        p.addcdiv_(g, s.sqrt().add_(eps), value=-lr)
        return p, s

    def adam(self, p, g, m, v, lr, beta1, beta2, eps, correction1, correction2):
        if self._fused_adam is not None and self._adam_fused(
            p, g, m, v, lr, beta1, beta2, eps, correction1, correction2
        ):
            return p, m, v
        m.mul_(beta1).add_(g, alpha=1.0 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1.0 - beta2)
        denom = v.sqrt().mul_(1.0 / correction2**0.5).add_(eps)
        p.addcdiv_(m, denom, value=-lr / correction1)
        return p, m, v

    def decay(self, p, factor):
        return p.mul_(factor)

    def _adam_fused(self, p, g, m, v, lr, beta1, beta2, eps, correction1, correction2) -> bool:
        """One ``torch._fused_adam_`` call; False (nothing written) where it cannot run."""
        tensors = (p, g, m, v)
        if any(t.dtype != p.dtype or t.device != p.device for t in tensors) or not all(
            t.is_contiguous() for t in tensors
        ):
            return False
        refusal = (str(p.device), str(p.dtype))
        if refusal in self._refused:
            return False
        key = str(p.device)
        step = self._steps.get(key)
        if step is None:
            step = self._steps[key] = self._torch.full(
                (), math.inf, dtype=self._torch.float32, device=p.device
            )
        root_c2 = math.sqrt(correction2)
        try:
            self._fused_adam(
                [p], [g], [m], [v], [], [step], lr=lr * root_c2 / correction1, beta1=beta1,
                beta2=beta2, weight_decay=0.0, eps=eps * root_c2, amsgrad=False, maximize=False,
            )  # fmt: skip
        except (RuntimeError, NotImplementedError):  # PyTorch has no fused Adam for this pair
            self._refused.add(refusal)  # other devices and dtypes keep the fused kernel
            return False
        return True

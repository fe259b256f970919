"""Fused optimiser kernels for CuPy: one ``ElementwiseKernel`` launch per optimiser step.

`UfuncKernels` launches one CUDA kernel per ufunc, up to thirteen for an Adam step over the flat
parameter buffer. Here each optimiser is one kernel that reads p, g and the state once and writes
them once (the pattern of Chainer's and Thinc's optimiser kernels). The arithmetic repeats the
ufunc path's operations in the same order and in the array's dtype, and the kernels are compiled
with ``--fmad=false`` so that no multiply-add is contracted: the two paths give the same bits.
``tests/test_fused_kernels.py`` compares them where a GPU is present (they skip elsewhere).
"""

from __future__ import annotations

from typing import Any

from .inplace import UfuncKernels

_OPTIONS = ("--fmad=false",)  # keep a*b + c as two rounded operations, like the ufuncs

# name -> (inputs, in-place outputs, operation); scalars arrive already cast to T
_SOURCES = {
    "sgd": ("T g, T lr", "T p", "p = p - g * lr;"),
    "momentum": (
        "T g, T lr, T mu, bool nesterov",
        "T p, T v",
        "T vi = v * mu - g * lr; v = vi; p = nesterov ? (p + vi * mu) - g * lr : p + vi;",
    ),
    "adagrad": (
        "T g, T lr, T eps",
        "T p, T s",
        "T si = s + g * g; s = si; p = p - (g / (sqrt(si) + eps)) * lr;",
    ),
    "rmsprop": (
        "T g, T lr, T rho, T one_minus_rho, T eps",
        "T p, T s",
        "T si = s * rho + (g * g) * one_minus_rho; s = si; p = p - (g / (sqrt(si) + eps)) * lr;",
    ),
    "adam": (
        "T g, T step, T b1, T one_minus_b1, T b2, T one_minus_b2, T inv_sqrt_c2, T eps",
        "T p, T m, T v",
        "T mi = m * b1 + g * one_minus_b1; T vi = v * b2 + (g * g) * one_minus_b2; "
        "m = mi; v = vi; p = p - (mi / ((sqrt(vi) * inv_sqrt_c2) + eps)) * step;",
    ),
    "scale": ("T factor", "T p", "p = p * factor;"),
}


class CupyFusedKernels(UfuncKernels):
    """`UfuncKernels` for CuPy whose optimiser updates are single ``ElementwiseKernel`` launches.

    Parameters
    ----------
    xp : module
        ``array_api_compat.cupy``.
    cupy : module
        CuPy itself.
    """

    name = "cupy-fused"

    def __init__(self, xp: Any, cupy: Any) -> None:
        super().__init__(xp, cupy)
        self._cupy = cupy
        self._compiled: dict[str, Any] = {}

    def _kernel(self, name: str) -> Any:
        kernel = self._compiled.get(name)
        if kernel is None:
            inputs, outputs, operation = _SOURCES[name]
            kernel = self._compiled[name] = self._cupy.ElementwiseKernel(
                inputs, outputs, operation, f"scratchnet_{name}", options=_OPTIONS
            )
        return kernel

    def _fits(self, *arrays: Any) -> bool:
        dtype = arrays[0].dtype
        return (
            dtype.kind == "f"
            and dtype.itemsize in (4, 8)
            and all(a.dtype == dtype and a.flags.c_contiguous for a in arrays)
        )

    def sgd(self, p, g, lr):
        if not self._fits(p, g):
            return super().sgd(p, g, lr)
        self._kernel("sgd")(g, p.dtype.type(lr), p)
        return p

    def momentum(self, p, g, v, lr, mu, nesterov):
        if not self._fits(p, g, v):
            return super().momentum(p, g, v, lr, mu, nesterov)
        c = p.dtype.type
        self._kernel("momentum")(g, c(lr), c(mu), bool(nesterov), p, v)
        return p, v

    def adagrad(self, p, g, s, lr, eps):
        if not self._fits(p, g, s):
            return super().adagrad(p, g, s, lr, eps)
        c = p.dtype.type
        self._kernel("adagrad")(g, c(lr), c(eps), p, s)
        return p, s

    def rmsprop(self, p, g, s, lr, rho, eps):
        if not self._fits(p, g, s):
            return super().rmsprop(p, g, s, lr, rho, eps)
        c = p.dtype.type
        self._kernel("rmsprop")(g, c(lr), c(rho), c(1.0 - rho), c(eps), p, s)
        return p, s

    def adam(self, p, g, m, v, lr, beta1, beta2, eps, correction1, correction2):
        if not self._fits(p, g, m, v):
            return super().adam(p, g, m, v, lr, beta1, beta2, eps, correction1, correction2)
        c = p.dtype.type
        self._kernel("adam")(
            g, c(lr / correction1), c(beta1), c(1.0 - beta1), c(beta2), c(1.0 - beta2),
            c(1.0 / correction2**0.5), c(eps), p, m, v,
        )  # fmt: skip
        return p, m, v

    def decay(self, p, factor):
        if not self._fits(p):
            return super().decay(p, factor)
        self._kernel("scale")(p.dtype.type(factor), p)
        return p

    def product(self, A, B, out=None):
        # a new array, copied into the gradient buffer by the store: writing cuBLAS results into a
        # view of the flat buffer is not yet checked on a GPU here
        return A @ B

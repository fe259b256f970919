"""Fused optimiser kernels for NumPy, compiled by Numba (the optional extra ``scratchnet[fast]``).

`UfuncKernels` needs up to thirteen passes over the flat parameter buffer for one Adam step, one
per ufunc. Here each optimiser is one loop over the buffer that reads p, g and the state once and
writes them once. The loops run on one thread: splitting them over the cores with ``numba.prange``
was measured slower in training (Numba's thread pool and OpenBLAS's threads then compete for the
same cores between the matrix products; on the MNIST-shaped epoch the parallel variant made the
products three times slower), and one fused pass is already memory-bound. The arithmetic is the ufunc path's,
operation by operation and in the array's dtype (every scalar is cast to that dtype first, as NumPy
does with a Python float), so both paths give the same bits; ``tests/test_fused_kernels.py`` checks
each optimiser and dtype against the portable kernels.

`numba_kernels()` returns None when Numba is missing or switched off with the environment variable
``SCRATCHNET_NUMBA=0``; the NumPy backend then keeps `UfuncKernels`.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .inplace import UfuncKernels

#: set to "0" to keep the ufunc kernels even where Numba is installed
ENV_SWITCH = "SCRATCHNET_NUMBA"

_COMPILED: dict[str, Any] | None = None


def numba_available() -> bool:
    """True when Numba imports and ``SCRATCHNET_NUMBA`` is not ``"0"``."""
    if os.environ.get(ENV_SWITCH, "1").strip() == "0":
        return False
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def _compile() -> dict[str, Any]:
    """JIT-compile the loops once per process (and cache them on disk where Numba can)."""
    global _COMPILED
    if _COMPILED is not None:
        return _COMPILED
    import numba

    # error_model="numpy": a division by zero gives inf or NaN as the ufuncs do, and the loops
    # vectorise (the default "python" model checks every divisor and raises)
    jit = numba.njit(fastmath=False, cache=True, nogil=True, error_model="numpy")
    _COMPILED = {name: jit(loop) for name, loop in _loop_sources().items()}
    return _COMPILED


def _loop_sources() -> dict[str, Any]:
    """The plain-Python loops that Numba compiles."""

    def sgd(p, g, lr):  # p <- p - lr g
        for i in range(p.shape[0]):
            p[i] = p[i] - g[i] * lr

    def momentum(p, g, v, lr, mu, nesterov):  # v <- mu v - lr g; p <- p + v (or + mu v - lr g)
        for i in range(p.shape[0]):
            vi = v[i] * mu - g[i] * lr
            v[i] = vi
            if nesterov:
                p[i] = (p[i] + vi * mu) - g[i] * lr
            else:
                p[i] = p[i] + vi

    def adagrad(p, g, s, lr, eps):  # s <- s + g^2; p <- p - lr g / (sqrt(s) + eps)
        for i in range(p.shape[0]):
            si = s[i] + g[i] * g[i]
            s[i] = si
            p[i] = p[i] - (g[i] / (np.sqrt(si) + eps)) * lr

    def rmsprop(p, g, s, lr, rho, one_minus_rho, eps):
        for i in range(p.shape[0]):  # s <- rho s + (1 - rho) g^2; p <- p - lr g / (sqrt(s) + eps)
            si = s[i] * rho + (g[i] * g[i]) * one_minus_rho
            s[i] = si
            p[i] = p[i] - (g[i] / (np.sqrt(si) + eps)) * lr

    def adam(p, g, m, v, step, b1, one_minus_b1, b2, one_minus_b2, inv_sqrt_c2, eps):
        for i in range(p.shape[0]):  # step = lr / c1
            gi = g[i]
            mi = m[i] * b1 + gi * one_minus_b1
            vi = v[i] * b2 + (gi * gi) * one_minus_b2
            m[i] = mi
            v[i] = vi
            p[i] = p[i] - (mi / ((np.sqrt(vi) * inv_sqrt_c2) + eps)) * step

    def scale(p, factor):  # p <- factor p (AdamW's decay, in place)
        for i in range(p.shape[0]):
            p[i] = p[i] * factor

    return {"sgd": sgd, "momentum": momentum, "adagrad": adagrad, "rmsprop": rmsprop,
            "adam": adam, "scale": scale}  # fmt: skip


class NumbaKernels(UfuncKernels):
    """`UfuncKernels` whose optimiser updates are single fused loops (one pass per step).

    Falls back to the ufunc methods for arrays a loop cannot take (not C-contiguous, or not
    float32/float64). Parameters as for `UfuncKernels`.
    """

    name = "numba"

    def __init__(self, xp: Any, ufuncs: Any) -> None:
        super().__init__(xp, ufuncs)
        self._compiled = _compile()

    def _loop(self, name: str, size: int) -> Any:
        return self._compiled[name]

    @staticmethod
    def _flat(*arrays: Any) -> tuple | None:
        """1-D views of C-contiguous float arrays of one dtype, or None."""
        dtype = arrays[0].dtype
        if dtype not in (np.float32, np.float64):
            return None
        out = []
        for a in arrays:
            if not isinstance(a, np.ndarray) or a.dtype != dtype or not a.flags.c_contiguous:
                return None
            out.append(a.reshape(-1))
        return tuple(out)

    def sgd(self, p, g, lr):
        flat = self._flat(p, g)
        if flat is None:
            return super().sgd(p, g, lr)
        self._loop("sgd", p.size)(*flat, p.dtype.type(lr))
        return p

    def momentum(self, p, g, v, lr, mu, nesterov):
        flat = self._flat(p, g, v)
        if flat is None:
            return super().momentum(p, g, v, lr, mu, nesterov)
        c = p.dtype.type
        self._loop("momentum", p.size)(*flat, c(lr), c(mu), bool(nesterov))
        return p, v

    def adagrad(self, p, g, s, lr, eps):
        flat = self._flat(p, g, s)
        if flat is None:
            return super().adagrad(p, g, s, lr, eps)
        c = p.dtype.type
        self._loop("adagrad", p.size)(*flat, c(lr), c(eps))
        return p, s

    def rmsprop(self, p, g, s, lr, rho, eps):
        flat = self._flat(p, g, s)
        if flat is None:
            return super().rmsprop(p, g, s, lr, rho, eps)
        c = p.dtype.type
        self._loop("rmsprop", p.size)(*flat, c(lr), c(rho), c(1.0 - rho), c(eps))
        return p, s

    def adam(self, p, g, m, v, lr, beta1, beta2, eps, correction1, correction2):
        flat = self._flat(p, g, m, v)
        if flat is None:
            return super().adam(p, g, m, v, lr, beta1, beta2, eps, correction1, correction2)
        c = p.dtype.type
        self._loop("adam", p.size)(
            *flat, c(lr / correction1), c(beta1), c(1.0 - beta1), c(beta2), c(1.0 - beta2),
            c(1.0 / correction2**0.5), c(eps),
        )  # fmt: skip
        return p, m, v

    def decay(self, p, factor):
        flat = self._flat(p)
        if flat is None:
            return super().decay(p, factor)
        self._loop("scale", p.size)(*flat, p.dtype.type(factor))
        return p


def numba_kernels(xp: Any) -> NumbaKernels | None:
    """`NumbaKernels` for NumPy where Numba is installed and not switched off, else None."""
    if not numba_available():
        return None
    return NumbaKernels(xp, np)

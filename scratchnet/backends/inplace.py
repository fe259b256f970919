"""In-place optimiser kernels for libraries with NumPy-style ufuncs (NumPy and CuPy).

A plain NumPy Adam step allocates several temporaries per parameter; freeing and faulting them in
again costs as much as the matrix products of the step. These kernels write into the state arrays
and into one reusable scratch buffer per shape instead. They compute the same formulas, in the
same order, as `PortableKernels` (checked in ``tests/test_optimizers.py``). `product` writes a
matrix product straight into the flat gradient buffer (the weight gradient H^T E) instead of a new
array that the parameter store would then copy.
"""

from __future__ import annotations

import threading
from typing import Any

from .kernels import Array, PortableKernels


class UfuncKernels(PortableKernels):
    """`PortableKernels` with in-place updates through ufuncs' ``out=`` argument.

    Parameters
    ----------
    xp : module
        The Array API namespace (used by the inherited methods).
    ufuncs : module
        The raw library (``numpy`` or ``cupy``) whose ufuncs accept ``out=``.
    """

    in_place = True
    name = "ufunc"

    def __init__(self, xp: Any, ufuncs: Any) -> None:
        super().__init__(xp)
        self._u = ufuncs
        #: NumPy: products with an inner dimension of 1 are outer products, done elementwise
        self._outer_elementwise = getattr(ufuncs, "__name__", "") == "numpy"
        self._local = threading.local()  # models sharing a Backend may train in threads

    def _scratch(self, like: Array) -> Array:
        """One reusable temporary per shape, dtype and thread (parameters are updated one at a
        time, so one buffer serves every parameter of that shape)."""
        buffers = getattr(self._local, "buffers", None)
        if buffers is None:
            buffers = self._local.buffers = {}
        key = (tuple(like.shape), str(like.dtype))
        buf = buffers.get(key)
        if buf is None:
            buf = buffers[key] = self._u.empty_like(like)
        return buf

    def sgd(self, p, g, lr):
        u, t = self._u, self._scratch(p)
        u.multiply(g, lr, out=t)
        u.subtract(p, t, out=p)
        return p

    def momentum(self, p, g, v, lr, mu, nesterov):
        u, t = self._u, self._scratch(p)
        u.multiply(v, mu, out=v)
        u.multiply(g, lr, out=t)
        u.subtract(v, t, out=v)
        if nesterov:  # p + mu v - lr g
            u.multiply(v, mu, out=t)
            u.add(p, t, out=p)
            u.multiply(g, lr, out=t)
            u.subtract(p, t, out=p)
        else:
            u.add(p, v, out=p)
        return p, v

    def adagrad(self, p, g, s, lr, eps):
        u, t = self._u, self._scratch(p)
        u.multiply(g, g, out=t)
        u.add(s, t, out=s)
        u.sqrt(s, out=t)
        u.add(t, eps, out=t)
        u.divide(g, t, out=t)
        u.multiply(t, lr, out=t)
        u.subtract(p, t, out=p)
        return p, s

    def rmsprop(self, p, g, s, lr, rho, eps):
        u, t = self._u, self._scratch(p)
        u.multiply(s, rho, out=s)
        u.multiply(g, g, out=t)
        u.multiply(t, 1.0 - rho, out=t)
        u.add(s, t, out=s)
        u.sqrt(s, out=t)
        u.add(t, eps, out=t)
        u.divide(g, t, out=t)
        u.multiply(t, lr, out=t)
        u.subtract(p, t, out=p)
        return p, s

    def adam(self, p, g, m, v, lr, beta1, beta2, eps, correction1, correction2):
        u, t = self._u, self._scratch(p)
        u.multiply(m, beta1, out=m)  # m <- b1 m + (1 - b1) g
        u.multiply(g, 1.0 - beta1, out=t)
        u.add(m, t, out=m)
        u.multiply(v, beta2, out=v)  # v <- b2 v + (1 - b2) g^2
        u.multiply(g, g, out=t)
        u.multiply(t, 1.0 - beta2, out=t)
        u.add(v, t, out=v)
        u.sqrt(v, out=t)  # p <- p - (lr / c1) m / (sqrt(v / c2) + eps)
        u.multiply(t, 1.0 / correction2**0.5, out=t)
        u.add(t, eps, out=t)
        u.divide(m, t, out=t)
        u.multiply(t, lr / correction1, out=t)
        u.subtract(p, t, out=p)
        return p, m, v

    def add_l2(self, g, W, lam, norm, in_place):
        if not in_place:
            return super().add_l2(g, W, lam, norm, in_place)
        u, t = self._u, self._scratch(W)
        u.multiply(W, lam, out=t)  # lambda W, then norm (lambda W), as the portable kernel
        u.multiply(t, norm, out=t)
        u.add(g, t, out=g)
        return g

    def decay(self, p, factor):
        self._u.multiply(p, factor, out=p)
        return p

    def product(self, A, B, out=None):
        if (
            self._outer_elementwise and A.ndim == 2 and A.shape[1] == 1 and B.ndim == 2
            and A.dtype == B.dtype and A.dtype.kind == "f" and A.dtype.itemsize >= 4
        ):  # fmt: skip
            return self._outer(A, B, out)
        # the same BLAS call as A @ B, writing where the caller would have copied the result
        if out is None:
            return A @ B
        return self._u.matmul(A, B, out=out)

    def _outer(self, A, B, out):
        """A B for float32/float64 A of shape (n, 1) and B of shape (1, m): a_i b_j, elementwise.

        OpenBLAS took 35-60 us for this (n = 200, m = 100, float64), NumPy's broadcast multiply
        and +0 about 31, `NumbaKernels`' loop about 3. It comes up on every step of a model with
        one output unit (the error E B^T sent back from the output layer), with one input
        feature, and for batches of one row (H^T E). With one term per entry the BLAS result is
        the rounded product, accumulated from +0, so a product of -0 comes out +0: adding +0
        after the multiply gives the same bits.
        """
        u = self._u
        if out is None:
            out = u.multiply(A, B)
        else:
            u.multiply(A, B, out=out)
        return u.add(out, 0.0, out=out)

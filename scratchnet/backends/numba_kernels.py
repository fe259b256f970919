"""Fused kernels for NumPy, compiled by Numba (the optional extra ``scratchnet[fast]``).

`UfuncKernels` needs up to thirteen passes over the flat parameter buffer for one Adam step, one
per ufunc. Here each optimiser is one loop over the buffer that reads p, g and the state once and
writes them once. The loops run on one thread: splitting them over the cores with ``numba.prange``
was measured slower in training (Numba's thread pool and OpenBLAS's threads then compete for the
same cores between the matrix products; on the MNIST-shaped epoch the parallel variant made the
products three times slower), and one fused pass is already memory-bound. The arithmetic is the
ufunc path's, operation by operation and in the array's dtype (every scalar is cast to that dtype
first, as NumPy does with a Python float), so both paths give the same bits;
``tests/test_fused_kernels.py`` checks each optimiser and dtype against the portable kernels.

The layer kernels are loops too: the bias add (written into the fresh product H B), the column sums
1^T E of the bias gradient (row after row from zero, the order of ``numpy.sum(E, axis=0)`` on two or
more columns; a single column is summed pairwise by NumPy and left to it), the outer products that
stand in for matrix products with an inner dimension of one (see `UfuncKernels.product`), the L2
term of a weight gradient (for weights of up to `FUSED_SQUARES_MAX` entries together with the
squared norm sum(W * W) of the penalty, NumPy's recursive pairwise summation walked with an explicit
stack), and ReLU forward and backward as branch-free selections
(``numpy.maximum`` and ``numpy.where`` branch on every element of random-signed data, which costs
several times the loop).

The head kernels take the softmax and sigmoid heads' loss and dL/dF (unweighted) from about a dozen
NumPy calls on a small (n, k) batch to five or six, and count the hits for the accuracy in one pass.
``exp``, ``log`` and ``log1p`` stay NumPy's (its SIMD versions do not give libm's bits), and so
does a row maximum that is a zero or NaN (which zero or NaN NumPy's SIMD max returns depends on
lane order). Row sums replay NumPy's pairwise summation for rows of up to 128 entries (longer rows
are left to NumPy).

Each loop reproduces its NumPy expression bit for bit, signed zeros and NaN included: the scalars
come in the arrays' dtype, so float32 math stays float32.

`numba_kernels()` returns None when Numba is missing or switched off with the environment variable
``SCRATCHNET_NUMBA=0``; the NumPy backend then keeps `UfuncKernels`.

When the loops come into use is the NumPy backend's choice, set by ``SCRATCHNET_NUMBA``
(`numba_policy`): ``1`` from the first step, ``0`` never, ``auto`` (the default) once the process
has trained for `PROMOTE_AFTER_SECONDS` on the ufunc kernels. Loading the loops costs about a
second per process (importing Numba, starting LLVM, reading the cached machine code; the first time
after an install they compile, about six seconds), which a small fit would never earn back: a
default scikit-learn estimator fitted iris in 0.10-0.15 s as a fresh process's first fit on the
ufunc kernels, and in 0.85-0.98 s with the loops loaded up front. The results are the same bits
either way, so switching between epochs changes nothing but the speed.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .inplace import UfuncKernels
from .numba_head_loops import PAIRWISE_BLOCK, compile_helpers, head_loop_sources, sum_loop_sources

#: "0": keep the ufunc kernels; "1": Numba's loops from the start; "auto" (default): see below
ENV_SWITCH = "SCRATCHNET_NUMBA"

#: with ``SCRATCHNET_NUMBA=auto``, the NumPy backend loads the loops once a process has trained
#: this many seconds on the ufunc kernels: loading them (about 1 s) then costs at most half that
PROMOTE_AFTER_SECONDS = 2.0

_POLICIES = {"0": "off", "1": "eager", "auto": "auto", "": "auto"}

_COMPILED: dict[str, Any] | None = None

#: weights up to this many entries get their L2 term and squared norm from one loop (`l2_terms`);
#: measured on 2 cores: 64x100 float64 24 -> 21 us, 100x10 16 -> 9 us, 128x256 41 -> 62 us
FUSED_SQUARES_MAX = 8192


def numba_policy() -> str:
    """When the NumPy backend uses Numba's loops, from ``SCRATCHNET_NUMBA``.

    Returns
    -------
    str
        ``"eager"`` (``1``: from the first step), ``"off"`` (``0``: never) or ``"auto"`` (unset or
        ``auto``: after `PROMOTE_AFTER_SECONDS` of training in this process).
    """
    value = os.environ.get(ENV_SWITCH, "auto").strip().lower()
    if value not in _POLICIES:
        raise ValueError(
            f"{ENV_SWITCH} must be 0 (never use Numba), 1 (from the start) or auto (after "
            f"{PROMOTE_AFTER_SECONDS:g} s of training in a process), got {value!r}"
        )
    return _POLICIES[value]


def numba_loaded() -> bool:
    """True once this process has set up the Numba loops (a `NumbaKernels` was made)."""
    return _COMPILED is not None


def numba_available() -> bool:
    """True when Numba imports and ``SCRATCHNET_NUMBA`` is not ``"0"``."""
    if numba_policy() == "off":
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
    compile_helpers(jit)
    sources = {**_loop_sources(), **head_loop_sources(), **sum_loop_sources()}
    _COMPILED = {name: jit(loop) for name, loop in sources.items()}
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

    def add_l2(g, w, lam, norm, out):  # out <- g + norm (lam w), out may be g
        for i in range(g.shape[0]):
            out[i] = g[i] + norm * (lam * w[i])

    def scale(p, factor):  # p <- factor p (AdamW's decay, in place)
        for i in range(p.shape[0]):
            p[i] = p[i] * factor

    def add_bias(z, c):  # z <- z + 1 c^T, in place
        for i in range(z.shape[0]):
            for j in range(z.shape[1]):
                z[i, j] = z[i, j] + c[j]

    def sum_rows(e, out):  # out <- 1^T e, from +0 row by row like numpy.sum(e, axis=0)
        for j in range(e.shape[1]):
            out[j] = 0.0
        for i in range(e.shape[0]):
            for j in range(e.shape[1]):
                out[j] = out[j] + e[i, j]

    def outer(a, b, zero, out):  # out <- a b + 0 for a (n, 1), b (1, m): a BLAS call with K = 1
        for i in range(out.shape[0]):
            ai = a[i, 0]
            for j in range(out.shape[1]):
                out[i, j] = ai * b[0, j] + zero

    def relu(z, h):  # h <- maximum(z, 0): z where z > 0 or z is NaN, else +0
        for i in range(z.shape[0]):
            for j in range(z.shape[1]):
                zi = z[i, j]
                h[i, j] = zi if (zi > 0.0 or zi != zi) else 0.0

    def relu_backprop(e, h, out):  # out <- where(h > 0, e, 0) = e * u'(z)
        for i in range(e.shape[0]):
            for j in range(e.shape[1]):
                out[i, j] = e[i, j] if h[i, j] > 0.0 else 0.0

    return {"sgd": sgd, "momentum": momentum, "adagrad": adagrad, "rmsprop": rmsprop,
            "adam": adam, "add_l2": add_l2, "scale": scale,
            "add_bias": add_bias, "sum_rows": sum_rows, "outer": outer, "relu": relu,
            "relu_backprop": relu_backprop}  # fmt: skip


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
        if not _loopable(arrays):
            return None
        for a in arrays:
            if a.ndim != 1:
                return tuple(a.reshape(-1) for a in arrays)
        return arrays  # the flat buffers: no reshape needed

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

    def add_l2(self, g, W, lam, norm, in_place):
        flat = self._flat(g, W)
        if flat is None:
            return super().add_l2(g, W, lam, norm, in_place)
        out = g if in_place else np.empty_like(g)
        c = g.dtype.type
        self._loop("add_l2", g.size)(*flat, c(lam), c(norm), out.reshape(-1))
        return out

    def l2_terms(self, g, W, lam, norm, in_place):
        # the loop's pairwise sum runs at about 1 ns a term, NumPy's SIMD W * W and sum faster:
        # one call pays off while the call overheads it saves dominate (small weights)
        flat = self._flat(g, W) if W.size <= FUSED_SQUARES_MAX else None
        if flat is None:
            return super().l2_terms(g, W, lam, norm, in_place)
        out = g if in_place else np.empty_like(g)
        c = g.dtype.type
        squares = self._compiled["add_l2_squares"](
            *flat, c(lam), c(norm), out.reshape(-1), c(0.0)
        )  # fmt: skip
        if squares != squares:  # a NaN's sign depends on the order in which NumPy's C code
            return out, np.add.reduce(W * W, axis=None)  # adds two halves: take NumPy's own sum
        return out, c(squares)

    def decay(self, p, factor):
        flat = self._flat(p)
        if flat is None:
            return super().decay(p, factor)
        self._loop("scale", p.size)(*flat, p.dtype.type(factor))
        return p

    # ----- layer kernels ------------------------------------------------------------------------
    def add_bias(self, Z, c):
        if not (_loopable((Z, c)) and Z.ndim == 2 and c.shape == Z.shape[1:]):
            return super().add_bias(Z, c)
        self._compiled["add_bias"](Z, c)
        return Z

    def _outer(self, A, B, out):
        arrays = (A, B) if out is None else (A, B, out)
        if not _loopable(arrays):
            return super()._outer(A, B, out)
        if out is None:
            out = np.empty((A.shape[0], B.shape[1]), dtype=A.dtype)
        self._compiled["outer"](A, B, A.dtype.type(0.0), out)
        return out

    def softmax_loss_and_delta(self, F, Y, norm):
        # the head's expressions with the row sums and the residual in loops; max, exp and log
        # stay NumPy's (its SIMD exp and log, and its max of signed zeros, are not libm's)
        if not _head_arrays(F, Y):
            return None
        c = F.dtype.type
        S = np.empty_like(F)
        if not self._compiled["shift_by_row_max"](F, S):
            S = F - np.maximum.reduce(F, axis=1, keepdims=True)  # numpy.max(F, axis=1, ...)
        P = np.exp(S)
        total = np.empty(F.shape[0], dtype=F.dtype)
        self._compiled["row_sums"](P, c(0.0), total)
        log_total = np.log(total)
        losses = np.empty_like(total)
        delta = np.empty_like(F)
        self._compiled["softmax_residual"](
            S, P, total, log_total, Y, c(norm), c(0.0), losses, delta
        )  # fmt: skip
        return norm * np.add.reduce(losses, axis=None), delta  # numpy.sum(losses)

    def sigmoid_loss_and_delta(self, F, Y, norm):
        # exp and log1p stay NumPy's; the rest of the head's expressions in one loop
        if not _head_arrays(F, Y):
            return None
        c = F.dtype.type
        e = np.exp(-np.abs(F))
        terms, delta = np.empty_like(F), np.empty_like(F)
        self._compiled["sigmoid_terms"](
            F, e, np.log1p(e), Y, c(norm), c(0.0), c(1.0), terms, delta
        )  # fmt: skip
        losses = np.empty(F.shape[0], dtype=F.dtype)
        self._compiled["row_sums"](terms, c(0.0), losses)
        return norm * np.add.reduce(losses, axis=None), delta  # numpy.sum(losses)

    def count_hits(self, head, F, Y):
        if head not in ("softmax", "sigmoid") or not (
            _loopable((F, Y)) and F.ndim == 2 and F.shape == Y.shape
        ):
            return None
        count = self._compiled["argmax_hits" if head == "softmax" else "sign_hits"](F, Y)
        return F.dtype.type(count)  # what the head's sum of 0/1 hits gives: a scalar of F's dtype

    def sum_rows(self, E, out=None):
        # one column: NumPy then sums the contiguous column pairwise, not row by row
        if not (_loopable((E,)) and E.ndim == 2 and E.shape[1] > 1):
            return super().sum_rows(E, out)
        if out is None or not (_loopable((E, out)) and out.shape == E.shape[1:]):
            out = np.empty(E.shape[1], dtype=E.dtype)
        self._compiled["sum_rows"](E, out)
        return out

    def activation(self, name, Z):
        if name != "relu" or not (_loopable((Z,)) and Z.ndim == 2):
            return super().activation(name, Z)
        H = np.empty_like(Z)
        self._compiled["relu"](Z, H)
        return H

    def activation_backprop(self, name, E, Z, H):
        if name != "relu" or not (_loopable((E, H)) and E.ndim == 2 and E.shape == H.shape):
            return super().activation_backprop(name, E, Z, H)
        out = np.empty_like(E)
        self._compiled["relu_backprop"](E, H, out)
        return out


#: the dtypes the loops take (a tuple test compares dtype objects, cheaper than with the types)
_FLOATS = (np.dtype(np.float64), np.dtype(np.float32))


def _head_arrays(F: Any, Y: Any) -> bool:
    """True when the head loops take logits F and targets Y: loopable (n, k) arrays of one shape,
    k at most `PAIRWISE_BLOCK` (longer rows NumPy sums recursively, which the loops leave to it)."""
    return _loopable((F, Y)) and F.ndim == 2 and F.shape == Y.shape and F.shape[1] <= PAIRWISE_BLOCK


def _loopable(arrays: tuple) -> bool:
    """True when every array is a C-contiguous NumPy array of the first one's float dtype."""
    first = arrays[0]
    if not isinstance(first, np.ndarray):
        return False
    dtype = first.dtype
    if dtype not in _FLOATS:
        return False
    for a in arrays:
        if not isinstance(a, np.ndarray) or a.dtype != dtype or not a.flags.c_contiguous:
            return False
    return True


def numba_kernels(xp: Any) -> NumbaKernels | None:
    """`NumbaKernels` for NumPy where Numba is installed and not switched off, else None."""
    if not numba_available():
        return None
    return NumbaKernels(xp, np)

"""The head kernels' loops for Numba: hit counts, softmax and sigmoid loss and dL/dF, row sums;
and the L2 loop that shares their pairwise summation.

Plain Python loops that `scratchnet.backends.numba_kernels` compiles with the same settings as its
optimiser and layer loops; `NumbaKernels` calls them between NumPy's ``exp``, ``log`` and
``log1p`` (see its module docstring for what stays NumPy's and why). Every loop gives the bits of
the head's own NumPy expressions (``tests/test_fused_layers.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def term_source(a, b, product, i):
    """a_i, or the product a_i b_i (the terms `pairwise_sum` adds)."""
    return a[i] * b[i] if product else a[i]


def pairwise_source(a, b, product, lo, n, zero):
    """NumPy's pairwise summation (``pairwise_sum`` in its umath loops) of a[lo:lo+n], or of the
    products a_j b_j when ``product``, for n <= `PAIRWISE_BLOCK`: under 8 terms one by one from
    +0, else in eight interleaved partial sums combined as ((r0 + r1) + (r2 + r3)) + ((r4 + r5) +
    (r6 + r7)), then the remainder. With +0 added in front (the reduction's identity) this is
    ``numpy.sum`` over a contiguous row, bit for bit (tests/test_fused_layers.py checks every
    length and special values). Longer rows, which NumPy splits in halves recursively, are left
    to NumPy: Numba's on-disk cache of a recursive loop crashed the next process.
    """
    if n < 8:
        res = zero
        for i in range(lo, lo + n):
            res = res + term(a, b, product, i)
        return res
    r0, r1 = term(a, b, product, lo), term(a, b, product, lo + 1)
    r2, r3 = term(a, b, product, lo + 2), term(a, b, product, lo + 3)
    r4, r5 = term(a, b, product, lo + 4), term(a, b, product, lo + 5)
    r6, r7 = term(a, b, product, lo + 6), term(a, b, product, lo + 7)
    i = lo + 8
    stop = lo + n - (n % 8)
    while i < stop:
        r0, r1 = r0 + term(a, b, product, i), r1 + term(a, b, product, i + 1)
        r2, r3 = r2 + term(a, b, product, i + 2), r3 + term(a, b, product, i + 3)
        r4, r5 = r4 + term(a, b, product, i + 4), r5 + term(a, b, product, i + 5)
        r6, r7 = r6 + term(a, b, product, i + 6), r7 + term(a, b, product, i + 7)
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < lo + n:
        res = res + term(a, b, product, i)
        i += 1
    return res


#: rows up to this length are summed by `pairwise_sum` (NumPy's PW_BLOCKSIZE)
PAIRWISE_BLOCK = 128

#: deepest split `pairwise_long` can follow: 2**64 terms halve to one block in fewer steps
SPLIT_DEPTH = 64


def pairwise_long_source(a, b, product, n, zero):
    """NumPy's pairwise summation of the first n terms of a (or of a_j b_j), for any n.

    Above `PAIRWISE_BLOCK` terms NumPy sums the first n2 = n/2 - (n/2 mod 8) terms and the rest
    separately and adds the two halves, recursively. The same tree is walked here with an explicit
    stack (a recursive compiled function would not survive Numba's on-disk cache): ``starts``,
    ``sizes`` and ``stage`` describe the open splits, ``partial`` (in a's dtype) holds the sum of
    each open split's left half until its right half is done, so every addition happens in a's
    dtype, in NumPy's order.
    """
    if n <= PAIRWISE_BLOCK:
        return pairwise_sum(a, b, product, 0, n, zero)
    starts = np.empty(SPLIT_DEPTH, np.int64)
    sizes = np.empty(SPLIT_DEPTH, np.int64)
    stage = np.zeros(SPLIT_DEPTH, np.int64)  # 0: not split, 1: left half running, 2: right half
    partial = np.empty_like(a[:SPLIT_DEPTH])  # n > 128: a has that many entries
    top = 0
    starts[0], sizes[0] = 0, n
    while True:
        m = sizes[top]
        if m > PAIRWISE_BLOCK:  # split: run the left half first
            half = m // 2
            half -= half % 8
            stage[top] = 1
            top += 1
            starts[top], sizes[top], stage[top] = starts[top - 1], half, 0
            continue
        value = pairwise_sum(a, b, product, starts[top], m, zero)
        while True:  # hand the finished sum up to the split that waits for it
            top -= 1
            if top < 0:
                return value
            if stage[top] == 1:  # a left half: keep it, run the right half
                partial[top] = value
                stage[top] = 2
                half = sizes[top] // 2
                half -= half % 8
                top += 1
                starts[top] = starts[top - 1] + half
                sizes[top], stage[top] = sizes[top - 1] - half, 0
                break
            value = partial[top] + value  # a right half: left + right, one level up


def first_argmax_source(row):
    """numpy.argmax of a 1-D row: the index of its first maximum, or of its first NaN."""
    at, top = 0, row[0]
    if top != top:
        return 0
    for j in range(1, row.shape[0]):
        x = row[j]
        if x != x:
            return j
        if x > top:
            at, top = j, x
    return at


#: the compiled helpers the loops call (set by `compile_helpers`)
term: Any = None
pairwise_sum: Any = None
pairwise_long: Any = None
first_argmax: Any = None


def compile_helpers(jit: Callable[[Any], Any]) -> None:
    """Compile `term`, `pairwise_sum`, `pairwise_long` and `first_argmax`, which the loops call
    as globals of this module."""
    global term, pairwise_sum, pairwise_long, first_argmax
    term = jit(term_source)
    pairwise_sum = jit(pairwise_source)
    pairwise_long = jit(pairwise_long_source)
    first_argmax = jit(first_argmax_source)


def head_loop_sources() -> dict[str, Any]:
    """The head loops, by name, for Numba to compile."""

    def argmax_hits(f, y):  # rows with argmax f_i == argmax y_i (the softmax head's hits)
        count = 0
        for i in range(f.shape[0]):
            if first_argmax(f[i]) == first_argmax(y[i]):
                count += 1
        return count

    def sign_hits(f, y):  # rows with (f_ik > 0) == (y_ik > 0.5) for every k (the sigmoid head's)
        count = 0
        for i in range(f.shape[0]):
            hit = True
            for j in range(f.shape[1]):
                if (f[i, j] > 0.0) != (y[i, j] > 0.5):
                    hit = False
                    break
            if hit:
                count += 1
        return count

    def shift_by_row_max(f, s):  # s <- f - max_v f_iv; False (s unfinished) where numpy's max
        # of the row may differ in its bits: a row whose max is 0 (-0 or +0 by SIMD lane order) or
        # NaN (which NaN). Any other maximum is one value with one bit pattern.
        for i in range(f.shape[0]):
            top = f[i, 0]
            for j in range(1, f.shape[1]):
                x = f[i, j]
                if x > top or x != x:
                    top = x
            if top == 0.0 or top != top:
                return False
            for j in range(f.shape[1]):
                s[i, j] = f[i, j] - top
        return True

    def row_sums(p, zero, out):  # out_i <- +0 + pairwise sum of row i, as numpy.sum(p, axis=1)
        for i in range(p.shape[0]):
            out[i] = zero + pairwise_sum(p[i], p[i], False, 0, p.shape[1], zero)

    def softmax_residual(s, p, total, log_total, y, norm, zero, losses, delta):
        # l_i = log(total_i) - sum_v y_iv s_iv (pairwise, as numpy.sum(Y * S, axis=1));
        # delta_iv = norm * (p_iv / total_i - y_iv)
        for i in range(s.shape[0]):
            losses[i] = log_total[i] - (zero + pairwise_sum(y[i], s[i], True, 0, s.shape[1], zero))
            for j in range(s.shape[1]):
                delta[i, j] = norm * (p[i, j] / total[i] - y[i, j])

    def sigmoid_terms(f, e, log1p_e, y, norm, zero, one, terms, delta):
        # terms_ik = softplus(f_ik) - y_ik f_ik, softplus = max(f, 0) + log1p(e), e = e^{-|f|};
        # delta_ik = norm * (sigma(f_ik) - y_ik), sigma = 1 / (1 + e) for f >= 0, else e / (1 + e).
        # NumPy's max(-0, 0) may be either zero: log1p(e) = log 2 is added to it, the same sum.
        # zero and one come in the arrays' dtype (a float literal would promote float32 math).
        for i in range(f.shape[0]):
            for j in range(f.shape[1]):
                x, ej = f[i, j], e[i, j]
                positive = x if (x > zero or x != x) else zero
                terms[i, j] = (positive + log1p_e[i, j]) - y[i, j] * x
                one_plus_e = one + ej
                sigma = one / one_plus_e if x >= zero else ej / one_plus_e
                delta[i, j] = norm * (sigma - y[i, j])

    return {"argmax_hits": argmax_hits, "sign_hits": sign_hits,
            "shift_by_row_max": shift_by_row_max, "row_sums": row_sums,
            "softmax_residual": softmax_residual, "sigmoid_terms": sigmoid_terms}  # fmt: skip


def sum_loop_sources() -> dict[str, Any]:
    """Loops outside the heads that sum like NumPy, by name, for Numba to compile."""

    def add_l2_squares(g, w, lam, norm, out, zero):
        # out <- g + norm (lam w), as the add_l2 loop; returns +0 + sum_i w_i^2 summed pairwise
        # like numpy.sum(w * w) (the squared norm of the L2 penalty), from the same call
        for i in range(g.shape[0]):
            out[i] = g[i] + norm * (lam * w[i])
        return zero + pairwise_long(w, w, True, w.shape[0], zero)

    return {"add_l2_squares": add_l2_squares}

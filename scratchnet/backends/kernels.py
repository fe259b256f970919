"""Element-wise kernels that a backend may speed up.

`PortableKernels` writes each kernel once against the Array API namespace and never mutates an
input: it returns new arrays (contract 2), so it runs on JAX and on read-only arrays. A backend whose
arrays may be overwritten (NumPy, CuPy, PyTorch) can subclass it and update in place, which saves the
temporaries that dominate a plain NumPy training step. Every override keeps the signature and the
arithmetic of the portable method; ``tests/test_kernels.py`` checks both.

The optimiser formulas themselves are documented in `scratchnet.optimizers`; here they are only
evaluated. ``p`` is a parameter, ``g`` its gradient, the rest is optimiser state; all have one shape.
Scalars are Python floats so that float32 arrays stay float32.

The layer kernels (`add_bias`, `sum_rows`, `activation`, `activation_backprop`) serve the Dense and
Activation layers on every step. Here they are the plain Array API expressions (or None: "no fused
kernel, apply the activation's own pair"); `scratchnet.backends.numba_kernels` replaces them by
single compiled loops that give the same bits.
"""

from __future__ import annotations

from typing import Any

from ..namespace import array_sum

Array = Any


class PortableKernels:
    """Reference kernels: pure Array API, no in-place writes."""

    #: whether the kernels overwrite their parameter and state arguments (then views of a flat
    #: buffer see every update); False means each call returns new arrays
    in_place = False
    #: which implementation runs (``backend.kernels.name``): "portable", "ufunc", "numba", "torch"
    name = "portable"

    def __init__(self, xp: Any) -> None:
        self.xp = xp

    def sgd(self, p: Array, g: Array, lr: float) -> Array:
        """p <- p - lr g."""
        return p - lr * g

    def momentum(
        self, p: Array, g: Array, v: Array, lr: float, mu: float, nesterov: bool
    ) -> tuple[Array, Array]:
        """v <- mu v - lr g; p <- p + v (Nesterov: p <- p + mu v - lr g)."""
        v = mu * v - lr * g
        p = p + (mu * v - lr * g if nesterov else v)
        return p, v

    def adagrad(self, p: Array, g: Array, s: Array, lr: float, eps: float) -> tuple[Array, Array]:
        """s <- s + g^2; p <- p - lr g / (sqrt(s) + eps)."""
        s = s + g * g
        return p - lr * g / (self.xp.sqrt(s) + eps), s

    def rmsprop(
        self, p: Array, g: Array, s: Array, lr: float, rho: float, eps: float
    ) -> tuple[Array, Array]:
        """s <- rho s + (1 - rho) g^2; p <- p - lr g / (sqrt(s) + eps)."""
        s = rho * s + (1.0 - rho) * (g * g)
        return p - lr * g / (self.xp.sqrt(s) + eps), s

    def adam(
        self,
        p: Array,
        g: Array,
        m: Array,
        v: Array,
        lr: float,
        beta1: float,
        beta2: float,
        eps: float,
        correction1: float,
        correction2: float,
    ) -> tuple[Array, Array, Array]:
        """Adam with bias correction (Kingma and Ba, 2015, algorithm 1).

        m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
        p <- p - (lr / c1) m / (sqrt(v / c2) + eps), with c1 = 1 - b1^t, c2 = 1 - b2^t.
        """
        m = beta1 * m + (1.0 - beta1) * g
        v = beta2 * v + (1.0 - beta2) * (g * g)
        denom = self.xp.sqrt(v) * (1.0 / correction2**0.5) + eps
        return p - (lr / correction1) * (m / denom), m, v

    def add_l2(self, g: Array, W: Array, lam: float, norm: float, in_place: bool) -> Array:
        """g + norm * (lambda W): the L2 term of a weight gradient (section 4.1), added to g.

        ``in_place``: g is a view of the flat gradient buffer of a library with in-place updates
        (the parameter store hands such views out only there): the sum is written into it.
        """
        step = norm * (lam * W)
        if in_place:
            g += step
            return g
        return g + step

    def l2_terms(
        self, g: Array, W: Array, lam: float, norm: float, in_place: bool
    ) -> tuple[Array, Array]:
        """`add_l2` and the squared norm ||W||_F^2 = sum(W * W) that the penalty needs.

        Returns
        -------
        gradient : array of W's shape
            g + norm * (lambda W), as `add_l2` (written into g when ``in_place``).
        squares : 0-d array
            sum_ij W_ij^2; (lambda / 2) times it is W's share of the L2 penalty (section 4.1).
        """
        return self.add_l2(g, W, lam, norm, in_place), array_sum(W * W)

    def decay(self, p: Array, factor: float) -> Array:
        """p <- factor p (AdamW's decoupled weight decay uses factor = 1 - lr wd)."""
        return factor * p

    def scale(self, g: Array, factor: Array | float) -> Array:
        """g <- factor g (gradient clipping by global norm)."""
        return g * factor

    # ----- layer kernels ------------------------------------------------------------------------
    def product(self, A: Array, B: Array, out: Array | None = None) -> Array:
        """The matrix product A B; where the library can, written into ``out`` and returned.

        ``out`` (shape (A.shape[0], B.shape[1]), A's dtype) is a place the caller would copy the
        product to anyway (a view of the flat gradient buffer); the portable kernel ignores it and
        returns a new array, so callers must use the return value.
        """
        return A @ B

    def add_bias(self, Z: Array, c: Array) -> Array:
        """Z + 1 c^T for Z of shape (n, units) and c of shape (units,).

        A fast override may write the sum into Z: pass only a fresh array that nothing else holds
        (the product H B the Dense layer has just computed).
        """
        return Z + c

    def sum_rows(self, E: Array, out: Array | None = None) -> Array:
        """1^T E, the column sums of E of shape (n, units), of shape (units,).

        Kernels that can write the sums into ``out`` (a view of the flat gradient buffer) do so
        and return it; these return a new array and leave ``out`` alone.
        """
        return self.xp.sum(E, axis=0)

    def activation(self, name: str, Z: Array) -> Array | None:
        """u(Z) for the registered activation ``name`` by a fused kernel, or None where this
        backend has none (the layer then applies its own u). Never writes into Z."""
        return None

    def activation_backprop(self, name: str, E: Array, Z: Array, H: Array) -> Array | None:
        """E * u'(Z) (H = u(Z)) for the registered activation ``name`` by a fused kernel, or None
        where this backend has none. Returns a new array; never writes into its arguments."""
        return None

    def softmax_loss_and_delta(self, F: Array, Y: Array, norm: float) -> tuple | None:
        """The softmax head's unweighted ``loss_and_delta`` in fewer passes, or None where this
        backend has no fused kernel (the head then computes it).

        Returns norm * sum_i l_i (as the head's reduction gives it) and dL/dF = norm (softmax(F) -
        Y), with l_i = log sum_v e^{S_iv} - sum_v y_iv S_iv and S = F - max_v F_iv (eq. 3).
        """
        return None

    def sigmoid_loss_and_delta(self, F: Array, Y: Array, norm: float) -> tuple | None:
        """The sigmoid head's unweighted ``loss_and_delta`` in fewer passes, or None (no kernel).

        Returns norm * sum_i l_i with l_i = sum_k softplus(F_ik) - y_ik F_ik, and dL/dF =
        norm (sigma(F) - Y).
        """
        return None

    def count_hits(self, head: str, F: Array, Y: Array) -> Any | None:
        """The number of rows the classifier head ``head`` gets right, by a fused kernel, or None
        where this backend has none (the head then counts with its own ``hits``).

        Parameters
        ----------
        head : {"softmax", "sigmoid"}
            softmax: argmax_v F_iv == argmax_v Y_iv; sigmoid: (F_ik > 0) == (Y_ik > 0.5) for all k.
        F, Y : arrays of shape (n, k)
            Logits and encoded targets.
        """
        return None

    def clip(self, g: Array, limit: float) -> Array:
        """Element-wise clipping of g to [-limit, limit]."""
        return self.xp.clip(g, -limit, limit)

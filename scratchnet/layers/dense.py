"""Dense (fully connected) layer: Z = H B + 1 c^T."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..initializers import InitializerLike, get_initializer, initializer_config
from ..namespace import array_namespace
from .base import Array, BuildContext, Layer


class Dense(Layer):
    """Affine map of section 2: Z(l) = H(l-1) B(l) + 1 c(l)^T.

    Parameters
    ----------
    units : int
        Output width idx(l).
    init : str, Initializer or callable, optional
        Weight initialiser (section 6). None lets the model choose by the activation that follows
        (He for the relu family, Xavier for tanh/sigmoid, LeCun for selu).
    bias_init : str, Initializer or callable
        Bias initialiser, zeros by default.
    use_bias : bool
        False drops c (as before batch normalisation, whose beta takes its role).
    l2 : float, optional
        This layer's L2 strength lambda; None uses the model's ``l2``.
    name : str, optional

    Notes
    -----
    Parameters: ``B`` of shape (fan_in, units) and ``c`` of shape (units,). The bias add and the sum
    1^T E run through the backend's kernels (one compiled loop each with Numba, same bits). Inside
    a model on NumPy, H^T E is written straight into the model's flat gradient buffer, so
    ``grads["B"]`` is then a view of it (overwritten by the next backward pass).
    Backward, given E(l) = dL/dZ(l) of shape (n, units) (equations (2) and (5) of the notes)::

        dL/dB(l) = H(l-1)^T E(l)      dL/dc(l) = 1^T E(l)      dL/dH(l-1) = E(l) B(l)^T

    The last product is the first factor of the recursion E(l-1) = (E(l) B(l)^T) * u'(Z(l-1)).

    Examples
    --------
    >>> from scratchnet.layers import Dense
    >>> Dense(64, init="he_normal")
    Dense(units=64, init='he_normal', bias_init='zeros', use_bias=True, l2=None)
    """

    kind = "dense"
    weight_keys = ("B",)

    def __init__(
        self,
        units: int,
        init: InitializerLike | None = None,
        bias_init: InitializerLike = "zeros",
        use_bias: bool = True,
        l2: float | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name)
        if isinstance(units, bool) or not isinstance(units, int) or units < 1:
            raise ValueError(f"units must be a positive int, got {units!r}")
        if l2 is not None and not (isinstance(l2, int | float) and l2 >= 0):
            raise ValueError(f"l2 must be None or a float >= 0, got {l2!r}")
        if init is not None:
            get_initializer(init)
        get_initializer(bias_init)
        self.units = units
        self.init = init
        self.bias_init = bias_init
        self.use_bias = bool(use_bias)
        self.l2 = None if l2 is None else float(l2)

    def build(self, n_in: int, ctx: BuildContext) -> int:
        be, rng = ctx.backend, ctx.init_rng
        weights = _draw(self.init or "xavier_uniform", (n_in, self.units), rng, "init")
        self.params = {"B": be.asarray(weights, dtype=ctx.dtype, copy=True)}
        if self.use_bias:
            bias = _draw(self.bias_init, (self.units,), rng, "bias_init")
            self.params["c"] = be.asarray(bias, dtype=ctx.dtype, copy=True)
        self.grads = {}
        self.n_in, self.n_out = n_in, self.units
        self.use_kernels(getattr(ctx.backend, "kernels", None))
        return self.units

    def forward(self, H: Array, training: bool = False, rng: Any = None) -> Array:
        self.cache = {"H": H}
        kernels = self.backend_kernels
        Z = H @ self.params["B"] if kernels is None else kernels.product(H, self.params["B"])
        if not self.use_bias:
            return Z
        if kernels is None:
            return Z + self.params["c"]
        return kernels.add_bias(Z, self.params["c"])  # Z is ours: a fused kernel may add in place

    def backward(self, E: Array, need_input_grad: bool = True) -> Array | None:
        H = self._cached("H")
        kernels = self.backend_kernels
        if kernels is None:
            self.grads["B"] = H.T @ E
        else:  # into the store's gradient buffer where the library allows (no copy later)
            targets = self.grad_targets
            self.grads["B"] = kernels.product(H.T, E, None if targets is None else targets["B"])
        if self.use_bias:
            if kernels is None:
                self.grads["c"] = array_namespace(E).sum(E, axis=0)
            else:  # into the buffer too, where the kernels can
                self.grads["c"] = kernels.sum_rows(E, None if targets is None else targets["c"])
        if not need_input_grad:
            return None
        B = self.params["B"]
        return E @ B.T if kernels is None else kernels.product(E, B.T)

    def per_sample_gradients(self, E: Array) -> dict[str, Array]:
        """dl_i/dB = h_i^T e_i (outer product), dl_i/dc = e_i: shapes (n, fan_in, units), (n, units)."""
        H = self._cached("H")
        xp = array_namespace(E)
        out = {"B": xp.expand_dims(H, axis=2) * xp.expand_dims(E, axis=1)}
        if self.use_bias:
            out["c"] = E
        return out

    def get_config(self) -> dict[str, Any]:
        return {
            "units": self.units,
            "init": initializer_config(self.init),
            "bias_init": initializer_config(self.bias_init) or "zeros",
            "use_bias": self.use_bias,
            "l2": self.l2,
            **({"name": self.name} if self.name else {}),
        }


def _draw(init: InitializerLike, shape: tuple[int, ...], rng, what: str) -> np.ndarray:
    """Host values from an initialiser, checked: a custom callable must honour the shape."""
    values = np.asarray(get_initializer(init)(shape, rng))
    if values.shape != shape:
        raise ValueError(f"{what} returned an array of shape {values.shape}, expected {shape}")
    return values

"""Element-wise activation layer: H = u(Z)."""

from __future__ import annotations

from typing import Any

from ..activations import ActivationFunction, get_activation
from .base import Array, BuildContext, Layer


class Activation(Layer):
    """Applies u element-wise: H(l) = u(Z(l)).

    Parameters
    ----------
    activation : str or ActivationFunction
        A registered name (see `scratchnet.activations.activation_names`).
    name : str, optional

    Notes
    -----
    Backward is the Hadamard factor of the recursion (equation (1) of the notes)::

        E(l) = dL/dZ(l) = dL/dH(l) * u'(Z(l))

    where dL/dH(l) = E(l+1) B(l+1)^T comes from the Dense layer above.
    """

    kind = "activation"

    def __init__(self, activation: str | ActivationFunction = "relu", name: str | None = None):
        super().__init__(name)
        self.fn = get_activation(activation)
        self._cache_Z: Array = None
        self._cache_H: Array = None

    def build(self, n_in: int, ctx: BuildContext) -> int:
        self.ctx, self.n_in, self.n_out = ctx, n_in, n_in
        return n_in

    def forward(self, H: Array, training: bool = False) -> Array:
        out = self.fn.forward(H)
        self._cache_Z, self._cache_H = H, out
        return out

    def backward(self, E: Array, need_input_grad: bool = True) -> Array | None:
        return self.fn.backprop(E, self._cache_Z, self._cache_H)

    def get_config(self) -> dict[str, Any]:
        return {"activation": self.fn.name, **({"name": self.name} if self.name else {})}

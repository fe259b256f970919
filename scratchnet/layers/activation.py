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

    def build(self, n_in: int, ctx: BuildContext) -> int:
        self.n_in, self.n_out = n_in, n_in
        return n_in

    def forward(self, H: Array, training: bool = False, rng: Any = None) -> Array:
        out = self.fn.forward(H)
        self.cache = {"Z": H, "H": out}
        return out

    def backward(self, E: Array, need_input_grad: bool = True) -> Array | None:
        return self.fn.backprop(E, self._cached("Z"), self.cache["H"])

    def get_config(self) -> dict[str, Any]:
        return {"activation": self.fn.name, **({"name": self.name} if self.name else {})}

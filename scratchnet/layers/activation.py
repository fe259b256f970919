"""Element-wise activation layer: H = u(Z)."""

from __future__ import annotations

from typing import Any

from ..activations import ActivationFunction, activation_names, get_activation
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

    where dL/dH(l) = E(l+1) B(l+1)^T comes from the Dense layer above. For a registered activation
    with a fused kernel on the backend (ReLU with Numba), forward and backward each run as one
    compiled loop with the same bits; ``cache`` holds Z and H either way.
    """

    kind = "activation"
    #: the registered name a backend's fused kernel is asked for (None: always the fn's own pair)
    _fused_name: str | None = None

    def __init__(self, activation: str | ActivationFunction = "relu", name: str | None = None):
        super().__init__(name)
        self.fn = get_activation(activation)
        # a backend's fused kernel is looked up by name: only for the registered function itself
        registered = self.fn.name in activation_names() and get_activation(self.fn.name) is self.fn
        self._fused_name = self.fn.name if registered else None

    def build(self, n_in: int, ctx: BuildContext) -> int:
        self.n_in, self.n_out = n_in, n_in
        self.use_kernels(getattr(ctx.backend, "kernels", None))
        return n_in

    def forward(self, H: Array, training: bool = False, rng: Any = None) -> Array:
        kernels, name = self.backend_kernels, self._fused_name
        out = None if kernels is None or name is None else kernels.activation(name, H)
        if out is None:
            out = self.fn.forward(H)
        self.cache = {"Z": H, "H": out}
        return out

    def backward(self, E: Array, need_input_grad: bool = True) -> Array | None:
        Z, H = self._cached("Z"), self.cache["H"]
        kernels, name = self.backend_kernels, self._fused_name
        dZ = None if kernels is None or name is None else kernels.activation_backprop(name, E, Z, H)
        return self.fn.backprop(E, Z, H) if dZ is None else dZ

    def get_config(self) -> dict[str, Any]:
        return {"activation": self.fn.name, **({"name": self.name} if self.name else {})}

"""Activation functions u and their derivatives u', written against the Array API.

Each activation is a pair: ``forward(Z) -> H = u(Z)`` and ``derivative(Z, H) -> u'(Z)``. The
derivative receives the forward output H too, because several derivatives are cheapest in terms of
it (sigmoid: H(1 - H); tanh: 1 - H^2; relu: H > 0). In the notes' recursion the derivative is the
factor u'(Z(l)) of E(l) = (E(l+1) B(l+1)^T) * u'(Z(l)).

Every function here is stable for |z| up to 1e4 in float32: no overflow, no NaN, no warning.

>>> import numpy as np
>>> from scratchnet.activations import get_activation
>>> sig = get_activation("sigmoid")
>>> [float(v) for v in sig.forward(np.array([-1e4, 0.0, 1e4]))]
[0.0, 0.5, 1.0]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .namespace import array_namespace

Array = Any

LEAKY_SLOPE = 0.01
ELU_ALPHA = 1.0
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
GELU_K = math.sqrt(2.0 / math.pi)
GELU_C = 0.044715


@dataclass(frozen=True)
class ActivationFunction:
    """A named pair (u, u').

    Attributes
    ----------
    name : str
        Registry name; saved in model files.
    forward : callable
        ``forward(Z) -> H``, element-wise, same shape and dtype as Z.
    derivative : callable
        ``derivative(Z, H) -> u'(Z)``, element-wise; H is ``forward(Z)``.
    init : str
        Default weight initialiser for a Dense layer feeding this activation (section 6).
    backward : callable, optional
        ``backward(E, Z, H) -> E * u'(Z)`` computed in one step where that is cheaper (relu:
        ``where(H > 0, E, 0)``); by default E times `derivative`.
    """

    name: str
    forward: Callable[[Array], Array]
    derivative: Callable[[Array, Array], Array]
    init: str = "xavier_uniform"
    backward: Callable[[Array, Array, Array], Array] | None = None

    def backprop(self, E: Array, Z: Array, H: Array) -> Array:
        """The factor of the recursion: dL/dZ = dL/dH * u'(Z)."""
        if self.backward is not None:
            return self.backward(E, Z, H)
        return E * self.derivative(Z, H)

    def __repr__(self) -> str:
        return f"ActivationFunction({self.name!r})"


def _identity(z):
    return z


def _identity_grad(z, h):
    xp = array_namespace(z)
    return xp.ones_like(z)


def stable_sigmoid(z: Array) -> Array:
    """sigma(z) = 1 / (1 + e^-z), evaluated as e^{-|z|} ratios so that nothing overflows."""
    xp = array_namespace(z)
    return _sigmoid_of(z, xp.exp(-xp.abs(z)), xp)


def softplus_and_sigmoid(z: Array) -> tuple[Array, Array]:
    """(`stable_softplus` (z), `stable_sigmoid` (z)) from one e^{-|z|}: the same bits as the two
    calls, one exponential fewer (the sigmoid head needs both on every step)."""
    xp = array_namespace(z)
    e = xp.exp(-xp.abs(z))
    return _softplus_of(z, e, xp), _sigmoid_of(z, e, xp)


def _sigmoid_of(z: Array, e: Array, xp: Any) -> Array:
    one_plus_e = 1.0 + e
    return xp.where(z >= 0, 1.0 / one_plus_e, e / one_plus_e)


def _softplus_of(z: Array, e: Array, xp: Any) -> Array:
    return xp.maximum(z, xp.zeros_like(z)) + xp.log1p(e)


def _sigmoid_grad(z, h):
    return h * (1.0 - h)


def _tanh(z):
    return array_namespace(z).tanh(z)


def _tanh_grad(z, h):
    return 1.0 - h * h


def _relu(z):
    return array_namespace(z).maximum(z, 0.0)


def _relu_grad(z, h):
    xp = array_namespace(z)
    return xp.astype(z > 0, z.dtype)


def _relu_backward(e, z, h):
    # E * u'(Z) with u' = 1(Z > 0), as one selection: no mask array, no product
    return array_namespace(e).where(h > 0, e, 0.0)


def _leaky_relu(z):
    xp = array_namespace(z)
    return xp.where(z > 0, z, LEAKY_SLOPE * z)


def _leaky_relu_backward(e, z, h):
    return array_namespace(e).where(z > 0, e, LEAKY_SLOPE * e)


def _leaky_relu_grad(z, h):
    xp = array_namespace(z)
    return xp.where(z > 0, xp.ones_like(z), xp.full_like(z, LEAKY_SLOPE))


def _elu(z):
    xp = array_namespace(z)
    return xp.where(z > 0, z, ELU_ALPHA * xp.expm1(xp.minimum(z, xp.zeros_like(z))))


def _elu_grad(z, h):
    # for z <= 0, u = alpha (e^z - 1), so u' = alpha e^z = u + alpha
    xp = array_namespace(z)
    return xp.where(z > 0, xp.ones_like(z), h + ELU_ALPHA)


def _selu(z):
    xp = array_namespace(z)
    neg = SELU_ALPHA * xp.expm1(xp.minimum(z, xp.zeros_like(z)))
    return SELU_SCALE * xp.where(z > 0, z, neg)


def _selu_grad(z, h):
    # for z <= 0, u = s a (e^z - 1), so u' = s a e^z = u + s a
    xp = array_namespace(z)
    return xp.where(z > 0, xp.full_like(z, SELU_SCALE), h + SELU_SCALE * SELU_ALPHA)


def stable_softplus(z: Array) -> Array:
    """log(1 + e^z) = max(z, 0) + log1p(e^{-|z|}), exact and overflow-free."""
    xp = array_namespace(z)
    return _softplus_of(z, xp.exp(-xp.abs(z)), xp)


def _softplus_grad(z, h):
    return stable_sigmoid(z)


def _silu(z):
    return z * stable_sigmoid(z)


def _silu_grad(z, h):
    s = stable_sigmoid(z)
    return s * (1.0 + z * (1.0 - s))


def _gelu(z):
    xp = array_namespace(z)
    return 0.5 * z * (1.0 + xp.tanh(GELU_K * (z + GELU_C * z * z * z)))


def _gelu_grad(z, h):
    xp = array_namespace(z)
    t = xp.tanh(GELU_K * (z + GELU_C * z * z * z))
    return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * GELU_K * (1.0 + 3.0 * GELU_C * z * z)


_REGISTRY: dict[str, ActivationFunction] = {}


def register_activation(
    name: str,
    forward: Callable[[Array], Array],
    derivative: Callable[[Array, Array], Array],
    init: str = "xavier_uniform",
    backward: Callable[[Array, Array, Array], Array] | None = None,
) -> ActivationFunction:
    """Add an activation to the registry, so that models can name it and be saved with it.

    Parameters
    ----------
    name : str
        New, unused name.
    forward, derivative : callable
        u(Z) and u'(Z, H), element-wise, written with the Array API.
    init : str
        Default initialiser for the Dense layer before it.
    backward : callable, optional
        ``backward(E, Z, H) -> E * u'(Z)`` in one step, where that is cheaper.

    Returns
    -------
    ActivationFunction
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"activation name must be a non-empty str, got {name!r}")
    if name in _REGISTRY:
        raise ValueError(f"activation {name!r} is already registered")
    if not (callable(forward) and callable(derivative)):
        raise TypeError("forward and derivative must be callables")
    if backward is not None and not callable(backward):
        raise TypeError("backward must be a callable (E, Z, H) -> E * u'(Z)")
    act = ActivationFunction(name, forward, derivative, init, backward)
    _REGISTRY[name] = act
    return act


for _name, _f, _g, _init, _b in (
    ("identity", _identity, _identity_grad, "xavier_uniform", lambda e, z, h: e),
    ("sigmoid", stable_sigmoid, _sigmoid_grad, "xavier_uniform", None),
    ("tanh", _tanh, _tanh_grad, "xavier_uniform", None),
    ("relu", _relu, _relu_grad, "he_uniform", _relu_backward),
    ("leaky_relu", _leaky_relu, _leaky_relu_grad, "he_uniform", _leaky_relu_backward),
    ("elu", _elu, _elu_grad, "he_uniform", None),
    ("selu", _selu, _selu_grad, "lecun_normal", None),
    ("softplus", stable_softplus, _softplus_grad, "he_uniform", None),
    ("silu", _silu, _silu_grad, "he_uniform", None),
    ("gelu", _gelu, _gelu_grad, "he_uniform", None),
):
    register_activation(_name, _f, _g, _init, _b)

ALIASES = {"linear": "identity", "logistic": "sigmoid", "swish": "silu"}


def activation_names() -> list[str]:
    """Registered activation names, in registration order."""
    return list(_REGISTRY)


def get_activation(name: str | ActivationFunction) -> ActivationFunction:
    """Look up an activation by name (``"relu"``, ...); scikit-learn's ``"logistic"`` works too."""
    if isinstance(name, ActivationFunction):
        return name
    if not isinstance(name, str):
        raise TypeError(f"activation must be a name (str), got {type(name).__name__}")
    key = ALIASES.get(name, name)
    if key not in _REGISTRY:
        head = ""
        if name.lower().replace("_", "") in ("softmax", "logsoftmax"):
            head = (
                ": softmax is not a hidden activation but the output head, and the model adds "
                "the output layer itself (sized from y): use Model(output='softmax') (the "
                "default) and end the hidden stack with a hidden activation such as 'relu'"
            )
        raise ValueError(
            f"unknown activation {name!r}{head}; valid names are {', '.join(activation_names())}"
        )
    return _REGISTRY[key]

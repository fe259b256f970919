"""The fitted network in scikit-learn's layout: one weight matrix and one bias vector per linear
map, with batch normalisation folded into the preceding layer."""

from __future__ import annotations

import numpy as np

from ..backends import to_numpy
from ..layers import BatchNorm, Dense
from ..model import Model


def inference_parameters(model: Model) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Host copies of (``coefs_``, ``intercepts_``) of a built ``model``: weights of shape
    (fan_in, fan_out) and biases of shape (fan_out,), input layer first, such that prediction
    computes h = u(h_prev @ coefs_[i] + intercepts_[i])."""
    params = to_numpy(model.parameters())
    state = to_numpy(model.state())
    coefs, intercepts = [], []
    layers = model.layers
    for i, layer in enumerate(layers):
        if not isinstance(layer, Dense):
            continue
        W = params[f"{layer.name}.B"]
        b = params.get(f"{layer.name}.c", np.zeros(W.shape[1], dtype=W.dtype))
        following = layers[i + 1] if i + 1 < len(layers) else None
        if isinstance(following, BatchNorm):
            bn = following.name
            scale = params[f"{bn}.gamma"] / np.sqrt(state[f"{bn}.running_var"] + following.eps)
            W = W * scale
            b = (b - state[f"{bn}.running_mean"]) * scale + params[f"{bn}.beta"]
        coefs.append(W)
        intercepts.append(b)
    return coefs, intercepts

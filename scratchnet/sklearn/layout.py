"""The network in scikit-learn's layout: one weight matrix and one bias vector per linear map.

`inference_parameters` shows a fitted network that way, with batch normalisation folded into the
preceding layer; `draw_sklearn_initial_parameters` gives a new network scikit-learn's initial
weights and biases."""

from __future__ import annotations

import math

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


def draw_sklearn_initial_parameters(model: Model, factor: float, seed: int | None) -> None:
    """Give a built ``model`` scikit-learn's initial network (its MLP's ``_init_coef``).

    For each linear map, input layer first, the weights of shape (fan_in, fan_out) and then the
    biases are drawn from U(-b, b), b = sqrt(factor / (fan_in + fan_out)), by one
    ``numpy.random.RandomState(seed)``: an int ``seed`` gives exactly the initial ``coefs_`` and
    ``intercepts_`` of scikit-learn's estimator with ``random_state=seed``. A Dense layer without
    biases (batch norm follows it) still consumes their draws; other parameters are kept.
    """
    rng = np.random.RandomState(seed)
    params = to_numpy(model.parameters())
    for layer in model.layers:
        if not isinstance(layer, Dense):
            continue
        fan_in, fan_out = layer.n_in, layer.units
        bound = math.sqrt(factor / (fan_in + fan_out))
        params[f"{layer.name}.B"] = rng.uniform(-bound, bound, (fan_in, fan_out))
        bias = rng.uniform(-bound, bound, fan_out)
        if layer.use_bias:
            params[f"{layer.name}.c"] = bias
    model.set_parameters(params)

"""Per-sample gradients of the network's output f(x_i) (the notes' section 1).

Section 1 differentiates the output itself, not a loss: for every sample i and parameter theta,
df(x_i)/dtheta. Seeding the backward pass with E = e_k (a one at output k for every row) makes each
layer's error the per-sample derivative of f_k, and each layer turns it into per-sample parameter
gradients (Dense: h_i^T e_i as an outer product, dc = e_i).
"""

from __future__ import annotations

from typing import Any

import numpy as np

Array = Any


def output_gradients(model: Any, Xd: Array, output: int = 0) -> dict[str, Array]:
    """df_output(x_i)/dtheta for every row of device inputs ``Xd``, in inference mode.

    Parameters
    ----------
    model : Model
        A built model.
    Xd : array of shape (n, n_features)
        Checked inputs on the model's device.
    output : int
        Which output unit f_k to differentiate.

    Returns
    -------
    dict
        Parameter name -> array of shape (n, *parameter.shape), in forward order.
    """
    xp = model.backend.xp
    F = model.forward_arrays(Xd, training=False)
    unit = np.zeros((1, model.n_outputs))
    unit[0, output] = 1.0
    E = xp.ones(
        (F.shape[0], 1), dtype=model.dtype, device=model.backend.device
    ) * model.backend.asarray(unit, dtype=model.dtype)
    grads: dict[str, Array] = {}
    for i in range(len(model.layers) - 1, -1, -1):
        layer = model.layers[i]
        for key, g in layer.per_sample_gradients(E).items():
            grads[f"{layer.name}.{key}"] = g
        E = layer.backward(E, need_input_grad=i > 0)
    return {name: grads[name] for name in model.parameter_layout.names}

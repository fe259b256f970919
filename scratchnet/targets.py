"""Target preparation: user data in, device arrays in the head's encoding out.

Every public entry point that takes labels (`Model.fit`, `Model.evaluate`,
`Model.loss_and_gradients`) goes through `prepare_targets`, so one function decides how X is
checked and moved, how y is encoded for the head, and when a model is built from the data.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import validation as check

Array = Any


def prepare_targets(
    model: Any, X: Any, y: Any, sample_weight: Any = None, build: bool = True
) -> tuple[Array, Array, np.ndarray | None]:
    """Checked device inputs, encoded device targets and host sample weights.

    Parameters
    ----------
    model : Model
    X : array of shape (n, n_features)
        NumPy array or an array of the model's backend.
    y : array of shape (n,) or (n, k)
        Class indices or one-hot (softmax), 0/1 (sigmoid), values (identity).
    sample_weight : array of shape (n,), optional
    build : bool
        Build an unbuilt model from the data's width and the head's reading of y.

    Returns
    -------
    X : array of shape (n, n_features) on the model's device, in its dtype
    Y : array of shape (n, n_outputs) on the model's device: one-hot, 0/1 or values
    w : numpy.ndarray of shape (n,) or None
    """
    Xd = check.check_features(X, model.backend, model.dtype, model.n_features)
    n = int(Xd.shape[0])
    y_host = check.host_labels(y, n)
    if not model.built:
        if not build:
            raise RuntimeError("the model is not built: call fit(X, y) or build() first")
        model.build(int(Xd.shape[1]), model.head.infer_outputs(y_host))
    Y = model.head.encode_targets(y_host, model.n_outputs)
    w = check.sample_weights(sample_weight, n)
    return Xd, model.backend.asarray(Y, dtype=model.dtype), w


def loss_scale(reduction: str, n_rows: int, weights: np.ndarray | None) -> float:
    """The factor `norm` in front of a batch's summed loss.

    1 for ``reduction="sum"`` (the notes' totals); 1 / sum of the batch's weights for ``"mean"``
    (1 / n without weights).
    """
    if reduction == "sum":
        return 1.0
    return 1.0 / (float(weights.sum()) if weights is not None else n_rows)

"""Target preparation: user data in, device arrays in the head's encoding out.

Every public entry point that takes labels (`Model.fit`, `Model.evaluate`,
`Model.loss_and_gradients`) goes through `checked_targets` (and `prepare_targets`, which adds the
lazy build), so one function decides how X is checked and moved, how y is encoded for the head,
and when a model is built from the data. Every check runs before the model is built or touched:
a call that raises leaves the model as it was.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from . import validation as check

Array = Any


class CheckedData(NamedTuple):
    """Checked inputs of a call, before anything is built: `checked_targets` returns it."""

    #: features on the model's device, in its dtype, shape (n, n_features)
    X: Array
    #: targets in the head's encoding on the host (float64), shape (n, n_outputs)
    Y: np.ndarray
    #: per-sample weights on the host (float64), shape (n,), or None
    w: np.ndarray | None
    #: the input width: the model's if built, else X's
    n_features: int
    #: the output width: the model's if built, else what the head reads from y
    n_outputs: int


def checked_targets(
    model: Any, X: Any, y: Any, sample_weight: Any = None, build: bool = True
) -> CheckedData:
    """Check X, y and the weights against the model (or, unbuilt, against each other).

    Nothing is built and nothing of the model changes. Values that are finite on the host but
    overflow the model's dtype are refused here (features, regression targets and weights).

    Raises
    ------
    TypeError, ValueError
        See `scratchnet.validation.check_features`, `host_labels`, `sample_weights` and the
        head's `encode_targets`.
    RuntimeError
        The model is not built and ``build`` is False.
    """
    Xd = check.check_features(X, model.backend, model.dtype, model.n_features)
    n = int(Xd.shape[0])
    target = check.numpy_float(model.backend, model.dtype)
    y_host = check.host_labels(y, n, target=None if model.head.is_classifier else target)
    w = check.sample_weights(sample_weight, n, target=target)
    if model.built:
        n_outputs = model.n_outputs
    elif not build:
        raise RuntimeError("the model is not built: call fit(X, y) or build() first")
    else:
        n_outputs = model.head.infer_outputs(y_host)
        if model.head.name == "softmax" and n_outputs < 2:
            raise ValueError("a softmax head needs n_outputs >= 2 classes (use 'sigmoid' for two)")
    Y = model.head.encode_targets(y_host, n_outputs)
    if not model.built and model.head.name == "softmax" and y_host.ndim == 1:
        gaps = label_gaps(Y, int(Xd.shape[1]))
        if gaps is not None:
            check.warn_user(gaps)
    return CheckedData(Xd, Y, w, int(Xd.shape[1]), n_outputs)


def label_gaps(Y: np.ndarray, n_features: int) -> str | None:
    """A warning for class indices with gaps, from which an unbuilt softmax head would get
    outputs that no sample has (``{0, 10, ..., 90}``: 91 outputs, 81 never seen); else None.

    ``Y`` is the one-hot encoding of the class indices. Said when the unseen outputs outnumber
    the seen ones, or when any output is unseen although there are at least 10 samples per
    output (then chance hardly explains it: labels counted from 1, say). A small sample that
    lacks a few classes (a gradient check on 5 rows) says nothing.
    """
    counts = Y.sum(axis=0)
    unseen = np.flatnonzero(counts == 0)
    k = int(Y.shape[1])
    seen = k - int(unseen.size)
    if unseen.size == 0 or not (k > 2 * seen or Y.shape[0] >= 10 * k):
        return None
    shown = ", ".join(str(int(c)) for c in unseen[:5]) + (", ..." if unseen.size > 5 else "")
    start = (
        "the labels start at 1: pass y - 1 for classes 0..K-1, or "
        if unseen.tolist() == [0]
        else ""
    )
    return (
        f"y holds {seen} distinct labels up to {k - 1}: the softmax head gets {k} outputs, "
        f"{unseen.size} of them never seen in y (class {shown}); {start}encode the labels with "
        "`idx, classes = scratchnet.data.encode_labels(y)` or use "
        "scratchnet.sklearn.MLPClassifier, which encodes them; if the unseen classes are meant "
        f"(later data will have them), build first: model.build({n_features}, n_classes)"
    )


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
        Build an unbuilt model from the data's width and the head's reading of y (after every
        check has passed).

    Returns
    -------
    X : array of shape (n, n_features) on the model's device, in its dtype
    Y : array of shape (n, n_outputs) on the model's device: one-hot, 0/1 or values
    w : numpy.ndarray of shape (n,) or None
    """
    data = checked_targets(model, X, y, sample_weight, build)
    if not model.built:
        model.build(data.n_features, data.n_outputs)
    return data.X, model.backend.asarray(data.Y, dtype=model.dtype), data.w


def loss_scale(reduction: str, n_rows: int, weights: np.ndarray | None) -> float:
    """The factor `norm` in front of a batch's summed loss.

    1 for ``reduction="sum"`` (the notes' totals); 1 / sum of the batch's weights for ``"mean"``
    (1 / n without weights).
    """
    if reduction == "sum":
        return 1.0
    return 1.0 / (float(weights.sum()) if weights is not None else n_rows)

"""Every check of a fit, made before the model is built or touched (`check_fit` -> `FitPlan`).

Arguments, data, targets, weights, class weights, validation data and the batch-norm batch size
are checked in the order a person reads the call; the result is a `FitPlan` holding everything the
training loop needs. Nothing of the model, nor of a handed-in optimiser, changes here. X (and
X_val) read by rows, such as memory maps, are checked chunk by chunk and kept as a
`scratchnet.streaming.RowStream` that the loop reads batch by batch.
"""

from __future__ import annotations

import copy
from typing import Any, NamedTuple

import numpy as np

from . import validation as check
from .architecture import hidden_stack
from .augment import as_augmentation
from .callbacks import Callback
from .data import split_indices
from .distributed import MPI
from .layers import BatchNorm
from .optimizers import Optimizer, get_optimizer
from .schedules import as_schedule
from .streaming import RowStream
from .targets import checked_targets

Array = Any


#: why full-batch gradient descent is refused on data read by rows
_FULL_BATCH_STREAM = (
    "batch_size=None (full-batch gradient descent) would read all {n} rows of X ({kind}, read "
    "batch by batch) into memory at every step, which is what a memory map avoids; pass a "
    "batch_size (a batch of B rows holds B x n_features values), or np.array(X) to train "
    "full-batch in memory"
)


class FitPlan(NamedTuple):
    """A checked fit: everything `fit` needs, computed without touching the model."""

    epochs: int
    batch_size: int | None
    verbose: int
    shuffle: bool
    callbacks: list
    augment: Any
    X: Array  # on the device, or a `RowStream` read batch by batch
    Y: np.ndarray  # host, encoded for the head
    w: np.ndarray | None  # host, class weights applied
    n_features: int
    n_outputs: int
    train_idx: np.ndarray
    val: tuple | None  # (X_val device or RowStream, Y_val host, w_val) from validation_data
    val_idx: np.ndarray | None  # held-out rows of a validation_split
    shuffle_state: dict | None  # the shuffle generator's state after the split
    optimizer: Any  # the optimiser to install, or None to keep the model's
    schedule: Any  # a new learning-rate schedule for it, or None
    distributed: Any = None  # a `scratchnet.distributed.MPI`, or None for one process


def check_fit(
    model: Any, X: Any, y: Any, *, epochs, batch_size, optimizer, lr, validation_data,
    validation_split, shuffle, class_weight, sample_weight, callbacks, augment, verbose,
    distributed=None,
) -> FitPlan:  # fmt: skip
    """Every check of a fit, in the order a person reads the call; nothing of the model (nor of
    a handed-in optimiser) changes here."""
    epochs = check.check_positive_int(epochs, "epochs")
    batch_size = check.check_positive_int(batch_size, "batch_size", allow_none=True)
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1 or 2, got {verbose!r}")
    validation_split = check.check_float(
        validation_split, "validation_split", 0.0, 1.0, high_open=True
    )
    callbacks = list(callbacks or [])
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(
                f"callbacks must be scratchnet Callback objects, got {type(cb).__name__}"
            )
    augment = as_augmentation(augment)
    chosen, schedule = _check_optimizer(model, optimizer, lr)

    X = check.stream_features(X, model.backend, model.dtype, model.n_features)
    if isinstance(X, RowStream) and batch_size is None:
        raise ValueError(_FULL_BATCH_STREAM.format(n=X.shape[0], kind=type(X.source).__name__))
    data = checked_targets(model, X, y, sample_weight)  # a checked stream passes through
    w = _apply_class_weight(model.head, data.Y, data.w, class_weight)
    n = int(data.X.shape[0])
    train_idx, val, val_idx, shuffle_state = np.arange(n), None, None, None
    if validation_data is not None:
        val = _validation_arrays(model, validation_data, data.n_features, data.n_outputs)
    elif validation_split > 0.0:
        if n < 2:
            raise ValueError(
                f"validation_split needs at least 2 samples (one to train on, one to hold out), "
                f"X has {n}"
            )
        rng = copy.deepcopy(model.shuffle_rng)  # the model's generator advances only on success
        train_idx, val_idx = split_indices(
            n, validation_split, rng, _stratify_labels(model, data.Y)
        )
        shuffle_state = rng.bit_generator.state
    _check_batch_norm_batch(_hidden_layers(model), batch_size, int(train_idx.shape[0]))
    return FitPlan(
        epochs, batch_size, verbose, bool(shuffle), callbacks, augment, data.X, data.Y, w,
        data.n_features, data.n_outputs, train_idx, val, val_idx, shuffle_state, chosen, schedule,
        check_distributed(distributed),
    )  # fmt: skip


def check_distributed(distributed: Any) -> MPI | None:
    """None (one process) or a `scratchnet.distributed.MPI` strategy."""
    if distributed is not None and not isinstance(distributed, MPI):
        raise TypeError(
            "distributed must be None or a scratchnet.distributed.MPI(...) strategy, got "
            f"{type(distributed).__name__}"
        )
    return distributed


def _check_optimizer(model: Any, optimizer: Any, lr: Any) -> tuple[Any, Any]:
    """(optimiser to install or None, new schedule or None), mutating nothing.

    A model that is not built yet has no optimiser to keep (building forgets it).
    """
    current = model.optimizer if model.built else None
    if isinstance(optimizer, Optimizer):
        return optimizer, None if lr is None else as_schedule(lr)
    if optimizer is not None or current is None:
        return get_optimizer(optimizer if optimizer is not None else "adam", lr), None
    return None, None if lr is None else as_schedule(lr)


def _apply_class_weight(head, Y, w, class_weight) -> np.ndarray | None:
    """Per-sample weights times the class weights; ``Y`` is the host encoding of the targets."""
    if class_weight is None:
        return w
    if head.name == "identity":
        raise ValueError("class_weight applies to classifiers; use sample_weight for regression")
    Yh = Y
    if head.name == "sigmoid":
        if Yh.shape[1] != 1:
            raise ValueError("class_weight is not defined for multi-label sigmoid outputs")
        labels = Yh[:, 0].astype(np.int64)
        k = 2
    else:
        labels = Yh.argmax(axis=1)
        k = Yh.shape[1]
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f"class_weight must be a dict or 'balanced', got {class_weight!r}")
        with np.errstate(divide="ignore"):
            table = np.where(counts > 0, labels.size / (np.count_nonzero(counts) * counts), 0.0)
    elif isinstance(class_weight, dict):
        table = np.ones(k)
        for cls, weight in class_weight.items():
            if isinstance(cls, bool) or not isinstance(cls, int | np.integer) or not 0 <= cls < k:
                raise ValueError(
                    f"class_weight keys must be class indices in [0, {k}), got {cls!r}"
                )
            table[int(cls)] = check.check_float(weight, f"class_weight[{cls}]", 0.0)
    else:
        raise TypeError(
            f"class_weight must be a dict or 'balanced', got {type(class_weight).__name__}"
        )
    per_sample = table[labels]
    out = per_sample if w is None else w * per_sample
    if not out.sum() > 0:
        raise ValueError("class_weight gives every sample weight 0")
    return out


def _stratify_labels(model, Y) -> np.ndarray | None:
    head = model.head
    if not head.is_classifier:
        return None
    Yh = Y  # the host encoding
    if head.name == "softmax":
        return Yh.argmax(axis=1)
    return Yh[:, 0].astype(np.int64) if Yh.shape[1] == 1 else None


def _validation_arrays(model, data, n_features: int, n_outputs: int) -> tuple:
    """(X_val on the device, Y_val encoded on the host, w_val) checked against X's width and the
    outputs the model has or will have."""
    if not isinstance(data, tuple | list) or len(data) not in (2, 3):
        raise TypeError("validation_data must be a tuple (X_val, y_val) or (X_val, y_val, w_val)")
    be = model.backend
    expected = None if model.built else "X has"
    Xv = check.stream_features(data[0], be, model.dtype, n_features, "X_val", expected)
    Xd = check.check_features(Xv, be, model.dtype, n_features, "X_val", expected)
    n = int(Xd.shape[0])
    target = check.numpy_float(be, model.dtype)
    yh = check.host_labels(data[1], n, "y_val", None if model.head.is_classifier else target)
    Yv = model.head.encode_targets(yh, n_outputs)
    wv = check.sample_weights(data[2], n, "w_val", target) if len(data) == 3 else None
    return Xd, Yv, wv


def _hidden_layers(model: Any) -> list:
    """The model's layers, or the hidden stack it would build (nothing is built here)."""
    if model.built:
        return model.layers
    if model.custom_layers is not None:
        return model.custom_layers
    return hidden_stack(model.hidden, model.activation, model.dropout, model.batch_norm)


def _check_batch_norm_batch(layers: list, batch_size: int | None, n_train: int) -> None:
    rows = n_train if batch_size is None else min(batch_size, n_train)
    if rows < 2 and any(isinstance(layer, BatchNorm) for layer in layers):
        raise ValueError(
            f"batch normalisation needs at least 2 samples per mini-batch (the mean of 1 sample is "
            f"the sample itself); got {rows} sample per batch (batch_size={batch_size}, "
            f"{n_train} training rows)"
        )

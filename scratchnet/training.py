"""The training loop: epochs of shuffled mini-batches, metrics, callbacks and a NaN guard.

Device traffic follows contract 6: the data crosses to the device once per fit, each epoch sends
one permutation of row indices, mini-batches are gathered on the device with ``xp.take``, and the
epoch's loss and accuracy are accumulated there and read back once per epoch.
"""

from __future__ import annotations

import math
import time
import warnings
from typing import Any

import numpy as np

from . import validation as check
from .augment import as_augmentation
from .callbacks import Callback, History, ProgressBar
from .data import batch_bounds, split_indices
from .layers import BatchNorm
from .optimizers import get_optimizer
from .schedules import Clock
from .targets import prepare_targets

Array = Any


class TrainingDivergedWarning(UserWarning):
    """The loss turned NaN or infinite; training stopped and the best weights were restored."""


def fit(
    model: Any,
    X: Any,
    y: Any,
    *,
    epochs: int = 10,
    batch_size: int | None = 32,
    optimizer: Any = None,
    lr: Any = None,
    validation_data: tuple | None = None,
    validation_split: float = 0.0,
    shuffle: bool = True,
    class_weight: dict | str | None = None,
    sample_weight: Any = None,
    callbacks: list[Callback] | None = None,
    augment: Any = None,
    verbose: int = 0,
) -> History:
    """Train ``model`` on (X, y).

    Parameters
    ----------
    model : Model
    X : array of shape (n, n_features)
        NumPy array or an array of the model's backend.
    y : array of shape (n,) or (n, k)
        Targets in the head's format (see `Model.loss_and_gradients`).
    epochs : int
        Passes over the training data.
    batch_size : int or None
        None: full-batch gradient descent (the notes' GD); 1: SGD; k: mini-batches of k rows.
    optimizer : str or Optimizer, optional
        ``"adam"``, ``"sgd"``, ``"momentum"``, ... or an `Optimizer`. Default: keep the model's
        optimiser (and its state) from an earlier fit, else Adam. Naming one, or passing an
        instance other than ``model.optimizer``, starts from zero optimiser state; leave it out on
        later calls to continue training where it stopped.
    lr : float or Schedule, optional
        Learning rate (or schedule) for the optimiser.
    validation_data : (X_val, y_val) or (X_val, y_val, w_val), optional
    validation_split : float
        Share of (X, y) held out for validation, stratified by class for classifiers; ignored
        when ``validation_data`` is given.
    shuffle : bool
        Reshuffle the rows every epoch (from the model's seed).
    class_weight : dict or "balanced", optional
        Weight per class index (softmax, or 0/1 for a single sigmoid output).
    sample_weight : array of shape (n,), optional
    callbacks : list of Callback, optional
        E.g. ``[EarlyStopping(patience=5)]``.
    augment : callable, optional
        ``augment(X_batch, rng) -> X_batch``, applied to each training batch on the device
        (see `scratchnet.augment`).
    verbose : {0, 1, 2}
        0 silent, 1 a progress bar per epoch, 2 one line per epoch.

    Returns
    -------
    History
        Per-epoch ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``, ``lr``, ``seconds``.
    """
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

    Xd, Y, w = prepare_targets(model, X, y, sample_weight)
    w = _apply_class_weight(model, Y, w, class_weight)
    n = int(Xd.shape[0])
    train_idx = np.arange(n)
    val = None
    if validation_data is not None:
        val = _validation_arrays(model, validation_data)
    elif validation_split > 0.0:
        strat = _stratify_labels(model, Y)
        train_idx, val_idx = split_indices(n, validation_split, model.shuffle_rng, strat)
        idx = model.backend.asarray(val_idx)
        xp = model.backend.xp
        val = (xp.take(Xd, idx, axis=0), xp.take(Y, idx, axis=0), None if w is None else w[val_idx])
    if optimizer is not None or model.optimizer is None:
        chosen = get_optimizer(optimizer if optimizer is not None else "adam", lr)
        if chosen is not model.optimizer:
            chosen.reset()  # a named or handed-in optimiser starts from zero state
        model.optimizer = chosen
    elif lr is not None:
        get_optimizer(model.optimizer, lr)
    _check_batch_norm_batch(model, batch_size, int(train_idx.shape[0]))

    loop = _Loop(model, Xd, Y, w, train_idx, batch_size, shuffle, augment)
    history = History()
    model.history = history  # visible to callbacks (checkpoints save it) while training runs
    every = [history, *callbacks]
    if verbose:
        every.append(ProgressBar(verbose))
    for cb in every:
        cb.set_model(model)
    model.stop_training, model.stop_reason = False, None
    begin = {
        "epochs": epochs,
        "initial_epoch": model.epochs_done,
        "steps": loop.steps,
        "has_validation": val is not None,
    }
    for cb in every:
        cb.on_train_begin(begin)

    guard = _NanGuard(model)
    for _ in range(epochs):
        epoch = model.epochs_done
        for cb in every:
            cb.on_epoch_begin(epoch, {})
        start = time.perf_counter()
        with model.backend.quiet_floating_point():  # divergence is reported once, below
            logs = loop.run_epoch(epoch, every)
            if val is not None:
                vlogs = evaluate_arrays(model, *val)
                logs.update({f"val_{k}": v for k, v in vlogs.items()})
        model.backend.synchronize()
        logs["seconds"] = time.perf_counter() - start
        model.epochs_done += 1
        if not guard.check(logs):
            history.on_epoch_end(epoch, logs)
            break
        for cb in every:
            cb.on_epoch_end(epoch, logs)
        model.optimizer.schedule.on_epoch_end(epoch, logs)  # after callbacks: they may add metrics
        if model.stop_training:
            break
    end: dict[str, Any] = {}
    for cb in every:
        cb.on_train_end(end)
    if guard.tripped:
        guard.restore()
        end["best_epoch"] = guard.best_epoch
    history.stopped_by = model.stop_reason
    history.stopped_epoch = history.epoch[-1] if model.stop_reason else None
    history.best_epoch = end.get("best_epoch")
    for layer in model.layers:
        layer.clear_cache()
    return history


class _Loop:
    """One fit's epoch loop over prepared device arrays."""

    def __init__(self, model, Xd, Y, w, train_idx, batch_size, shuffle, augment) -> None:
        self.model = model
        be = model.backend
        self.xp = be.xp
        self.Xd, self.Y = Xd, Y
        self.w_host = w
        self.w_dev = None if w is None else be.asarray(w, dtype=model.dtype)
        self.train_idx = train_idx
        n_train = train_idx.shape[0]
        self.batch_size = n_train if batch_size is None else min(batch_size, n_train)
        self.full_batch = self.batch_size >= n_train
        self.shuffle = shuffle and not self.full_batch  # GD's sum does not depend on row order
        self.augment = augment
        self.bounds = list(batch_bounds(n_train, self.batch_size))
        self.steps = len(self.bounds)
        self.classifier = model.head.is_classifier
        if self.full_batch and n_train != Xd.shape[0]:
            idx = be.asarray(train_idx)
            self.Xd = self.xp.take(Xd, idx, axis=0)
            self.Y = self.xp.take(Y, idx, axis=0)
            self.w_dev = None if w is None else self.xp.take(self.w_dev, idx, axis=0)
            self.w_host = None if w is None else w[train_idx]
            self.train_idx = np.arange(n_train)

    def run_epoch(self, epoch: int, callbacks: list[Callback]) -> dict[str, float]:
        model, xp = self.model, self.xp
        n_train = self.train_idx.shape[0]
        order = model.shuffle_rng.permutation(self.train_idx) if self.shuffle else self.train_idx
        whole = self.full_batch and not self.shuffle
        order_dev = None if whole else model.backend.asarray(order)
        loss_sum = 0.0
        correct = 0.0
        lr = 0.0
        for b, (start, stop) in enumerate(self.bounds):
            if whole:
                Xb, Yb, wb = self.Xd, self.Y, self.w_dev
                w_rows = self.w_host
            else:
                idx = order_dev[start:stop]
                Xb = xp.take(self.Xd, idx, axis=0)
                Yb = xp.take(self.Y, idx, axis=0)
                wb = None if self.w_dev is None else xp.take(self.w_dev, idx, axis=0)
                w_rows = None if self.w_host is None else self.w_host[order[start:stop]]
            if w_rows is not None and model.reduction == "mean" and not w_rows.sum() > 0:
                for cb in callbacks:  # every row of this batch has weight 0: nothing to learn
                    cb.on_batch_end(b, {"size": stop - start})
                continue
            if self.augment is not None:
                Xb = self.augment(Xb, model.rng)
            norm = model.loss_scale(stop - start, w_rows)
            clock = Clock(model.steps_done, epoch, epoch + (b + 1) / self.steps, model.samples_seen)
            lr = model.optimizer.learning_rate(clock)
            loss, F = model.train_step(Xb, Yb, wb, norm, lr)
            loss_sum = loss_sum + loss * (1.0 / norm)
            if self.classifier:
                correct = correct + model.head.correct(F, Yb, wb)
            for cb in callbacks:
                cb.on_batch_end(b, {"size": stop - start})
        model.samples_seen += n_train
        total_weight = float(n_train if self.w_host is None else self.w_host[self.train_idx].sum())
        scale = 1.0 if model.reduction == "sum" else 1.0 / total_weight
        logs = {"loss": float(loss_sum) * scale}
        if self.classifier:
            logs["accuracy"] = float(correct) / total_weight
        logs["lr"] = float(lr)
        return logs


def evaluate_arrays(model: Any, Xd: Array, Y: Array, w: np.ndarray | None) -> dict[str, float]:
    """Inference-mode loss (no penalty) and metrics over prepared device arrays, in chunks."""
    xp = model.backend.xp
    head = model.head
    n = int(Xd.shape[0])
    w_dev = None if w is None else model.backend.asarray(w, dtype=model.dtype)
    loss_sum = 0.0
    correct = 0.0
    sq_res = 0.0
    chunk = model.inference_chunk
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        F = model.infer(Xd[start:stop, ...])
        Yc = Y[start:stop, ...]
        losses, _ = head.sample_losses(F, Yc)
        if w_dev is None:
            loss_sum = loss_sum + xp.sum(losses)
        else:
            loss_sum = loss_sum + xp.sum(losses * w_dev[start:stop])
        if head.is_classifier:
            correct = correct + head.correct(F, Yc, None if w_dev is None else w_dev[start:stop])
        else:
            R = F - Yc
            R2 = R * R if w_dev is None else R * R * xp.expand_dims(w_dev[start:stop], axis=1)
            sq_res = sq_res + xp.sum(R2, axis=0)
    total_w = float(n if w is None else w.sum())
    scale = 1.0 if model.reduction == "sum" else 1.0 / total_w
    out = {"loss": float(loss_sum) * scale}
    if head.is_classifier:
        out["accuracy"] = float(correct) / total_w
    else:
        # R^2 = 1 - SS_res / SS_tot per output (weighted where weights are given), averaged
        Yh = model.backend.to_numpy(Y).astype(np.float64)
        wh = np.ones(n) if w is None else w
        D = Yh - np.average(Yh, axis=0, weights=wh)
        ss_tot = (wh[:, None] * D * D).sum(axis=0)
        ss_res = model.backend.to_numpy(sq_res).astype(np.float64)
        out["mse"] = float(ss_res.sum() / (total_w * ss_res.size))
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), 0.0)
        out["r2"] = float(r2.mean())
    return out


class _NanGuard:
    """Keeps the weights (and optimiser state) of the best finite training loss; trips when the
    loss is NaN or inf, so that a diverged fit leaves a model that can train on."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.best = math.inf
        self.best_epoch: int | None = None
        self._take_snapshot()
        self.tripped = False

    def _take_snapshot(self) -> None:
        model, opt = self.model, self.model.optimizer
        copy = model.backend.asarray
        self.snapshot = model.snapshot()
        self.opt_state = {slot: copy(a, copy=True) for slot, a in opt.state.items()}
        self.opt_iterations = opt.iterations

    def check(self, logs: dict[str, float]) -> bool:
        loss = logs["loss"]
        if not math.isfinite(loss):
            self.tripped = True
            self.model.stop_training = True
            self.model.stop_reason = "nan"
            where = f"epoch {self.best_epoch + 1}" if self.best_epoch is not None else "the start"
            warnings.warn(
                f"the training loss became {loss} (diverged); training stopped and the weights "
                f"of {where} were restored. Lower the learning rate, or clip gradients "
                "(optimizer=Adam(lr, clip_norm=1.0)).",
                TrainingDivergedWarning,
                stacklevel=4,
            )
            return False
        if loss < self.best:
            self.best = loss
            self.best_epoch = self.model.epochs_done - 1
            self._take_snapshot()
        return True

    def restore(self) -> None:
        self.model.restore(self.snapshot)
        self.model.optimizer.state = self.opt_state
        self.model.optimizer.iterations = self.opt_iterations


def _apply_class_weight(model, Y, w, class_weight) -> np.ndarray | None:
    if class_weight is None:
        return w
    head = model.head
    if head.name == "identity":
        raise ValueError("class_weight applies to classifiers; use sample_weight for regression")
    Yh = model.backend.to_numpy(Y)
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
    Yh = model.backend.to_numpy(Y)
    if head.name == "softmax":
        return Yh.argmax(axis=1)
    return Yh[:, 0].astype(np.int64) if Yh.shape[1] == 1 else None


def _validation_arrays(model, data) -> tuple:
    if not isinstance(data, tuple | list) or len(data) not in (2, 3):
        raise TypeError("validation_data must be a tuple (X_val, y_val) or (X_val, y_val, w_val)")
    Xv, yv = data[0], data[1]
    Xd = check.check_features(Xv, model.backend, model.dtype, model.n_features, name="X_val")
    yh = check.host_labels(yv, int(Xd.shape[0]), name="y_val")
    Yv = model.backend.asarray(model.head.encode_targets(yh, model.n_outputs), dtype=model.dtype)
    wv = check.sample_weights(data[2], int(Xd.shape[0]), "w_val") if len(data) == 3 else None
    return Xd, Yv, wv


def _check_batch_norm_batch(model: Any, batch_size: int | None, n_train: int) -> None:
    rows = n_train if batch_size is None else min(batch_size, n_train)
    if rows < 2 and any(isinstance(layer, BatchNorm) for layer in model.layers):
        raise ValueError(
            f"batch normalisation needs at least 2 samples per mini-batch (the mean of 1 sample is "
            f"the sample itself); got {rows} sample per batch (batch_size={batch_size}, "
            f"{n_train} training rows)"
        )

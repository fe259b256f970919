"""Penalties and early stopping (sections 4.1 and 4.3).

L2 (section 4.1). The notes maximise L(W) - (lambda/2)||W||^2 (their equation (8) has gradient
X^T E - lambda B). scratchnet minimises the opposite, scaled like the data term::

    objective = norm * ( sum_i w_i l_i  +  (lambda / 2) sum_l ||B(l)||_F^2 )
    d objective / dB(l) = norm * ( H(l-1)^T E(l) + lambda B(l) )

with norm = 1 for ``reduction="sum"`` and 1 / sum_i w_i over the batch for ``"mean"`` (1 / batch
size without sample weights), which is exactly scikit-learn's ``alpha``. The penalty enters every
mini-batch's objective, so with ``"sum"`` it is the notes' total objective for full-batch GD and is
counted once per batch otherwise. Only weights are penalised (B and the output A), never biases,
batch-norm gamma or beta.

Early stopping (section 4.3) is a callback with the notes' two rules, usable together.
"""

from __future__ import annotations

import math
from typing import Any

from .callbacks import Callback, direction, monitored
from .namespace import array_sum
from .validation import check_float, check_positive_int

Array = Any


def l2_penalty(weights: list[tuple[Array, float]]) -> Array:
    """(1/2) sum_l lambda_l ||B(l)||_F^2 as a 0-d array.

    Parameters
    ----------
    weights : list of (array, float)
        Each weight matrix with its lambda; entries with lambda = 0 are skipped.
    """
    return _penalty([(array_sum(W * W), lam) for W, lam in weights if lam != 0.0])


def _penalty(squares: list[tuple[Array, float]]) -> Array | None:
    """sum_l (lambda_l / 2) s_l from each weight's squared norm s_l = ||B(l)||_F^2, in layer order."""
    total = None
    for s, lam in squares:
        term = (0.5 * lam) * s
        total = term if total is None else total + term
    return total


def l2_gradient(W: Array, lam: float) -> Array:
    """d/dW of (lambda/2)||W||_F^2, that is lambda W."""
    return lam * W


def add_l2_gradients(layers: list, default_lam: float, norm: float) -> Array | None:
    """Add norm * lambda * B to each weight gradient of ``layers``; return the penalty.

    A layer's own ``l2`` overrides ``default_lam`` (the model's). Returns
    norm * (1/2) sum_l lambda_l ||B(l)||^2 as a 0-d array, or None when no lambda is positive.
    Where the backend has kernels, each weight's gradient term and squared norm come from one
    `l2_terms` call (one compiled pass with Numba).
    """
    squares = []
    for layer in layers:
        lam = layer.l2 if getattr(layer, "l2", None) is not None else default_lam
        if lam <= 0.0:
            continue
        kernels = getattr(layer, "backend_kernels", None)
        targets = getattr(layer, "grad_targets", None) or {}
        for key in layer.weight_keys:
            W, g = layer.params[key], layer.grads[key]
            in_place = targets.get(key) is g  # a view of the flat gradient buffer: add there
            if kernels is not None:  # the gradient term and ||W||^2 from one kernel call
                layer.grads[key], s = kernels.l2_terms(g, W, lam, norm, in_place)
            else:
                if in_place:
                    layer.grads[key] += norm * l2_gradient(W, lam)
                else:  # an array the layer may still use: a new one
                    layer.grads[key] = g + norm * l2_gradient(W, lam)
                s = array_sum(W * W)
            squares.append((s, lam))
    value = _penalty(squares)
    return None if value is None else norm * value


class EarlyStopping(Callback):
    """Stop training when it stops helping, and keep the best weights.

    Two rules from the notes, each optional, usable together:

    1. validation rule (``patience``): stop when ``monitor`` has not improved by more than
       ``min_delta`` for ``patience`` consecutive epochs, i.e. L_val(t) >= L_val(t - k) - min_delta;
    2. training rule (``epsilon``): stop when the training loss decreases by less than
       ``epsilon`` between epochs, L_train(t-1) - L_train(t) < epsilon, for ``epsilon_patience``
       consecutive epochs.

    Parameters
    ----------
    patience : int or None
        k of rule 1; None disables it.
    min_delta : float
        Smallest change of ``monitor`` that counts as an improvement.
    monitor : str
        ``"val_loss"`` (default), ``"val_accuracy"``, ``"val_r2"``, ``"loss"``, ...
    mode : {"auto", "min", "max"}
        Whether smaller or larger ``monitor`` values are better; "auto" maximises accuracy, score
        and r2 and minimises the rest.
    epsilon : float or None
        Threshold of rule 2; None disables it.
    epsilon_patience : int
        Consecutive small-decrease epochs before rule 2 fires (1 is the notes' rule).
    restore_best_weights : bool
        At the end of training, put back the weights (and batch-norm statistics) of the best
        ``monitor`` epoch: the notes' t* = argmin_t L_val(theta_t).

    Examples
    --------
    >>> import scratchnet as sn
    >>> stop = sn.EarlyStopping(patience=5, epsilon=1e-4)
    >>> stop.patience, stop.epsilon
    (5, 0.0001)
    """

    def __init__(
        self,
        patience: int | None = 10,
        min_delta: float = 0.0,
        monitor: str = "val_loss",
        epsilon: float | None = None,
        epsilon_patience: int = 1,
        restore_best_weights: bool = True,
        mode: str = "auto",
    ) -> None:
        if patience is None and epsilon is None:
            raise ValueError("EarlyStopping needs patience (validation rule), epsilon, or both")
        self.patience = check_positive_int(patience, "patience", allow_none=True)
        self.min_delta = check_float(min_delta, "min_delta", 0.0)
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a metric name, got {monitor!r}")
        self.monitor = monitor
        self.mode = mode
        direction(monitor, mode)  # validates mode
        self.epsilon = None if epsilon is None else check_float(epsilon, "epsilon", 0.0)
        self.epsilon_patience = check_positive_int(epsilon_patience, "epsilon_patience")
        self.restore_best_weights = bool(restore_best_weights)
        self._reset()

    def _reset(self) -> None:
        self.best = math.inf
        self.best_epoch: int | None = None
        self.best_snapshot = None
        self.wait = 0
        self.small_steps = 0
        self.previous_loss: float | None = None
        self.stopped_by: str | None = None
        #: what happened, in words ("stopped at epoch 13: val_loss has not improved ..."), or None
        self.message: str | None = None
        self._watched = self.monitor

    @property
    def _sign(self) -> float:
        return direction(self._watched, self.mode)

    def on_train_begin(self, logs):
        self._reset()
        self._watched = self.monitor
        if self.monitor.startswith("val_") and not logs.get("has_validation"):
            if self.patience is not None:
                raise ValueError(
                    f"EarlyStopping monitors {self.monitor!r}, but fit() has no validation data: "
                    "pass validation_data=(X_val, y_val) or validation_split=0.1, or use "
                    "monitor='loss'"
                )
            self._watched = "loss"  # only the training rule is on: keep the best training loss

    def on_epoch_end(self, epoch, logs):
        score = self._sign * monitored(logs, self._watched, "EarlyStopping")
        if math.isfinite(score) and score < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = score, epoch, 0
            if self.restore_best_weights:
                self.best_snapshot = self.model.snapshot()
        else:
            self.wait += 1
        if self.patience is not None and self.wait >= self.patience:
            self._stop(
                "patience", epoch, f"{self._watched} has not improved for {self.wait} epochs"
            )
        loss = logs.get("loss")
        if self.epsilon is not None and loss is not None:
            if self.previous_loss is not None and self.previous_loss - loss < self.epsilon:
                self.small_steps += 1
            else:
                self.small_steps = 0
            self.previous_loss = loss
            if self.small_steps >= self.epsilon_patience:
                self._stop(
                    "epsilon", epoch,
                    f"the training loss fell by less than {self.epsilon:g} for "
                    f"{self.small_steps} epoch{'s' if self.small_steps > 1 else ''}",
                )  # fmt: skip

    def _stop(self, rule: str, epoch: int, why: str) -> None:
        if self.model.stop_training:
            return
        self.model.stop_training = True
        self.model.stop_reason = rule
        self.stopped_by = rule
        self.message = f"stopped at epoch {epoch + 1}: {why}"

    def on_train_end(self, logs):
        restored = self.restore_best_weights and self.best_snapshot is not None
        if restored:
            self.model.restore(self.best_snapshot)
            logs["best_epoch"] = self.best_epoch
        if self.message is not None or restored:
            stop = self.message or "trained every epoch"
            best = f"; restored the weights of epoch {self.best_epoch + 1}" if restored else ""
            self.message = f"{stop}{best}"
            logs.setdefault("messages", []).append(self.message)
        self.best_snapshot = None

    def __repr__(self) -> str:
        return (
            f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta}, "
            f"monitor={self.monitor!r}, epsilon={self.epsilon}, "
            f"restore_best_weights={self.restore_best_weights})"
        )

"""Output heads: the output non-linearity fused with its loss, computed from the logits F.

The notes maximise a total log-likelihood with residual delta = y - y_hat. scratchnet minimises the
negative log-likelihood, so every head returns the opposite sign (contract 4)::

    dL/dF = norm * w * (y_hat - y)

where F = H(L) A + 1 b^T are the logits (the notes' f), w are per-sample weights (1 by default) and
``norm`` is 1 for ``reduction="sum"`` (the notes' totals) or 1 / sum(w) for ``"mean"`` (1 / N
without weights). That this is the gradient for all three heads is the canonical-link identity:

======== ============================ =================================================== =========
head      y_hat                        loss per sample l_i                                  targets
======== ============================ =================================================== =========
sigmoid   sigma(F)                     sum_k softplus(F_ik) - y_ik F_ik                     0/1, (n, k)
softmax   softmax(F) (eq. 3)           logsumexp(F_i) - sum_v y_iv F_iv                     one-hot (n, V)
identity  F                            (1/2) ||F_i - y_i||^2                                values (n, k)
======== ============================ =================================================== =========

Losses use log-sum-exp and softplus, so logits of magnitude 1e4 give finite values.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from .activations import softplus_and_sigmoid, stable_sigmoid
from .namespace import array_max, array_namespace, array_sum

Array = Any


class Head(ABC):
    """Base class: an output function with its loss and targets."""

    name: ClassVar[str] = ""
    is_classifier: ClassVar[bool] = True

    @abstractmethod
    def output(self, F: Array) -> Array:
        """y_hat from logits F of shape (n, k)."""

    @abstractmethod
    def sample_losses(self, F: Array, Y: Array) -> tuple[Array, Array]:
        """Per-sample losses l_i (shape (n,)) and y_hat (shape (n, k)), sharing intermediates."""

    @abstractmethod
    def encode_targets(self, y: np.ndarray, n_outputs: int | None) -> np.ndarray:
        """Validate host labels and return the float target matrix Y of shape (n, k)."""

    @abstractmethod
    def infer_outputs(self, y: np.ndarray) -> int:
        """The number of output units k (or V) implied by host labels."""

    @abstractmethod
    def predict_from_logits(self, F: Array) -> Array:
        """Class indices (softmax), 0/1 (sigmoid) or values (identity).

        Classifier heads raise `ValueError` when a row's logits are not finite: such a row has
        no class (argmax of NaN, or NaN > 0, would make one up).
        """

    def loss_and_delta(
        self, F: Array, Y: Array, weights: Array | None, norm: float, kernels: Any = None
    ) -> tuple[Array, Array]:
        """The reduced loss (a 0-d array) and dL/dF = norm * w * (y_hat - y).

        Parameters
        ----------
        F : array of shape (n, k)
            Logits.
        Y : array of shape (n, k)
            Encoded targets (`encode_targets`).
        weights : array of shape (n,), optional
            Per-sample weights w_i.
        norm : float
            1 for the notes' totals, 1 / sum(w) for the mean.
        kernels : optional
            The backend's kernels: `fused_loss_and_delta` may use them.
        """
        if weights is None and kernels is not None:
            fused = self.fused_loss_and_delta(F, Y, norm, kernels)
            if fused is not None:
                return fused
        losses, Yhat = self.sample_losses(F, Y)
        residual = Yhat - Y
        if weights is None:
            return norm * array_sum(losses), norm * residual
        scale = norm * array_namespace(F).expand_dims(weights, axis=1)
        return norm * array_sum(weights * losses), scale * residual

    def fused_loss_and_delta(self, F: Array, Y: Array, norm: float, kernels: Any) -> tuple | None:
        """The unweighted `loss_and_delta` by a fused kernel of ``kernels``, or None (no such
        kernel for this head or these arrays)."""
        return None

    def hits(self, F: Array, Y: Array) -> Array | None:
        """Boolean (n,) array: is row i classified correctly? None for regression heads."""
        return None

    def correct(
        self, F: Array, Y: Array, weights: Array | None = None, kernels: Any = None
    ) -> Array:
        """(Weighted) number of correctly classified rows, a 0-d array of F's dtype.

        ``kernels`` (the backend's) may count the unweighted hits in one fused pass.
        """
        if weights is None and kernels is not None:
            count = kernels.count_hits(self.name, F, Y)
            if count is not None:
                return count
        hits = array_namespace(F).astype(self.hits(F, Y), F.dtype)
        return array_sum(hits if weights is None else hits * weights)


class SigmoidHead(Head):
    """Binary or multi-label classification: y_hat = sigma(F), Bernoulli log-likelihood (section 2).

    Each of the k output columns is an independent binary label; l_i sums over them.
    """

    name = "sigmoid"

    def output(self, F):
        return stable_sigmoid(F)

    def sample_losses(self, F, Y):
        # -(y log sigma(f) + (1 - y) log(1 - sigma(f))) = softplus(f) - y f
        softplus, sigma = softplus_and_sigmoid(F)
        return array_sum(softplus - Y * F, axis=1), sigma

    def fused_loss_and_delta(self, F, Y, norm, kernels):
        return kernels.sigmoid_loss_and_delta(F, Y, norm)

    def encode_targets(self, y, n_outputs):
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        if Y.ndim != 2:
            raise ValueError(f"sigmoid targets must have shape (n,) or (n, k), got {y.shape}")
        if not np.isin(Y, (0, 1)).all():
            bad = np.unique(Y[~np.isin(Y, (0, 1))])[:5]
            hint = ""
            if Y.shape[1] == 1 and (bad == np.round(bad)).all() and (bad > 1).all():
                hint = (
                    "; these look like class indices 0..K-1: use output='softmax' (the default) "
                    "with y of shape (n,)"
                )
            raise ValueError(f"sigmoid targets must be 0 or 1, found {bad.tolist()}{hint}")
        if n_outputs is not None and Y.shape[1] != n_outputs:
            raise ValueError(
                f"the model has {n_outputs} sigmoid outputs, targets have {Y.shape[1]}"
            )
        return Y.astype(np.float64)

    def infer_outputs(self, y):
        return 1 if y.ndim == 1 else int(y.shape[1])

    def predict_from_logits(self, F):
        require_finite_logits(F)
        xp = array_namespace(F)
        index_dtype = xp.argmax(F[:1, ...], axis=1).dtype  # the library's default index type
        labels = xp.astype(F > 0, index_dtype)  # sigma(F) > 0.5  <=>  F > 0
        return labels[:, 0] if F.shape[1] == 1 else labels

    def hits(self, F, Y):
        return array_namespace(F).all((F > 0) == (Y > 0.5), axis=1)


class SoftmaxHead(Head):
    """Multi-class classification: y_hat = softmax(F), categorical log-likelihood (section 3)."""

    name = "softmax"

    def output(self, F):
        S = F - array_max(F, axis=1, keepdims=True)
        P = array_namespace(F).exp(S)
        return P / array_sum(P, axis=1, keepdims=True)

    def sample_losses(self, F, Y):
        # l_i = logsumexp(F_i) - sum_v y_iv F_iv, with the max subtracted for stability
        xp = array_namespace(F)
        S = F - array_max(F, axis=1, keepdims=True)
        P = xp.exp(S)
        total = array_sum(P, axis=1, keepdims=True)
        losses = xp.log(total[:, 0]) - array_sum(Y * S, axis=1)
        return losses, P / total

    def fused_loss_and_delta(self, F, Y, norm, kernels):
        return kernels.softmax_loss_and_delta(F, Y, norm)

    def encode_targets(self, y, n_outputs):
        _refuse_column_of_labels(y)
        if y.ndim == 2:
            if n_outputs is not None and y.shape[1] != n_outputs:
                raise ValueError(
                    f"one-hot targets have {y.shape[1]} columns, the model has {n_outputs} classes"
                )
            if not (np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all()):
                raise ValueError(
                    "2-D softmax targets must be one-hot: 0/1 entries with exactly one 1 per row"
                )
            return y.astype(np.float64)
        if y.ndim != 1:
            raise ValueError(f"softmax targets must have shape (n,) or (n, V), got {y.shape}")
        labels = _class_indices(y)
        k = n_outputs if n_outputs is not None else int(labels.max()) + 1
        if labels.min() < 0 or labels.max() >= k:
            bad = labels[(labels < 0) | (labels >= k)][:5]
            raise ValueError(
                f"class indices must lie in [0, {k}) for a model with {k} classes, "
                f"found {bad.tolist()}"
            )
        Y = np.zeros((labels.shape[0], k))
        Y[np.arange(labels.shape[0]), labels] = 1.0
        return Y

    def infer_outputs(self, y):
        _refuse_column_of_labels(y)
        if y.ndim == 2:
            return int(y.shape[1])
        return max(int(_class_indices(y).max()) + 1, 2)

    def predict_from_logits(self, F):
        require_finite_logits(F)
        return array_namespace(F).argmax(F, axis=1)

    def hits(self, F, Y):
        xp = array_namespace(F)
        return xp.argmax(F, axis=1) == xp.argmax(Y, axis=1)


class IdentityHead(Head):
    """Regression: y_hat = F, loss (1/2) ||F_i - y_i||^2 per sample (mean: 1/(2N) sum ||f - y||^2)."""

    name = "identity"
    is_classifier = False

    def output(self, F):
        return F

    def sample_losses(self, F, Y):
        R = F - Y
        return 0.5 * array_sum(R * R, axis=1), F

    def encode_targets(self, y, n_outputs):
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        if Y.ndim != 2:
            raise ValueError(f"regression targets must have shape (n,) or (n, k), got {y.shape}")
        if n_outputs is not None and Y.shape[1] != n_outputs:
            raise ValueError(f"the model has {n_outputs} outputs, targets have {Y.shape[1]}")
        return Y.astype(np.float64)

    def infer_outputs(self, y):
        return 1 if y.ndim == 1 else int(y.shape[1])

    def predict_from_logits(self, F):
        return F[:, 0] if F.shape[1] == 1 else F


def require_finite_logits(F: Array) -> None:
    """Raise `ValueError` unless every logit is finite: one reduction and one read-back per call;
    the rows are counted only on the error path."""
    xp = array_namespace(F)
    finite = xp.isfinite(F)
    if bool(xp.all(finite)):
        return
    bad = int(xp.sum(xp.astype(~xp.all(finite, axis=1), xp.int32)))
    raise ValueError(
        f"{bad} of {F.shape[0]} rows have NaN or infinite outputs, so no class can be predicted "
        "for them: the model diverged (its parameters or activations overflowed) or the input "
        "overflowed the model's dtype (features too large). Rescale the features, refit with a "
        "lower learning rate, or inspect decision_function(X) for the raw outputs"
    )


def _refuse_column_of_labels(y: np.ndarray) -> None:
    if y.ndim == 2 and y.shape[1] == 1:
        raise ValueError(
            f"softmax targets of shape {y.shape} are a column, not one-hot rows: the softmax "
            "head takes class indices of shape (n,) or one-hot targets of shape (n, k) with "
            "k >= 2 classes; pass y.ravel() for class indices (or use output='sigmoid' for one "
            "0/1 output)"
        )


def _class_indices(y: np.ndarray) -> np.ndarray:
    if y.dtype.kind in "iub":
        return y.astype(np.int64)
    rounded = np.round(y)
    if not np.array_equal(rounded, y):
        raise ValueError(
            "softmax targets of shape (n,) must be integer class indices; found non-integer values "
            f"such as {y[rounded != y][:3].tolist()}"
        )
    return rounded.astype(np.int64)


HEADS: dict[str, type[Head]] = {h.name: h for h in (SigmoidHead, SoftmaxHead, IdentityHead)}
ALIASES = {"logistic": "sigmoid", "linear": "identity", "regression": "identity"}


def get_head(name: str | Head) -> Head:
    """A head by name: ``"sigmoid"``, ``"softmax"`` or ``"identity"``."""
    if isinstance(name, Head):
        return name
    if not isinstance(name, str):
        raise TypeError(f"output must be a head name (str), got {type(name).__name__}")
    key = ALIASES.get(name, name)
    if key not in HEADS:
        raise ValueError(f"unknown output head {name!r}; valid names are {', '.join(HEADS)}")
    return HEADS[key]()

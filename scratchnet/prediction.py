"""Predictions and evaluation of a built `Model` on user data: the checked public calls.

Each call checks its input (`scratchnet.validation`), runs the network in inference mode through
`Model.infer` (chunk by chunk, so memory maps stream; see `scratchnet.streaming`) and, where the
caller passes ``out=``, writes the results into it chunk by chunk. `PredictionMixin` is a base of
`Model`; it holds no state of its own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from . import validation as check
from .evaluation import evaluate_arrays
from .streaming import predict_into
from .targets import prepare_targets

Array = Any


def on_backend_device(method: Callable) -> Callable:
    """Run a Model method with the backend's device current (CuPy allocates on the current one)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self.backend.activate():
            return method(self, *args, **kwargs)

    return wrapper


class PredictionMixin:
    """`decision_function`, `predict_proba`, `predict` and `evaluate` of `Model`."""

    @on_backend_device
    def decision_function(self, X: Any, out: np.ndarray | None = None) -> Array:
        """Logits F of shape (n, n_outputs), computed in inference mode and in chunks.

        Rows whose logits are not finite (a diverged model, or inputs too large for its dtype)
        are returned as they are: NaN or inf, never made up.

        Parameters
        ----------
        X : array of shape (n, n_features)
            NumPy array, an array of the model's backend, or data read chunk by chunk (a memory
            map, an h5py- or zarr-like array-like; see `scratchnet.streaming`). Such data is read
            once: each chunk is checked for NaN, inf and overflow as it is read, so a bad row
            raises a `ValueError` naming it when its chunk comes (with ``out``, the chunks before
            it are written).
        out : numpy.ndarray of shape (n, n_outputs), optional
            Writable, of the model's float dtype (a memory map from
            ``np.lib.format.open_memmap`` is one): the logits are written into it chunk by chunk
            and ``out`` is returned. A wrong shape or dtype is a `ValueError`.
        """
        self._require_built()
        Xd = check.inference_features(X, self.backend, self.dtype, self.n_features)
        if out is not None:
            return predict_into(self, Xd, out, lambda F: F)
        return self.infer(Xd)

    @on_backend_device
    def predict_proba(self, X: Any, out: np.ndarray | None = None) -> Array:
        """Class probabilities: softmax rows (n, V) or sigmoid outputs (n, k).

        Rows whose logits are not finite are not refused here: their probabilities come out NaN
        where undefined (or exactly 0/1 for an infinite sigmoid logit); `predict` refuses them.
        X and ``out`` (shape (n, V) or (n, k), the model's float dtype) are taken as by
        `decision_function`: with ``out``, the probabilities are written into it chunk by chunk
        and ``out`` is returned.
        """
        if not self.head.is_classifier:
            raise ValueError(
                "predict_proba needs a 'softmax' or 'sigmoid' output; this model regresses"
            )
        return self._from_logits(X, out, self.head.output)

    @on_backend_device
    def predict(self, X: Any, out: np.ndarray | None = None) -> Array:
        """Class indices (softmax), 0/1 labels (sigmoid, threshold 0.5) or values (identity).

        X is taken as by `decision_function`. With ``out`` (a writable NumPy array, a memory map
        included, of shape (n,) (or (n, k) for k sigmoid or identity outputs) and the dtype the
        predictions have: the library's index type for classifiers, the model's float dtype for
        regression), predictions are written into it chunk by chunk and ``out`` is returned; a
        wrong shape or dtype is a `ValueError` that names the expected ones.

        Raises
        ------
        ValueError
            For a classifier, when any row's outputs are not finite: no label is made up for
            it. The message counts the rows (of the chunk that held them, when writing into
            ``out``, which then holds the chunks before it); the cause is a diverged model or
            input that overflows the model's dtype. The check is one ``isfinite`` reduction per
            call (per chunk with ``out``). Regression outputs are returned as they are (NaN
            stays visible).
        """
        return self._from_logits(X, out, self.head.predict_from_logits)

    def _from_logits(self, X: Any, out: np.ndarray | None, convert: Callable) -> Array:
        """convert(F) for the logits F of X: written into ``out`` chunk by chunk, or a new array."""
        if out is None:
            return convert(self.decision_function(X))
        self._require_built()
        Xd = check.inference_features(X, self.backend, self.dtype, self.n_features)
        return predict_into(self, Xd, out, convert)

    @on_backend_device
    def evaluate(self, X: Any, y: Any, sample_weight: Any = None) -> dict[str, float]:
        """Loss and metrics in inference mode, without the L2 penalty.

        X may be data read chunk by chunk (a memory map; see `decision_function`); y and the
        weights are read into memory.

        Returns
        -------
        dict
            ``loss`` and ``accuracy`` for classifiers; ``loss``, ``mse`` and ``r2`` for regression.
        """
        self._require_built()
        X = check.stream_features(X, self.backend, self.dtype, self.n_features)
        return evaluate_arrays(self, *prepare_targets(self, X, y, sample_weight))

"""`MLPRegressor`: scikit-learn's multilayer perceptron regressor on a scratchnet `Model`."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score

from ..backends import to_numpy
from .base import _BaseMLP
from .docstrings import fill_docstring


@fill_docstring
class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multilayer perceptron regressor, scikit-learn's API on a scratchnet `Model`.

    Minimises the mean of (1/2) ||f(x_i) - y_i||^2 with an identity output; ``y`` may have several
    columns (one output each).

    Parameters
    ----------
    {common}

    Attributes
    ----------
    {attributes}

    Examples
    --------
    >>> import numpy as np
    >>> from scratchnet.sklearn import MLPRegressor
    >>> X = np.random.default_rng(0).uniform(-1, 1, size=(300, 2))
    >>> reg = MLPRegressor((32,), learning_rate_init=0.01, max_iter=300, random_state=0)
    >>> reg.fit(X, X[:, 0] * X[:, 1]).predict(X[:3]).shape
    (3,)
    """

    _head = "identity"

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """Train on (X, y), starting afresh unless ``warm_start``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Host data, or an array of the estimator's backend (it then stays on the device).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """One epoch over (X, y), continuing the network and its optimiser.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def _prepare_targets(self, y, first_pass, incremental, classes):
        y = y.astype(np.float64, copy=False)
        n_outputs = 1 if y.ndim == 1 else int(y.shape[1])
        if not first_pass and n_outputs != self.n_outputs_:
            raise ValueError(
                f"y has {n_outputs} outputs but the model was fitted with {self.n_outputs_}"
            )
        return y, n_outputs, None

    def _validation_score(self, X_val, y_val, w_val):
        pred = to_numpy(self.model_.predict(X_val))
        if not np.isfinite(pred).all():
            return float("nan")
        return float(r2_score(y_val, pred, sample_weight=w_val))

    def predict(self, X: Any) -> Any:
        """Predicted values.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) for one output, else (n_samples, n_outputs)
            NumPy, or under ``array_api_dispatch`` an array of ``X``'s library and device.
        """
        on_device = self._returns_device_arrays(X)
        X = self._check_X(X)
        return self._output(self.model_.predict(X), on_device)

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Coefficient of determination R^2 = 1 - SS_res / SS_tot of `predict` on (X, y).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Under ``array_api_dispatch``: NumPy, or an array of ``X``'s library.
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        float
        """
        if not self._dispatching():
            return super().score(X, y, sample_weight)
        return self._host_score(r2_score, X, y, sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

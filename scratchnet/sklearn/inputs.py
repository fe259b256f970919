"""Input checks of the MLP estimators: host data goes through scikit-learn's checks, an array of
the estimator's own (non-NumPy) backend stays on the device and only has its shape checked."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from ..backends import get_backend, library_of, to_numpy
from ..model import Model

#: NumPy dtypes that host input keeps (anything else is converted to float64)
_FLOAT_DTYPES = (np.float64, np.float32)


class InputChecks:
    """Mixin of `_BaseMLP`: checks of ``X`` and ``y`` for fitting and prediction."""

    def _is_device_array(self, X: Any, backend_name: str) -> bool:
        """True for an array of the (non-NumPy) backend's own library: it stays on the device."""
        library = library_of(X)
        return library not in (None, "numpy") and library == backend_name

    def _check_device_X(self, X: Any, reset: bool) -> Any:
        """Shape checks for a device array; dtype and finiteness are checked by the model."""
        shape = tuple(X.shape)
        if len(shape) != 2:
            raise ValueError(
                f"Expected a 2D array of shape (n_samples, n_features), got shape {shape}"
            )
        if reset:
            self.n_features_in_ = shape[1]
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        elif shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        return X

    def _check_X_y(self, X: Any, y: Any, reset: bool) -> tuple[Any, np.ndarray]:
        if reset:  # a fresh network: the backend parameter decides
            backend_name = get_backend(self.backend, self.device).name
        else:
            backend_name = self.model_.backend.name
        if not self._is_device_array(X, backend_name):
            return validate_data(
                self,
                X,
                y,
                multi_output=True,
                y_numeric=not self._is_classifier(),
                dtype=_FLOAT_DTYPES,
                reset=reset,
            )
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but y is None")
        X = self._check_device_X(X, reset)
        y = check_array(
            to_numpy(y),
            ensure_2d=False,
            dtype="numeric" if not self._is_classifier() else None,
            input_name="y",
        )
        check_consistent_length(X, y)
        return X, y

    def _check_X(self, X: Any) -> Any:
        """Features for prediction: host data through scikit-learn's checks, or a device array."""
        check_is_fitted(self, "model_")
        if self._is_device_array(X, self.model_.backend.name):
            return self._check_device_X(X, reset=False)
        return validate_data(self, X, reset=False, dtype=_FLOAT_DTYPES)

    @classmethod
    def _is_classifier(cls) -> bool:
        return issubclass(cls, ClassifierMixin)


def take_rows(X: Any, idx: np.ndarray, model: Model) -> Any:
    """Rows ``idx`` of host or device features."""
    if isinstance(X, np.ndarray):
        return X[idx]
    xp = model.backend.xp
    return xp.take(X, model.backend.asarray(idx), axis=0)

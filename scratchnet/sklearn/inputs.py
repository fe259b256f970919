"""Input checks of the MLP estimators: host data goes through scikit-learn's checks, an array of
the estimator's own (non-NumPy) backend stays on the device and only has its shape checked.

Under scikit-learn's ``array_api_dispatch`` the network trains where the input lives: a fresh
network's backend follows the namespace and device of ``X`` (see `InputChecks._training_backend`),
and predictions for such ``X`` come back in that namespace (`InputChecks._output`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sklearn
from sklearn.base import ClassifierMixin
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from ..backends import Backend, describe_array, get_backend, library_of, to_numpy
from ..model import Model

#: NumPy dtypes that host input keeps (anything else is converted to float64)
_FLOAT_DTYPES = (np.float64, np.float32)


def dispatch_enabled() -> bool:
    """True while scikit-learn's ``array_api_dispatch`` is on (``sklearn.set_config`` or
    ``sklearn.config_context``)."""
    return bool(sklearn.get_config().get("array_api_dispatch", False))


class InputChecks:
    """Mixin of `_BaseMLP`: checks of ``X`` and ``y`` for fitting and prediction."""

    @staticmethod
    def _dispatching() -> bool:
        """`dispatch_enabled`, for the estimators' own methods."""
        return dispatch_enabled()

    def _training_backend(self, X: Any) -> Backend:
        """The backend a fresh network trains on.

        Without ``array_api_dispatch``, and for host input (NumPy, lists, DataFrames), it is
        ``backend`` on ``device``. Under dispatch an array of another library (CuPy, PyTorch,
        JAX, array-api-strict) decides: the network trains on that library and on the array's
        device, as scikit-learn's array-API estimators do. ``backend="numpy"`` (the default) and
        ``"auto"`` follow the input; naming another library, or a device other than the
        array's, raises `ValueError`.
        """
        library = library_of(X)
        if not dispatch_enabled() or library in (None, "numpy"):
            return get_backend(self.backend, self.device)
        from array_api_compat import device

        if self.backend not in ("numpy", "auto", library):
            raise ValueError(
                f"array_api_dispatch is on and X is {describe_array(X)}, so the network trains "
                f"on {library}; but backend={self.backend!r}. Leave backend='numpy' (the "
                f"default) or 'auto' to follow the input, set backend={library!r}, or pass X "
                f"as a {self.backend} (or NumPy) array"
            )
        backend = get_backend(library, device(X))
        if self.device is not None and get_backend(library, self.device) != backend:
            raise ValueError(
                f"array_api_dispatch is on and X is {describe_array(X)}, but device="
                f"{self.device!r}; leave device=None to train where X lives, or move X there"
            )
        return backend

    def _returns_device_arrays(self, X: Any) -> bool:
        """True when results for ``X`` stay in the network's namespace and device: under
        ``array_api_dispatch``, for an array of the fitted network's library. Otherwise results
        are NumPy arrays, as without dispatch."""
        model = getattr(self, "model_", None)  # unfitted: `_check_X` says so
        return (
            model is not None
            and dispatch_enabled()
            and self._is_device_array(X, model.backend.name)
        )

    def _output(self, out: Any, on_device: bool) -> Any:
        """A result of the network for the caller: as it is when ``on_device``, else on the
        host (NumPy)."""
        return out if on_device else to_numpy(out)

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

    def _check_X_y(
        self, X: Any, y: Any, reset: bool, backend: Backend | None = None
    ) -> tuple[Any, np.ndarray]:
        """``(X, y)`` checked: ``y`` on the host, ``X`` on the host or left on the device.

        ``backend`` is the fresh network's (`_training_backend`) when ``reset``; otherwise the
        fitted network's decides which arrays stay on the device.
        """
        if reset:  # a fresh network: the backend parameter (or, under dispatch, X) decides
            backend_name = (backend or get_backend(self.backend, self.device)).name
        else:
            backend_name = self.model_.backend.name
        if dispatch_enabled() and library_of(y) not in (None, "numpy"):
            y = to_numpy(y)  # labels are handled on the host (they may be strings)
        if not self._is_device_array(X, backend_name):
            self._check_foreign_array(X, backend_name)
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

    def _check_X(self, X: Any, method: str = "predict") -> Any:
        """Features for prediction: host data through scikit-learn's checks, or a device array.

        ``method`` names the caller in the error for an input of another namespace."""
        check_is_fitted(self, "model_")
        self._check_same_namespace(X, method)
        if self._is_device_array(X, self.model_.backend.name):
            return self._check_device_X(X, reset=False)
        return validate_data(self, X, reset=False, dtype=_FLOAT_DTYPES)

    def _record_input_library(self, X: Any) -> None:
        """Remember the library of the data a fresh network is fitted on (NumPy for host data)."""
        self._fit_library = library_of(X) or "numpy"

    def _check_same_namespace(self, X: Any, method: str) -> None:
        """Under ``array_api_dispatch``, ``X`` must come from the library and device the
        estimator was fitted on, as scikit-learn requires of its array-API estimators
        (``check_same_namespace``): results could not come back in both namespaces."""
        fitted = getattr(self, "_fit_library", None)
        if not dispatch_enabled() or fitted is None:
            return
        library = library_of(X) or "numpy"
        backend = self.model_.backend
        if library == fitted and (
            library == "numpy" or str(backend.array_device(X)) == str(backend.device)
        ):
            return
        where = "NumPy (host) data" if fitted == "numpy" else f"{fitted} arrays on {backend.device}"
        raise ValueError(
            f"{type(self).__name__}.{method}(): X must use the same namespace and device as the "
            f"data the estimator was fitted on ({where}), as array_api_dispatch requires; got "
            f"{describe_array(X)}. Move X there (scratchnet.to_device) or refit"
        )

    def _check_foreign_array(self, X: Any, backend_name: str) -> None:
        """Under ``array_api_dispatch``, scikit-learn's checks keep an array in its own
        namespace, which a network of another library cannot take: say so. (Without dispatch
        they convert it to NumPy, as they always did.)"""
        library = library_of(X)
        if dispatch_enabled() and library not in (None, "numpy", backend_name):
            accepted = "a NumPy" if backend_name == "numpy" else f"a {backend_name} or NumPy"
            raise ValueError(
                f"array_api_dispatch is on and X is {describe_array(X)}, but the network runs "
                f"on {backend_name}: pass X as {accepted} array (see scratchnet.to_device), or "
                "refit on this input"
            )

    @classmethod
    def _is_classifier(cls) -> bool:
        return issubclass(cls, ClassifierMixin)


def take_rows(X: Any, idx: np.ndarray, model: Model) -> Any:
    """Rows ``idx`` of host or device features."""
    if isinstance(X, np.ndarray):
        return X[idx]
    xp = model.backend.xp
    return xp.take(X, model.backend.asarray(idx), axis=0)

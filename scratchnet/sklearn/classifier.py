"""`MLPClassifier`: scikit-learn's multilayer perceptron classifier on a scratchnet `Model`."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from array_api_compat import array_namespace
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels

from ..backends import library_of, to_device, to_numpy
from .base import _BaseMLP
from .docstrings import fill_docstring


@fill_docstring
class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multilayer perceptron classifier, scikit-learn's API on a scratchnet `Model`.

    Two classes use one sigmoid output (``out_activation_ == "logistic"``), more classes a softmax
    output, and a 2-D 0/1 indicator ``y`` (multi-label) one sigmoid output per label. Labels may be
    any sortable values (strings, ints, bools, ...); ``classes_`` holds them sorted, with
    scikit-learn's dtype (`sklearn.utils.multiclass.unique_labels` of ``y``, or of ``classes`` in
    `partial_fit`: strings in an object array become a str array), and `predict` returns labels of
    that dtype.

    Parameters
    ----------
    {common}
    class_weight : dict, "balanced" or None, default=None
        Weight per class label (``{{"cat": 2.0}}``), or weights inversely proportional to class
        frequencies in the training rows; multiplies ``sample_weight``. Not for multi-label y.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (``arange(n_labels)`` for multi-label y). Under ``array_api_dispatch`` with
        ``X`` of another library, numeric and bool labels are an array of that library on ``X``'s
        device; string labels stay NumPy.
    {attributes}

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.preprocessing import scale
    >>> from scratchnet.sklearn import MLPClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = MLPClassifier((16,), max_iter=300, tol=1e-3, random_state=0).fit(scale(X), y)
    >>> clf.out_activation_, clf.predict_proba(scale(X)[:2]).shape
    ('logistic', (2, 2))
    """

    _parameter_constraints: ClassVar[dict] = {
        **_BaseMLP._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: str | Any = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool | int = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int | float = 10,
        dropout: float | Any = 0.0,
        batch_norm: bool = False,
        init: Any = None,
        class_weight: dict | str | None = None,
        backend: str = "numpy",
        device: Any = None,
        dtype: str = "float64",
    ) -> None:
        super().__init__(
            hidden_layer_sizes,
            activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            dropout=dropout,
            batch_norm=batch_norm,
            init=init,
            backend=backend,
            device=device,
            dtype=dtype,
        )
        self.class_weight = class_weight

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPClassifier:
        """Train on (X, y), starting afresh unless ``warm_start``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Host data, or an array of the estimator's backend (it then stays on the device).
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a 0/1 indicator matrix for multi-label problems.
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(
        self, X: Any, y: Any, sample_weight: Any = None, classes: Any = None
    ) -> MLPClassifier:
        """One epoch over (X, y), continuing the network and its optimiser.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        sample_weight : array-like of shape (n_samples,), optional
        classes : array-like of shape (n_classes,), optional
            Every class label of the whole problem; required on the first call (for multi-label
            y: ``np.arange(n_labels)``).

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _prepare_targets(self, y, first_pass, incremental, classes):
        check_classification_targets(y)
        kind = type_of_target(y)
        if kind not in ("binary", "multiclass", "multilabel-indicator"):
            raise ValueError(
                f"MLPClassifier supports binary, multiclass and multilabel-indicator targets, "
                f"got {kind} y"
            )
        multilabel = kind == "multilabel-indicator"
        if first_pass:
            self._set_classes(y, multilabel, incremental, classes)
        else:
            self._check_known_classes(y, multilabel, incremental, classes)
        classes = self._host_classes()
        if self._multilabel:
            return y.astype(np.int64), len(classes), None
        idx = np.searchsorted(classes, y).astype(np.int64)
        return idx, (1 if len(classes) == 2 else len(classes)), idx

    def _host_classes(self) -> np.ndarray:
        """``classes_`` as a NumPy array (it is a device array after a fit under dispatch)."""
        return to_numpy(self.classes_)

    def _place_labels(self, on_device: bool) -> None:
        """Under dispatch, numeric and bool ``classes_`` move to the network's device, as
        scikit-learn's array-API estimators keep them; strings cannot and stay NumPy."""
        if on_device and self._host_classes().dtype.kind in "biuf":
            self.classes_ = to_device(self.classes_, self.model_.backend)

    def _set_classes(self, y, multilabel, incremental, classes) -> None:
        if incremental and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if multilabel:
            labels = np.arange(y.shape[1])
            if incremental and not np.array_equal(np.unique(classes), labels):
                raise ValueError(
                    f"for multi-label y with {y.shape[1]} columns, classes must be "
                    f"np.arange({y.shape[1]}), got {classes!r}"
                )
        elif incremental:
            if library_of(classes) not in (None, "numpy"):
                classes = to_numpy(classes)  # labels are handled on the host
            labels = unique_labels(classes)
            unknown = np.setdiff1d(np.unique(y), labels)
            if unknown.size:
                raise ValueError(f"y has labels {unknown.tolist()} that are not in classes")
        else:
            labels = unique_labels(y)
        if labels.shape[0] < 2:
            raise ValueError(
                "MLPClassifier needs samples of at least 2 classes, but y has only 1 class: "
                f"{labels.tolist()}"
            )
        self.classes_ = labels
        self._multilabel = multilabel
        self._head = "sigmoid" if multilabel or labels.shape[0] == 2 else "softmax"

    def _check_known_classes(self, y, multilabel, incremental, classes) -> None:
        if multilabel != self._multilabel:
            raise ValueError(
                "y is multi-label but the fitted model is not, or the other way round; refit "
                "with warm_start=False"
            )
        known = self._host_classes()
        if classes is not None and not np.array_equal(np.unique(to_numpy(classes)), known):
            raise ValueError(
                f"classes={classes!r} is not the same as on the first call to partial_fit, "
                f"was {known!r}"
            )
        if multilabel:
            if y.shape[1] != len(known):
                raise ValueError(
                    f"y has {y.shape[1]} labels but the model was fitted with {len(known)}"
                )
            return
        present = np.unique(y)
        if self.warm_start and not incremental:
            if not np.array_equal(present, known):
                raise ValueError(
                    "warm_start can only be used where y has the same classes as in the "
                    f"previous call to fit. Previously got {known}, y has {present}"
                )
        unknown = np.setdiff1d(present, known)
        if unknown.size:
            raise ValueError(
                f"y has classes {unknown.tolist()} that are not in classes_ {known.tolist()}"
            )

    def _core_class_weight(self, incremental: bool) -> Any:
        cw = self.class_weight
        if cw is None:
            return None
        if self._multilabel:
            raise ValueError("class_weight is not supported for multi-label y")
        if isinstance(cw, str):
            if incremental:
                raise ValueError(
                    "class_weight='balanced' needs the class frequencies of the whole data, "
                    "which partial_fit does not see; pass a dict of weights instead"
                )
            return cw
        known = self._host_classes().tolist()
        unknown = [label for label in cw if label not in set(known)]
        if unknown:
            raise ValueError(f"class_weight has labels {unknown} that are not in classes_ {known}")
        lookup = {label: i for i, label in enumerate(known)}
        return {lookup[label]: weight for label, weight in cw.items()}

    def _validation_score(self, X_val, y_val, w_val):
        pred = to_numpy(self.model_.predict(X_val))
        return float(accuracy_score(y_val, pred, sample_weight=w_val))

    def predict(self, X: Any) -> Any:
        """Predicted class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,), or (n_samples, n_labels) 0/1 for multi-label y
            NumPy, or under ``array_api_dispatch`` an array of ``X``'s library and device
            (string labels: NumPy).
        """
        on_device = self._returns_device_arrays(X)
        X = self._check_X(X, "predict")
        idx = self.model_.predict(X)
        xp = self.model_.backend.xp
        if self._multilabel:
            return xp.astype(idx, xp.int64) if on_device else to_numpy(idx).astype(np.int64)
        classes = self._host_classes()
        if on_device and classes.dtype.kind in "biuf":
            labels = to_device(self.classes_, self.model_.backend)  # no copy where it is there
            return xp.take(labels, idx, axis=0)
        return classes[to_numpy(idx)]

    def predict_proba(self, X: Any) -> Any:
        """Class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Rows sum to 1, except for multi-label y where each column is one label's probability.
            NumPy, or under ``array_api_dispatch`` an array of ``X``'s library and device.
        """
        on_device = self._returns_device_arrays(X)
        X = self._check_X(X, "predict_proba")
        P = self._output(self.model_.predict_proba(X), on_device)
        if not self._multilabel and P.shape[1] == 1:
            xp = array_namespace(P)
            P = xp.concat([1.0 - P, P], axis=1)
        return P

    def predict_log_proba(self, X: Any) -> Any:
        """Logarithm of `predict_proba`, computed stably from the logits.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            NumPy, or under ``array_api_dispatch`` an array of ``X``'s library and device.
        """
        on_device = self._returns_device_arrays(X)
        X = self._check_X(X, "predict_log_proba")
        F = self._output(self.model_.decision_function(X), on_device)
        xp = array_namespace(F)
        if self.model_.output == "softmax":
            top = xp.max(F, axis=1, keepdims=True)
            return F - (top + xp.log(xp.sum(xp.exp(F - top), axis=1, keepdims=True)))
        zero = xp.zeros_like(F)
        if self._multilabel:
            return -xp.logaddexp(zero, -F)  # log sigma(f)
        return xp.concat([-xp.logaddexp(zero, F), -xp.logaddexp(zero, -F)], axis=1)

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean accuracy of `predict` on (X, y), as a float.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Under ``array_api_dispatch``: NumPy, or an array of ``X``'s library.
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        float
        """
        if not self._dispatching():
            return super().score(X, y, sample_weight)
        return self._host_score(accuracy_score, X, y, sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        tags.classifier_tags.multi_label = True
        return tags

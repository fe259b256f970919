"""scikit-learn estimators: `MLPClassifier` and `MLPRegressor` on top of `scratchnet.Model`.

They take scikit-learn's ``sklearn.neural_network`` parameters with the same names and defaults
(``hidden_layer_sizes``, ``solver``, ``alpha``, ``learning_rate``, ``tol``, ``n_iter_no_change``,
``early_stopping``, ``warm_start``, ...), set the same fitted attributes (``coefs_``,
``loss_curve_``, ``n_iter_``, ``best_loss_``, ...) and stop by the same rule, so they drop into
`Pipeline`, `GridSearchCV` and `clone`. On top of that they offer what scikit-learn's MLP lacks:
``dropout``, ``batch_norm``, one activation per hidden layer, any scratchnet activation and
initialiser, ``class_weight``, and a ``backend`` argument that trains on NumPy, CuPy (GPU),
PyTorch, JAX or array-api-strict. Predictions always come back as host NumPy arrays.

Choices that differ from scikit-learn's MLP, all deliberate:

- ``solver`` is ``"adam"`` or ``"sgd"``; there is no L-BFGS, and ``partial_fit`` always exists.
- Sparse input is refused with a message (densify with ``X.toarray()``).
- ``init=None`` picks the initialiser by activation (He for the relu family, Xavier for tanh and
  logistic), where scikit-learn always uses Glorot uniform.
- ``dtype="float64"`` by default, so that results match scikit-learn's numerics on float64 data and
  predictions on a subset of rows equal the same rows of a full prediction. Pass
  ``dtype="float32"`` for speed on a GPU (JAX needs it unless ``JAX_ENABLE_X64=1``).
- A diverging loss (NaN/inf) stops training with `scratchnet.TrainingDivergedWarning` and puts
  back the weights of the best epoch, instead of raising after the last epoch.
- The regression loss reported in ``loss_curve_`` is (1/2) sum_k (f_k - y_k)^2 averaged over
  samples; scikit-learn also divides by the number of outputs (the gradients agree).

>>> from sklearn.datasets import load_iris
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> from scratchnet.sklearn import MLPClassifier
>>> X, y = load_iris(return_X_y=True)
>>> clf = make_pipeline(
...     StandardScaler(),
...     MLPClassifier((32,), dropout=0.1, learning_rate_init=0.01, max_iter=300, random_state=0),
... ).fit(X, y)
>>> clf.score(X, y) > 0.9
True
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.utils import check_random_state, column_or_1d
    from sklearn.utils._param_validation import Interval, Options, StrOptions
    from sklearn.utils.multiclass import check_classification_targets, type_of_target
    from sklearn.utils.validation import (
        _check_sample_weight,
        check_array,
        check_consistent_length,
        check_is_fitted,
        validate_data,
    )
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        f"scratchnet.sklearn needs scikit-learn >= 1.6: pip install 'scratchnet[sklearn]' ({exc})"
    ) from exc

from . import validation as check
from .activations import activation_names, get_activation
from .backends import get_backend, library_of, to_device, to_numpy
from .backends.registry import BACKEND_NAMES
from .callbacks import Callback
from .data import encode_labels, split_indices
from .initializers import get_initializer
from .layers import BatchNorm, Dense
from .model import Model
from .optimizers import SGD, Adam, Optimizer
from .schedules import Constant, InverseScaling, ReduceOnPlateau, Schedule

__all__ = ["MLPClassifier", "MLPRegressor"]

#: NumPy dtypes that host input keeps (anything else is converted to float64)
_FLOAT_DTYPES = (np.float64, np.float32)
#: scikit-learn's floor of the "adaptive" learning rate: below it the stopping rule ends training
_ADAPTIVE_MIN_LR = 1e-6


class _AdaptiveRate(ReduceOnPlateau):
    """scikit-learn's ``learning_rate="adaptive"``: the rate is divided by 5 (``factor=0.2``)
    each time the estimator's stopping rule trips, instead of stopping training.

    The plateau is judged by `_StoppingRule` with scikit-learn's exact counter (training loss, or
    validation score with early stopping), so the epoch hook of `ReduceOnPlateau` is switched off
    here. Saved with a model, it reloads as a plain `ReduceOnPlateau` with the same settings.
    """

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        """Reductions are driven by `_StoppingRule`, not by fit's epoch hook."""

    def reduce(self) -> float:
        """Multiply the current rate by ``factor`` and return it."""
        self.current = max(self.min_lr, self.current * self.factor)
        return self.current


class _StoppingRule(Callback):
    """scikit-learn's convergence rule, checked after each epoch of `Model.fit`.

    Without early stopping, an epoch counts as "no improvement" when its training loss is above
    ``best_loss_ - tol``; with early stopping, when its validation score is below
    ``best_validation_score_ + tol``. Any other epoch resets the count. When the count exceeds
    ``n_iter_no_change``, training stops, or with ``learning_rate="adaptive"`` the rate is divided
    by 5 and the count restarts (training stops once the rate is at most 1e-6). It also keeps the
    estimator's ``loss_curve_``, ``n_iter_``, ``t_`` and validation scores up to date.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
    n_train : int
        Training rows per epoch (for ``t_``).
    validation : tuple (X_val, y_val, w_val) or None
        Held-out data for early stopping: device features, host targets in the estimator's
        encoding, host weights or None.
    """

    def __init__(self, estimator: _BaseMLP, n_train: int, validation: tuple | None) -> None:
        self.estimator = estimator
        self.n_train = n_train
        self.validation = validation
        self.converged = False

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        est = self.estimator
        loss = float(logs["loss"])
        est.loss_ = loss
        est.loss_curve_.append(loss)
        est.n_iter_ += 1
        est.t_ += self.n_train
        if est.verbose:
            print(f"Iteration {est.n_iter_}, loss = {loss:.8f}")
        if self.validation is not None:
            score = est._validation_score(*self.validation)
            est.validation_scores_.append(score)
            if est.verbose:
                print(f"Validation score: {score:f}")
            # a NaN score compares False both times, as in scikit-learn
            if score < est.best_validation_score_ + est.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            if score > est.best_validation_score_:
                est.best_validation_score_ = score
                est._best_snapshot = self.model.snapshot()
        else:
            if loss > est.best_loss_ - est.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            est.best_loss_ = min(est.best_loss_, loss)
        if est._no_improvement_count > est.n_iter_no_change:
            what = "Validation score" if self.validation is not None else "Training loss"
            msg = (
                f"{what} did not improve more than tol={est.tol:f} for "
                f"{est.n_iter_no_change} consecutive epochs."
            )
            schedule = self.model.optimizer.schedule
            if isinstance(schedule, _AdaptiveRate):
                if schedule.current > _ADAPTIVE_MIN_LR:
                    lr = schedule.reduce()
                    est._no_improvement_count = 0
                    if est.verbose:
                        print(f"{msg} Setting learning rate to {lr:f}")
                    return
                msg += " Learning rate too small."
            if est.verbose:
                print(f"{msg} Stopping.")
            self.model.stop_training = True
            self.model.stop_reason = "tol"
            self.converged = True


class _BaseMLP(BaseEstimator, ABC):
    """Shared machinery of `MLPClassifier` and `MLPRegressor` (not for direct use)."""

    _parameter_constraints: ClassVar[dict] = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [str, list, tuple],
        "solver": [StrOptions({"sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        # scratchnet's SGD needs momentum < 1 (scikit-learn also accepts 1)
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "dropout": [Interval(Real, 0, 1, closed="left"), "array-like"],
        "batch_norm": ["boolean"],
        "init": [None, str, callable],
        "backend": [StrOptions({*BACKEND_NAMES, "auto"})],
        "device": "no_validation",
        "dtype": [StrOptions({"float32", "float64"})],
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
        backend: str = "numpy",
        device: Any = None,
        dtype: str = "float64",
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.init = init
        self.backend = backend
        self.device = device
        self.dtype = dtype

    # ------------------------------------------------------------------------------------------
    # what subclasses define
    _head: str = ""

    @abstractmethod
    def _prepare_targets(
        self, y: Any, first_pass: bool, incremental: bool, classes: Any
    ) -> tuple[np.ndarray, int, np.ndarray | None]:
        """(targets for `Model.fit`, number of outputs, stratification labels or None)."""

    @abstractmethod
    def _validation_score(self, X_val: Any, y_val: np.ndarray, w_val: np.ndarray | None) -> float:
        """scikit-learn's ``score`` on the held-out part, from device features."""

    # ------------------------------------------------------------------------------------------
    # hyperparameters
    def _architecture(self) -> tuple[tuple[int, ...], tuple[str, ...], tuple[float, ...]]:
        """Hidden widths, one activation and one dropout rate per hidden layer, checked."""
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, Integral):
            sizes = [sizes]
        sizes = list(sizes)
        if any(isinstance(h, bool) or not isinstance(h, Integral) or h <= 0 for h in sizes):
            raise ValueError(f"hidden_layer_sizes must be positive ints, got {sizes}")
        hidden = tuple(int(h) for h in sizes)
        n = len(hidden)
        if isinstance(self.activation, str):
            acts = (self.activation,) * n
        else:
            acts = tuple(self.activation)
            if len(acts) != n:
                raise ValueError(
                    f"activation has {len(acts)} entries but hidden_layer_sizes has {n} hidden "
                    "layers; give one name, or one per hidden layer"
                )
        for name in acts:
            if not isinstance(name, str):
                raise TypeError(f"activation names must be str, got {name!r}")
            try:
                get_activation(name)
            except ValueError:
                raise ValueError(
                    f"activation must be one of 'identity', 'logistic', 'tanh', 'relu' or a "
                    f"scratchnet activation ({', '.join(activation_names())}), got {name!r}"
                ) from None
        if isinstance(self.dropout, Real):
            rates = (float(self.dropout),) * n
        else:
            rates = tuple(np.asarray(self.dropout, dtype=np.float64).reshape(-1).tolist())
            if len(rates) != n:
                raise ValueError(
                    f"dropout has {len(rates)} entries but hidden_layer_sizes has {n} hidden "
                    "layers; give one rate, or one per hidden layer"
                )
        for rate in rates:
            check.check_float(rate, "dropout", 0.0, 1.0, high_open=True)
        if isinstance(self.init, str):
            get_initializer(self.init)
        return hidden, acts, rates

    def _seed(self) -> int | None:
        """An int seed for `Model` from ``random_state`` (None draws a fresh one)."""
        if self.random_state is None:
            return None
        if isinstance(self.random_state, Integral):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _make_optimizer(self) -> Optimizer:
        """scikit-learn's solvers as scratchnet optimisers; ``learning_rate`` applies to SGD."""
        lr = float(self.learning_rate_init)
        if self.solver == "adam":
            return Adam(lr, beta1=self.beta_1, beta2=self.beta_2, eps=self.epsilon)
        schedule: Schedule
        if self.learning_rate == "invscaling":
            schedule = InverseScaling(lr, power=self.power_t, unit="sample")
        elif self.learning_rate == "adaptive":
            patience = (
                int(self.n_iter_no_change) + 1 if np.isfinite(self.n_iter_no_change) else 2**31 - 1
            )
            schedule = _AdaptiveRate(
                lr, factor=0.2, patience=patience, min_delta=self.tol, monitor="loss"
            )
        else:
            schedule = Constant(lr)
        nesterov = bool(self.nesterovs_momentum) and self.momentum > 0
        return SGD(schedule, momentum=self.momentum, nesterov=nesterov)

    # ------------------------------------------------------------------------------------------
    # input checks
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

    # ------------------------------------------------------------------------------------------
    # training
    def _fit(
        self, X: Any, y: Any, sample_weight: Any, incremental: bool, classes: Any = None
    ) -> _BaseMLP:
        self._validate_params()
        hidden, acts, rates = self._architecture()
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        if self.early_stopping and self.validation_fraction <= 0:
            raise ValueError(
                "validation_fraction must be > 0 when early_stopping=True, got "
                f"{self.validation_fraction}"
            )
        first_pass = not hasattr(self, "model_") or (not self.warm_start and not incremental)
        if not first_pass:
            self._check_same_architecture(hidden, acts, rates)
        X, y = self._check_X_y(X, y, reset=first_pass)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        n = int(X.shape[0])
        w = None
        if sample_weight is not None:  # scikit-learn's checks and messages (scalars allowed)
            rows = X if isinstance(X, np.ndarray) else np.empty((n, 0))
            w = _check_sample_weight(
                sample_weight, rows, dtype=np.float64, ensure_non_negative=True
            )
        targets, n_outputs, stratify = self._prepare_targets(y, first_pass, incremental, classes)
        class_weight = self._core_class_weight(incremental)

        if first_pass:
            self._initialize(hidden, acts, rates, int(X.shape[1]), n_outputs)
        model = self.model_
        model.l2 = float(self.alpha)
        if incremental and model.optimizer is not None:
            optimizer = None  # partial_fit continues the optimiser and its state
            _restore_adaptive(model.optimizer)
        else:
            optimizer = self._make_optimizer()

        validation = None
        X_train, y_train, w_train = X, targets, w
        if self.early_stopping:
            train_idx, val_idx = split_indices(
                n, self.validation_fraction, model.shuffle_rng, stratify
            )
            if val_idx.shape[0] < 2:
                raise ValueError(
                    "The validation set is too small. Increase 'validation_fraction' or the "
                    "size of your dataset."
                )
            X_val = to_device(_take_rows(X, val_idx, model), model.backend, dtype=model.dtype_name)
            validation = (X_val, targets[val_idx], None if w is None else w[val_idx])
            X_train, y_train = _take_rows(X, train_idx, model), targets[train_idx]
            w_train = None if w is None else w[train_idx]
            if self.validation_scores_ is None:  # warm start after a fit without early stopping
                self.validation_scores_, self.best_validation_score_ = [], -np.inf
                self._best_snapshot = model.snapshot()
            self.best_loss_ = None
        elif self.best_loss_ is None:  # warm start after a fit with early stopping
            self.best_loss_ = np.inf
            self.validation_scores_ = self.best_validation_score_ = None

        n_train = int(X_train.shape[0])
        if self.batch_size == "auto":
            batch_size = min(200, n_train)
        else:
            if self.batch_size > n_train:
                warnings.warn(
                    f"Got batch_size={self.batch_size} larger than the {n_train} training "
                    "samples; it is clipped to the sample size",
                    UserWarning,
                    stacklevel=3,
                )
            batch_size = min(int(self.batch_size), n_train)

        self.n_iter_ = 0
        rule = _StoppingRule(self, n_train, validation)
        model.fit(
            X_train,
            y_train,
            epochs=1 if incremental else self.max_iter,
            batch_size=batch_size,
            optimizer=optimizer,
            shuffle=bool(self.shuffle),
            class_weight=class_weight,
            sample_weight=w_train,
            callbacks=[rule],
        )
        if self.early_stopping:
            model.restore(self._best_snapshot)
        if not incremental and not rule.converged and self.n_iter_ == self.max_iter:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    def _check_same_architecture(
        self, hidden: tuple[int, ...], acts: tuple[str, ...], rates: tuple[float, ...]
    ) -> None:
        """warm_start and partial_fit continue the fitted network, which cannot change shape."""
        model = self.model_
        fitted = (model.hidden, model.activation, model.dropout, model.batch_norm)
        if fitted != (hidden, acts, rates, bool(self.batch_norm)):
            raise ValueError(
                "warm_start and partial_fit continue the fitted network (hidden_layer_sizes="
                f"{model.hidden}, activation={model.activation}, dropout={model.dropout}, "
                f"batch_norm={model.batch_norm}), but the parameters now ask for "
                f"hidden_layer_sizes={hidden}, activation={acts}, dropout={rates}, "
                f"batch_norm={bool(self.batch_norm)}; refit with warm_start=False to change "
                "the architecture"
            )

    def _initialize(
        self,
        hidden: tuple[int, ...],
        acts: tuple[str, ...],
        rates: tuple[float, ...],
        n_features: int,
        n_outputs: int,
    ) -> None:
        """A fresh network and fresh counters (first fit, or a fit without warm start)."""
        self.model_ = Model(
            hidden=hidden,
            activation=acts,
            output=self._head,
            init=self.init,
            l2=float(self.alpha),
            dropout=rates,
            batch_norm=bool(self.batch_norm),
            reduction="mean",
            backend=self.backend,
            device=self.device,
            dtype=self.dtype,
            seed=self._seed(),
        ).build(n_features, n_outputs)
        self.n_outputs_ = n_outputs
        self.n_layers_ = len(hidden) + 2
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_ = []
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
            self._best_snapshot = self.model_.snapshot()
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = np.inf
            self._best_snapshot = None

    def _core_class_weight(self, incremental: bool) -> Any:
        """``class_weight`` in `Model.fit`'s terms (class indices); regressors have none."""
        return None

    # ------------------------------------------------------------------------------------------
    # fitted network in scikit-learn's layout
    @property
    def coefs_(self) -> list[np.ndarray]:
        """Weight matrices, host copies of shape (fan_in, fan_out), input layer first.

        With ``batch_norm=True`` each normalisation (its gamma, beta and running statistics) is
        folded into the preceding layer, so that ``coefs_`` and ``intercepts_`` describe the
        network used for prediction exactly: h = u(h_prev @ coefs_[i] + intercepts_[i]).
        """
        return self._inference_parameters()[0]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """Bias vectors, host copies of shape (fan_out,), aligned with `coefs_`."""
        return self._inference_parameters()[1]

    def _inference_parameters(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        if not hasattr(self, "model_"):
            raise AttributeError(f"this {type(self).__name__} is not fitted yet: call fit first")
        model = self.model_
        params = to_numpy(model.parameters())
        state = to_numpy(model.state())
        coefs, intercepts = [], []
        layers = model.layers
        for i, layer in enumerate(layers):
            if not isinstance(layer, Dense):
                continue
            W = params[f"{layer.name}.B"]
            b = params.get(f"{layer.name}.c", np.zeros(W.shape[1], dtype=W.dtype))
            following = layers[i + 1] if i + 1 < len(layers) else None
            if isinstance(following, BatchNorm):
                bn = following.name
                scale = params[f"{bn}.gamma"] / np.sqrt(state[f"{bn}.running_var"] + following.eps)
                W = W * scale
                b = (b - state[f"{bn}.running_mean"]) * scale + params[f"{bn}.beta"]
            coefs.append(W)
            intercepts.append(b)
        return coefs, intercepts

    @property
    def out_activation_(self) -> str:
        """Output function: ``"softmax"``, ``"logistic"`` or ``"identity"``."""
        check_is_fitted(self, "model_")
        return {"sigmoid": "logistic"}.get(self.model_.output, self.model_.output)

    # ------------------------------------------------------------------------------------------
    # pickling: a Model holds module references, so it travels as its saved form
    def __getstate__(self) -> dict[str, Any]:
        from .io import model_payload

        state = super().__getstate__()
        state = dict(state)
        if "model_" in state:
            state["model_"] = _PickledModel(*model_payload(state["model_"], include_optimizer=True))
        if state.get("_best_snapshot") is not None:
            state["_best_snapshot"] = to_numpy(state["_best_snapshot"])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        from .io import model_from_payload

        state = dict(state)
        packed = state.get("model_")
        if isinstance(packed, _PickledModel):
            state["model_"] = model_from_payload(
                packed.config, packed.arrays, device=state.get("device"), source="pickle"
            )
            _restore_adaptive(state["model_"].optimizer)
        super().__setstate__(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        return tags


class _PickledModel:
    """A `Model` as its JSON-able configuration and host arrays (see `scratchnet.io`)."""

    def __init__(self, config: dict, arrays: dict[str, np.ndarray]) -> None:
        self.config = config
        self.arrays = arrays


def _restore_adaptive(optimizer: Optimizer | None) -> None:
    """A reloaded model brings back ``"adaptive"`` as a plain `ReduceOnPlateau`: re-arm it."""
    if optimizer is None:
        return
    sched = optimizer.schedule
    if isinstance(sched, ReduceOnPlateau) and not isinstance(sched, _AdaptiveRate):
        adaptive = _AdaptiveRate(
            sched.initial,
            factor=sched.factor,
            patience=sched.patience,
            min_delta=sched.min_delta,
            monitor=sched.monitor,
            min_lr=sched.min_lr,
        )
        adaptive.current, adaptive.best, adaptive.wait = sched.current, sched.best, sched.wait
        optimizer.schedule = adaptive


def _take_rows(X: Any, idx: np.ndarray, model: Model) -> Any:
    """Rows ``idx`` of host or device features."""
    if isinstance(X, np.ndarray):
        return X[idx]
    xp = model.backend.xp
    return xp.take(X, model.backend.asarray(idx), axis=0)


_COMMON_PARAMS_DOC = """
    hidden_layer_sizes : int or array-like of int, default=(100,)
        Width of each hidden layer; ``()`` gives a linear (logistic) model.
    activation : str or sequence of str, default="relu"
        Hidden activation: ``"identity"``, ``"logistic"``, ``"tanh"``, ``"relu"`` or any
        scratchnet activation (``"leaky_relu"``, ``"elu"``, ``"selu"``, ``"gelu"``, ...), one name
        for all layers or one per hidden layer.
    solver : {"adam", "sgd"}, default="adam"
    alpha : float, default=0.0001
        L2 strength on the weights (not the biases), scaled by 1/batch size like scikit-learn's.
    batch_size : int or "auto", default="auto"
        ``"auto"`` is min(200, n_samples); larger values are clipped with a warning.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Schedule of the SGD solver (Adam ignores it, as in scikit-learn): constant;
        lr / (1 + t) ** power_t with t the samples seen; or divided by 5 whenever the stopping
        rule would stop, until it falls below 1e-6.
    learning_rate_init : float, default=0.001
    power_t : float, default=0.5
    max_iter : int, default=200
        Maximum epochs.
    shuffle : bool, default=True
        Reshuffle the rows every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds initial weights, shuffling, dropout masks and the early-stopping split; one seed gives
        the same network on every backend.
    tol : float, default=1e-4
    verbose : bool or int, default=False
        Print the loss (and validation score) after each epoch.
    warm_start : bool, default=False
        Continue from the fitted network instead of starting afresh (a new optimiser each fit).
        A continued network keeps the architecture, backend and dtype of its first fit.
    momentum : float in [0, 1), default=0.9
        SGD momentum.
    nesterovs_momentum : bool, default=True
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified for single-output classifiers),
        stop when its score stops improving and keep the weights of the best epoch.
    validation_fraction : float, default=0.1
    beta_1, beta_2 : float in [0, 1), default=0.9, 0.999
        Adam's moment decay rates.
    epsilon : float, default=1e-8
        Adam's denominator offset.
    n_iter_no_change : int or np.inf, default=10
        Epochs without an improvement of at least ``tol`` (training loss, or validation score with
        early stopping) before stopping; training stops after ``n_iter_no_change + 1`` of them.
    dropout : float or sequence of float, default=0.0
        Drop rate after each hidden activation (one for all layers or one per hidden layer).
    batch_norm : bool, default=False
        Batch normalisation between each hidden linear map and its activation.
    init : str or callable, optional
        Weight initialiser (``"he_uniform"``, ``"xavier_normal"``, ... or ``(shape, rng) ->
        ndarray``); None picks one per layer by its activation.
    backend : {"numpy", "cupy", "torch", "jax", "array_api_strict", "auto"}, default="numpy"
        Array library that trains the network; ``"auto"`` is CuPy when a GPU is usable.
    device : optional
        Device of the backend (``"cuda:1"``, ...).
    dtype : {"float64", "float32"}, default="float64"
        Precision of the network (float64 matches scikit-learn; float32 is faster on a GPU)."""

_COMMON_ATTRIBUTES_DOC = """
    loss_ : float
        Training loss of the last epoch (penalty included).
    loss_curve_ : list of float
        Training loss of every epoch (across warm starts and ``partial_fit`` calls).
    best_loss_ : float or None
        Lowest training loss; None with early stopping.
    validation_scores_ : list of float or None
        Held-out score of every epoch with early stopping, else None.
    best_validation_score_ : float or None
        Best held-out score with early stopping, else None.
    t_ : int
        Training samples seen by the solver.
    coefs_ : list of ndarray of shape (fan_in, fan_out)
        Weights of the prediction network (host copies; batch norm folded in).
    intercepts_ : list of ndarray of shape (fan_out,)
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when X was a DataFrame with string column names.
    n_iter_ : int
        Epochs run by the last ``fit`` (1 after ``partial_fit``).
    n_layers_ : int
        Hidden layers + 2.
    n_outputs_ : int
        Output units.
    out_activation_ : str
    model_ : scratchnet.Model
        The trained network, on its backend."""


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multilayer perceptron classifier, scikit-learn's API on a scratchnet `Model`.

    Two classes use one sigmoid output (``out_activation_ == "logistic"``), more classes a softmax
    output, and a 2-D 0/1 indicator ``y`` (multi-label) one sigmoid output per label. Labels may be
    any sortable values (strings, ints, ...).

    Parameters
    ----------
    {common}
    class_weight : dict, "balanced" or None, default=None
        Weight per class label (``{{"cat": 2.0}}``), or weights inversely proportional to class
        frequencies in the training rows; multiplies ``sample_weight``. Not for multi-label y.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (``arange(n_labels)`` for multi-label y).
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
        if self._multilabel:
            return y.astype(np.int64), len(self.classes_), None
        idx = np.searchsorted(self.classes_, y).astype(np.int64)
        return idx, (1 if len(self.classes_) == 2 else len(self.classes_)), idx

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
            labels = np.unique(np.asarray(classes))
            unknown = np.setdiff1d(np.unique(y), labels)
            if unknown.size:
                raise ValueError(f"y has labels {unknown.tolist()} that are not in classes")
        else:
            labels = encode_labels(y)[1]
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
        if classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(
                f"classes={classes!r} is not the same as on the first call to partial_fit, "
                f"was {self.classes_!r}"
            )
        if multilabel:
            if y.shape[1] != len(self.classes_):
                raise ValueError(
                    f"y has {y.shape[1]} labels but the model was fitted with {len(self.classes_)}"
                )
            return
        present = np.unique(y)
        if self.warm_start and not incremental:
            if not np.array_equal(present, self.classes_):
                raise ValueError(
                    "warm_start can only be used where y has the same classes as in the "
                    f"previous call to fit. Previously got {self.classes_}, y has {present}"
                )
        unknown = np.setdiff1d(present, self.classes_)
        if unknown.size:
            raise ValueError(
                f"y has classes {unknown.tolist()} that are not in classes_ "
                f"{self.classes_.tolist()}"
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
        unknown = [label for label in cw if label not in set(self.classes_.tolist())]
        if unknown:
            raise ValueError(
                f"class_weight has labels {unknown} that are not in classes_ "
                f"{self.classes_.tolist()}"
            )
        lookup = {label: i for i, label in enumerate(self.classes_.tolist())}
        return {lookup[label]: weight for label, weight in cw.items()}

    def _validation_score(self, X_val, y_val, w_val):
        pred = to_numpy(self.model_.predict(X_val))
        return float(accuracy_score(y_val, pred, sample_weight=w_val))

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,), or (n_samples, n_labels) 0/1 for multi-label y
        """
        X = self._check_X(X)
        idx = to_numpy(self.model_.predict(X))
        if self._multilabel:
            return idx.astype(np.int64)
        return self.classes_[idx]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Rows sum to 1, except for multi-label y where each column is one label's probability.
        """
        X = self._check_X(X)
        P = to_numpy(self.model_.predict_proba(X))
        if not self._multilabel and P.shape[1] == 1:
            P = np.concatenate([1.0 - P, P], axis=1)
        return P

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Logarithm of `predict_proba`, computed stably from the logits.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        X = self._check_X(X)
        F = to_numpy(self.model_.decision_function(X))
        if self.model_.output == "softmax":
            top = F.max(axis=1, keepdims=True)
            return F - (top + np.log(np.exp(F - top).sum(axis=1, keepdims=True)))
        if self._multilabel:
            return -np.logaddexp(0.0, -F)  # log sigma(f)
        return np.concatenate([-np.logaddexp(0.0, F), -np.logaddexp(0.0, -F)], axis=1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        tags.classifier_tags.multi_label = True
        return tags


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

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) for one output, else (n_samples, n_outputs)
        """
        X = self._check_X(X)
        return to_numpy(self.model_.predict(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags


for _cls in (MLPClassifier, MLPRegressor):
    _cls.__doc__ = _cls.__doc__.format(
        common=_COMMON_PARAMS_DOC.strip(), attributes=_COMMON_ATTRIBUTES_DOC.strip()
    )

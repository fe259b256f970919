"""`_BaseMLP`: what `MLPClassifier` and `MLPRegressor` share. It turns scikit-learn's parameters
into a scratchnet `Model` and optimiser, trains with scikit-learn's stopping rule
(`NoImprovementStopping`), and shows the fitted network in scikit-learn's layout."""

from __future__ import annotations

import os
import warnings
from abc import ABC, abstractmethod
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from .. import validation as check
from ..activations import activation_names, get_activation
from ..backends import library_of, to_device, to_numpy
from ..backends.registry import BACKEND_NAMES
from ..data import split_indices
from ..initializers import SklearnGlorot, get_initializer
from ..model import Model
from ..optimizers import SGD, Adam, Optimizer
from ..schedules import AdaptiveRate, Constant, InverseScaling, Schedule
from .inputs import InputChecks, dispatch_enabled, take_rows
from .layout import draw_sklearn_initial_parameters, inference_parameters
from .stopping import NoImprovementStopping

#: scikit-learn's floor of the "adaptive" learning rate: below it the stopping rule ends training
_ADAPTIVE_MIN_LR = 1e-6


class _BaseMLP(InputChecks, BaseEstimator, ABC):
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
        if isinstance(self.init, str) and self.init != "auto":
            get_initializer(self.init)
        return hidden, acts, rates

    def _glorot_factor(self, acts: tuple[str, ...]) -> float:
        """scikit-learn's factor of its Glorot bound: 2 for the logistic activation, else 6."""
        names = [self.activation] if isinstance(self.activation, str) else list(acts)
        logistic = bool(names) and all(get_activation(n).name == "sigmoid" for n in names)
        return 2.0 if logistic else 6.0

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
            # monitor=None: NoImprovementStopping judges the plateau with scikit-learn's counter
            schedule = AdaptiveRate(
                lr,
                factor=0.2,
                patience=patience,
                min_delta=self.tol,
                monitor=None,
                min_lr=_ADAPTIVE_MIN_LR,
            )
        else:
            schedule = Constant(lr)
        nesterov = bool(self.nesterovs_momentum) and self.momentum > 0
        return SGD(schedule, momentum=self.momentum, nesterov=nesterov)

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
        backend = self._training_backend(X) if first_pass else None
        if not first_pass:
            self._check_same_architecture(hidden, acts, rates)
        X, y = self._check_X_y(X, y, reset=first_pass, backend=backend)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        n = int(X.shape[0])
        w = None
        if dispatch_enabled() and library_of(sample_weight) not in (None, "numpy"):
            sample_weight = to_numpy(sample_weight)  # weights are checked on the host
        if sample_weight is not None:  # scikit-learn's checks and messages (scalars allowed)
            rows = X if isinstance(X, np.ndarray) else np.empty((n, 0))
            w = _check_sample_weight(
                sample_weight, rows, dtype=np.float64, ensure_non_negative=True
            )
        targets, n_outputs, stratify = self._prepare_targets(y, first_pass, incremental, classes)
        class_weight = self._core_class_weight(incremental)

        if first_pass:
            self._initialize(hidden, acts, rates, int(X.shape[1]), n_outputs, backend)
            self._record_input_library(X)
            self._place_labels(self._returns_device_arrays(X))
        model = self.model_
        model.l2 = float(self.alpha)
        if incremental and model.optimizer is not None:
            optimizer = None  # partial_fit continues the optimiser and its state
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
            X_val = to_device(take_rows(X, val_idx, model), model.backend, dtype=model.dtype_name)
            validation = (X_val, targets[val_idx], None if w is None else w[val_idx])
            X_train, y_train = take_rows(X, train_idx, model), targets[train_idx]
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
        rule = NoImprovementStopping(self, n_train, validation)
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
        backend: Any = None,
    ) -> None:
        """A fresh network and fresh counters (first fit, or a fit without warm start).

        ``backend`` is the `Backend` to train on (`_training_backend`); None means the
        ``backend`` and ``device`` parameters.

        ``init=None`` gives scikit-learn's initial network (`draw_sklearn_initial_parameters`),
        ``"auto"`` the `Model`'s choice by activation, anything else the Model's ``init``."""
        seed = self._seed()
        factor = self._glorot_factor(acts)
        if self.init is None:
            init = SklearnGlorot(factor)  # what the model records; the draws are scikit-learn's
        else:
            init = None if self.init == "auto" else self.init
        self.model_ = Model(
            hidden=hidden,
            activation=acts,
            output=self._head,
            init=init,
            l2=float(self.alpha),
            dropout=rates,
            batch_norm=bool(self.batch_norm),
            reduction="mean",
            backend=self.backend if backend is None else backend,
            device=self.device if backend is None else None,
            dtype=self.dtype,
            seed=seed,
        ).build(n_features, n_outputs)
        if self.init is None:
            draw_sklearn_initial_parameters(self.model_, factor, seed)
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

    def _place_labels(self, on_device: bool) -> None:
        """Put fitted label attributes where predictions go (classifiers: ``classes_``)."""

    def _host_score(self, metric: Any, X: Any, y: Any, sample_weight: Any) -> float:
        """``metric(y, predict(X))`` on the host, as a float: under ``array_api_dispatch``
        predictions may be device arrays and ``y`` a NumPy array (labels may be strings), so
        both are brought home before scikit-learn's metric compares them."""
        pred = to_numpy(self.predict(X))
        w = None if sample_weight is None else to_numpy(sample_weight)
        return float(metric(to_numpy(y), pred, sample_weight=w))

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
        return inference_parameters(self.model_)

    @property
    def out_activation_(self) -> str:
        """Output function: ``"softmax"``, ``"logistic"`` or ``"identity"``."""
        check_is_fitted(self, "model_")
        return {"sigmoid": "logistic"}.get(self.model_.output, self.model_.output)

    def export(self, path: str | os.PathLike, format: str = "onnx") -> Path:
        """Write the fitted network as an ONNX graph (see `scratchnet.Model.export`).

        The graph maps ``X`` (float32, [N, n_features]) to ``predict_proba`` for classifiers
        (columns in the order of ``classes_``: column j is the probability of ``classes_[j]``)
        and to the predictions for regressors. Labels are not in the graph: map the arg-max
        column j back with ``classes_[j]``.
        """
        check_is_fitted(self, "model_")
        from ..export import export_model

        return export_model(self, path, format)

    # ------------------------------------------------------------------------------------------
    # pickling: ``model_`` pickles by itself (`Model.__reduce__`), optimiser and schedule included
    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        # like model_, the early-stopping snapshot travels as host arrays (a device array would
        # pickle bound to its device, if its library pickles it at all); Model.restore moves it back
        if state.get("_best_snapshot") is not None:
            state["_best_snapshot"] = to_numpy(state["_best_snapshot"])
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        tags.array_api_support = True  # under array_api_dispatch the network follows X
        return tags

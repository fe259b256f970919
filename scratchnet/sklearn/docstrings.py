"""Docstring fragments shared by `MLPClassifier` and `MLPRegressor`: the parameters and fitted
attributes that both estimators have, filled into their ``{common}`` and ``{attributes}`` fields."""

from __future__ import annotations

COMMON_PARAMS_DOC = """
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
    init : None, "auto", str or callable, default=None
        None is scikit-learn's initialisation: every weight and bias drawn from U(-b, b) with
        b = sqrt(6 / (fan_in + fan_out)), or sqrt(2 / (fan_in + fan_out)) when ``activation`` is
        ``"logistic"``, in scikit-learn's order, so that an int ``random_state`` starts from the
        same network as scikit-learn's estimator (initialiser ``"sklearn_glorot"``).
        ``"auto"`` picks one per layer by its activation (He uniform for the relu family, Xavier
        for tanh and logistic, LeCun for selu), as `scratchnet.Model` does. Any other
        initialiser name (``"he_normal"``, ``"he_uniform"``, ``"xavier_uniform"``,
        ``"lecun_normal"``, ...) or a callable ``(shape, rng) -> ndarray`` draws the weights of
        every layer. With ``"auto"``, a name or a callable the biases start at zero.
    backend : {"numpy", "cupy", "torch", "jax", "array_api_strict", "auto"}, default="numpy"
        Array library that trains the network; ``"auto"`` is CuPy when a GPU is usable. Under
        scikit-learn's ``array_api_dispatch`` an ``X`` of PyTorch, CuPy, JAX or array-api-strict
        decides instead: the network trains on that library and ``X``'s device, and predictions
        come back there (``"numpy"`` and ``"auto"`` follow the input; another library raises
        ValueError).
    device : optional
        Device of the backend (``"cuda:1"``, ...); under dispatch, None follows ``X``.
    dtype : {"float64", "float32"}, default="float64"
        Precision of the network (float64 matches scikit-learn; float32 is faster on a GPU)."""

COMMON_ATTRIBUTES_DOC = """
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


def fill_docstring(cls: type) -> type:
    """Put the shared parameters and attributes into ``cls.__doc__`` and return ``cls``."""
    cls.__doc__ = cls.__doc__.format(
        common=COMMON_PARAMS_DOC.strip(), attributes=COMMON_ATTRIBUTES_DOC.strip()
    )
    return cls

"""`Model`: a stack of layers and an output head, trained by hand-derived backpropagation.

The forward pass runs the layers in order and ends in the logits F (the notes' f). The backward
pass starts from the head's dL/dF and runs the layers in reverse; each Dense layer receives its error
E(l) = dL/dZ(l) and stores dL/dB(l) = H(l-1)^T E(l) and dL/dc(l) = 1^T E(l). Chaining Dense
(E B^T), Dropout (* M / p) and Activation (* u'(Z)) backwards reproduces the notes' recursion
E(l) = (E(l+1) B(l+1)^T) * u'(Z(l)) with every factor visible.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import validation as check
from .activations import get_activation
from .backends import Backend, get_backend, to_device
from .heads import Head, get_head
from .initializers import get_initializer, initializer_config
from .layers import Activation, BatchNorm, BuildContext, Dense, Dropout, Layer
from .regularization import l2_gradient, l2_penalty

Array = Any
REDUCTIONS = ("mean", "sum")
#: rows per chunk for inference (predict, evaluate, validation loss)
INFERENCE_CHUNK = 8192


def _on_device(method: Callable) -> Callable:
    """Run a Model method with the backend's device current (CuPy allocates on the current one)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self.backend.activate():
            return method(self, *args, **kwargs)

    return wrapper


class Model:
    """A multilayer perceptron with a fused output head.

    Parameters
    ----------
    hidden : sequence of int
        Widths of the hidden layers, e.g. ``(64, 32)``; ``()`` gives a linear/logistic model.
    activation : str or sequence of str
        Hidden activation u, one name for all layers or one per hidden layer.
    output : {"softmax", "sigmoid", "identity"}
        Output head: multi-class, binary/multi-label, or regression.
    layers : sequence of Layer, optional
        A custom hidden stack (e.g. ``[Dense(64), BatchNorm(), Activation("tanh"), Dropout(0.2)]``)
        instead of ``hidden``/``activation``/``dropout``/``batch_norm``. In both cases the model
        adds the output layer (the notes' A and b), sized from the targets at build time.
    init : str, Initializer or callable, optional
        Weight initialiser for every Dense layer; None picks one per layer by the activation that
        follows it (He for the relu family, Xavier for tanh and sigmoid, LeCun for selu).
    l2 : float
        L2 strength lambda on all weights (see `scratchnet.regularization`); a Dense layer's own
        ``l2`` overrides it.
    dropout : float or sequence of float
        Drop rate after each hidden activation (p = 1 - rate is the notes' keep probability).
    batch_norm : bool
        Insert `BatchNorm` between each hidden Dense layer and its activation.
    reduction : {"mean", "sum"}
        Minimise the mean loss (default) or the notes' total.
    backend : str or Backend
        ``"numpy"``, ``"cupy"``, ``"torch"``, ``"jax"``, ``"array_api_strict"`` or ``"auto"``.
    device : optional
        Device of the backend (``"cuda:1"``, ...).
    dtype : {"float32", "float64"}
    seed : int, optional
        Seeds initial weights, shuffling and dropout masks. The same seed gives the same initial
        network on every backend and dtype. None draws a fresh seed.

    Examples
    --------
    >>> import numpy as np, scratchnet as sn
    >>> X = np.random.default_rng(0).normal(size=(200, 4)); y = (X[:, 0] > 0).astype(int)
    >>> m = sn.Model(hidden=(16,), output="softmax", seed=0)
    >>> hist = m.fit(X, y, epochs=30, batch_size=32, optimizer="adam", lr=0.01)
    >>> float(np.mean(sn.to_numpy(m.predict(X)) == y)) > 0.95
    True
    """

    def __init__(
        self,
        hidden: Sequence[int] | int = (100,),
        activation: str | Sequence[str] = "relu",
        output: str | Head = "softmax",
        *,
        layers: Sequence[Layer] | None = None,
        init: Any = None,
        l2: float = 0.0,
        dropout: float | Sequence[float] = 0.0,
        batch_norm: bool = False,
        reduction: str = "mean",
        backend: str | Backend = "numpy",
        device: Any = None,
        dtype: str = "float32",
        seed: int | None = None,
    ) -> None:
        self.hidden = _int_tuple(hidden)
        self.activation = _per_layer(activation, len(self.hidden), "activation", str)
        for name in self.activation:
            get_activation(name)
        self.dropout = tuple(
            check.check_float(r, "dropout", 0.0, 1.0, high_open=True)
            for r in _per_layer(dropout, len(self.hidden), "dropout", (int, float))
        )
        if layers is not None:
            if isinstance(layers, Layer) or not all(isinstance(x, Layer) for x in layers):
                raise TypeError("layers must be a sequence of scratchnet.layers.Layer objects")
            layers = [copy.deepcopy(x) for x in layers]
        self._custom_layers = layers
        self._output_layer: Dense | None = None  # set when a saved model is rebuilt
        self.head = get_head(output)
        self.init = init
        if init is not None:
            get_initializer(init)
        self.l2 = check.check_float(l2, "l2", 0.0)
        self.batch_norm = bool(batch_norm)
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction
        self.backend = get_backend(backend, device)
        self.dtype_name = dtype
        self.dtype = self.backend.dtype(dtype)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)):
            raise TypeError(f"seed must be an int or None, got {seed!r}")
        self.seed = None if seed is None else int(seed)
        seq = np.random.SeedSequence(self.seed)
        self._entropy = seq.entropy
        init_seq, shuffle_seq, device_seq = seq.spawn(3)
        self._init_seq = init_seq
        self.shuffle_rng = np.random.default_rng(shuffle_seq)
        self._device_seed = int(device_seq.generate_state(1)[0])
        self.rng = self.backend.make_rng(self._device_seed)

        self._init_kwargs = {
            "hidden": self.hidden, "activation": self.activation, "output": output,
            "layers": layers, "init": init, "l2": self.l2, "dropout": self.dropout,
            "batch_norm": self.batch_norm, "reduction": reduction, "dtype": dtype, "seed": seed,
        }  # fmt: skip
        self.layers: list[Layer] = []
        self.n_features: int | None = None
        self.n_outputs: int | None = None
        self.optimizer = None
        self.history = None
        self.epochs_done = 0
        self.steps_done = 0
        self.samples_seen = 0
        self.stop_training = False
        self.stop_reason: str | None = None
        self.errors: dict[str, Array] = {}

    # ------------------------------------------------------------------------------------------
    # construction
    @property
    def built(self) -> bool:
        """True once the layers have parameters (after `build` or the first `fit`)."""
        return bool(self.layers)

    @property
    def output(self) -> str:
        """Name of the output head."""
        return self.head.name

    @_on_device
    def build(self, n_features: int, n_outputs: int) -> Model:
        """Create every parameter for ``n_features`` inputs and ``n_outputs`` outputs.

        ``fit`` builds lazily from the data; call this to inspect or set parameters first.
        Building again draws fresh initial weights from the model's seed and forgets the
        optimiser, the history and the epoch counters (schedules count epochs across fits).
        """
        n_features = check.check_positive_int(n_features, "n_features")
        n_outputs = check.check_positive_int(n_outputs, "n_outputs")
        if self.head.name == "softmax" and n_outputs < 2:
            raise ValueError("a softmax head needs n_outputs >= 2 classes (use 'sigmoid' for two)")
        ctx = BuildContext(
            self.backend, self.dtype, np.random.default_rng(self._init_seq), self.rng
        )
        layers = self._make_layers(n_outputs)
        width = n_features
        for layer in layers:
            width = layer.build(width, ctx)
        self.layers = layers
        self.n_features, self.n_outputs = n_features, n_outputs
        self.optimizer = None  # a new network starts with new optimiser state and counters
        self.history = None
        self.epochs_done = self.steps_done = self.samples_seen = 0
        return self

    def _make_layers(self, n_outputs: int) -> list[Layer]:
        if self._custom_layers is not None:
            stack = [copy.deepcopy(x) for x in self._custom_layers]
        else:
            stack = []
            for width, act, rate in zip(self.hidden, self.activation, self.dropout, strict=True):
                stack.append(Dense(width, use_bias=not self.batch_norm))
                if self.batch_norm:
                    stack.append(BatchNorm())
                stack.append(Activation(act))
                if rate > 0.0:
                    stack.append(Dropout(rate))
        out = copy.deepcopy(self._output_layer) if self._output_layer is not None else None
        stack.append(out if out is not None and out.units == n_outputs else Dense(n_outputs))
        _name_layers(stack)
        for i, layer in enumerate(stack):
            if isinstance(layer, Dense) and layer.init is None:
                layer.init = self.init or _default_init(stack[i + 1 :])
        return stack

    # ------------------------------------------------------------------------------------------
    # parameters and state
    def _require_built(self) -> None:
        if not self.built:
            raise RuntimeError(
                "the model has no parameters yet: call fit(X, y) or build(n_features, n_outputs)"
            )

    def _param_items(self):
        for layer in self.layers:
            for key, value in layer.params.items():
                yield f"{layer.name}.{key}", layer, key, value

    def parameters(self) -> dict[str, Array]:
        """Copies of the trained parameters, in forward order.

        Returns
        -------
        dict
            ``"dense1.B"`` (fan_in, fan_out), ``"dense1.c"`` (fan_out,), ..., batch-norm
            ``"batchnorm1.gamma"`` and ``".beta"``; arrays of the model's backend.
        """
        self._require_built()
        return {name: self.backend.asarray(v, copy=True) for name, _, _, v in self._param_items()}

    def set_parameters(self, params: dict[str, Any]) -> None:
        """Replace parameters; same keys and shapes as `parameters`; NumPy or backend arrays."""
        self._require_built()
        self._assign(
            params, [(n, layer.params, k) for n, layer, k, _ in self._param_items()], "parameters"
        )

    def state(self) -> dict[str, Array]:
        """Copies of the non-trained state (batch-norm running mean and variance)."""
        self._require_built()
        return {
            f"{layer.name}.{key}": self.backend.asarray(v, copy=True)
            for layer in self.layers
            for key, v in layer.state.items()
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Replace the non-trained state; same keys and shapes as `state`."""
        self._require_built()
        slots = [(f"{ly.name}.{k}", ly.state, k) for ly in self.layers for k in ly.state]
        self._assign(state, slots, "state")

    def _assign(self, values: dict[str, Any], slots: list, what: str) -> None:
        if not isinstance(values, dict):
            raise TypeError(f"{what} must be a dict name -> array, got {type(values).__name__}")
        expected = [name for name, _, _ in slots]
        missing = [n for n in expected if n not in values]
        extra = [n for n in values if n not in expected]
        if missing or extra:
            raise ValueError(
                f"{what} keys do not match the model: missing {missing}, unexpected {extra}"
            )
        converted = {}
        for name, store, key in slots:
            value = values[name]
            arr = to_device(value, self.backend, dtype=self.dtype_name)
            if tuple(arr.shape) != tuple(store[key].shape):
                raise ValueError(
                    f"{what}[{name!r}] has shape {tuple(arr.shape)}, expected {tuple(store[key].shape)}"
                )
            converted[name] = self.backend.asarray(arr, copy=True)
        for name, store, key in slots:
            store[key] = converted[name]

    def snapshot(self) -> dict[str, dict[str, Array]]:
        """Copies of parameters and state, on the device (for early stopping and NaN recovery)."""
        return {"parameters": self.parameters(), "state": self.state()}

    def restore(self, snapshot: dict[str, dict[str, Array]]) -> None:
        """Put back a `snapshot`."""
        self.set_parameters(snapshot["parameters"])
        self.set_state(snapshot["state"])

    @property
    def weight_names(self) -> frozenset[str]:
        """Names of the parameters that are weights (penalised by L2, decayed by AdamW)."""
        return frozenset(f"{ly.name}.{k}" for ly in self.layers for k in ly.weight_keys)

    def count_parameters(self) -> int:
        """Number of trained scalars."""
        return sum(int(np.prod(v.shape)) for _, _, _, v in self._param_items())

    # ------------------------------------------------------------------------------------------
    # forward and backward
    def _forward(self, X: Array, training: bool) -> Array:
        H = X
        for layer in self.layers:
            H = layer.forward(H, training)
        return H

    def _backward(self, dF: Array, keep_errors: bool = False) -> None:
        E = dF
        if keep_errors:
            self.errors = {}
        last = len(self.layers) - 1
        for i in range(last, -1, -1):
            layer = self.layers[i]
            if keep_errors and isinstance(layer, Dense):
                self.errors[layer.name] = E
            E = layer.backward(E, need_input_grad=i > 0)

    def _penalty(self, norm: float) -> Array | None:
        """Add norm * lambda * B to each weight gradient; return norm * (lambda/2) sum ||B||^2."""
        terms = []
        for layer in self.layers:
            lam = layer.l2 if getattr(layer, "l2", None) is not None else self.l2
            for key in layer.weight_keys:
                if lam > 0.0:
                    W = layer.params[key]
                    layer.grads[key] = layer.grads[key] + norm * l2_gradient(W, lam)
                    terms.append((W, lam))
        value = l2_penalty(terms)
        return None if value is None else norm * value

    def _gradients(self) -> dict[str, Array]:
        return {f"{ly.name}.{k}": ly.grads[k] for ly in self.layers for k in ly.params}

    def _norm(self, n_rows: int, weights: np.ndarray | None) -> float:
        if self.reduction == "sum":
            return 1.0
        return 1.0 / (float(weights.sum()) if weights is not None else n_rows)

    def _train_batch(
        self, X: Array, Y: Array, w: Array | None, norm: float, training: bool = True
    ) -> tuple[Array, Array]:
        """Forward, loss, backward and penalty for one batch; gradients stay in the layers.

        Returns the objective (0-d array, penalty included) and the logits F.
        """
        F = self._forward(X, training)
        loss, dF = self.head.loss_and_delta(F, Y, w, norm)
        self._backward(dF)
        penalty = self._penalty(norm)
        return (loss if penalty is None else loss + penalty), F

    @_on_device
    def forward(self, X: Any, training: bool = False) -> Array:
        """Logits F (the notes' f) of shape (n, n_outputs) for X of shape (n, n_features).

        ``training=True`` uses dropout masks and batch statistics, as during fit. Intermediate
        values stay in the layers for a following `backward`.
        """
        self._require_built()
        Xd = check.check_features(X, self.backend, self.dtype, self.n_features)
        return self._forward(Xd, training)

    @_on_device
    def backward(self, dF: Any, keep_errors: bool = True) -> dict[str, Array]:
        """Back-propagate dL/dF (shape (n, n_outputs)) through the last `forward`.

        Returns the parameter gradients (keys of `parameters`) of the loss alone: the L2 term
        lambda B is added by `loss_and_gradients` and `fit`, not here. With ``keep_errors``, each
        Dense layer's error E(l) = dL/dZ(l) is kept in ``model.errors`` under the layer's name.
        """
        self._require_built()
        dF = self.backend.asarray(dF, dtype=self.dtype)
        if tuple(dF.shape)[1:] != (self.n_outputs,) or len(dF.shape) != 2:
            raise ValueError(f"dF must have shape (n, {self.n_outputs}), got {tuple(dF.shape)}")
        self._backward(dF, keep_errors=keep_errors)
        return self._gradients()

    def _prepare_targets(
        self, X: Any, y: Any, sample_weight: Any = None
    ) -> tuple[Array, Array, np.ndarray | None]:
        """Validated device X, encoded device Y and host weights; builds the model if needed."""
        Xd = check.check_features(X, self.backend, self.dtype, self.n_features)
        n = int(Xd.shape[0])
        y_host = check.host_labels(y, n)
        if not self.built:
            self.build(int(Xd.shape[1]), self.head.infer_outputs(y_host))
        Y = self.head.encode_targets(y_host, self.n_outputs)
        w = check.sample_weights(sample_weight, n)
        return Xd, self.backend.asarray(Y, dtype=self.dtype), w

    @_on_device
    def loss_and_gradients(
        self, X: Any, y: Any, sample_weight: Any = None, training: bool = True
    ) -> tuple[float, dict[str, Array]]:
        """The objective and its gradient with respect to every parameter, on one batch.

        Parameters
        ----------
        X : array of shape (n, n_features)
        y : array of shape (n,) or (n, k)
            Class indices or one-hot (softmax), 0/1 (sigmoid), values (identity).
        sample_weight : array of shape (n,), optional
        training : bool
            Use dropout masks and batch statistics (the objective being trained).

        Returns
        -------
        loss : float
            Mean (or total) loss plus the L2 penalty.
        grads : dict
            Same keys and shapes as `parameters`.
        """
        Xd, Y, w = self._prepare_targets(X, y, sample_weight)
        wd = None if w is None else self.backend.asarray(w, dtype=self.dtype)
        loss, _ = self._train_batch(Xd, Y, wd, self._norm(Xd.shape[0], w), training)
        return float(loss), self._gradients()

    # ------------------------------------------------------------------------------------------
    # inference
    def _chunks(self, Xd: Array):
        n = Xd.shape[0]
        for start in range(0, n, INFERENCE_CHUNK):
            yield Xd[start : min(start + INFERENCE_CHUNK, n), ...]

    @_on_device
    def decision_function(self, X: Any) -> Array:
        """Logits F of shape (n, n_outputs), computed in inference mode and in chunks."""
        self._require_built()
        Xd = check.check_features(X, self.backend, self.dtype, self.n_features)
        parts = [self._forward(chunk, training=False) for chunk in self._chunks(Xd)]
        for layer in self.layers:
            layer.clear_cache()
        return parts[0] if len(parts) == 1 else self.backend.xp.concat(parts, axis=0)

    def predict_proba(self, X: Any) -> Array:
        """Class probabilities: softmax rows (n, V) or sigmoid outputs (n, k)."""
        if not self.head.is_classifier:
            raise ValueError(
                "predict_proba needs a 'softmax' or 'sigmoid' output; this model regresses"
            )
        return self.head.output(self.decision_function(X))

    def predict(self, X: Any) -> Array:
        """Class indices (softmax), 0/1 labels (sigmoid, threshold 0.5) or values (identity)."""
        return self.head.predict_from_logits(self.decision_function(X))

    @_on_device
    def evaluate(self, X: Any, y: Any, sample_weight: Any = None) -> dict[str, float]:
        """Loss and metrics in inference mode, without the L2 penalty.

        Returns
        -------
        dict
            ``loss`` and ``accuracy`` for classifiers; ``loss``, ``mse`` and ``r2`` for regression.
        """
        self._require_built()
        Xd, Y, w = self._prepare_targets(X, y, sample_weight)
        from .training import evaluate_arrays

        return evaluate_arrays(self, Xd, Y, w)

    @_on_device
    def output_gradients(self, X: Any, output: int = 0) -> dict[str, Array]:
        """Per-sample gradients of the output f(x_i) with respect to every parameter (section 1).

        Parameters
        ----------
        X : array of shape (n, n_features)
        output : int
            Which output unit f_k to differentiate (0 for a single output).

        Returns
        -------
        dict
            Name -> array of shape (n, *parameter.shape): entry i is df(x_i)/dtheta. Computed in
            inference mode (dropout off, batch norm with running statistics).
        """
        self._require_built()
        if (
            isinstance(output, bool)
            or not isinstance(output, int)
            or not 0 <= output < self.n_outputs
        ):
            raise ValueError(f"output must be an int in [0, {self.n_outputs}), got {output!r}")
        Xd = check.check_features(X, self.backend, self.dtype, self.n_features)
        xp = self.backend.xp
        F = self._forward(Xd, training=False)
        unit = np.zeros((1, self.n_outputs))
        unit[0, output] = 1.0
        E = xp.ones(
            (F.shape[0], 1), dtype=self.dtype, device=self.backend.device
        ) * self.backend.asarray(unit, dtype=self.dtype)
        grads: dict[str, Array] = {}
        for i in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[i]
            for key, g in layer.per_sample_gradients(E).items():
                grads[f"{layer.name}.{key}"] = g
            E = layer.backward(E, need_input_grad=i > 0)
        return {name: grads[name] for name, _, _, _ in self._param_items()}

    # ------------------------------------------------------------------------------------------
    # training
    @_on_device
    def fit(self, X: Any, y: Any, **kwargs: Any):
        """Train with mini-batch gradient methods; see `scratchnet.training.fit` for arguments.

        Returns
        -------
        History
        """
        from .training import fit

        return fit(self, X, y, **kwargs)

    # ------------------------------------------------------------------------------------------
    # devices and persistence
    def to(
        self, backend: str | Backend | None = None, device: Any = None, dtype: str | None = None
    ) -> Model:
        """Move parameters, batch-norm state and optimiser state to another backend/device/dtype.

        Returns the model itself. Dropout masks are drawn afterwards by the new backend's
        generator, seeded from the model's seed.
        """
        if backend is None and device is None:
            target = self.backend
        else:
            target = get_backend(backend if backend is not None else self.backend.name, device)
        dtype_name = dtype or self.dtype_name
        new_dtype = target.dtype(dtype_name)

        def move(a):
            return to_device(a, target, dtype=dtype_name)

        with target.activate():
            self._move_arrays(move)
            self.rng = target.make_rng(self._device_seed)
        self.backend, self.dtype, self.dtype_name = target, new_dtype, dtype_name
        ctx = BuildContext(target, new_dtype, np.random.default_rng(self._init_seq), self.rng)
        for layer in self.layers:
            layer.ctx = ctx
        return self

    def _move_arrays(self, move: Callable) -> None:
        for layer in self.layers:
            layer.params = {k: move(v) for k, v in layer.params.items()}
            layer.state = {k: move(v) for k, v in layer.state.items()}
            layer.grads = {}
            layer.clear_cache()
            if isinstance(layer, Dropout) and layer.mask is not None:
                layer.mask = move(layer.mask)
        if self.optimizer is not None:
            self.optimizer.move_state(move)

    def copy(
        self, backend: str | Backend | None = None, device: Any = None, dtype: str | None = None
    ) -> Model:
        """An independent copy (parameters, state, optimiser, counters), optionally elsewhere."""
        from .io import model_from_payload, model_payload

        config, arrays = model_payload(self, include_optimizer=True)
        return model_from_payload(
            config, arrays, backend or self.backend, device, dtype or self.dtype_name, source="copy"
        )

    def save(self, path: Any, include_optimizer: bool = True) -> None:
        """Write the model to one file (see `scratchnet.io.save`)."""
        from .io import save

        save(self, path, include_optimizer=include_optimizer)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments, JSON-serialisable (layers by registered name)."""
        return {
            "hidden": list(self.hidden),
            "activation": list(self.activation),
            "output": self.head.name,
            "init": initializer_config(self.init),
            "l2": self.l2,
            "dropout": list(self.dropout),
            "batch_norm": self.batch_norm,
            "reduction": self.reduction,
            "dtype": self.dtype_name,
            "seed": self.seed,
            "custom_layers": self._init_kwargs["layers"] is not None,
        }

    def summary(self, print_fn: Any = print) -> str:
        """Print (and return) a table of layers, output shapes and parameter counts."""
        self._require_built()
        rows = [("layer (type)", "output shape", "params")]
        rows.append(("input", f"(n, {self.n_features})", "0"))
        for layer in self.layers:
            n = sum(int(np.prod(v.shape)) for v in layer.params.values())
            rows.append((f"{layer.name} ({type(layer).__name__})", f"(n, {layer.n_out})", f"{n:,}"))
        rows.append((f"{self.head.name} head", f"(n, {self.n_outputs})", "0"))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        rule = "-" * (sum(widths) + 4)
        lines = [
            f"Model: {len(self.layers)} layers on {self.backend.describe()}, {self.dtype_name}",
            rule,
        ]
        for j, r in enumerate(rows):
            lines.append(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}")
            if j == 0:
                lines.append(rule)
        n_state = sum(int(np.prod(v.shape)) for ly in self.layers for v in ly.state.values())
        lines += [
            rule,
            f"trainable parameters: {self.count_parameters():,}",
            f"non-trainable state: {n_state:,}",
        ]
        text = "\n".join(lines)
        if print_fn is not None:
            print_fn(text)
        return text

    def __reduce__(self):
        """Pickling (and ``copy.deepcopy``) go through the save format: configuration plus host
        arrays, so models of any backend pickle, and unpickle onto the same backend and device."""
        where = (self.backend.name, self.backend.device_spec())
        if not self.built:
            return (_unpickle_unbuilt, (self._init_kwargs, *where))
        from .io import model_payload

        return (_unpickle_built, (*model_payload(self, include_optimizer=True), *where))

    def __repr__(self) -> str:
        if self._init_kwargs["layers"] is not None:
            arch = f"layers=[{len(self._custom_layers)} custom]"
        else:
            arch = f"hidden={self.hidden}, activation={self.activation[0] if len(set(self.activation)) == 1 else self.activation}"
        built = f", built=({self.n_features} -> {self.n_outputs})" if self.built else ""
        return (
            f"Model({arch}, output={self.head.name!r}, backend={self.backend.name!r}, "
            f"dtype={self.dtype_name!r}{built})"
        )


def _int_tuple(hidden: Any) -> tuple[int, ...]:
    if isinstance(hidden, int | np.integer) and not isinstance(hidden, bool):
        hidden = (int(hidden),)
    try:
        values = tuple(hidden)
    except TypeError as exc:
        raise TypeError(f"hidden must be a sequence of ints, got {hidden!r}") from exc
    for h in values:
        check.check_positive_int(h, "each hidden layer width")
    return tuple(int(h) for h in values)


def _per_layer(value: Any, n: int, name: str, kinds: Any) -> tuple:
    if isinstance(value, kinds) and not isinstance(value, bool):
        return (value,) * n
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be one value or one per hidden layer, got {value!r}")
    if len(value) != n:
        raise ValueError(f"{name} has {len(value)} entries but there are {n} hidden layers")
    return tuple(value)


def _name_layers(stack: list[Layer]) -> None:
    """Give unnamed layers names like dense1, batchnorm1, activation1, dropout1, dense2, ..."""
    taken = {ly.name for ly in stack if ly.name}
    if len(taken) != sum(1 for ly in stack if ly.name):
        raise ValueError("layer names must be unique")
    index = 0
    for layer in stack:
        if isinstance(layer, Dense):
            index += 1
        if layer.name:
            continue
        base = f"{layer.kind}{max(index, 1) if not isinstance(layer, Dense) else index}"
        name, k = base, 2
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        layer.name = name
        taken.add(name)


def _default_init(following: list[Layer]) -> str:
    """Initialiser chosen by the next activation (skipping batch norm and dropout)."""
    for layer in following:
        if isinstance(layer, Activation):
            return layer.fn.init
        if isinstance(layer, Dense):
            break
    return "xavier_uniform"


def _unpickle_unbuilt(kwargs: dict, backend: str, device: Any) -> Model:
    return Model(**kwargs, backend=backend, device=device)


def _unpickle_built(config: dict, arrays: dict, backend: str, device: Any) -> Model:
    from .io import model_from_payload

    return model_from_payload(config, arrays, backend, device, source="pickle")

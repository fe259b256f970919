"""`Model`: a stack of layers and an output head, trained by hand-derived backpropagation.

The forward pass runs the layers in order and ends in the logits F (the notes' f). The backward
pass starts from the head's dL/dF and runs the layers in reverse; each Dense layer receives its error
E(l) = dL/dZ(l) and stores dL/dB(l) = H(l-1)^T E(l) and dL/dc(l) = 1^T E(l). Chaining Dense
(E B^T), Dropout (* M / p) and Activation (* u'(Z)) backwards reproduces the notes' recursion
E(l) = (E(l+1) B(l+1)^T) * u'(Z(l)) with every factor visible.

The public seams, used by the training loop (`scratchnet.training`) and by anyone writing their own:
`train_step` (one mini-batch: forward, loss, backward, L2, optimiser update), `compute_gradients`
and `apply_gradients` (its two halves), and `infer` (inference-mode logits of device arrays).
All parameters live in one flat buffer (`scratchnet.params`); ``model.parameter_layout`` says where.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import validation as check
from .activations import get_activation
from .architecture import complete_stack, custom_stack, hidden_stack, int_tuple, per_layer
from .backends import Backend, get_backend
from .callbacks import Callback, History
from .heads import Head, get_head
from .initializers import get_initializer, initializer_config
from .layers import BuildContext, Dense, Layer
from .moving import move_model
from .optimizers import lr_conflict
from .params import ParameterLayout, ParameterStore
from .per_sample import output_gradients
from .prediction import PredictionMixin, on_backend_device
from .regularization import add_l2_gradients
from .saving import SavingMixin
from .streaming import on_device
from .summary import summarize, summarize_html, unbuilt_html
from .targets import loss_scale, prepare_targets
from .training import fit

Array = Any
REDUCTIONS = ("mean", "sum")


class Model(PredictionMixin, SavingMixin):
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

    #: rows per chunk for inference (predict, evaluate, validation loss)
    inference_chunk = 8192

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
        **unexpected: Any,
    ) -> None:
        check.refuse_unexpected("Model()", unexpected, _MODEL_KEYWORDS, check.MODEL_ADVICE)
        self.hidden = int_tuple(hidden)
        self.activation = per_layer(activation, len(self.hidden), "activation", str)
        for name in self.activation:
            get_activation(name)
        self.dropout = tuple(
            check.check_float(r, "dropout", 0.0, 1.0, high_open=True)
            for r in per_layer(dropout, len(self.hidden), "dropout", (int, float))
        )
        #: copies of the user's hidden layers (None: built from hidden/activation/dropout/...)
        self.custom_layers = custom_stack(layers)
        self._saved_stack: list[Layer] | None = None  # a loaded model's layers, output included
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
        init_seq, shuffle_seq, device_seq = np.random.SeedSequence(self.seed).spawn(3)
        self._init_seq = init_seq
        self.shuffle_rng = np.random.default_rng(shuffle_seq)
        self._device_seed = int(device_seq.generate_state(1)[0])
        self.rng = self.backend.make_rng(self._device_seed)
        self.layers: list[Layer] = []
        self.store: ParameterStore | None = None
        self.n_features: int | None = None
        self.n_outputs: int | None = None
        self.optimizer = None
        self.history = None
        self.epochs_done = self.steps_done = self.samples_seen = 0
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

    @on_backend_device
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
        ctx = BuildContext(self.backend, self.dtype, np.random.default_rng(self._init_seq))
        output_layer = None
        if self._saved_stack is not None:
            hidden, output_layer = self._saved_stack[:-1], self._saved_stack[-1]
        elif self.custom_layers is not None:
            hidden = self.custom_layers
        else:
            hidden = hidden_stack(self.hidden, self.activation, self.dropout, self.batch_norm)
        layers = complete_stack(hidden, n_outputs, output_layer, self.init)
        width = n_features
        for layer in layers:
            width = layer.build(width, ctx)
        self.layers = layers
        self.store = ParameterStore.from_layers(layers, self.backend, self.dtype)
        self.n_features, self.n_outputs = n_features, n_outputs
        self.optimizer = None  # a new network starts with new optimiser state and counters
        self.history = None
        self.epochs_done = self.steps_done = self.samples_seen = 0
        return self

    # ------------------------------------------------------------------------------------------
    # parameters and state
    def _require_built(self) -> None:
        if not self.built:
            raise RuntimeError(
                "the model has no parameters yet: call fit(X, y) or build(n_features, n_outputs)"
            )

    @property
    def parameter_layout(self) -> ParameterLayout:
        """Name -> offset and shape of every parameter in the flat buffer (`scratchnet.params`)."""
        self._require_built()
        return self.store.layout

    def parameters(self) -> dict[str, Array]:
        """Copies of the trained parameters, in forward order.

        Returns
        -------
        dict
            ``"dense1.B"`` (fan_in, fan_out), ``"dense1.c"`` (fan_out,), ..., batch-norm
            ``"batchnorm1.gamma"`` and ``".beta"``; arrays of the model's backend.
        """
        self._require_built()
        views = self.store.layout.views(self.store.values, self.backend.xp)
        return {name: self.backend.asarray(v, copy=True) for name, v in views.items()}

    def set_parameters(self, params: dict[str, Any]) -> None:
        """Replace parameters; same keys and shapes as `parameters`; NumPy or backend arrays."""
        self._require_built()
        shapes = {s.name: s.shape for s in self.store.layout.slots}
        self.store.write(
            check.named_arrays(params, shapes, "parameters", self.backend, self.dtype_name),
            self.layers,
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
        shapes = {
            f"{ly.name}.{k}": tuple(v.shape) for ly in self.layers for k, v in ly.state.items()
        }
        converted = check.named_arrays(state, shapes, "state", self.backend, self.dtype_name)
        for layer in self.layers:
            layer.state = {k: converted[f"{layer.name}.{k}"] for k in layer.state}

    def snapshot(self) -> dict[str, Any]:
        """Copies of the flat parameter buffer and of the state (early stopping, NaN recovery)."""
        self._require_built()
        return {"parameters": self.store.copy_values(), "state": self.state()}

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Put back a `snapshot` (its arrays may have been moved to the host meanwhile)."""
        self._require_built()
        values = self.backend.asarray(snapshot["parameters"], dtype=self.dtype, copy=True)
        if tuple(values.shape) != (self.store.layout.size,):
            raise ValueError(
                f"snapshot parameters have shape {tuple(values.shape)}, expected "
                f"({self.store.layout.size},)"
            )
        self.store.replace_values(values, self.layers)
        self.set_state(snapshot["state"])

    @property
    def weight_names(self) -> frozenset[str]:
        """Names of the parameters that are weights (penalised by L2, decayed by AdamW)."""
        return frozenset(s.name for s in self.parameter_layout.slots if s.is_weight)

    def count_parameters(self) -> int:
        """Number of trained scalars."""
        return self.parameter_layout.n_parameters

    # ------------------------------------------------------------------------------------------
    # the seams: forward, backward, one training step, inference on device arrays
    def forward_arrays(self, Xd: Array, training: bool = False) -> Array:
        """Logits F for device inputs (no checks); layers keep what `backward` needs."""
        H = Xd
        for layer in self.layers:
            H = layer.forward(H, training, rng=self.rng)
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

    def loss_scale(self, n_rows: int, weights: np.ndarray | None) -> float:
        """norm of a batch: 1 (``reduction="sum"``) or 1 / its total weight (``"mean"``)."""
        return loss_scale(self.reduction, n_rows, weights)

    def compute_gradients(
        self, Xd: Array, Y: Array, w: Array | None, norm: float, training: bool = True
    ) -> tuple[Array, Array]:
        """Forward, loss, backward and L2 for one batch of device arrays.

        The gradient lands in the flat buffer ``model.store.grads`` (layout `parameter_layout`).

        Returns
        -------
        loss : 0-d array
            norm * (sum_i w_i l_i + (lambda/2) sum ||B||^2).
        F : array of shape (n, n_outputs)
            The logits.
        """
        F = self.forward_arrays(Xd, training)
        loss, dF = self.head.loss_and_delta(F, Y, w, norm, self.backend.kernels)
        self._backward(dF)
        penalty = add_l2_gradients(self.layers, self.l2, norm)
        self.store.gather_gradients(self.layers)
        return (loss if penalty is None else loss + penalty), F

    def apply_gradients(self, lr: float) -> None:
        """One optimiser update of the flat parameter buffer from ``store.grads``."""
        values = self.optimizer.step(
            self.store.values, self.store.grads, lr, self.backend.kernels, self.store.layout
        )
        self.store.replace_values(values, self.layers)
        self.steps_done += 1

    def train_step(
        self, Xd: Array, Y: Array, w: Array | None, norm: float, lr: float
    ) -> tuple[Array, Array]:
        """`compute_gradients` then `apply_gradients`: one mini-batch of training.

        Returns the batch objective (0-d array, before the update) and the logits.
        """
        loss, F = self.compute_gradients(Xd, Y, w, norm)
        self.apply_gradients(lr)
        return loss, F

    def infer(self, Xd: Array) -> Array:
        """Inference-mode logits (n, n_outputs) of device inputs, in chunks; keeps no cache.

        ``Xd`` may be a `scratchnet.streaming.RowStream` (a memory map): each chunk of
        `inference_chunk` rows is read from it, cast and moved to the device in its turn.
        """
        n = Xd.shape[0]
        step = self.inference_chunk
        parts = [
            self.forward_arrays(on_device(Xd[start : min(start + step, n), ...]), training=False)
            for start in range(0, n, step)
        ]
        for layer in self.layers:
            layer.clear_cache()
        return parts[0] if len(parts) == 1 else self.backend.xp.concat(parts, axis=0)

    # ------------------------------------------------------------------------------------------
    # checked public calls
    @on_backend_device
    def forward(self, X: Any, training: bool = False) -> Array:
        """Logits F (the notes' f) of shape (n, n_outputs) for X of shape (n, n_features).

        ``training=True`` uses dropout masks and batch statistics, as during fit. Intermediate
        values stay in the layers for a following `backward`.
        """
        self._require_built()
        Xd = check.check_features(X, self.backend, self.dtype, self.n_features)
        return self.forward_arrays(Xd, training)

    @on_backend_device
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
        # copies: a Dense layer's gradient is a view of the flat buffer that the next step rewrites
        copy = functools.partial(self.backend.asarray, copy=True)
        return {f"{ly.name}.{k}": copy(ly.grads[k]) for ly in self.layers for k in ly.params}

    @on_backend_device
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
            Same keys and shapes as `parameters` (copies).
        """
        Xd, Y, w = prepare_targets(self, X, y, sample_weight)
        wd = None if w is None else self.backend.asarray(w, dtype=self.dtype)
        loss, _ = self.compute_gradients(Xd, Y, wd, self.loss_scale(Xd.shape[0], w), training)
        grads = self.store.gradient_views()
        return float(loss), {n: self.backend.asarray(g, copy=True) for n, g in grads.items()}

    @on_backend_device
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
        return output_gradients(self, Xd, output)

    @on_backend_device
    def fit(
        self,
        X: Any,
        y: Any,
        *,
        epochs: int = 10,
        batch_size: int | None = 32,
        optimizer: Any = None,
        lr: Any = None,
        validation_data: tuple | None = None,
        validation_split: float = 0.0,
        shuffle: bool = True,
        class_weight: dict | str | None = None,
        sample_weight: Any = None,
        callbacks: list[Callback] | None = None,
        augment: Any = None,
        verbose: int = 0,
        distributed: Any = None,
        **unexpected: Any,
    ) -> History:
        """Train with mini-batch gradient methods (`scratchnet.training.fit`).

        Parameters
        ----------
        X : array of shape (n, n_features)
            NumPy array or an array of the model's backend; or data read batch by batch,
            never whole: a memory map (``np.load(path, mmap_mode="r")``, ``np.memmap``) or an
            h5py- or zarr-like array-like (`scratchnet.streaming`).
        y : array of shape (n,) or (n, k)
            Class indices 0..K-1 or one-hot rows (softmax), 0/1 (sigmoid), values (identity).
        epochs : int
            Passes over the training data (later fits continue the count).
        batch_size : int or None
            None: full-batch gradient descent (refused for X read batch by batch); 1: SGD; k:
            mini-batches of k rows.
        optimizer : str or Optimizer, optional
            ``"adam"``, ``"sgd"``, ``"momentum"``, ... or an `Optimizer`. Default: keep the
            optimiser (and its state) of an earlier fit, else Adam. A name, or an instance other
            than ``model.optimizer``, starts from zero optimiser state.
        lr : float or Schedule, optional
            Learning rate (or a schedule from `scratchnet.schedules`). With an optimiser
            instance, ``lr`` wins over the instance's own rate (a `UserWarning` says so when
            they differ).
        validation_data : (X_val, y_val) or (X_val, y_val, w_val), optional
        validation_split : float
            Share of (X, y) held out for validation (stratified for classifiers); ignored when
            ``validation_data`` is given.
        shuffle : bool
            Reshuffle the rows every epoch (from the model's seed).
        class_weight : dict or "balanced", optional
            Weight per class index.
        sample_weight : array of shape (n,), optional
        callbacks : list of Callback, optional
            E.g. ``[EarlyStopping(patience=5)]``.
        augment : callable, optional
            ``augment(X_batch, rng) -> X_batch`` on each training batch (`scratchnet.augment`).
        verbose : {0, 1, 2}
            0 silent, 1 a progress bar per epoch, 2 one line per epoch.
        distributed : scratchnet.distributed.MPI, optional
            Data-parallel training over MPI ranks (`scratchnet.distributed`).

        Returns
        -------
        History
            Per-epoch ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``, ``lr``, ``seconds``.

        Raises
        ------
        TypeError, ValueError
            A bad argument or bad data (other libraries' names, such as ``learning_rate=`` or
            ``nb_epoch=``, are answered with scratchnet's). Every argument and array is checked
            before the model is built or touched, and a fit that raises leaves the model as it
            found it (parameters, optimiser state, counters, history, generators, built shape).

        Warns
        -----
        UserWarning
            ``optimizer=`` an instance with another rate than ``lr``; class indices with gaps
            ({0, 10, ..., 90}) that would size an unbuilt softmax head.
        TrainingDivergedWarning
            The loss or the parameters turned NaN/inf, or the loss exploded: training stops.
        """
        check.refuse_unexpected("fit()", unexpected, _FIT_KEYWORDS, check.FIT_ADVICE)
        conflict = lr_conflict(optimizer, lr)
        if conflict is not None:
            check.warn_user(conflict)
        extra = {} if distributed is None else {"distributed": distributed}
        return fit(
            self, X, y, epochs=epochs, batch_size=batch_size, optimizer=optimizer, lr=lr,
            validation_data=validation_data, validation_split=validation_split, shuffle=shuffle,
            class_weight=class_weight, sample_weight=sample_weight, callbacks=callbacks,
            augment=augment, verbose=verbose, **extra,
        )  # fmt: skip

    def compile(self, *args: Any, **kwargs: Any) -> None:
        """There is no compile step: a `TypeError` says where each of Keras' arguments goes."""
        raise TypeError(check.compile_advice(kwargs.get("optimizer", args[0] if args else None)))

    def export(self, path: str | os.PathLike, format: str = "onnx") -> Path:
        """Write the trained network for another runtime (Keras 3's ``model.export`` call).

        Parameters
        ----------
        path : str or path-like
            File to write (atomically: a failed export leaves no partial file).
        format : {"onnx"}
            ``"onnx"``: an ONNX graph with input ``X`` (float32, shape [N, n_features]) and one
            output, the class probabilities for softmax and sigmoid heads and the values for an
            identity head. Needs the ``onnx`` extra (``pip install "scratchnet[onnx]"``).

        Returns
        -------
        pathlib.Path
            The file written.

        See Also
        --------
        scratchnet.export.export_onnx : the conversion, layer by layer.
        """
        from .export import export_model

        return export_model(self, path, format)

    # ------------------------------------------------------------------------------------------
    # devices
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
        with target.activate():
            move_model(self, target, dtype or self.dtype_name)
        return self

    # ------------------------------------------------------------------------------------------
    # configuration (saving, loading, copies and pickles: `SavingMixin`)
    def get_config(self) -> dict[str, Any]:
        """Constructor arguments, JSON-serialisable (a custom stack is flagged, not included)."""
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
            "custom_layers": self.custom_layers is not None,
        }

    @classmethod
    def from_config(
        cls, config: dict, layers: Sequence[Layer] | None = None, backend: Any = None,
        device: Any = None, dtype: str | None = None,
    ) -> Model:  # fmt: skip
        """An unbuilt model from `get_config` output (and the custom hidden ``layers``, if any)."""
        model = cls(
            hidden=config["hidden"], activation=config["activation"], output=config["output"],
            init=config.get("init"), l2=config["l2"], dropout=config["dropout"],
            batch_norm=config["batch_norm"], reduction=config["reduction"],
            backend=backend or "numpy", device=device, dtype=dtype or config["dtype"],
            seed=config["seed"],
        )  # fmt: skip
        if config.get("custom_layers"):  # checked, without the advice given at construction
            model.custom_layers = custom_stack(layers, advise=False)
        return model

    def summary(self, print_fn: Callable[[str], Any] | None = print) -> str | None:
        """Print a table of layers, output shapes and parameter counts; return None.

        ``print_fn`` receives the table as one string (default `print`); ``print_fn=None``
        returns the string instead of printing it (so a REPL shows the table once).
        """
        self._require_built()
        text = summarize(self)
        if print_fn is None:
            return text
        print_fn(text)
        return None

    def summary_html(self) -> str:
        """The `summary` table as an HTML ``<table>`` (Jupyter shows a built model as this)."""
        self._require_built()
        return summarize_html(self)

    def _repr_html_(self) -> str:
        """Jupyter's display: the summary table once built, the short repr before."""
        return self.summary_html() if self.built else unbuilt_html(repr(self))

    def __repr__(self) -> str:
        if self.custom_layers is not None:
            arch = f"layers=[{len(self.custom_layers)} custom]"
        else:
            acts = self.activation[0] if len(set(self.activation)) == 1 else self.activation
            arch = f"hidden={self.hidden}, activation={acts}"
        built = f", built=({self.n_features} -> {self.n_outputs})" if self.built else ""
        return (
            f"Model({arch}, output={self.head.name!r}, backend={self.backend.name!r}, "
            f"dtype={self.dtype_name!r}{built})"
        )


#: ``sn.load(path, backend=None, device=None, dtype=None)``: see `SavingMixin.load`
load = Model.load

#: keyword arguments of `Model` and `Model.fit`, named in the messages for unknown ones
_MODEL_KEYWORDS = [k for k in inspect.signature(Model.__init__).parameters if k != "self"][:-1]
_FIT_KEYWORDS = [k for k in inspect.signature(Model.fit).parameters][3:-1]

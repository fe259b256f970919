"""ONNX export: a built network as an inference graph for another runtime.

`export_onnx` writes the network that ``predict`` and ``predict_proba`` compute (inference mode)
as an ONNX graph of standard operators, one group of nodes per layer, in the notes' symbols:

=================== ================================================ ============================
scratchnet           formula                                           ONNX nodes
=================== ================================================ ============================
input                H(0) = X, float32 of shape [N, n_features]        graph input ``X``
Dense                Z(l) = H(l-1) B(l) + 1 c(l)^T                     ``Gemm`` (``MatMul`` without c)
Activation           H(l) = u(Z(l))                                    see the table below
BatchNorm            gamma (Z - running_mean) / sqrt(running_var + eps)
                     + beta                                            ``BatchNormalization``
Dropout              the identity at inference                         none (left out)
output layer         F = H(L) A + 1 b^T (the logits)                   ``Gemm``
softmax head         y_hat = softmax(F) row by row                     ``Softmax`` (axis 1)
sigmoid head         y_hat = sigma(F)                                  ``Sigmoid``
identity head        y_hat = F                                         none
=================== ================================================ ============================

The activations u, each exactly the formula `scratchnet.activations` computes:

=========== ========================================================= ============================
name         u(z)                                                      ONNX nodes
=========== ========================================================= ============================
identity     z                                                         none
sigmoid      1 / (1 + e^-z)                                            ``Sigmoid``
tanh         tanh z                                                    ``Tanh``
relu         max(z, 0)                                                 ``Relu``
leaky_relu   z if z > 0 else 0.01 z                                    ``LeakyRelu`` (alpha 0.01)
elu          z if z > 0 else e^z - 1                                   ``Elu`` (alpha 1)
selu         s z if z > 0 else s a (e^z - 1)                           ``Selu`` (alpha a, gamma s)
softplus     log(1 + e^z)                                              ``Softplus``
silu         z sigma(z)                                                ``Sigmoid``, ``Mul``
gelu         0.5 z (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3)))            ``Gelu`` (approximate tanh)
=========== ========================================================= ============================

The graph's one output is what scratchnet returns, shape included: ``probabilities`` (float32,
[N, k]) equal to ``predict_proba`` for the softmax and sigmoid heads, ``values`` equal to
``predict`` for the identity head ([N] for one output, [N, k] for k outputs). The scikit-learn
wrappers follow their own methods: a binary `MLPClassifier` has one sigmoid unit p and its
``predict_proba`` has the two columns [1 - p, p] (``Sub`` and ``Concat`` nodes), the columns of
every classifier come in the order of ``classes_`` (which the file records in its metadata), and
`MLPRegressor` gives ``predict``'s shape.

The graph uses ONNX opset 20 (ONNX 1.15 and later; the first opset with ``Gelu``). Weights,
biases and batch-norm statistics are stored as float32 initialisers, so a float64 model is
exported in float32 (its parameters rounded to the nearest float32), with float32 input ``X``.

>>> from scratchnet.export import OPSET, EXPORTABLE_ACTIVATIONS
>>> OPSET, len(EXPORTABLE_ACTIVATIONS)
(20, 10)
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .activations import SELU_ALPHA, SELU_SCALE, get_activation
from .backends import to_numpy
from .io import write_atomic
from .layers import Activation, BatchNorm, Dense, Dropout, Layer
from .version import __version__

#: the export formats `export_model` knows
FORMATS = ("onnx",)
#: the ONNX operator set the graph is written against (the default domain)
OPSET = 20
#: name of the graph's input
INPUT_NAME = "X"

# name -> (ONNX operator, attributes) for the activations that have one operator
_ONE_NODE: dict[str, tuple[str, dict[str, Any]]] = {
    "sigmoid": ("Sigmoid", {}),
    "tanh": ("Tanh", {}),
    "relu": ("Relu", {}),
    "leaky_relu": ("LeakyRelu", {"alpha": 0.01}),
    "elu": ("Elu", {"alpha": 1.0}),
    "selu": ("Selu", {"alpha": SELU_ALPHA, "gamma": SELU_SCALE}),
    "softplus": ("Softplus", {}),
    "gelu": ("Gelu", {"approximate": "tanh"}),
}
#: every activation the exporter writes (identity and silu are handled by name below)
EXPORTABLE_ACTIVATIONS = ("identity", *_ONE_NODE, "silu")
_HEADS = ("softmax", "sigmoid", "identity")
#: tensor names of the graph's own (a layer with one of these names writes "<name>.out")
_RESERVED = frozenset({INPUT_NAME, "probabilities", "values"})


def export_model(obj: Any, path: str | os.PathLike, format: str = "onnx") -> Path:
    """Write a `Model` or a fitted scikit-learn wrapper in ``format``: ``model.export``'s work.

    Parameters
    ----------
    obj : Model, MLPClassifier or MLPRegressor
        A built model, or a fitted estimator of `scratchnet.sklearn`.
    path : str or path-like
        File to write; written atomically (a temporary file in the same folder, then one rename).
    format : {"onnx"}

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    ValueError
        An unknown format (the message lists the known ones), a layer, activation or head the
        exporter does not know (named in the message), or parameters that are not finite in
        float32.
    TypeError
        ``obj`` is neither a `Model` nor a scratchnet estimator; ``path`` is not a path.
    RuntimeError
        The model is not built yet.
    ImportError
        The ``onnx`` package is missing (``pip install "scratchnet[onnx]"``).
    """
    if not isinstance(format, str):
        raise TypeError(f"format must be a str such as 'onnx', got {type(format).__name__}")
    if format not in FORMATS:
        known = ", ".join(repr(f) for f in FORMATS)
        raise ValueError(f"unknown export format {format!r}; scratchnet exports {known}")
    if _is_model(obj):
        return export_onnx(obj, path)
    estimator = _scratchnet_estimator(obj)
    if estimator is None:
        raise TypeError(
            "export needs a scratchnet Model or a fitted scratchnet.sklearn MLPClassifier or "
            f"MLPRegressor, got {type(obj).__name__}"
        )
    return _export_estimator(estimator, path)


def export_onnx(model: Any, path: str | os.PathLike) -> Path:
    """Write a built `Model` as an ONNX graph (opset `OPSET`) that computes its predictions.

    Parameters
    ----------
    model : Model
        A built model (after ``fit`` or ``build``) on any backend and in either dtype.
    path : str or path-like
        File to write, atomically.

    Returns
    -------
    pathlib.Path
        The file written.

    Notes
    -----
    Input ``X``: float32 of shape [N, n_features], N symbolic. Output ``probabilities`` (float32,
    [N, k]) equal to ``model.predict_proba(X)`` for softmax and sigmoid heads, or ``values`` equal
    to ``model.predict(X)`` for the identity head ([N] for one output). The layer-by-layer mapping
    is in the module docstring. Parameters are read through the public API (`Model.parameters`,
    `Model.state`, ``model.layers``) and stored as float32.

    Examples
    --------
    >>> import os, tempfile, numpy as np, scratchnet as sn
    >>> from scratchnet.export import export_onnx
    >>> m = sn.Model(hidden=(8,), activation="gelu", output="softmax", seed=0).build(4, 3)
    >>> path = export_onnx(m, os.path.join(tempfile.mkdtemp(), "model.onnx"))
    >>> path.name, path.stat().st_size > 0
    ('model.onnx', True)
    """
    if not _is_model(model):
        raise TypeError(f"export_onnx needs a scratchnet Model, got {type(model).__name__}")
    proto = _model_proto(model, proba_columns=False, squeeze=_one_output(model), extra={})
    return _write(proto, path)


def _is_model(obj: Any) -> bool:
    """True for a `scratchnet.Model` (looked up, not imported: `Model.export` imports this module,
    and a Model exists only once its module is loaded)."""
    model_module = sys.modules.get("scratchnet.model")
    return model_module is not None and isinstance(obj, model_module.Model)


# ----------------------------------------------------------------------------------------------
# scikit-learn wrappers
def _scratchnet_estimator(obj: Any) -> Any:
    """``obj`` when it is a scratchnet.sklearn estimator, else None.

    An estimator exists only once `scratchnet.sklearn` is imported, so scikit-learn is never
    imported here."""
    estimators = sys.modules.get("scratchnet.sklearn")
    if estimators is None:
        return None
    if not isinstance(obj, estimators.MLPClassifier | estimators.MLPRegressor):
        return None
    return obj


def _export_estimator(est: Any, path: str | os.PathLike) -> Path:
    """An estimator's graph: its model's, with ``predict_proba``'s or ``predict``'s shape."""
    if not hasattr(est, "model_"):
        raise RuntimeError(f"this {type(est).__name__} is not fitted yet: call fit first")
    model = est.model_
    extra = {"estimator": type(est).__name__}
    binary = False
    if model.head.is_classifier:
        classes = np.asarray(to_numpy(est.classes_))
        extra["classes"] = _classes_json(classes)
        # a binary classifier has one sigmoid unit p; predict_proba gives [1 - p, p]
        binary = model.output == "sigmoid" and model.n_outputs == 1 and classes.shape[0] == 2
    proto = _model_proto(model, proba_columns=binary, squeeze=_one_output(model), extra=extra)
    return _write(proto, path)


def _classes_json(classes: np.ndarray) -> str:
    """``classes_`` as a JSON list (labels JSON cannot hold are written as their ``str``)."""
    values = classes.tolist()
    try:
        return json.dumps(values)
    except TypeError:
        return json.dumps([str(v) for v in values])


def _one_output(model: Any) -> bool:
    """True where ``predict`` returns shape (n,): an identity head with one output."""
    return model.built and model.output == "identity" and model.n_outputs == 1


# ----------------------------------------------------------------------------------------------
# the graph
def _import_onnx() -> Any:
    try:
        return importlib.import_module("onnx")
    except ImportError as exc:
        raise ImportError(
            'ONNX export needs the onnx package: pip install "scratchnet[onnx]" '
            f"(import failed: {exc})"
        ) from exc


def _model_proto(model: Any, proba_columns: bool, squeeze: bool, extra: dict) -> Any:
    """The ONNX ModelProto of a built model, checked by ``onnx.checker``.

    ``proba_columns`` turns one sigmoid unit p into the two columns [1 - p, p]; ``squeeze`` gives
    one identity output the shape [N]; ``extra`` joins the metadata.
    """
    if not model.built:
        raise RuntimeError(
            "cannot export a model that is not built: it has no parameters yet; call "
            "fit(X, y) or build(n_features, n_outputs) first"
        )
    head = model.output
    if head not in _HEADS:
        raise ValueError(
            f"cannot export output head {head!r}: the ONNX export knows {', '.join(_HEADS)}"
        )
    for layer in model.layers:
        _check_exportable(layer)
    params = _float32_arrays(to_numpy(model.parameters()), "parameter")
    state = _float32_arrays(to_numpy(model.state()), "batch-norm state")
    onnx = _import_onnx()
    helper, tp = onnx.helper, onnx.TensorProto
    graph = _Graph(onnx)
    H = INPUT_NAME
    for layer in model.layers:
        H = _layer_nodes(graph, layer, H, params, state)
    width: list[Any] = ["N", model.n_outputs]
    if head == "softmax":
        H = graph.node("Softmax", [H], "probabilities", axis=1, doc="y_hat = softmax(F), rows")
    elif head == "sigmoid":
        if proba_columns:
            p = graph.node("Sigmoid", [H], "head.p", doc="p = sigma(F): probability of classes_[1]")
            one = graph.constant("head.one", np.ones((1, 1), dtype=np.float32))
            q = graph.node("Sub", [one, p], "head.q", doc="1 - p: probability of classes_[0]")
            H = graph.node("Concat", [q, p], "probabilities", axis=1, doc="[1 - p, p]")
            width = ["N", 2]
        else:
            H = graph.node("Sigmoid", [H], "probabilities", doc="y_hat = sigma(F)")
    elif squeeze:
        axes = graph.constant("head.axes", np.array([1], dtype=np.int64))
        H = graph.node("Squeeze", [H, axes], "values", doc="y_hat = F[:, 0], shape [N]")
        width = ["N"]
    else:
        H = graph.node("Identity", [H], "values", doc="y_hat = F")

    x_info = helper.make_tensor_value_info(INPUT_NAME, tp.FLOAT, ["N", model.n_features])
    y_info = helper.make_tensor_value_info(H, tp.FLOAT, width)
    name = extra.get("estimator", "Model")
    doc = (
        f"scratchnet {__version__} {name}, {head} head: X (float32, [N, {model.n_features}]) "
        f"-> {H} (float32, {width})"
    )
    g = helper.make_graph(graph.nodes, f"scratchnet.{name}", [x_info], [y_info], graph.inits)
    opsets = [helper.make_opsetid("", OPSET)]
    proto = helper.make_model(
        g,
        opset_imports=opsets,
        producer_name="scratchnet",
        producer_version=__version__,
        doc_string=doc,
    )
    proto.ir_version = helper.find_min_ir_version_for(opsets)
    props = {
        "scratchnet_version": __version__,
        "head": head,
        "output": H,
        "source_dtype": model.dtype_name,
        **extra,
    }
    helper.set_model_props(proto, props)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def _check_exportable(layer: Layer) -> None:
    """Refuse, by name, a layer kind or activation the exporter cannot write."""
    label = f"layer {layer.name!r} ({type(layer).__name__})"
    if type(layer) not in (Dense, BatchNorm, Activation, Dropout):
        raise ValueError(
            f"cannot export {label}: the ONNX export knows the built-in layers Dense, "
            "BatchNorm, Activation and Dropout"
        )
    if isinstance(layer, Activation):
        name = layer.fn.name
        builtin = None
        if name in EXPORTABLE_ACTIVATIONS:
            builtin = get_activation(name)
        if builtin is None or builtin.forward is not layer.fn.forward:
            raise ValueError(
                f"cannot export {label}: activation {name!r} is not one of the built-in "
                f"activations the ONNX export writes ({', '.join(EXPORTABLE_ACTIVATIONS)})"
            )


def _float32_arrays(arrays: dict[str, np.ndarray], what: str) -> dict[str, np.ndarray]:
    """Host float32 copies; a `ValueError` names any that is not finite in float32."""
    out = {}
    for key, value in arrays.items():
        with np.errstate(over="ignore"):
            a = np.asarray(value, dtype=np.float32)
        if not np.isfinite(a).all():
            raise ValueError(
                f"cannot export {what} {key!r}: it has NaN or infinite values in float32 "
                "(a diverged model, or values beyond float32's range of 3.4e38)"
            )
        out[key] = a
    return out


class _Graph:
    """Nodes and initialisers collected in forward order."""

    def __init__(self, onnx: Any) -> None:
        self.helper, self.numpy_helper = onnx.helper, onnx.numpy_helper
        self.nodes: list[Any] = []
        self.inits: list[Any] = []

    def constant(self, name: str, value: np.ndarray) -> str:
        """An initialiser holding ``value`` (float32 or int64), under ``name``."""
        self.inits.append(self.numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs: list[str], output: str, doc: str = "", **attrs: Any) -> str:
        """Append ``op(inputs) -> output`` and return the output's name."""
        self.nodes.append(
            self.helper.make_node(op, inputs, [output], name=output, doc_string=doc, **attrs)
        )
        return output


def _layer_nodes(
    g: _Graph, layer: Layer, H: str, params: dict[str, np.ndarray], state: dict[str, np.ndarray]
) -> str:
    """Nodes for one layer from input tensor ``H``; returns the output tensor's name."""
    name = layer.name
    out = f"{name}.out" if name in _RESERVED else name  # the tensor a layer writes
    if isinstance(layer, Dense):
        B = g.constant(f"{name}.B", params[f"{name}.B"])
        if layer.use_bias:
            c = g.constant(f"{name}.c", params[f"{name}.c"])
            return g.node("Gemm", [H, B, c], out, doc="Z = H B + 1 c^T")
        return g.node("MatMul", [H, B], out, doc="Z = H B")
    if isinstance(layer, BatchNorm):
        inputs = [
            H,
            g.constant(f"{name}.gamma", params[f"{name}.gamma"]),
            g.constant(f"{name}.beta", params[f"{name}.beta"]),
            g.constant(f"{name}.running_mean", state[f"{name}.running_mean"]),
            g.constant(f"{name}.running_var", state[f"{name}.running_var"]),
        ]
        doc = "gamma (Z - running_mean) / sqrt(running_var + eps) + beta"
        return g.node("BatchNormalization", inputs, out, doc=doc, epsilon=layer.eps)
    if isinstance(layer, Dropout):
        return H  # the identity at inference
    act = layer.fn.name
    if act == "identity":
        return H
    if act == "silu":
        s = g.node("Sigmoid", [H], f"{name}.sigma", doc="sigma(Z)")
        return g.node("Mul", [H, s], out, doc="H = Z sigma(Z)")
    op, attrs = _ONE_NODE[act]
    return g.node(op, [H], out, doc=f"H = {act}(Z)", **attrs)


def _write(proto: Any, path: str | os.PathLike) -> Path:
    """Serialise ``proto`` to ``path`` atomically; the path written."""
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a str or path-like, got {type(path).__name__}")
    target = Path(path)
    write_atomic(target, proto.SerializeToString())
    return target

"""ONNX export (`scratchnet.export`): the graph computes what scratchnet computes.

Every comparison runs the written file in onnxruntime and compares with scratchnet's own
``predict_proba`` / ``predict`` (to 1e-5), for every registered activation and every head, with
batch norm and dropout, custom stacks, a float64 model, the scikit-learn wrappers and every
backend; the errors (unbuilt model, bad format, missing onnx, unsupported layer) are checked by
their messages.
"""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.activations import ActivationFunction, activation_names
from scratchnet.export import EXPORTABLE_ACTIVATIONS, OPSET, export_model, export_onnx
from scratchnet.layers import Activation, BatchNorm, Dense, Dropout, Layer

try:
    import onnx
    import onnxruntime as ort
except ImportError:  # the error tests still run; the comparisons need both (the test extra)
    onnx = ort = None

needs_onnx = pytest.mark.skipif(
    ort is None, reason='needs onnx and onnxruntime: pip install "scratchnet[test]"'
)

TOL = {"rtol": 1e-5, "atol": 1e-5}
HEADS = [("softmax", 3), ("sigmoid", 1), ("sigmoid", 3), ("identity", 1), ("identity", 2)]


def run_onnx(path, X: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"X": np.asarray(X, dtype=np.float32)})
    return out


def expected(model: sn.Model, X: np.ndarray) -> np.ndarray:
    """What the graph must give: predict_proba for classifiers, predict for regression."""
    if model.output == "identity":
        return sn.to_numpy(model.predict(X))
    return sn.to_numpy(model.predict_proba(X))


def features(n: int = 40, d: int = 5, seed: int = 0) -> np.ndarray:
    # float32 values, so that a float64 model and the float32 graph see the same inputs
    return np.random.default_rng(seed).normal(scale=2.0, size=(n, d)).astype(np.float32)


def with_random_state(model: sn.Model, seed: int = 1) -> sn.Model:
    """Give batch-norm layers non-trivial running statistics (mean != 0, var != 1)."""
    rng = np.random.default_rng(seed)
    state = {
        key: rng.uniform(0.3, 2.0, size=v.shape)
        if key.endswith("var")
        else rng.normal(size=v.shape)
        for key, v in sn.to_numpy(model.state()).items()
    }
    model.set_state(state)
    return model


def ops(path) -> list[str]:
    return [node.op_type for node in onnx.load(str(path)).graph.node]


@needs_onnx
@pytest.mark.parametrize("head,k", HEADS, ids=[f"{h}{k}" for h, k in HEADS])
@pytest.mark.parametrize("activation", activation_names())
@pytest.mark.parametrize("batch_norm", [False, True], ids=["plain", "bn"])
def test_every_activation_and_head(tmp_path, activation, head, k, batch_norm):
    model = sn.Model(
        hidden=(8, 6), activation=activation, output=head, batch_norm=batch_norm, seed=3
    )
    model = with_random_state(model.build(5, k))
    X = features()
    path = model.export(tmp_path / "m.onnx")
    out, ref = run_onnx(path, X), expected(model, X)
    assert out.dtype == np.float32 and out.shape == ref.shape
    np.testing.assert_allclose(out, ref, **TOL)


def test_every_registered_activation_is_exportable():
    # a new built-in activation must be taught to the exporter (and then tested above)
    assert set(activation_names()) <= set(EXPORTABLE_ACTIVATIONS)


@needs_onnx
@pytest.mark.parametrize("activation", activation_names())
def test_activation_formulas_at_extreme_inputs(tmp_path, activation):
    # one Activation layer, then an output layer fixed to the identity map: the graph's output
    # is u(X) itself, compared on |z| from 0 to 1e4
    z = np.array([-1e4, -1e3, -30.0, -3.0, -0.5, 0.0, 0.5, 3.0, 30.0, 1e3, 1e4], np.float32)
    X = np.stack([z, -z, z / 7]).T
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # advice about stacks ending in sigmoid
        model = sn.Model(layers=[Activation(activation)], output="identity", seed=0)
    model.build(3, 3)
    model.set_parameters({"dense1.B": np.eye(3), "dense1.c": np.zeros(3)})
    out, ref = run_onnx(model.export(tmp_path / "u.onnx"), X), expected(model, X)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


@needs_onnx
@pytest.mark.parametrize("head,k", HEADS, ids=[f"{h}{k}" for h, k in HEADS])
def test_batch_norm_exports_its_inference_form_and_dropout_is_left_out(tmp_path, head, k):
    rng = np.random.default_rng(0)
    X = features(120)
    y = {
        "softmax": rng.integers(0, 3, 120),
        "sigmoid": rng.integers(0, 2, (120, k)) if k > 1 else rng.integers(0, 2, 120),
        "identity": rng.normal(size=(120, k)) if k > 1 else rng.normal(size=120),
    }[head]
    model = sn.Model(
        hidden=(16, 8), activation="relu", output=head, batch_norm=True, dropout=0.3, seed=0
    )
    model.fit(X, y, epochs=3, batch_size=16)  # trained: running statistics moved
    state = sn.to_numpy(model.state())
    assert not np.allclose(state["batchnorm1.running_mean"], 0.0)
    path = model.export(tmp_path / "bn.onnx")
    kinds = ops(path)
    assert kinds.count("BatchNormalization") == 2 and "Dropout" not in kinds
    out, ref = run_onnx(path, X), expected(model, X)
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, **TOL)


@needs_onnx
def test_batch_norm_with_given_statistics(tmp_path):
    model = sn.Model(hidden=(8,), activation="tanh", output="softmax", batch_norm=True, seed=0)
    model = with_random_state(model.build(5, 4))
    graph = onnx.load(str(model.export(tmp_path / "bn.onnx"))).graph
    (bn,) = [n for n in graph.node if n.op_type == "BatchNormalization"]
    assert bn.input[1:] == [
        f"batchnorm1.{k}" for k in ("gamma", "beta", "running_mean", "running_var")
    ]
    assert onnx.helper.get_attribute_value(bn.attribute[0]) == pytest.approx(1e-5)
    X = features()
    np.testing.assert_allclose(run_onnx(tmp_path / "bn.onnx", X), expected(model, X), **TOL)


@needs_onnx
def test_custom_layer_stack(tmp_path):
    stack = [
        Dense(8), BatchNorm(eps=1e-3), Activation("tanh"), Dropout(0.2),
        Dense(6, use_bias=False), Activation("silu"), Dense(4, name="values"), Activation("gelu"),
    ]  # fmt: skip
    model = with_random_state(sn.Model(layers=stack, output="softmax", seed=2).build(5, 3))
    path = model.export(tmp_path / "custom.onnx")
    assert ops(path) == [
        "Gemm", "BatchNormalization", "Tanh", "MatMul", "Sigmoid", "Mul", "Gemm", "Gelu", "Gemm",
        "Softmax",
    ]  # fmt: skip
    X = features()
    np.testing.assert_allclose(run_onnx(path, X), expected(model, X), **TOL)


class Scale(Layer):
    """A layer the exporter does not know: H -> 2 H."""

    kind = "scale"

    def build(self, n_in, ctx):
        self.n_in = self.n_out = n_in
        return n_in

    def forward(self, H, training=False, rng=None):
        return 2.0 * H

    def backward(self, E, need_input_grad=True):
        return 2.0 * E

    def get_config(self):
        return {}


def test_unsupported_layer_is_named(tmp_path):
    model = sn.Model(layers=[Dense(4), Scale(name="double")], seed=0).build(3, 2)
    with pytest.raises(ValueError, match=r"layer 'double' \(Scale\).*Dense, BatchNorm"):
        model.export(tmp_path / "m.onnx")
    assert not list(tmp_path.iterdir())


def test_unsupported_activation_is_named(tmp_path):
    cube = ActivationFunction("cube", lambda z: z * z * z, lambda z, h: 3.0 * z * z)
    model = sn.Model(layers=[Dense(4), Activation(cube)], seed=0).build(3, 2)
    with pytest.raises(ValueError, match=r"activation 'cube'.*gelu"):
        model.export(tmp_path / "m.onnx")
    # a look-alike that borrows a built-in name is refused too
    fake = ActivationFunction("relu", lambda z: z * z * z, lambda z, h: 3.0 * z * z)
    model = sn.Model(layers=[Dense(4), Activation(fake)], seed=0).build(3, 2)
    with pytest.raises(ValueError, match=r"activation 'relu' is not one of the built-in"):
        model.export(tmp_path / "m.onnx")


@needs_onnx
@pytest.mark.parametrize("head,k", HEADS, ids=[f"{h}{k}" for h, k in HEADS])
def test_float64_model_exports_in_float32(tmp_path, head, k):
    model = sn.Model(
        hidden=(8, 6), activation="selu", output=head, batch_norm=True, dtype="float64", seed=4
    )
    model = with_random_state(model.build(5, k))
    X = features()  # float32 values, given to the float64 model as float64
    graph = onnx.load(str(model.export(tmp_path / "m64.onnx"))).graph
    assert {t.data_type for t in graph.initializer} <= {
        onnx.TensorProto.FLOAT,
        onnx.TensorProto.INT64,
    }
    assert graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    out = run_onnx(tmp_path / "m64.onnx", X)
    ref = expected(model, X.astype(np.float64))
    assert ref.dtype == np.float64 and out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)  # float32 rounding


def test_parameters_beyond_float32_are_refused(tmp_path):
    model = sn.Model(hidden=(4,), dtype="float64", seed=0).build(3, 2)
    params = sn.to_numpy(model.parameters())
    params["dense2.B"][0, 0] = 1e300
    model.set_parameters(params)
    with pytest.raises(ValueError, match=r"parameter 'dense2.B'.*float32"):
        model.export(tmp_path / "m.onnx")


def test_unbuilt_model(tmp_path):
    with pytest.raises(RuntimeError, match=r"not built.*fit\(X, y\) or build"):
        sn.Model(hidden=(4,)).export(tmp_path / "m.onnx")
    assert not list(tmp_path.iterdir())


def test_bad_format_lists_the_formats(tmp_path):
    model = sn.Model(hidden=(4,), seed=0).build(3, 2)
    with pytest.raises(ValueError, match=r"unknown export format 'tflite'.*'onnx'"):
        model.export(tmp_path / "m.tflite", format="tflite")
    with pytest.raises(TypeError, match="format must be a str"):
        model.export(tmp_path / "m.onnx", format=None)
    with pytest.raises(TypeError, match="scratchnet Model"):
        export_model(object(), tmp_path / "m.onnx", "onnx")
    with pytest.raises(TypeError, match="path must be a str or path-like"):
        export_onnx(model, 12)


def test_missing_onnx_names_the_extra(tmp_path, monkeypatch):
    model = sn.Model(hidden=(4,), seed=0).build(3, 2)
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` now raises ImportError
    with pytest.raises(ImportError, match=r'pip install "scratchnet\[onnx\]"'):
        model.export(tmp_path / "m.onnx")
    assert not list(tmp_path.iterdir())


@needs_onnx
def test_written_file_passes_the_checker_and_describes_itself(tmp_path):
    model = sn.Model(hidden=(8,), activation="elu", output="sigmoid", seed=0).build(7, 2)
    path = model.export(str(tmp_path / "m.onnx"))
    assert path == tmp_path / "m.onnx" and isinstance(path, os.PathLike)
    onnx.checker.check_model(str(path), full_check=True)
    proto = onnx.load(str(path))
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", OPSET)]
    (x,) = proto.graph.input
    dims = x.type.tensor_type.shape.dim
    assert x.name == "X" and x.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert (dims[0].dim_param, dims[1].dim_value) == ("N", 7)
    (y,) = proto.graph.output
    assert y.name == "probabilities"
    assert [d.dim_param or d.dim_value for d in y.type.tensor_type.shape.dim] == ["N", 2]
    props = {p.key: p.value for p in proto.metadata_props}
    assert props["scratchnet_version"] == sn.__version__ and props["head"] == "sigmoid"
    assert sn.__version__ in proto.doc_string and "sigmoid" in proto.doc_string
    assert proto.producer_name == "scratchnet"
    assert not [p for p in tmp_path.iterdir() if p.name != "m.onnx"]  # no temporary left


@needs_onnx
def test_export_replaces_a_file_atomically_and_keeps_it_on_failure(tmp_path):
    target = tmp_path / "m.onnx"
    target.write_bytes(b"old")
    sn.Model(hidden=(4,), seed=0).build(3, 2).export(target)
    assert target.read_bytes() != b"old"
    before = target.read_bytes()
    bad = sn.Model(layers=[Dense(4), Scale()], seed=0).build(3, 2)
    with pytest.raises(ValueError):
        bad.export(target)
    assert target.read_bytes() == before
    with pytest.raises(ValueError, match="does not exist"):
        sn.Model(hidden=(4,), seed=0).build(3, 2).export(tmp_path / "missing" / "m.onnx")


@needs_onnx
def test_other_backends_export_the_numpy_graph(tmp_path, backend):
    reference = sn.Model(hidden=(8,), activation="gelu", batch_norm=True, seed=5).build(5, 3)
    model = sn.Model(
        hidden=(8,), activation="gelu", batch_norm=True, backend=backend, seed=5
    ).build(5, 3)
    state = sn.to_numpy(with_random_state(reference).state())
    model.set_state(state)
    a = reference.export(tmp_path / "numpy.onnx").read_bytes()
    b = model.export(tmp_path / f"{backend.name}.onnx").read_bytes()
    assert a == b
    X = features()
    np.testing.assert_allclose(run_onnx(tmp_path / "numpy.onnx", X), expected(model, X), **TOL)


# ----------------------------------------------------------------------------------------------
# scikit-learn wrappers
def fitted(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of the short fits
        return estimator.fit(X, y)


@needs_onnx
def test_binary_classifier_gives_predict_probas_two_columns(tmp_path):
    X = features(80)
    y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    clf = fitted(sn_clf(batch_norm=True, dropout=0.2), X, y)
    path = clf.export(tmp_path / "binary.onnx")
    out, ref = run_onnx(path, X), clf.predict_proba(X)
    assert out.shape == ref.shape == (80, 2)
    np.testing.assert_allclose(out, ref, **TOL)
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert props["classes"] == '["no", "yes"]' and props["estimator"] == "MLPClassifier"
    np.testing.assert_array_equal(clf.classes_[np.argmax(out, axis=1)], clf.predict(X))


@needs_onnx
def test_multiclass_classifier_columns_follow_classes(tmp_path):
    X = features(90)
    y = np.array([10, 20, 30])[np.argmax(X[:, :3], axis=1)]
    clf = fitted(sn_clf(activation="tanh"), X, y)
    out = run_onnx(clf.export(tmp_path / "multi.onnx"), X)
    np.testing.assert_allclose(out, clf.predict_proba(X), **TOL)
    np.testing.assert_array_equal(clf.classes_[np.argmax(out, axis=1)], clf.predict(X))


@needs_onnx
def test_multilabel_classifier(tmp_path):
    X = features(90)
    Y = (X[:, :3] > 0).astype(int)
    clf = fitted(sn_clf(activation="softplus"), X, Y)
    out = run_onnx(clf.export(tmp_path / "multilabel.onnx"), X)
    ref = clf.predict_proba(X)
    assert out.shape == ref.shape == (90, 3)
    np.testing.assert_allclose(out, ref, **TOL)


@needs_onnx
@pytest.mark.parametrize("n_targets", [1, 2])
def test_regressor_matches_predict_shape(tmp_path, n_targets):
    X = features(80)
    y = X[:, 0] * X[:, 1] if n_targets == 1 else X[:, :2] * X[:, 2:4]
    reg = fitted(sn_mlp("MLPRegressor", batch_norm=True), X, y)
    path = reg.export(tmp_path / "reg.onnx")
    out, ref = run_onnx(path, X), reg.predict(X)
    assert out.shape == ref.shape == ((80,) if n_targets == 1 else (80, 2))
    np.testing.assert_allclose(out, ref, **TOL)
    assert onnx.load(str(path)).graph.output[0].name == "values"


def test_unfitted_estimator(tmp_path):
    clf = sn_clf()
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        clf.export(tmp_path / "m.onnx")
    with pytest.raises(RuntimeError, match="not fitted"):
        export_model(sn_clf(), tmp_path / "m.onnx", "onnx")


def sn_mlp(kind: str, **kwargs):
    estimators = pytest.importorskip("scratchnet.sklearn")  # needs scikit-learn
    return getattr(estimators, kind)((12,), max_iter=30, random_state=0, **kwargs)


def sn_clf(**kwargs):
    return sn_mlp("MLPClassifier", **kwargs)


@needs_onnx
def test_classifier_fitted_under_array_api_dispatch_exports(tmp_path, monkeypatch):
    """``classes_`` lives on the input's library after a dispatched fit: the file still records it."""
    torch = pytest.importorskip("torch")
    sklearn = pytest.importorskip("sklearn")
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")  # scikit-learn asks for it when dispatch is on
    X = features(80)
    y = np.array([3, 7, 9])[np.argmax(X[:, :3], axis=1)]
    with sklearn.config_context(array_api_dispatch=True):
        clf = fitted(sn_clf(), torch.asarray(X), torch.asarray(y))
        assert isinstance(clf.classes_, torch.Tensor)
        path = clf.export(tmp_path / "dispatched.onnx")
        ref = clf.predict_proba(torch.asarray(X)).numpy()
    np.testing.assert_allclose(run_onnx(path, X), ref, **TOL)
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert props["classes"] == "[3, 7, 9]"

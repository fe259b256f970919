"""Layers in isolation: forward values, backward formulas, dropout masks, batch-norm statistics."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.backends import get_backend
from scratchnet.layers import Activation, BatchNorm, BuildContext, Dense, Dropout, layer_from_config


def _ctx(backend=None, dtype="float64", seed=0):
    be = backend or get_backend("numpy")
    return BuildContext(be, be.dtype(dtype), np.random.default_rng(seed))


def test_dense_forward_and_backward_formulas(rng):
    layer = Dense(3, init="normal")
    layer.build(4, _ctx())
    H = rng.normal(size=(5, 4))
    Z = layer.forward(H)
    B, c = layer.params["B"], layer.params["c"]
    np.testing.assert_allclose(Z, H @ B + c)
    E = rng.normal(size=(5, 3))
    dH = layer.backward(E)
    np.testing.assert_allclose(layer.grads["B"], H.T @ E)  # equation (2): H^T E
    np.testing.assert_allclose(layer.grads["c"], E.sum(axis=0))  # 1^T E
    np.testing.assert_allclose(dH, E @ B.T)  # first factor of equation (1)
    assert layer.backward(E, need_input_grad=False) is None


def test_dense_without_bias_and_validation():
    layer = Dense(2, use_bias=False)
    layer.build(3, _ctx())
    assert set(layer.params) == {"B"}
    with pytest.raises(ValueError, match="units must be a positive int"):
        Dense(0)
    with pytest.raises(ValueError, match="l2 must be None or a float >= 0"):
        Dense(3, l2=-1.0)
    with pytest.raises(ValueError, match="unknown initializer"):
        Dense(3, init="nope")


def test_activation_layer_multiplies_by_u_prime(rng):
    layer = Activation("tanh")
    layer.build(3, _ctx())
    Z = rng.normal(size=(4, 3))
    np.testing.assert_allclose(layer.forward(Z), np.tanh(Z))
    E = rng.normal(size=(4, 3))
    np.testing.assert_allclose(layer.backward(E), E * (1 - np.tanh(Z) ** 2))


def test_dropout_is_identity_at_inference_and_scales_kept_units(backend):
    layer = Dropout(0.25)
    layer.build(50, _ctx(backend, "float32"))
    H = backend.asarray(np.ones((400, 50)), dtype=backend.dtype("float32"))
    assert layer.forward(H, training=False) is H
    out = sn.to_numpy(layer.forward(H, training=True, rng=backend.make_rng(0)))
    mask = sn.to_numpy(layer.mask)
    assert set(np.unique(out)) <= {0.0, np.float32(1 / 0.75)}
    np.testing.assert_allclose(out, mask / 0.75, rtol=1e-6)
    assert abs(mask.mean() - 0.75) < 0.02  # M ~ Bernoulli(p = 1 - rate)
    assert abs(out.mean() - 1.0) < 0.03  # E[H~] = H
    E = backend.asarray(np.full((400, 50), 2.0), dtype=backend.dtype("float32"))
    np.testing.assert_allclose(sn.to_numpy(layer.backward(E)), 2.0 * mask / 0.75, rtol=1e-6)


def test_dropout_masks_can_be_injected_and_frozen():
    layer = Dropout(0.5)
    layer.build(3, _ctx())
    M = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    layer.freeze(M)
    H = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    np.testing.assert_allclose(layer.forward(H, training=True), H * M / 0.5)
    np.testing.assert_allclose(layer.forward(H, training=True), H * M / 0.5)
    with pytest.raises(ValueError, match="frozen dropout mask has shape"):
        layer.forward(np.ones((3, 3)), training=True)
    layer.unfreeze()
    fresh = Dropout(0.5)
    fresh.build(3, _ctx())
    with pytest.raises(ValueError, match="no mask to freeze"):
        fresh.freeze()
    with pytest.raises(ValueError, match=r"rate must be a float in \[0, 1\)"):
        Dropout(1.0)


def test_batchnorm_training_statistics(rng):
    layer = BatchNorm(momentum=0.9, eps=1e-5)
    layer.build(3, _ctx())
    Z = rng.normal(loc=5.0, scale=3.0, size=(64, 3))
    Y = layer.forward(Z, training=True)
    np.testing.assert_allclose(Y.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Y.var(axis=0), Z.var(axis=0) / (Z.var(axis=0) + 1e-5), rtol=1e-10)
    np.testing.assert_allclose(layer.state["running_mean"], 0.1 * Z.mean(axis=0))
    np.testing.assert_allclose(layer.state["running_var"], 0.9 + 0.1 * Z.var(axis=0))


def test_batchnorm_inference_uses_running_statistics(rng):
    layer = BatchNorm()
    layer.build(2, _ctx())
    layer.state = {"running_mean": np.array([1.0, -1.0]), "running_var": np.array([4.0, 0.25])}
    layer.params = {"gamma": np.array([2.0, 1.0]), "beta": np.array([0.5, 0.0])}
    Z = np.array([[3.0, 0.0]])
    expected = np.array([[2.0 * 2.0 / np.sqrt(4 + 1e-5) + 0.5, 1.0 / np.sqrt(0.25 + 1e-5)]])
    np.testing.assert_allclose(layer.forward(Z, training=False), expected)
    E = np.ones((1, 2))
    np.testing.assert_allclose(
        layer.backward(E), [[2.0 / np.sqrt(4 + 1e-5), 1 / np.sqrt(0.25 + 1e-5)]]
    )


def test_batchnorm_backward_matches_the_compact_formula(rng):
    layer = BatchNorm()
    layer.build(4, _ctx())
    layer.params["gamma"] = rng.normal(size=4)
    Z = rng.normal(size=(10, 4))
    layer.forward(Z, training=True)
    G = rng.normal(size=(10, 4))
    dZ = layer.backward(G)
    n = 10
    mu, var = Z.mean(0), Z.var(0)
    s = 1 / np.sqrt(var + 1e-5)
    Zhat = (Z - mu) * s
    Gh = G * layer.params["gamma"]
    expected = (s / n) * (n * Gh - Gh.sum(0) - Zhat * (Gh * Zhat).sum(0))
    np.testing.assert_allclose(dZ, expected, rtol=1e-10)
    np.testing.assert_allclose(layer.grads["gamma"], (G * Zhat).sum(0))
    np.testing.assert_allclose(layer.grads["beta"], G.sum(0))


def test_batchnorm_validation():
    with pytest.raises(ValueError, match="momentum"):
        BatchNorm(momentum=1.0)
    with pytest.raises(ValueError, match="eps"):
        BatchNorm(eps=0.0)


@pytest.mark.parametrize(
    "layer",
    [
        Dense(4, init="he_normal", l2=0.1, name="d"),
        Activation("gelu"),
        Dropout(0.3),
        BatchNorm(0.8, 1e-3),
    ],
)
def test_layers_round_trip_through_config(layer):
    again = layer_from_config(layer.kind, layer.get_config())
    assert type(again) is type(layer) and again.get_config() == layer.get_config()
    with pytest.raises(ValueError, match="unknown layer type 'conv'"):
        layer_from_config("conv", {})


def test_unbuilt_layer_and_bad_names():
    with pytest.raises(ValueError, match="without '.'"):
        Dense(3, name="a.b")
    assert "Dense(units=3" in repr(Dense(3))


def test_custom_layer_stack_in_a_model(rng):
    stack = [
        Dense(6),
        BatchNorm(),
        Activation("tanh"),
        Dropout(0.2),
        Dense(5, name="wide"),
        Activation("relu"),
    ]
    m = sn.Model(layers=stack, output="softmax", seed=0, dtype="float64")
    X, y = rng.normal(size=(12, 3)), rng.integers(0, 3, size=12)
    m.fit(X, y, epochs=2, batch_size=4)
    names = [ly.name for ly in m.layers]
    assert names == [
        "dense1",
        "batchnorm1",
        "activation1",
        "dropout1",
        "wide",
        "activation2",
        "dense3",
    ]
    assert stack[0].params == {}  # the model copies the layers; the user's objects stay unbuilt
    with pytest.raises(TypeError, match="sequence of scratchnet.layers.Layer"):
        sn.Model(layers=[Dense(3), "relu"])
    with pytest.raises(ValueError, match="layer names must be unique"):
        sn.Model(layers=[Dense(3, name="x"), Dense(3, name="x")]).build(2, 2)


def test_l2_leaves_a_gradient_array_that_a_custom_layer_keeps_alone():
    """The L2 term is added in place only into the model's own gradient buffer."""

    class KeepsItsGradient(Dense):
        def backward(self, E, need_input_grad=True):
            out = super().backward(E, need_input_grad)
            self.kept = np.array(sn.to_numpy(self.grads["B"]), copy=True)
            self.grads["B"] = self.kept  # an array the layer holds on to
            self.raw = self.kept.copy()
            return out

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 3)), rng.integers(0, 2, size=20)
    m = sn.Model(layers=[KeepsItsGradient(4, name="keeper"), Activation("relu")], l2=0.5, seed=0)
    m.fit(X, y, epochs=1, batch_size=20, optimizer="sgd", lr=0.1)
    layer = next(ly for ly in m.layers if isinstance(ly, KeepsItsGradient))
    np.testing.assert_array_equal(layer.kept, layer.raw)

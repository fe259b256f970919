"""Float64 central-difference checks of every layer, head, penalty and their combinations."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.activations import activation_names
from scratchnet.initializers import Constant
from scratchnet.layers import Activation, BatchNorm, Dense, Dropout
from scratchnet.testing import check_gradients, relative_error

HEADS = ("softmax", "sigmoid", "identity")


def _data(head: str, n: int = 7, p: int = 3, k: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    if head == "softmax":
        return X, rng.integers(0, k, size=n)
    if head == "sigmoid":
        return X, rng.integers(0, 2, size=(n, 2))
    return X, rng.normal(size=(n, 2))


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("activation", activation_names())
@pytest.mark.parametrize("hidden", [(), (4,), (5, 3)], ids=["depth0", "depth1", "depth2"])
def test_every_activation_head_and_depth(activation, head, hidden):
    X, y = _data(head)
    m = sn.Model(hidden=hidden, activation=activation, output=head, dtype="float64", seed=1)
    report = check_gradients(m, X, y)
    assert report.max_error < 1e-6


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("activation", activation_names())
def test_width_one_chains_of_depth_six(activation, head):
    X, y = _data(head, n=6, p=2)
    if head != "softmax":
        y = y[:, :1]
    # Positive weights and biases keep every unit alive past the first layer (a dead relu unit
    # would feed exactly z = 0 to the next one, a kink). Sigmoid's u' <= 1/4 makes a chain's
    # gradient vanish like (B/4)^6: its weights sit near 4 and its biases at -2, so that
    # z = 4 h - 2 stays in the steep part of the curve.
    low, high, bias = (3.0, 5.0, -2.0) if activation == "sigmoid" else (0.5, 1.5, 0.5)

    def positive(shape, r):
        return r.uniform(low, high, size=shape)

    chain = [Dense(1, init=positive, bias_init=Constant(bias)), Activation(activation)] * 6
    m = sn.Model(layers=chain, output=head, dtype="float64", seed=2)
    report = check_gradients(m, X, y)
    assert report.ok
    assert all(np.abs(g).max() > 1e-8 for g in report.analytic.values())  # nothing vanished


def test_gradient_check_on_every_backend(backend):
    X, y = _data("softmax")
    m = sn.Model(hidden=(4, 3), activation="tanh", l2=0.05, batch_norm=True, backend=backend,
                 dtype="float64", seed=3)  # fmt: skip
    assert check_gradients(m, X, y).ok


@pytest.mark.parametrize("head", HEADS)
def test_l2_penalty_is_gradient_checked(head):
    X, y = _data(head)
    m = sn.Model(hidden=(4, 3), activation="tanh", output=head, l2=0.7, dtype="float64", seed=4)
    assert check_gradients(m, X, y).ok


def test_l2_touches_weights_only_and_is_reported_in_the_loss(rng):
    X, y = _data("softmax")
    plain = sn.Model(hidden=(4,), dtype="float64", seed=5)
    reg = sn.Model(hidden=(4,), dtype="float64", seed=5, l2=0.3)
    l0, g0 = plain.loss_and_gradients(X, y)
    l1, g1 = reg.loss_and_gradients(X, y)
    params = sn.to_numpy(plain.parameters())
    n = X.shape[0]
    penalty = 0.5 * 0.3 * (np.sum(params["dense1.B"] ** 2) + np.sum(params["dense2.B"] ** 2)) / n
    assert l1 == pytest.approx(l0 + penalty, rel=1e-12)
    np.testing.assert_allclose(g1["dense1.B"], g0["dense1.B"] + 0.3 * params["dense1.B"] / n)
    np.testing.assert_array_equal(g1["dense1.c"], g0["dense1.c"])  # biases never penalised
    np.testing.assert_array_equal(g1["dense2.c"], g0["dense2.c"])


def test_per_layer_l2_overrides_the_model_value():
    X, y = _data("softmax")
    m = sn.Model(layers=[Dense(4, l2=2.0), Activation("tanh"), Dense(3, l2=0.0), Activation("relu")],
                 l2=0.5, dtype="float64", seed=6)  # fmt: skip
    assert check_gradients(m, X, y).ok
    m0 = sn.Model(layers=[Dense(4, l2=2.0), Activation("tanh"), Dense(3, l2=0.0), Activation("relu")],
                  l2=0.0, dtype="float64", seed=6)  # fmt: skip
    _, g = m.loss_and_gradients(X, y)
    _, g0 = m0.loss_and_gradients(X, y)
    np.testing.assert_array_equal(g["dense2.B"], g0["dense2.B"])  # lambda 0 on that layer
    assert not np.allclose(g["dense3.B"], g0["dense3.B"])  # the model's 0.5 on the output layer


@pytest.mark.parametrize("head", HEADS)
def test_dropout_with_frozen_masks(head):
    X, y = _data(head, n=9)
    m = sn.Model(
        hidden=(6, 5), activation="tanh", output=head, dropout=0.4, dtype="float64", seed=7
    )
    report = check_gradients(m, X, y)
    assert report.ok
    assert any(isinstance(ly, Dropout) for ly in m.copy().layers)


@pytest.mark.parametrize("training", [True, False], ids=["batch-stats", "running-stats"])
def test_batch_norm(training):
    X, y = _data("softmax", n=10)
    m = sn.Model(hidden=(5, 4), activation="relu", batch_norm=True, dtype="float64", seed=8)
    m.fit(X, y, epochs=2, batch_size=5)  # move the running statistics away from 0 / 1
    assert check_gradients(m, X, y, training=training).ok


def test_everything_together_with_sample_weights_and_sum_reduction():
    X, y = _data("softmax", n=10)
    w = np.linspace(0.1, 2.0, 10)
    stack = [
        Dense(6),
        BatchNorm(),
        Activation("elu"),
        Dropout(0.3),
        Dense(4, l2=0.2),
        Activation("selu"),
    ]
    m = sn.Model(layers=stack, l2=0.1, reduction="sum", dtype="float64", seed=9)
    assert check_gradients(m, X, y, sample_weight=w).ok


def test_check_gradients_detects_a_wrong_gradient(monkeypatch):
    from scratchnet import activations

    X, y = _data("softmax")
    m = sn.Model(hidden=(4,), activation="tanh", dtype="float64", seed=10)
    tanh = activations.get_activation("tanh")
    wrong = activations.ActivationFunction("tanh", tanh.forward, lambda z, h: 1.0 - 0.9 * h * h)
    monkeypatch.setitem(activations._REGISTRY, "tanh", wrong)
    with pytest.raises(AssertionError, match="max relative error"):
        check_gradients(m, X, y)
    report = check_gradients(m, X, y, raise_on_error=False)
    assert not report.ok and report.errors["dense1.B"] > 1e-3
    assert report.errors["dense2.B"] < 1e-6  # the output layer does not see u'
    assert "dense1.B" in str(report)


def test_check_gradients_works_from_a_float32_model_without_touching_it():
    X, y = _data("softmax")
    m = sn.Model(hidden=(4,), activation="tanh", seed=11)  # float32
    before = sn.to_numpy(m.build(3, 3).parameters())
    assert check_gradients(m, X, y).ok
    after = sn.to_numpy(m.parameters())
    assert m.dtype_name == "float32"
    for k in before:
        np.testing.assert_array_equal(before[k], after[k])


def test_relative_error():
    assert relative_error(np.ones(3), np.ones(3)) == 0.0
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.ones(3), -np.ones(3)) == pytest.approx(1.0)

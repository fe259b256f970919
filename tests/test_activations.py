"""Activations: u' against central differences, stability at |z| = 1e4, reference values."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.activations import activation_names, get_activation, register_activation

NAMES = activation_names()


@pytest.mark.parametrize("name", NAMES)
def test_derivative_matches_central_difference(name, backend):
    act = get_activation(name)
    z = np.linspace(-4.0, 4.0, 161)
    z = z[np.abs(z) > 1e-3]  # keep away from the kinks of relu-type functions
    zd = backend.asarray(z, dtype=backend.dtype("float64"))
    h = act.forward(zd)
    analytic = sn.to_numpy(act.derivative(zd, h))
    eps = 1e-6
    plus = sn.to_numpy(act.forward(backend.asarray(z + eps, dtype=backend.dtype("float64"))))
    minus = sn.to_numpy(act.forward(backend.asarray(z - eps, dtype=backend.dtype("float64"))))
    numeric = (plus - minus) / (2 * eps)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", NAMES)
def test_stable_for_huge_inputs_in_float32(name, backend):
    act = get_activation(name)
    z = backend.asarray(np.array([-1e4, -100.0, 0.0, 100.0, 1e4]), dtype=backend.dtype("float32"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = act.forward(z)
        d = act.derivative(z, h)
    assert np.isfinite(sn.to_numpy(h)).all() and np.isfinite(sn.to_numpy(d)).all()


def test_reference_values():
    z = np.array([-2.0, 0.0, 3.0])
    f = {n: get_activation(n).forward(z) for n in NAMES}
    np.testing.assert_allclose(f["identity"], z)
    np.testing.assert_allclose(f["relu"], [0.0, 0.0, 3.0])
    np.testing.assert_allclose(f["leaky_relu"], [-0.02, 0.0, 3.0])
    np.testing.assert_allclose(f["sigmoid"], 1 / (1 + np.exp(-z)))
    np.testing.assert_allclose(f["tanh"], np.tanh(z))
    np.testing.assert_allclose(f["elu"], [math.expm1(-2.0), 0.0, 3.0])
    np.testing.assert_allclose(f["softplus"], np.log1p(np.exp(z)))
    np.testing.assert_allclose(f["silu"], z / (1 + np.exp(-z)))
    scale, alpha = 1.0507009873554805, 1.6732632423543772
    np.testing.assert_allclose(f["selu"], [scale * alpha * math.expm1(-2.0), 0.0, scale * 3.0])
    k = math.sqrt(2 / math.pi)
    np.testing.assert_allclose(f["gelu"], 0.5 * z * (1 + np.tanh(k * (z + 0.044715 * z**3))))


def test_sigmoid_saturates_exactly():
    s = get_activation("sigmoid").forward(np.array([-1e4, 1e4], dtype=np.float32))
    assert s.tolist() == [0.0, 1.0]
    sp = get_activation("softplus").forward(np.array([-1e4, 1e4], dtype=np.float32))
    assert sp.tolist() == [0.0, 1e4]


def test_aliases_follow_scikit_learn():
    assert get_activation("logistic").name == "sigmoid"
    assert get_activation("linear").name == "identity"


def test_unknown_activation_lists_names():
    with pytest.raises(ValueError, match=r"unknown activation 'swoosh'.*relu.*gelu"):
        get_activation("swoosh")
    with pytest.raises(TypeError, match="activation must be a name"):
        get_activation(3)
    with pytest.raises(ValueError, match="unknown activation"):
        sn.Model(activation="swoosh")


def test_register_custom_activation_trains_and_checks():

    def square(z):
        return z * z

    def square_grad(z, h):
        return 2.0 * z

    name = "square_for_test"
    try:
        register_activation(name, square, square_grad)
        with pytest.raises(ValueError, match="already registered"):
            register_activation(name, square, square_grad)
        X = np.random.default_rng(0).normal(size=(5, 3))
        m = sn.Model(hidden=(4,), activation=name, dtype="float64", seed=0)
        assert sn.testing.check_gradients(m, X, np.array([0, 1, 0, 1, 1])).ok
    finally:
        from scratchnet import activations

        activations._REGISTRY.pop(name, None)


@pytest.mark.parametrize("name", NAMES)
def test_fused_backward_equals_e_times_derivative(name, backend):
    act = get_activation(name)
    rng = np.random.default_rng(1)
    dt = backend.dtype("float64")
    z = backend.asarray(rng.normal(size=(6, 5)), dtype=dt)
    e = backend.asarray(rng.normal(size=(6, 5)), dtype=dt)
    h = act.forward(z)
    np.testing.assert_allclose(
        sn.to_numpy(act.backprop(e, z, h)), sn.to_numpy(e * act.derivative(z, h)), rtol=1e-15
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softplus_and_sigmoid_from_one_exponential_equal_the_two_functions(dtype, backend):
    from scratchnet.activations import softplus_and_sigmoid, stable_sigmoid, stable_softplus

    values = [-1e4, -40.0, -1.0, -1e-30, -0.0, 0.0, 1e-30, 0.5, 40.0, 1e4, np.inf, -np.inf, np.nan]
    z = backend.asarray(np.array(values), dtype=backend.dtype(dtype))
    softplus, sigma = softplus_and_sigmoid(z)
    np.testing.assert_array_equal(sn.to_numpy(softplus), sn.to_numpy(stable_softplus(z)))
    np.testing.assert_array_equal(sn.to_numpy(sigma), sn.to_numpy(stable_sigmoid(z)))

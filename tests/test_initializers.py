"""Initialisers of section 6: variances, defaults by activation, one network on every backend."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import blobs

import scratchnet as sn
from scratchnet.initializers import Constant, Normal, Uniform, get_initializer, initializer_names
from scratchnet.layers import Dense

FAN_IN, FAN_OUT = 400, 600
SHAPE = (FAN_IN, FAN_OUT)

EXPECTED_VARIANCE = {
    "lecun_normal": 1 / FAN_IN,
    "lecun_uniform": 1 / FAN_IN,
    "xavier_normal": 2 / (FAN_IN + FAN_OUT),
    "xavier_uniform": 2 / (FAN_IN + FAN_OUT),
    "glorot_normal": 2 / (FAN_IN + FAN_OUT),
    "glorot_uniform": 2 / (FAN_IN + FAN_OUT),
    "he_normal": 2 / FAN_IN,
    "he_uniform": 2 / FAN_IN,
    "sklearn_glorot": 2 / (FAN_IN + FAN_OUT),
    "normal": 0.05**2,
    "uniform": 0.05**2 / 3,
}
UNIFORM_LIMIT = {
    "lecun_uniform": np.sqrt(3 / FAN_IN),
    "xavier_uniform": np.sqrt(6 / (FAN_IN + FAN_OUT)),
    "he_uniform": np.sqrt(6 / FAN_IN),
    "sklearn_glorot": np.sqrt(6 / (FAN_IN + FAN_OUT)),
    "uniform": 0.05,
}


@pytest.mark.parametrize("name", sorted(EXPECTED_VARIANCE))
def test_variance_matches_section_6(name):
    W = get_initializer(name)(SHAPE, np.random.default_rng(0))
    assert W.shape == SHAPE
    assert abs(W.mean()) < 0.01 * np.sqrt(EXPECTED_VARIANCE[name]) * 10
    assert W.var() == pytest.approx(EXPECTED_VARIANCE[name], rel=0.02)


@pytest.mark.parametrize("name", sorted(UNIFORM_LIMIT))
def test_uniform_limits(name):
    W = get_initializer(name)(SHAPE, np.random.default_rng(1))
    limit = UNIFORM_LIMIT[name]
    assert W.min() >= -limit and W.max() <= limit
    assert W.max() > 0.99 * limit


def test_sklearn_glorot_factor_sets_the_bound():
    # scikit-learn's MLP: U(-sqrt(f / (fan_in + fan_out)), +...), f = 6, or 2 for "logistic"
    from scratchnet.initializers import SklearnGlorot

    init = get_initializer({"name": "sklearn_glorot", "factor": 2.0})
    assert isinstance(init, SklearnGlorot) and init.get_config() == {
        "name": "sklearn_glorot",
        "factor": 2.0,
    }
    W = init(SHAPE, np.random.default_rng(2))
    limit = np.sqrt(2 / (FAN_IN + FAN_OUT))
    assert W.min() >= -limit and W.max() <= limit and W.max() > 0.99 * limit
    assert W.var() == pytest.approx(limit**2 / 3, rel=0.02)
    # the default factor draws exactly what xavier_uniform draws
    np.testing.assert_array_equal(
        get_initializer("sklearn_glorot")((3, 4), np.random.default_rng(5)),
        get_initializer("xavier_uniform")((3, 4), np.random.default_rng(5)),
    )
    for bad in (0, -1.0, float("inf"), float("nan"), True, "6"):
        with pytest.raises(ValueError, match="factor must be a finite number > 0"):
            SklearnGlorot(bad)
    assert "sklearn_glorot" in initializer_names()


def test_zeros_and_constant():
    rng = np.random.default_rng(0)
    assert not get_initializer("zeros")((3, 2), rng).any()
    np.testing.assert_array_equal(Constant(1.5)((4,), rng), np.full(4, 1.5))


def test_custom_callable_and_parameterised_objects():
    rng = np.random.default_rng(0)
    assert Normal(std=2.0)((2000,), rng).std() == pytest.approx(2.0, rel=0.05)
    assert np.abs(Uniform(limit=0.5)((100,), rng)).max() <= 0.5
    m = sn.Model(hidden=(3,), init=lambda shape, r: np.full(shape, 0.25), seed=0).build(2, 2)
    np.testing.assert_array_equal(sn.to_numpy(m.parameters()["dense1.B"]), np.full((2, 3), 0.25))


def test_errors_name_the_options():
    with pytest.raises(ValueError, match=r"unknown initializer 'kaiming'.*he_normal"):
        get_initializer("kaiming")
    with pytest.raises(TypeError, match="init must be"):
        get_initializer(3.0)
    with pytest.raises(ValueError, match="std must be > 0"):
        Normal(std=0)
    assert "glorot_uniform" in initializer_names()


@pytest.mark.parametrize(
    "activation, expected",
    [("relu", "he_uniform"), ("tanh", "xavier_uniform"), ("sigmoid", "xavier_uniform"),
     ("selu", "lecun_normal"), ("gelu", "he_uniform")],
)  # fmt: skip
def test_default_initialiser_follows_the_activation(activation, expected):
    m = sn.Model(hidden=(5, 5), activation=activation, seed=0).build(3, 2)
    dense = [ly for ly in m.layers if ly.kind == "dense"]
    assert [d.init for d in dense] == [expected, expected, "xavier_uniform"]


def test_biases_start_at_zero():
    m = sn.Model(hidden=(5,), seed=0).build(3, 2)
    assert not sn.to_numpy(m.parameters()["dense1.c"]).any()


def test_same_seed_same_network_on_every_backend(backend, dtype):
    reference = sn.Model(hidden=(7, 5), activation="tanh", seed=42, dtype=dtype).build(4, 3)
    m = sn.Model(hidden=(7, 5), activation="tanh", seed=42, dtype=dtype, backend=backend).build(
        4, 3
    )
    ref = sn.to_numpy(reference.parameters())
    for name, value in sn.to_numpy(m.parameters()).items():
        np.testing.assert_array_equal(value, ref[name])


def test_float32_network_is_the_float64_one_rounded():
    a = sn.Model(hidden=(6,), seed=3, dtype="float32").build(4, 2)
    b = sn.Model(hidden=(6,), seed=3, dtype="float64").build(4, 2)
    np.testing.assert_array_equal(
        sn.to_numpy(a.parameters()["dense1.B"]),
        sn.to_numpy(b.parameters()["dense1.B"]).astype(np.float32),
    )


def test_different_seeds_give_different_networks():
    a = sn.to_numpy(sn.Model(hidden=(6,), seed=1).build(4, 2).parameters()["dense1.B"])
    b = sn.to_numpy(sn.Model(hidden=(6,), seed=2).build(4, 2).parameters()["dense1.B"])
    assert not np.array_equal(a, b)


def test_initialiser_configurations_round_trip():
    from scratchnet.initializers import initializer_config

    for init in (
        Normal(std=2.0),
        Uniform(limit=0.3),
        Constant(1.5),
        get_initializer("he_normal"),
        get_initializer({"name": "sklearn_glorot", "factor": 2.0}),
    ):
        again = get_initializer(initializer_config(init))
        assert type(again) is type(init) and repr(again) == repr(init)
        np.testing.assert_array_equal(
            again((3, 2), np.random.default_rng(1)), init((3, 2), np.random.default_rng(1))
        )
    assert initializer_config(lambda shape, r: np.zeros(shape)) is None
    assert initializer_config("glorot_uniform") == "glorot_uniform"
    with pytest.raises(ValueError, match="bad arguments for initializer 'normal'"):
        get_initializer({"name": "normal", "sigma": 1.0})
    with pytest.raises(ValueError, match="unknown initializer 'fancy'"):
        get_initializer({"name": "fancy"})


def test_models_with_parameterised_or_custom_initialisers_copy_and_save(tmp_path):
    from scratchnet.layers import Dense

    for init in (Normal(std=0.3), Constant(0.1), lambda shape, r: r.uniform(0.5, 1.5, size=shape)):
        m = sn.Model(layers=[Dense(3, init=init, bias_init=Constant(0.5))], seed=0).build(2, 2)
        m.save(tmp_path / "m.npz")
        for twin in (m.copy(), sn.load(tmp_path / "m.npz")):
            for name, value in sn.to_numpy(m.parameters()).items():
                np.testing.assert_array_equal(sn.to_numpy(twin.parameters())[name], value)


def test_custom_initialiser_output_is_copied():
    W0 = np.full((2, 4), 0.3, dtype=np.float32)
    m = sn.Model(layers=[Dense(4, init=lambda shape, r: W0)], seed=0)
    X, y = blobs(20)
    m.fit(X, y, epochs=2)
    np.testing.assert_array_equal(W0, np.float32(0.3))
    with pytest.raises(
        ValueError, match=r"init returned an array of shape \(3,\), expected \(2, 4\)"
    ):
        sn.Model(layers=[Dense(4, init=lambda shape, r: np.zeros(3))]).build(2, 2)

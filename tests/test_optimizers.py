"""Optimisers against their textbook formulas, in-place kernels against portable ones, schedules."""

from __future__ import annotations

import math

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.backends import get_backend
from scratchnet.backends.kernels import PortableKernels
from scratchnet.optimizers import SGD, AdaGrad, Adam, AdamW, RMSProp, get_optimizer
from scratchnet.schedules import (
    Clock,
    Constant,
    CosineDecay,
    ExponentialDecay,
    InverseScaling,
    ReduceOnPlateau,
    StepDecay,
    schedule_from_config,
)

STEPS = 5


def _reference(name: str, p: np.ndarray, grads: list[np.ndarray], lr: float, weight: bool = True):
    """The formulas of scratchnet.optimizers, one step at a time, in plain float64 NumPy."""
    p = p.copy()
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        if name == "sgd":
            p = p - lr * g
        elif name in ("momentum", "nesterov"):
            v = 0.9 * v - lr * g
            p = p + (0.9 * v - lr * g if name == "nesterov" else v)
        elif name == "adagrad":
            v = v + g * g
            p = p - lr * g / (np.sqrt(v) + 1e-8)
        elif name == "rmsprop":
            v = 0.9 * v + 0.1 * g * g
            p = p - lr * g / (np.sqrt(v) + 1e-8)
        elif name in ("adam", "adamw"):
            if name == "adamw" and weight:
                p = p * (1 - lr * 0.01)
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            m_hat, v_hat = m / (1 - 0.9**t), v / (1 - 0.999**t)
            p = p - lr * m_hat / (np.sqrt(v_hat) + 1e-8)
    return p


NAMES = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"]


def _run(name, backend, dtype, kernels=None, weight=True):
    rng = np.random.default_rng(0)
    p0 = rng.normal(size=(4, 3))
    grads = [rng.normal(size=(4, 3)) for _ in range(STEPS)]
    opt = get_optimizer(name, lr=0.05)
    dt = backend.dtype(dtype)
    params = {"w": backend.asarray(p0, dtype=dt, copy=True)}
    for g in grads:
        params = opt.step(params, {"w": backend.asarray(g, dtype=dt)}, 0.05,
                          kernels or backend.kernels, frozenset({"w"} if weight else ()))  # fmt: skip
    return sn.to_numpy(params["w"]), _reference(name, p0, grads, 0.05, weight)


@pytest.mark.parametrize("name", NAMES)
def test_optimizer_matches_its_formula(name, backend, dtype):
    got, expected = _run(name, backend, dtype)
    np.testing.assert_allclose(got, expected, rtol=1e-9 if dtype == "float64" else 2e-5, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_portable_kernels_match_the_fast_ones(name, backend):
    fast, _ = _run(name, backend, "float64")
    portable, _ = _run(name, backend, "float64", kernels=PortableKernels(backend.xp))
    np.testing.assert_allclose(fast, portable, rtol=1e-12)


def test_adamw_leaves_biases_alone():
    be = get_backend("numpy")
    got, expected = _run("adamw", be, "float64", weight=False)
    np.testing.assert_allclose(got, expected)
    np.testing.assert_allclose(got, _run("adam", be, "float64")[0])


def test_in_place_kernels_never_touch_gradients():
    be = get_backend("numpy")
    g = np.full((3,), 2.0)
    opt = Adam(lr=0.1)
    opt.step({"w": np.ones(3)}, {"w": g}, 0.1, be.kernels)
    np.testing.assert_array_equal(g, 2.0)


def test_clip_by_global_norm_and_by_value():
    be = get_backend("numpy")
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([4.0])}  # global norm 5
    opt = SGD(lr=1.0, clip_norm=1.0)
    new = opt.step({"a": np.zeros(2), "b": np.zeros(1)}, grads, 1.0, be.kernels)
    np.testing.assert_allclose(new["a"], [-0.6, 0.0])
    np.testing.assert_allclose(new["b"], [-0.8])
    opt = SGD(lr=1.0, clip_norm=10.0)  # below the threshold: untouched
    new = opt.step({"a": np.zeros(2), "b": np.zeros(1)}, grads, 1.0, be.kernels)
    np.testing.assert_allclose(new["b"], [-4.0])
    opt = SGD(lr=1.0, clip_value=0.5)
    new = opt.step({"a": np.zeros(2), "b": np.zeros(1)}, grads, 1.0, be.kernels)
    np.testing.assert_allclose(new["a"], [-0.5, 0.0])


def test_clipping_on_every_backend(backend):
    opt = Adam(lr=0.1, clip_norm=0.5, clip_value=0.1)
    dt = backend.dtype("float32")
    p = {"w": backend.asarray(np.ones(4), dtype=dt, copy=True)}
    g = {"w": backend.asarray(np.array([10.0, -10.0, 0.01, 0.0]), dtype=dt)}
    out = sn.to_numpy(opt.step(p, g, 0.1, backend.kernels)["w"])
    assert np.isfinite(out).all()


def test_string_shortcuts_and_objects():
    assert isinstance(get_optimizer("gd"), SGD) and get_optimizer("gd").momentum == 0.0
    assert get_optimizer("momentum").momentum == 0.9
    assert get_optimizer("nesterov").nesterov
    assert isinstance(get_optimizer("ADAM"), Adam)
    assert get_optimizer("adam", lr=0.5).lr == 0.5
    opt = AdamW(lr=1e-3, weight_decay=0.1)
    assert get_optimizer(opt) is opt
    assert "Adam(lr=Constant(0.001)" in repr(Adam())
    with pytest.raises(ValueError, match="nesterov=True needs momentum > 0"):
        SGD(nesterov=True)
    with pytest.raises(ValueError, match="beta1 must be < 1.0"):
        Adam(beta1=1.0)
    with pytest.raises(ValueError, match="clip_norm must be > 0"):
        Adam(clip_norm=0)
    for cls in (AdaGrad, RMSProp):
        assert cls().get_config()["lr"]["name"] == "constant"


def test_optimizer_state_persists_across_fits(rng):
    X, y = rng.normal(size=(20, 3)), rng.integers(0, 2, size=20)
    m = sn.Model(hidden=(4,), seed=0)
    m.fit(X, y, epochs=1, optimizer="adam", batch_size=10)
    opt = m.optimizer
    m.fit(X, y, epochs=1, batch_size=10)
    assert m.optimizer is opt and opt.iterations == 4
    m.fit(X, y, epochs=1, batch_size=10, lr=0.5)
    assert m.optimizer is opt and opt.lr == 0.5
    m.fit(X, y, epochs=1, batch_size=10, optimizer="sgd")
    assert isinstance(m.optimizer, SGD) and m.optimizer.iterations == 2


# --------------------------------------------------------------------------------------------
# schedules
def test_schedule_values():
    assert Constant(0.1)(Clock(step=100)) == 0.1
    assert StepDecay(0.1, drop=0.5, every=10)(Clock(epoch=25)) == pytest.approx(0.025)
    assert ExponentialDecay(1.0, rate=0.5, every=2.0)(Clock(progress=3.0)) == pytest.approx(
        0.5**1.5
    )
    assert InverseScaling(1.0, power=0.5)(Clock(step=3)) == pytest.approx(0.5)
    assert InverseScaling(1.0, power=1.0, unit="sample")(Clock(samples=9)) == pytest.approx(0.1)
    assert InverseScaling(1.0, power=1.0, unit="epoch")(Clock(epoch=1)) == pytest.approx(0.5)
    cos = CosineDecay(1.0, epochs=10, warmup_epochs=2, min_lr=0.1)
    assert cos(Clock(progress=1.0)) == pytest.approx(0.5)  # halfway through warm-up
    assert cos(Clock(progress=2.0)) == pytest.approx(1.0)  # peak
    assert cos(Clock(progress=6.0)) == pytest.approx(0.1 + 0.9 * 0.5)  # half of the cosine
    assert cos(Clock(progress=10.0)) == pytest.approx(0.1)
    assert cos(Clock(progress=50.0)) == pytest.approx(0.1)


def test_reduce_on_plateau_follows_the_validation_loss():
    sched = ReduceOnPlateau(1.0, factor=0.5, patience=2, min_delta=0.0)
    for epoch, val in enumerate([1.0, 0.9, 0.95, 0.95, 0.95, 0.95]):
        sched.on_epoch_end(epoch, {"loss": 0.1, "val_loss": val})
    assert sched(Clock()) == 0.25  # two plateaus of two epochs each
    fallback = ReduceOnPlateau(1.0, factor=0.5, patience=1)
    fallback.on_epoch_end(0, {"loss": 1.0})
    fallback.on_epoch_end(1, {"loss": 1.0})
    assert fallback(Clock()) == 0.5  # no validation: the training loss is watched


def test_schedules_round_trip_through_config():
    plateau = ReduceOnPlateau(0.1, factor=0.5, patience=1)
    plateau.on_epoch_end(0, {"val_loss": 1.0})
    plateau.on_epoch_end(1, {"val_loss": 2.0})
    for sched in (Constant(0.1), StepDecay(0.1, 0.3, 4), ExponentialDecay(0.1, 0.9, 2.0),
                  InverseScaling(0.1, 0.25, "epoch"), CosineDecay(0.1, 20, 2, 0.01), plateau):  # fmt: skip
        again = schedule_from_config(sched.get_config())
        assert again.get_config() == sched.get_config()
        for clock in (Clock(), Clock(step=7, epoch=3, progress=3.5, samples=100)):
            assert again(clock) == sched(clock)
    with pytest.raises(ValueError, match="unknown learning-rate schedule"):
        schedule_from_config({"name": "nope", "initial": 0.1})


def test_schedule_drives_training_lr(rng):
    X, y = rng.normal(size=(40, 3)), rng.integers(0, 2, size=40)
    m = sn.Model(hidden=(4,), seed=0)
    hist = m.fit(
        X, y, epochs=4, batch_size=10, optimizer=sn.SGD(lr=StepDecay(0.1, drop=0.5, every=1))
    )
    assert hist.history["lr"] == pytest.approx([0.1, 0.05, 0.025, 0.0125])
    m2 = sn.Model(hidden=(4,), seed=0)
    h2 = m2.fit(X, y, epochs=3, batch_size=10, lr=CosineDecay(0.1, epochs=3))
    assert h2.history["lr"][-1] == pytest.approx(0.0, abs=1e-12)
    assert math.isclose(h2.history["lr"][0], 0.1 * 0.5 * (1 + math.cos(math.pi / 3)))


def test_reduce_on_plateau_in_fit(rng):
    X, y = rng.normal(size=(40, 3)), rng.integers(0, 2, size=40)
    m = sn.Model(hidden=(4,), seed=0)
    sched = ReduceOnPlateau(0.01, factor=0.5, patience=1, min_delta=10.0)  # never "improves" enough
    hist = m.fit(X, y, epochs=4, batch_size=10, lr=sched, validation_split=0.25)
    # epoch 0 sets the best value; each later epoch fails to improve and halves the rate
    assert hist.history["lr"] == pytest.approx([0.01, 0.01, 0.005, 0.0025])


def test_reduce_on_plateau_can_maximise():
    sched = ReduceOnPlateau(
        1.0, factor=0.5, patience=1, min_delta=0.0, monitor="val_accuracy", mode="max"
    )
    for epoch, acc in enumerate([0.5, 0.6, 0.6]):
        sched.on_epoch_end(epoch, {"loss": 1.0, "val_accuracy": acc})
    assert sched(Clock()) == 0.5  # 0.6 did not beat 0.6
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        ReduceOnPlateau(1.0, mode="up")

"""Optimisers against their textbook formulas, in-place kernels against portable ones, schedules."""

from __future__ import annotations

import json
import math
import pickle
import threading

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.backends import get_backend
from scratchnet.backends.kernels import PortableKernels
from scratchnet.optimizers import SGD, AdaGrad, Adam, AdamW, RMSProp, get_optimizer
from scratchnet.params import ParameterLayout
from scratchnet.schedules import (
    AdaptiveRate,
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
    layout = ParameterLayout([("w", (12,), weight)])  # a flat buffer of one parameter
    params = backend.asarray(np.concatenate([p0.ravel(), np.zeros(4)]), dtype=dt, copy=True)
    for g in grads:
        flat_g = backend.asarray(np.concatenate([g.ravel(), np.zeros(4)]), dtype=dt)
        params = opt.step(params, flat_g, 0.05, kernels or backend.kernels, layout)
    out = sn.to_numpy(params)
    np.testing.assert_array_equal(out[12:], 0.0)  # the alignment gap stays zero
    return out[:12].reshape(4, 3), _reference(name, p0, grads, 0.05, weight)


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
    opt.step(np.ones(3), g, 0.1, be.kernels)
    np.testing.assert_array_equal(g, 2.0)


def test_clip_by_global_norm_and_by_value():
    be = get_backend("numpy")
    layout = ParameterLayout([("a", (2,), True), ("b", (1,), False)])  # b at offset 16
    grads = np.zeros(layout.size)
    grads[[0, 1, 16]] = [3.0, 0.0, 4.0]  # global norm 5 over both parameters
    opt = SGD(lr=1.0, clip_norm=1.0)
    new = opt.step(np.zeros(layout.size), grads, 1.0, be.kernels, layout)
    np.testing.assert_allclose(new[[0, 1, 16]], [-0.6, 0.0, -0.8])
    opt = SGD(lr=1.0, clip_norm=10.0)  # below the threshold: untouched
    new = opt.step(np.zeros(layout.size), grads, 1.0, be.kernels, layout)
    np.testing.assert_allclose(new[16], -4.0)
    opt = SGD(lr=1.0, clip_value=0.5)
    new = opt.step(np.zeros(layout.size), grads, 1.0, be.kernels, layout)
    np.testing.assert_allclose(new[[0, 1, 16]], [-0.5, 0.0, -0.5])


def test_clipping_on_every_backend(backend):
    opt = Adam(lr=0.1, clip_norm=0.5, clip_value=0.1)
    dt = backend.dtype("float32")
    p = backend.asarray(np.ones(4), dtype=dt, copy=True)
    g = backend.asarray(np.array([10.0, -10.0, 0.01, 0.0]), dtype=dt)
    out = sn.to_numpy(opt.step(p, g, 0.1, backend.kernels))
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


def test_adaptive_rate_follows_scikit_learns_rule():
    sched = AdaptiveRate(1.0, patience=2, min_delta=0.1, min_lr=0.01)
    # 0.95 improves by less than min_delta (count 1) but still becomes the best; 0.80 improves
    # enough (count 0); 0.75 and 0.70 (each < 0.1 below the previous best) trip the reduction
    for epoch, loss in enumerate([1.0, 0.95, 0.80, 0.75, 0.70]):
        sched.on_epoch_end(epoch, {"loss": loss})
    assert sched(Clock()) == pytest.approx(0.2) and sched.best == 0.70 and sched.wait == 0
    for epoch in range(5, 11):  # 0.04, 0.008, then the third trip finds the rate below min_lr
        sched.on_epoch_end(epoch, {"loss": 0.70})
    assert sched.current == pytest.approx(0.008) and not sched.can_reduce
    assert sched.reduce() == pytest.approx(0.008)  # at or below min_lr: left alone
    driven = AdaptiveRate(0.5, monitor=None)  # no epoch hook: only reduce() changes the rate
    for epoch in range(5):
        driven.on_epoch_end(epoch, {"loss": 1.0})
    assert driven(Clock()) == 0.5 and driven.reduce() == pytest.approx(0.1)
    scores = AdaptiveRate(1.0, patience=1, min_delta=0.05, monitor="val_accuracy", mode="max")
    for epoch, acc in enumerate([0.5, 0.6, 0.62]):
        scores.on_epoch_end(epoch, {"loss": 1.0, "val_accuracy": acc})
    assert scores(Clock()) == pytest.approx(0.2)  # 0.62 beat 0.6 by less than min_delta


def test_adaptive_rate_round_trips_with_its_state():
    sched = AdaptiveRate(0.1, patience=1, min_delta=0.0, monitor="val_loss", min_lr=1e-5)
    for epoch, val in enumerate([1.0, 2.0, 0.5]):
        sched.on_epoch_end(epoch, {"loss": 9.0, "val_loss": val})
    config = sched.get_config()
    assert config["name"] == "adaptive" and json.loads(json.dumps(config)) == config
    assert config["state"] == {"current": pytest.approx(0.02), "best": 0.5, "wait": 0}
    for original in (sched, AdaptiveRate(0.3, monitor=None)):
        again = schedule_from_config(original.get_config())
        assert type(again) is AdaptiveRate and again.get_config() == original.get_config()
        assert again(Clock(step=3)) == original(Clock(step=3))
    with pytest.raises(ValueError, match="no running state"):
        schedule_from_config({"name": "constant", "initial": 0.1, "state": {"current": 1.0}})


def test_adaptive_rate_travels_with_a_saved_or_pickled_model(rng, tmp_path):
    X, y = rng.normal(size=(40, 3)), rng.integers(0, 2, size=40)
    m = sn.Model(hidden=(4,), seed=0)
    sched = AdaptiveRate(0.05, patience=1, min_delta=10.0)  # never "improves" enough
    m.fit(X, y, epochs=3, batch_size=10, optimizer=sn.SGD(lr=sched))
    assert sched.current == pytest.approx(0.05 * 0.2**2)
    m.save(tmp_path / "m.npz")
    copies = [sn.load(tmp_path / "m.npz"), pickle.loads(pickle.dumps(m))]
    for copy in copies:
        assert type(copy.optimizer.schedule) is AdaptiveRate
        assert copy.optimizer.schedule.get_config() == sched.get_config()
        copy.fit(X, y, epochs=2, batch_size=10)
    m.fit(X, y, epochs=2, batch_size=10)  # the rate keeps falling from where it was: 0.05 / 5**4
    assert m.optimizer.schedule.current == pytest.approx(0.05 * 0.2**4)
    for copy in copies:
        assert copy.optimizer.schedule.get_config() == m.optimizer.schedule.get_config()
        np.testing.assert_array_equal(copy.predict_proba(X), m.predict_proba(X))


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


def test_scratch_buffers_are_per_thread():
    be = sn.get_backend("numpy")
    seen = {}

    def grab(key):
        seen[key] = id(be.kernels._scratch(np.zeros((5, 5), dtype=np.float32)))

    threads = [threading.Thread(target=grab, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen[0] != seen[1]

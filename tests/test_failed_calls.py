"""A failed call changes nothing: every rejected fit leaves the whole model state as it was.

Each case is a call that must raise ValueError or TypeError with a message. The model's state
(parameters, batch-norm statistics, optimiser identity, configuration, slots and step count,
counters, history, stop flags, built shape, both generators) is fingerprinted with SHA-256
before and after, on a fitted and on an unbuilt model, with and without batch normalisation.
Most cases are refused by the checks before anything is built; a few (callbacks that raise
while training) are undone by fit's rollback.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.callbacks import Callback

N, D, K = 12, 3, 3


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, D))
    y = np.arange(N) % K
    return X, y


def fingerprint(m: sn.Model, identities: bool = True) -> str:
    """SHA-256 of everything a fit may change (with the optimiser's and history's identity, or
    without, to compare two models)."""
    h = hashlib.sha256()

    def put(tag, value):
        h.update(f"{tag}={value!r};".encode())

    def arrays(tag, named):
        for name in sorted(named):
            a = np.ascontiguousarray(sn.to_numpy(named[name]))
            put(f"{tag}/{name}", (str(a.dtype), a.shape))
            h.update(a.tobytes())

    put("built", m.built)
    put("shape", (m.n_features, m.n_outputs))
    if m.built:
        arrays("param", m.parameters())
        arrays("state", m.state())
        put("layers", [layer.name for layer in m.layers])
    opt = m.optimizer
    if opt is None:
        put("optimizer", None)
    else:
        identity = id(opt) if identities else None
        put("optimizer", (type(opt).__name__, identity, opt.iterations, opt.get_config()))
        arrays("slot", opt.state)
    put("counters", (m.epochs_done, m.steps_done, m.samples_seen))
    if m.history is None:
        put("history", None)
    else:
        content = m.history.to_dict()
        if not identities:  # twins differ in timings only
            content["history"].pop("seconds", None)
        put("history", (id(m.history) if identities else None, content))
    put("stop", (m.stop_training, m.stop_reason))
    put("shuffle_rng", m.shuffle_rng.bit_generator.state)
    put("rng", m.rng.get_state())
    return h.hexdigest()


class RaiseAtEpoch(Callback):
    """A callback whose bug surfaces after some training has happened."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs):
        if epoch - self.model.history.epoch[0] >= self.epoch:
            raise ValueError(f"callback failed at epoch {epoch}")


def _masked(a, index):
    mask = np.zeros(np.shape(a), dtype=bool)
    mask[index] = True
    return np.ma.MaskedArray(a, mask=mask)


def _rejected_fits(built: bool, batch_norm: bool) -> list[tuple[str, dict]]:
    """(case id, fit arguments) of calls that must be refused."""
    X, y = _data()
    Xn = X.copy()
    Xn[2, 1] = np.nan
    Xi = X.copy()
    Xi[4, 0] = -np.inf
    Xo = X.copy()
    Xo[5, 2] = 1e39  # finite in float64, inf in the model's float32
    yn = y.astype(float)
    yn[3] = np.nan
    one_hot_bad = np.eye(K)[y]
    one_hot_bad[0, 1] = 1.0
    w = np.ones(N)
    val = (X[:4], y[:4])
    cases = [
        ("X 1-D", dict(X=X[:, 0])),
        ("X 3-D", dict(X=X[:, :, None])),
        ("X empty", dict(X=X[:0], y=y[:0])),
        ("X NaN", dict(X=Xn)),
        ("X inf", dict(X=Xi)),
        ("X overflows float32", dict(X=Xo)),
        ("X strings", dict(X=X.astype(str).astype("<U3"))),
        ("X objects", dict(X=np.array([[1, "x", None]] * N, dtype=object))),
        ("X complex", dict(X=X.astype(complex))),
        ("X masked", dict(X=_masked(X, (1, 1)))),
        ("X scalar", dict(X=3.0)),
        ("X shorter than y", dict(X=X[:-1])),
        ("y missing", dict(y=None)),
        ("y NaN", dict(y=yn)),
        ("y negative", dict(y=np.where(y == 0, -1, y))),
        ("y fractional", dict(y=y + 0.5)),
        ("y (n, 1) integers", dict(y=y.reshape(-1, 1))),
        ("y one-hot with two ones", dict(y=one_hot_bad)),
        ("y 3-D", dict(y=y.reshape(-1, 1, 1))),
        ("y strings", dict(y=y.astype(str))),
        ("y masked", dict(y=_masked(y, 2))),
        ("sample_weight negative", dict(sample_weight=np.where(y == 1, -1.0, 1.0))),
        ("sample_weight zeros", dict(sample_weight=np.zeros(N))),
        ("sample_weight shape", dict(sample_weight=np.ones(N - 1))),
        ("sample_weight 2-D", dict(sample_weight=np.ones((N, 1)))),
        ("sample_weight NaN", dict(sample_weight=np.where(y == 2, np.nan, 1.0))),
        ("sample_weight overflows float32", dict(sample_weight=np.where(y == 2, 1e39, 1.0))),
        ("sample_weight masked", dict(sample_weight=_masked(w, 0))),
        ("validation_data array", dict(validation_data=X)),
        ("validation_data 4-tuple", dict(validation_data=(*val, w[:4], w[:4]))),
        ("X_val width", dict(validation_data=(X[:4, :2], y[:4]))),
        ("X_val NaN", dict(validation_data=(Xn[:4], y[:4]))),
        ("X_val overflows", dict(validation_data=(Xo[2:6], y[:4]))),
        ("X_val masked", dict(validation_data=(_masked(X[:4], (0, 0)), y[:4]))),
        ("y_val unknown class", dict(validation_data=(X[:4], np.array([0, 1, 2, 7])))),
        ("y_val length", dict(validation_data=(X[:4], y[:3]))),
        ("y_val (n, 1)", dict(validation_data=(X[:4], y[:4].reshape(-1, 1)))),
        ("w_val negative", dict(validation_data=(*val, -np.ones(4)))),
        ("class_weight unknown class", dict(class_weight={7: 1.0})),
        ("class_weight string key", dict(class_weight={"a": 1.0})),
        ("class_weight bool key", dict(class_weight={True: 1.0})),
        ("class_weight name", dict(class_weight="even")),
        ("class_weight list", dict(class_weight=[1.0, 2.0, 3.0])),
        ("class_weight negative", dict(class_weight={0: -1.0})),
        ("class_weight NaN", dict(class_weight={0: float("nan")})),
        ("class_weight all zero", dict(class_weight={0: 0.0, 1: 0.0, 2: 0.0})),
        ("epochs 0", dict(epochs=0)),
        ("epochs negative", dict(epochs=-3)),
        ("epochs float", dict(epochs=2.0)),
        ("batch_size 0", dict(batch_size=0)),
        ("batch_size float", dict(batch_size=2.5)),
        ("verbose 3", dict(verbose=3)),
        ("validation_split 1", dict(validation_split=1.0)),
        ("validation_split negative", dict(validation_split=-0.1)),
        ("optimizer unknown", dict(optimizer="lbfgs")),
        ("optimizer type", dict(optimizer=3)),
        ("lr negative", dict(lr=-1.0)),
        ("lr negative, named optimizer", dict(optimizer="sgd", lr=-1.0)),
        ("lr zero, handed-in optimizer", dict(optimizer=sn.SGD(0.1), lr=0.0)),
        ("handed-in optimizer, bad y", dict(optimizer=sn.SGD(0.1), lr=0.5, y=yn)),
        ("callbacks not callbacks", dict(callbacks=[print])),
        ("augment not callable", dict(augment=3)),
        ("early stopping without validation", dict(callbacks=[sn.EarlyStopping()])),
        ("early stopping on an unknown metric", dict(callbacks=[sn.EarlyStopping(monitor="f1")])),
        ("callback raises after two epochs", dict(epochs=4, callbacks=[RaiseAtEpoch(2)])),
    ]
    if built:
        cases += [
            ("X wider than the model", dict(X=np.ones((N, D + 2)))),
            ("y class the model lacks", dict(y=np.where(y == 0, K, y))),
            ("y one-hot of another width", dict(y=np.eye(K + 1)[y])),
        ]
    if batch_norm:
        cases += [
            ("batch norm, batch_size 1", dict(batch_size=1)),
            ("batch norm, 1 training row after the split",
             dict(X=X[:2], y=np.array([0, 1]), batch_size=None, validation_split=0.5)),
        ]  # fmt: skip
    try:
        import scipy.sparse

        cases += [
            ("X sparse", dict(X=scipy.sparse.csr_matrix(X))),
            ("y sparse", dict(y=scipy.sparse.csr_matrix(y.reshape(-1, 1)))),
        ]
    except ImportError:  # pragma: no cover - scipy comes with scikit-learn
        pass
    return cases


def _model(built: bool, batch_norm: bool) -> sn.Model:
    m = sn.Model(hidden=(4,), batch_norm=batch_norm, seed=0)
    if built:
        X, y = _data()
        m.fit(X, y, epochs=2, batch_size=4, validation_split=0.25, lr=0.01)
    return m


KINDS = [(False, False), (True, False), (False, True), (True, True)]
KIND_IDS = ["unbuilt", "fitted", "unbuilt-batchnorm", "fitted-batchnorm"]


@pytest.mark.parametrize("built, batch_norm", KINDS, ids=KIND_IDS)
def test_every_rejected_fit_leaves_the_model_as_it_was(built, batch_norm):
    m = _model(built, batch_norm)
    X, y = _data()
    before = fingerprint(m)
    cases = _rejected_fits(built, batch_norm)
    assert len(cases) >= 60
    for case, kwargs in cases:
        args = {"X": X, "y": y, "epochs": 2, "batch_size": 4, **kwargs}
        with pytest.raises((ValueError, TypeError)) as info:
            m.fit(args.pop("X"), args.pop("y"), **args)
        assert str(info.value).strip(), case
        assert fingerprint(m) == before, f"{case!r} changed the model ({info.value})"
    # the model still trains, from where it was, to the same bits as a twin never refused
    twin = _model(built, batch_norm)
    for model in (m, twin):
        model.fit(X, y, epochs=1, batch_size=4)
    assert fingerprint(m, identities=False) == fingerprint(twin, identities=False)


@pytest.mark.parametrize("built", [False, True], ids=["unbuilt", "fitted"])
def test_other_labelled_calls_build_nothing_when_they_fail(built):
    m = _model(built, False)
    X, y = _data()
    before = fingerprint(m)
    yn = y.astype(float)
    yn[0] = np.nan
    bad = [
        lambda: m.loss_and_gradients(X, yn),
        lambda: m.loss_and_gradients(X, y, sample_weight=-np.ones(N)),
        lambda: m.loss_and_gradients(X, y.reshape(-1, 1)),
        lambda: m.loss_and_gradients(X, np.where(y == 0, -1, y)),
    ]
    if built:
        bad.append(lambda: m.evaluate(X, y, sample_weight=np.zeros(N)))
    for call in bad:
        with pytest.raises((ValueError, TypeError)):
            call()
        assert fingerprint(m) == before


def test_a_handed_in_optimiser_is_left_alone_when_the_fit_fails():
    X, y = _data()
    opt = sn.Adam(lr=0.01)
    sn.Model(hidden=(4,), seed=0).fit(X, y, epochs=1, optimizer=opt)
    state = {k: sn.to_numpy(v).copy() for k, v in opt.state.items()}
    iterations, schedule = opt.iterations, opt.schedule
    m = _model(True, False)
    for kwargs in (dict(class_weight={9: 1.0}), dict(callbacks=[RaiseAtEpoch(0)])):
        with pytest.raises(ValueError):
            m.fit(X, y, epochs=1, optimizer=opt, lr=0.5, **kwargs)
        assert opt.iterations == iterations and opt.schedule is schedule
        assert set(opt.state) == set(state)
        for k, v in state.items():
            np.testing.assert_array_equal(sn.to_numpy(opt.state[k]), v)


def test_a_rolled_back_fit_replays_to_the_same_bits():
    X, y = _data()
    m = _model(True, False)
    with pytest.raises(ValueError, match="callback failed"):
        m.fit(X, y, epochs=3, callbacks=[RaiseAtEpoch(1)])
    m.fit(X, y, epochs=2)
    twin = _model(True, False)
    twin.fit(X, y, epochs=2)
    assert fingerprint(m, identities=False) == fingerprint(twin, identities=False)


def test_an_unbuilt_model_stays_unbuilt_after_a_failure_mid_training():
    X, y = _data()
    m = _model(False, False)
    with pytest.raises(ValueError, match="which fit\\(\\) does not log"):
        m.fit(X, y, epochs=2, callbacks=[sn.EarlyStopping(monitor="f1")])
    assert not m.built and m.n_features is None and m.optimizer is None and m.history is None
    m.fit(X, y, epochs=2)
    twin = _model(False, False)
    twin.fit(X, y, epochs=2)
    assert fingerprint(m, identities=False) == fingerprint(twin, identities=False)

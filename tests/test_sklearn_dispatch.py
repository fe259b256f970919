"""The estimators under scikit-learn's ``array_api_dispatch``: the network trains on the input's
library and device, and results come back there.

scikit-learn (1.9 here) refuses ``array_api_dispatch=True`` unless the environment variable
``SCIPY_ARRAY_API`` is ``"1"`` when the option is set; SciPy reads the same variable once, when it
is first imported. The `dispatch` fixture sets the variable for scikit-learn's check only: the
estimators call no SciPy function on device arrays, which these tests prove by passing with SciPy
imported without it. `test_dispatch_in_a_fresh_process` runs the set-up users follow (variable set
before anything is imported).
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import sklearn
from conftest import skip_unavailable

import scratchnet as sn
from scratchnet.backends import get_backend, library_of
from scratchnet.sklearn import MLPClassifier, MLPRegressor

# (library, device) of the inputs: PyTorch on the CPU, array-api-strict on a non-default device
# (proves the device is carried through), CuPy where a GPU works
INPUTS = [
    pytest.param(("torch", None), id="torch"),
    pytest.param(("array_api_strict", "device1"), id="strict-device1"),
    pytest.param(("cupy", None), id="cupy", marks=pytest.mark.gpu),
]
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

KW = dict(hidden_layer_sizes=(6,), max_iter=15, random_state=0, dtype="float64")


@pytest.fixture
def dispatch(monkeypatch):
    """``array_api_dispatch=True`` for the test, then scikit-learn's previous configuration."""
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    with sklearn.config_context(array_api_dispatch=True):
        yield


@pytest.fixture(params=INPUTS)
def where(request):
    """The `Backend` (library and device) that input arrays come from."""
    name, device = request.param
    skip_unavailable(name)
    return get_backend(name, device)


def data(n: int = 80, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    labels = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0.5).astype(np.int64)  # 0, 1, 2
    target = X[:, 0] * X[:, 1] + 0.1 * X[:, 2]
    return X, labels, target


def on(where, *arrays):
    return tuple(sn.to_device(a, where) for a in arrays)


def assert_there(a, where) -> None:
    """``a`` is an array of ``where``'s library on ``where``'s device."""
    assert library_of(a) == where.name, f"expected a {where.name} array, got {type(a)}"
    assert str(where.array_device(a)) == str(where.device)


def host(a) -> np.ndarray:
    return sn.to_numpy(a, copy=True)


# ----- the network follows the input --------------------------------------------------------------
def test_classifier_trains_and_predicts_where_the_input_lives(dispatch, where):
    X, labels, _ = data()
    ref = MLPClassifier(**KW).fit(X, labels)  # the NumPy run, same seed
    Xd, yd = on(where, X, labels)
    clf = MLPClassifier(**KW).fit(Xd, yd)
    assert clf.model_.backend == where
    assert_there(clf.classes_, where)
    np.testing.assert_array_equal(host(clf.classes_), ref.classes_)
    pred, proba, logp = clf.predict(Xd), clf.predict_proba(Xd), clf.predict_log_proba(Xd)
    for out in (pred, proba, logp):
        assert_there(out, where)
    np.testing.assert_array_equal(host(pred), ref.predict(X))
    np.testing.assert_allclose(host(proba), ref.predict_proba(X), rtol=0, atol=1e-10)
    np.testing.assert_allclose(host(logp), ref.predict_log_proba(X), rtol=0, atol=1e-10)
    score = clf.score(Xd, yd)
    assert type(score) is float and score == ref.score(X, labels)


def test_binary_labels_and_numpy_y(dispatch, where):
    X, labels, _ = data()
    y = labels > 0  # bool labels, given as NumPy: y may stay on the host
    ref = MLPClassifier(**KW).fit(X, y)
    (Xd,) = on(where, X)
    clf = MLPClassifier(**KW).fit(Xd, y)
    assert_there(clf.classes_, where)
    proba = clf.predict_proba(Xd)
    assert_there(proba, where)
    assert tuple(proba.shape) == (80, 2)
    np.testing.assert_allclose(host(proba), ref.predict_proba(X), rtol=0, atol=1e-10)
    np.testing.assert_array_equal(host(clf.predict(Xd)), ref.predict(X))
    assert clf.score(Xd, y) == ref.score(X, y)  # y on the host, predictions on the device


def test_string_labels_stay_numpy(dispatch, where):
    X, labels, _ = data()
    y = np.array(["cat", "dog", "eel"])[labels]
    ref = MLPClassifier(**KW).fit(X, y)
    (Xd,) = on(where, X)
    clf = MLPClassifier(**KW).fit(Xd, y)
    assert isinstance(clf.classes_, np.ndarray) and clf.classes_.tolist() == ["cat", "dog", "eel"]
    pred = clf.predict(Xd)
    assert isinstance(pred, np.ndarray)
    np.testing.assert_array_equal(pred, ref.predict(X))
    assert_there(clf.predict_proba(Xd), where)  # probabilities are numbers: on the device
    assert clf.score(Xd, y) == ref.score(X, y)


def test_multilabel_predictions_on_the_device(dispatch, where):
    X, labels, _ = data()
    Y = np.stack([labels == 1, labels == 2, X[:, 2] > 0], axis=1).astype(np.int64)
    ref = MLPClassifier(**KW).fit(X, Y)
    Xd, Yd = on(where, X, Y)
    clf = MLPClassifier(**KW).fit(Xd, Yd)
    pred = clf.predict(Xd)
    assert_there(pred, where)
    np.testing.assert_array_equal(host(pred), ref.predict(X))
    np.testing.assert_allclose(host(clf.predict_proba(Xd)), ref.predict_proba(X), atol=1e-10)


def test_regressor_follows_the_input(dispatch, where):
    X, _, target = data()
    ref = MLPRegressor(**KW).fit(X, target)
    Xd, yd = on(where, X, target)
    w = np.linspace(0.5, 1.5, 80)
    reg = MLPRegressor(**KW).fit(Xd, yd, sample_weight=sn.to_device(w, where))
    ref_w = MLPRegressor(**KW).fit(X, target, sample_weight=w)
    pred = reg.predict(Xd)
    assert_there(pred, where)
    np.testing.assert_allclose(host(pred), ref_w.predict(X), rtol=0, atol=1e-10)
    score = reg.score(Xd, yd)
    assert type(score) is float and score == pytest.approx(ref_w.score(X, target), abs=1e-12)
    plain = MLPRegressor(**KW).fit(Xd, yd)
    np.testing.assert_allclose(host(plain.predict(Xd)), ref.predict(X), rtol=0, atol=1e-10)


def test_partial_fit_and_early_stopping_under_dispatch(dispatch, where):
    X, labels, target = data(120)
    Xd, yd = on(where, X, labels)
    ref = MLPClassifier(**KW)
    clf = MLPClassifier(**KW)
    for _ in range(3):
        ref.partial_fit(X, labels, classes=np.arange(3))
        clf.partial_fit(Xd, yd, classes=sn.to_device(np.arange(3), where))
    assert clf.model_.backend == where and clf.n_iter_ == ref.n_iter_
    np.testing.assert_array_equal(host(clf.predict(Xd)), ref.predict(X))
    np.testing.assert_allclose(host(clf.predict_proba(Xd)), ref.predict_proba(X), atol=1e-10)
    kw = dict(KW, early_stopping=True, max_iter=30)
    ref_es = MLPRegressor(**kw).fit(X, target)
    reg = MLPRegressor(**kw).fit(Xd, sn.to_device(target, where))
    assert reg.n_iter_ == ref_es.n_iter_
    np.testing.assert_allclose(reg.validation_scores_, ref_es.validation_scores_, atol=1e-10)


# ----- which backend, and what is refused -------------------------------------------------------
def test_backend_rule_under_dispatch(dispatch):
    skip_unavailable("torch")
    import torch

    X, labels, _ = data(40)
    Xt = torch.asarray(X)
    for backend in ("numpy", "auto", "torch"):  # the default and "auto" follow the input
        clf = MLPClassifier(backend=backend, **KW).fit(Xt, labels)
        assert clf.model_.backend.name == "torch"
    with pytest.raises(ValueError, match=r"X is a torch array on cpu.*backend='jax'"):
        MLPClassifier(backend="jax", **KW).fit(Xt, labels)
    # host input under dispatch: the backend parameter decides, results are NumPy
    est = MLPRegressor(backend="torch", **KW).fit(X, labels.astype(float))
    assert est.model_.backend.name == "torch" and isinstance(est.predict(X), np.ndarray)


def test_conflicting_device_is_refused(dispatch):
    skip_unavailable("array_api_strict")
    X, labels, _ = data(40)
    Xs = sn.to_device(X, "array_api_strict", "device1")
    with pytest.raises(ValueError, match=r"device='device2'.*leave device=None"):
        MLPClassifier(device="device2", **KW).fit(Xs, labels)
    clf = MLPClassifier(device="device1", **KW).fit(Xs, labels)
    assert str(clf.model_.backend.device) == str(Xs.device)


def test_predicting_from_another_namespace_is_refused(dispatch, where):
    X, labels, _ = data(40)
    (Xd,) = on(where, X)
    clf = MLPClassifier(**KW).fit(Xd, labels)
    for method in ("predict", "predict_proba", "predict_log_proba"):
        with pytest.raises(ValueError, match=rf"MLPClassifier.{method}\(\): X must use the same"):
            getattr(clf, method)(X)
    host_fit = MLPRegressor(**KW).fit(X, labels.astype(float))
    with pytest.raises(ValueError, match=r"MLPRegressor.predict\(\).*NumPy \(host\) data"):
        host_fit.predict(Xd)
    with pytest.raises(ValueError, match="array_api_dispatch is on"):
        host_fit.partial_fit(Xd, labels.astype(float))


def test_sklearn_array_api_checks_pass(dispatch):
    from sklearn.utils.estimator_checks import (
        check_array_api_input,
        check_array_api_same_namespace,
    )

    checked = 0
    for name in ("torch", "array_api_strict"):
        if not sn.available_backends()[name]:
            continue
        for est in (MLPClassifier(max_iter=20), MLPRegressor(max_iter=20)):
            check_array_api_input(type(est).__name__, est, name, "cpu" if name == "torch" else None)
            check_array_api_same_namespace(type(est).__name__, est, name)
            checked += 1
    if not checked:
        pytest.skip("neither torch nor array_api_strict is available here")


# ----- without dispatch: today's behaviour ---------------------------------------------------------
def test_dispatch_off_restores_host_results():
    skip_unavailable("torch")
    import torch

    X, labels, _ = data(40)
    Xt = torch.asarray(X)
    before = sklearn.get_config()["array_api_dispatch"]
    try:
        sklearn.set_config(array_api_dispatch=False)
        clf = MLPClassifier(**KW).fit(Xt, labels)  # converted to NumPy, trained on NumPy
        assert clf.model_.backend.name == "numpy" and isinstance(clf.classes_, np.ndarray)
        own = MLPClassifier(backend="torch", **KW).fit(Xt, labels)  # stays on torch...
        for est in (clf, own):  # ...but results are NumPy, as always without dispatch
            assert isinstance(est.predict(Xt), np.ndarray)
            assert isinstance(est.predict_proba(Xt), np.ndarray)
        np.testing.assert_allclose(own.predict_proba(Xt), clf.predict_proba(X), atol=1e-10)
        assert MLPClassifier().__sklearn_tags__().array_api_support
    finally:
        sklearn.set_config(array_api_dispatch=before)


def test_fitted_under_dispatch_predicts_numpy_without_it(monkeypatch):
    skip_unavailable("torch")
    import torch

    X, labels, _ = data(40)
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    with sklearn.config_context(array_api_dispatch=True):
        clf = MLPClassifier(**KW).fit(torch.asarray(X), torch.asarray(labels))
    pred = clf.predict(torch.asarray(X))
    assert isinstance(pred, np.ndarray)
    np.testing.assert_array_equal(pred, MLPClassifier(**KW).fit(X, labels).predict(X))


def test_dispatch_in_a_fresh_process():
    skip_unavailable("torch")
    code = (
        "import sklearn, torch, numpy as np\n"
        "from scratchnet.sklearn import MLPRegressor\n"
        "sklearn.set_config(array_api_dispatch=True)\n"
        "X = torch.linspace(-1, 1, 60, dtype=torch.float64).reshape(30, 2)\n"
        "reg = MLPRegressor((4,), max_iter=5, random_state=0).fit(X, X[:, 0] * X[:, 1])\n"
        "p = reg.predict(X)\n"
        "print(type(p).__name__, p.device, reg.model_.backend.name, type(reg.score(X, X[:, 0])))\n"
    )
    env = {**os.environ, "SCIPY_ARRAY_API": "1"}
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["Tensor", "cpu", "torch", "<class", "'float'>"]
    env["SCIPY_ARRAY_API"] = "0"  # without it, scikit-learn refuses dispatch and says why
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, env=env
    )
    assert out.returncode != 0 and "SCIPY_ARRAY_API=1" in out.stderr

"""No call writes into the user's arrays: every public entry point on read-only inputs.

In-place kernels (ufuncs with ``out=``, PyTorch's ``add_``) make training fast; these tests make
sure they only ever touch the model's own buffers. NumPy raises on a write into an array whose
``writeable`` flag is off, so a kernel that strayed into user data fails here loudly.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import blobs

import scratchnet as sn


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fit_predict_and_evaluate_leave_read_only_inputs_alone(backend, dtype, readonly):
    X, y = blobs(48)
    X = X.astype(dtype)
    w = np.linspace(0.5, 1.5, 48)
    Xv, yv = blobs(12, seed=1)
    X, y, w, Xv, yv = readonly(X, y, w, Xv.astype(dtype), yv)
    m = sn.Model(hidden=(6,), dropout=0.2, batch_norm=True, l2=1e-3, backend=backend.name,
                 device=backend.device, dtype=dtype, seed=0)  # fmt: skip
    for batch_size in (None, 16):  # full-batch GD hands X itself to the layers
        m.fit(X, y, epochs=2, batch_size=batch_size, sample_weight=w, optimizer="adamw",
              validation_data=(Xv, yv), augment=sn.augment.GaussianNoise(0.01))  # fmt: skip
    m.fit(X, y, epochs=1, class_weight="balanced", validation_split=0.25, optimizer="momentum")
    m.predict(X)
    m.predict_proba(X)
    m.evaluate(X, y, sample_weight=w)
    m.loss_and_gradients(X, y, sample_weight=w)
    m.output_gradients(X[:3])


def test_parameters_set_from_read_only_arrays_are_copied(readonly):
    X, y = blobs(30)
    m = sn.Model(hidden=(4,), seed=0).build(2, 3)
    params = {k: readonly(sn.to_numpy(v)) for k, v in m.parameters().items()}
    m.set_parameters(params)
    m.fit(X, y, epochs=2, batch_size=10, optimizer="adam")  # in-place updates of the store
    assert all(not a.flags.writeable for a in params.values())
    moved = {k: v for k, v in sn.to_numpy(m.parameters()).items()}
    assert any(not np.array_equal(moved[k], params[k]) for k in params)


def test_regression_and_sigmoid_heads_on_read_only_targets(readonly):
    X, _ = blobs(40)
    t = X[:, :1] * 2.0 - 1.0
    X, t = readonly(X, t)
    reg = sn.Model(hidden=(5,), output="identity", seed=0)
    reg.fit(X, t, epochs=2, batch_size=8, optimizer="rmsprop", lr=0.01)
    reg.evaluate(X, t)
    Y = readonly((np.asarray(X)[:, :2] > 0).astype(np.float64))
    multi = sn.Model(hidden=(5,), output="sigmoid", seed=0)
    multi.fit(X, Y, epochs=2, batch_size=8, optimizer="adagrad")
    multi.predict(X)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_scikit_learn_estimators_on_read_only_inputs(readonly):
    pytest.importorskip("sklearn")
    from scratchnet.sklearn import MLPClassifier, MLPRegressor

    X, y = blobs(40)
    X, y = readonly(X, y)
    clf = MLPClassifier((6,), max_iter=5, early_stopping=True, random_state=0, dropout=0.1)
    clf.fit(X, y)
    clf.predict_proba(X)
    online = MLPClassifier((6,), solver="sgd", random_state=0)
    online.partial_fit(X, y, classes=np.arange(3))
    online.partial_fit(X, y)
    reg = MLPRegressor((6,), max_iter=5, random_state=0, batch_norm=True)
    reg.fit(X, readonly(np.asarray(X)[:, 0]))
    reg.predict(X)

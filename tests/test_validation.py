"""Bad input at every public call raises ValueError/TypeError naming what was expected."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import skip_unavailable

import scratchnet as sn
from scratchnet.validation import check_features


@pytest.fixture
def fitted():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 3)), rng.integers(0, 3, size=20)
    m = sn.Model(hidden=(4,), seed=0)
    m.fit(X, y, epochs=1)
    return m


def _x_calls(m):
    """Every public call that takes a feature matrix, as (name, call(X))."""
    y3 = np.array([0, 1, 2])
    return [
        ("predict", lambda X: m.predict(X)),
        ("predict_proba", lambda X: m.predict_proba(X)),
        ("decision_function", lambda X: m.decision_function(X)),
        ("forward", lambda X: m.forward(X)),
        ("output_gradients", lambda X: m.output_gradients(X)),
        (
            "loss_and_gradients",
            lambda X: m.loss_and_gradients(X, y3[: len(X)] if hasattr(X, "__len__") else y3),
        ),
        ("evaluate", lambda X: m.evaluate(X, y3[: len(X)] if hasattr(X, "__len__") else y3)),
        ("fit", lambda X: m.fit(X, y3[: len(X)] if hasattr(X, "__len__") else y3, epochs=1)),
    ]


BAD_X = [
    ("1-D", np.ones(3), ValueError, r"must be 2-D.*reshape\(-1, 1\)"),
    (
        "3-D",
        np.ones((3, 3, 1)),
        ValueError,
        r"must be 2-D of shape \(n_samples, n_features\), got shape \(3, 3, 1\)",
    ),
    ("empty", np.ones((0, 3)), ValueError, "X is empty: it has 0 samples"),
    ("wrong width", np.ones((3, 5)), ValueError, "X has 5 features, but the model was built for 3"),
    ("nan", np.array([[1.0, np.nan, 0.0]] * 3), ValueError, "X contains NaN or infinite"),
    ("inf", np.array([[1.0, np.inf, 0.0]] * 3), ValueError, "X contains NaN or infinite"),
    (
        "strings",
        np.array([["a", "b", "c"]] * 3),
        TypeError,
        r"X must be a numeric array.*got dtype <U1",
    ),
    ("objects", np.array([[1, "x", None]] * 3, dtype=object), TypeError, "X must hold numbers"),
    ("complex", np.ones((3, 3), dtype=complex), TypeError, "X must be a numeric array"),
    ("scalar", 3.0, ValueError, "must be 2-D"),
]


@pytest.mark.parametrize("case", BAD_X, ids=[c[0] for c in BAD_X])
def test_bad_feature_matrices_at_every_call(fitted, case):
    _, X, exc, pattern = case
    for name, call in _x_calls(fitted):
        with pytest.raises(exc, match=pattern):
            call(X)
        assert name  # every call refused the input


def test_lists_and_ints_and_bools_are_accepted(fitted):
    assert sn.to_numpy(fitted.predict([[1, 2, 3], [0, 0, 0]])).shape == (2,)
    assert sn.to_numpy(fitted.predict(np.ones((2, 3), dtype=bool))).shape == (2,)
    assert sn.to_numpy(fitted.predict(np.array([[1, 2, 3]], dtype=object))).shape == (1,)


BAD_Y = [
    ("out of range", np.array([0, 1, 7]), ValueError, r"class indices must lie in \[0, 3\).*\[7\]"),
    ("negative", np.array([0, -1, 2]), ValueError, r"must lie in \[0, 3\).*\[-1\]"),
    ("fractional", np.array([0.0, 0.5, 1.0]), ValueError, "integer class indices"),
    ("wrong length", np.array([0, 1]), ValueError, "y has 2 rows but X has 3 samples"),
    ("nan", np.array([0.0, np.nan, 1.0]), ValueError, "y contains NaN"),
    ("strings", np.array(["a", "b", "c"]), TypeError, "y must be a numeric array"),
    (
        "one-hot width",
        np.eye(3)[:, :2],
        ValueError,
        "one-hot targets have 2 columns, the model has 3",
    ),
    ("3-D", np.zeros((3, 1, 1)), ValueError, r"y must have shape \(n,\) or \(n, k\)"),
    ("missing", None, ValueError, "y is required"),
]


@pytest.mark.parametrize("case", BAD_Y, ids=[c[0] for c in BAD_Y])
def test_bad_labels(fitted, case):
    _, y, exc, pattern = case
    X = np.ones((3, 3))
    for call in (lambda: fitted.fit(X, y, epochs=1), lambda: fitted.loss_and_gradients(X, y),
                 lambda: fitted.evaluate(X, y)):  # fmt: skip
        with pytest.raises(exc, match=pattern):
            call()


def test_bad_sigmoid_and_regression_targets():
    X = np.ones((3, 2))
    with pytest.raises(ValueError, match=r"sigmoid targets must be 0 or 1, found \[3\]"):
        sn.Model(hidden=(2,), output="sigmoid").fit(X, np.array([0, 1, 3]), epochs=1)
    with pytest.raises(ValueError, match="y contains NaN or infinite"):
        sn.Model(hidden=(2,), output="identity").fit(X, np.array([0.0, np.inf, 1.0]), epochs=1)


def test_bad_sample_weights(fitted):
    X, y = np.ones((3, 3)), np.array([0, 1, 2])
    cases = [
        (np.array([1.0, -1.0, 1.0]), "sample_weight must be >= 0"),
        (np.zeros(3), "sample_weight sums to zero"),
        (np.ones(2), r"sample_weight must have shape \(3,\)"),
        (np.array([1.0, np.nan, 1.0]), "sample_weight contains NaN"),
    ]
    for w, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            fitted.fit(X, y, sample_weight=w, epochs=1)


def test_bad_fit_arguments(fitted):
    X, y = np.ones((6, 3)), np.array([0, 1, 2, 0, 1, 2])
    cases = [
        (dict(epochs=0), ValueError, "epochs must be an int >= 1"),
        (dict(batch_size=0), ValueError, "batch_size must be an int >= 1"),
        (dict(batch_size=2.5), ValueError, "batch_size must be an int >= 1"),
        (dict(verbose=3), ValueError, "verbose must be 0, 1 or 2"),
        (dict(validation_split=1.0), ValueError, "validation_split must be < 1.0"),
        (dict(optimizer="lbfgs"), ValueError, "unknown optimizer 'lbfgs'"),
        (dict(optimizer=3), TypeError, "optimizer must be a name or an Optimizer"),
        (dict(lr=-1.0), ValueError, "learning rate must be > 0.0"),
        (dict(callbacks=[print]), TypeError, "callbacks must be scratchnet Callback objects"),
        (dict(validation_data=np.ones(3)), TypeError, r"validation_data must be a tuple"),
        (
            dict(validation_data=(np.ones((2, 4)), np.array([0, 1]))),
            ValueError,
            "X_val has 4 features",
        ),
        (
            dict(class_weight={7: 1.0}),
            ValueError,
            r"class_weight keys must be class indices in \[0, 3\)",
        ),
        (dict(class_weight="even"), ValueError, "class_weight must be a dict or 'balanced'"),
        (dict(augment=3), TypeError, "augment must be a callable"),
    ]
    for kwargs, exc, pattern in cases:
        with pytest.raises(exc, match=pattern):
            fitted.fit(X, y, **{"epochs": 1, **kwargs})


def test_unknown_names_everywhere():
    with pytest.raises(ValueError, match="unknown activation"):
        sn.Model(activation="nope")
    with pytest.raises(ValueError, match="unknown initializer"):
        sn.Model(init="nope")
    with pytest.raises(ValueError, match="unknown output head"):
        sn.Model(output="nope")
    with pytest.raises(ValueError, match="unknown backend"):
        sn.Model(backend="nope")


def test_arrays_of_another_backend_are_refused(fitted):
    skip_unavailable("torch")
    import torch

    with pytest.raises(
        TypeError, match=r"X is a torch array on cpu, but the model runs on numpy on cpu.*to_device"
    ):
        fitted.predict(torch.ones((2, 3)))
    with pytest.raises(TypeError, match="X is a torch array"):
        fitted.fit(torch.ones((3, 3)), np.array([0, 1, 2]), epochs=1)


def test_arrays_of_another_device_are_refused():
    skip_unavailable("array_api_strict")
    import array_api_strict as xs

    m = sn.Model(hidden=(3,), backend="array_api_strict", device="device1", seed=0).build(3, 2)
    other = xs.asarray(np.ones((2, 3)), device=xs.Device("device2"))
    with pytest.raises(ValueError, match=r"X lives on device .*device2.*device1.*cannot be mixed"):
        m.predict(other)
    same = xs.asarray(np.ones((2, 3)), device=xs.Device("device1"))
    assert sn.to_numpy(m.predict(same)).shape == (2,)


def test_build_arguments():
    with pytest.raises(ValueError, match="n_features must be an int >= 1"):
        sn.Model().build(0, 2)
    with pytest.raises(ValueError, match="n_outputs must be an int >= 1"):
        sn.Model().build(3, -1)


# ----- numbers stay honest: overflow, sparse, masked, (n, 1) labels --------------------------
def _overflowing(value=1e39):
    X = np.ones((3, 3))
    X[1, 2] = value
    return X


def test_values_that_overflow_float32_are_refused_at_every_call(fitted):
    pattern = (
        r"X has a value too large for the model's float32: 1e\+39 \(at row 1, column 2\).*"
        r"overflows to inf.*dtype='float64'"
    )
    for _, call in _x_calls(fitted):
        with pytest.raises(ValueError, match=pattern):
            call(_overflowing())
    with pytest.raises(ValueError, match=r"column 2\).*overflows"):
        fitted.predict(_overflowing(-1e39))
    # the largest float32 itself still fits; a float64 model takes 1e39
    backend = fitted.backend
    checked = check_features(_overflowing(3.4e38), backend, fitted.dtype, 3)
    assert np.isfinite(sn.to_numpy(checked)).all()
    m = sn.Model(hidden=(4,), dtype="float64", seed=0).build(3, 2)
    assert np.isfinite(sn.to_numpy(m.decision_function(_overflowing()))).all()


def test_overflowing_targets_and_weights_are_refused():
    X = np.ones((3, 2))
    reg = sn.Model(hidden=(2,), output="identity", seed=0)
    with pytest.raises(
        ValueError, match=r"y has a value too large for the model's float32.*index 1"
    ):
        reg.fit(X, np.array([0.0, 1e39, 1.0]), epochs=1)
    with pytest.raises(ValueError, match=r"y has a value too large.*row 2, column 1"):
        reg.fit(X, np.array([[0.0, 1.0], [0.0, 1.0], [0.0, -1e40]]), epochs=1)
    assert not reg.built
    clf = sn.Model(hidden=(2,), seed=0)
    with pytest.raises(ValueError, match="sample_weight has a value too large.*index 0"):
        clf.fit(X, np.array([0, 1, 0]), sample_weight=np.array([1e39, 1.0, 1.0]), epochs=1)
    assert not clf.built


def test_overflow_of_a_backend_array_is_named_too():
    skip_unavailable("torch")
    import torch

    m = sn.Model(hidden=(3,), backend="torch", seed=0).build(3, 2)
    with pytest.raises(
        ValueError, match=r"X has a value too large for the model's float32.*column 2"
    ):
        m.predict(torch.as_tensor(_overflowing(), dtype=torch.float64))
    bad = torch.as_tensor(_overflowing(np.nan), dtype=torch.float64)
    with pytest.raises(ValueError, match="X contains NaN or infinite values"):
        m.predict(bad)


def test_scipy_sparse_matrices_get_the_toarray_advice(fitted):
    sparse = pytest.importorskip("scipy.sparse")
    X, y = sparse.csr_matrix(np.eye(3)), np.array([0, 1, 2])
    calls = [fitted.predict, fitted.predict_proba, fitted.decision_function, fitted.forward,
             fitted.output_gradients, lambda X: fitted.loss_and_gradients(X, y),
             lambda X: fitted.evaluate(X, y), lambda X: fitted.fit(X, y, epochs=1)]  # fmt: skip
    pattern = r"X is a SciPy sparse matrix \(csr_matrix of shape \(3, 3\).*X\.toarray\(\)"
    for call in calls:
        with pytest.raises(TypeError, match=pattern):
            call(X)
    with pytest.raises(TypeError, match=r"y\.toarray\(\)\.ravel\(\)"):
        fitted.fit(np.ones((3, 3)), sparse.csr_matrix(y.reshape(-1, 1)), epochs=1)
    with pytest.raises(TypeError, match="sample_weight is a SciPy sparse matrix"):
        fitted.fit(np.ones((3, 3)), y, sample_weight=sparse.csr_matrix(np.ones((1, 3))), epochs=1)


def test_masked_arrays_are_refused_unless_nothing_is_masked(fitted):
    X = np.ma.MaskedArray(np.ones((3, 3)), mask=[[0, 0, 0], [0, 1, 0], [0, 0, 0]])
    for _, call in _x_calls(fitted):
        with pytest.raises(
            ValueError, match=r"X is a masked array with 1 masked entries.*\(1, 1\)"
        ):
            call(X)
    y = np.ma.MaskedArray([0, 1, 2], mask=[0, 0, 1])
    with pytest.raises(ValueError, match="y is a masked array"):
        fitted.fit(np.ones((3, 3)), y, epochs=1)
    w = np.ma.MaskedArray([1.0, 1.0, 1.0], mask=[1, 0, 0])
    with pytest.raises(ValueError, match="sample_weight is a masked array"):
        fitted.fit(np.ones((3, 3)), np.array([0, 1, 2]), sample_weight=w, epochs=1)
    clear = np.ma.MaskedArray(np.ones((2, 3)), mask=False)
    assert sn.to_numpy(fitted.predict(clear)).shape == (2,)


def test_a_column_of_integer_labels_for_softmax_is_explained():
    X, y = np.ones((4, 2)), np.array([[0], [1], [2], [1]])
    pattern = r"softmax targets of shape \(4, 1\).*class indices of shape \(n,\).*y\.ravel\(\)"
    for m in (sn.Model(hidden=(2,), seed=0), sn.Model(hidden=(2,), seed=0).build(2, 3)):
        with pytest.raises(ValueError, match=pattern):
            m.fit(X, y, epochs=1)
        with pytest.raises(ValueError, match=pattern):
            m.loss_and_gradients(X, y)
    assert sn.Model(hidden=(2,), seed=0).fit(X, y.ravel(), epochs=1)


def test_validation_data_is_checked_against_x_on_an_unbuilt_model():
    m = sn.Model(hidden=(2,), seed=0)
    X, y = np.ones((4, 3)), np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="X_val has 2 features, but X has 3"):
        m.fit(X, y, epochs=1, validation_data=(np.ones((2, 2)), np.array([0, 1])))
    with pytest.raises(ValueError, match=r"class indices must lie in \[0, 2\).*\[5\]"):
        m.fit(X, y, epochs=1, validation_data=(np.ones((2, 3)), np.array([0, 5])))
    assert not m.built

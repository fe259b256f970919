"""Output heads: losses from logits without overflow, dL/dF = norm * w * (y_hat - y), targets."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.heads import get_head


def _np_softmax(F):
    e = np.exp(F - F.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_softmax_loss_and_delta_match_the_definitions(rng):
    F = rng.normal(size=(5, 4))
    y = np.array([0, 3, 1, 1, 2])
    head = get_head("softmax")
    Y = head.encode_targets(y, 4)
    loss, dF = head.loss_and_delta(F, Y, None, 1 / 5)
    P = _np_softmax(F)
    assert float(loss) == pytest.approx(-np.mean(np.log(P[np.arange(5), y])), rel=1e-12)
    np.testing.assert_allclose(dF, (P - Y) / 5, rtol=1e-12)
    np.testing.assert_allclose(head.output(F), P, rtol=1e-12)


def test_sigmoid_loss_and_delta(rng):
    F = rng.normal(size=(6, 2))
    Y = rng.integers(0, 2, size=(6, 2)).astype(float)
    head = get_head("sigmoid")
    loss, dF = head.loss_and_delta(F, Y, None, 1.0)
    S = 1 / (1 + np.exp(-F))
    expected = -np.sum(Y * np.log(S) + (1 - Y) * np.log(1 - S))
    assert float(loss) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(dF, S - Y, rtol=1e-12)


def test_identity_loss_is_half_squared_error_over_n(rng):
    F, Y = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    loss, dF = get_head("identity").loss_and_delta(F, Y, None, 1 / 4)
    assert float(loss) == pytest.approx(np.sum((F - Y) ** 2) / (2 * 4), rel=1e-12)
    np.testing.assert_allclose(dF, (F - Y) / 4)


def test_sample_weights_scale_losses_and_deltas(rng):
    F = rng.normal(size=(3, 3))
    Y = get_head("softmax").encode_targets(np.array([0, 1, 2]), 3)
    w = np.array([1.0, 0.0, 2.0])
    loss, dF = get_head("softmax").loss_and_delta(F, Y, w, 1 / w.sum())
    P = _np_softmax(F)
    per = -np.log(P[np.arange(3), [0, 1, 2]])
    assert float(loss) == pytest.approx((per * w).sum() / 3.0)
    np.testing.assert_allclose(dF, w[:, None] * (P - Y) / 3.0)


@pytest.mark.parametrize("name", ["softmax", "sigmoid", "identity"])
def test_huge_logits_give_finite_losses(name, backend):
    head = get_head(name)
    F = np.array([[1e4, -1e4], [-1e4, 1e4], [0.0, 1e4]])
    Y = np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    dt = backend.dtype("float32")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, dF = head.loss_and_delta(
            backend.asarray(F, dtype=dt), backend.asarray(Y, dtype=dt), None, 1 / 3
        )
    assert np.isfinite(float(loss)) and np.isfinite(sn.to_numpy(dF)).all()
    if name == "softmax":
        assert float(loss) == pytest.approx((2e4 + 1e4) / 3, rel=1e-5)


def test_model_loss_at_logits_1e4_is_finite(backend):
    m = sn.Model(hidden=(), output="softmax", backend=backend, seed=0).build(2, 2)
    m.set_parameters({"dense1.B": np.array([[1e4, -1e4], [0.0, 0.0]]), "dense1.c": np.zeros(2)})
    loss, grads = m.loss_and_gradients(np.array([[1.0, 0.0]]), np.array([1]))
    assert loss == pytest.approx(2e4, rel=1e-5)
    assert all(np.isfinite(sn.to_numpy(g)).all() for g in grads.values())


def test_softmax_targets_indices_and_one_hot():
    head = get_head("softmax")
    np.testing.assert_array_equal(head.encode_targets(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
    np.testing.assert_array_equal(head.encode_targets(np.array([1.0, 0.0]), 2), [[0, 1], [1, 0]])
    assert head.infer_outputs(np.array([0, 4, 1])) == 5
    assert head.infer_outputs(np.eye(3)) == 3
    with pytest.raises(ValueError, match=r"class indices must lie in \[0, 3\).*\[5\]"):
        head.encode_targets(np.array([0, 5]), 3)
    with pytest.raises(ValueError, match=r"in \[0, 3\).*\[-1\]"):
        head.encode_targets(np.array([0, -1]), 3)
    with pytest.raises(ValueError, match="integer class indices"):
        head.encode_targets(np.array([0.5, 1.0]), 3)
    with pytest.raises(ValueError, match="one-hot"):
        head.encode_targets(np.array([[1, 1], [0, 1]]), 2)
    with pytest.raises(ValueError, match="one-hot targets have 3 columns"):
        head.encode_targets(np.eye(3), 2)


def test_sigmoid_and_identity_targets():
    sig = get_head("sigmoid")
    assert sig.encode_targets(np.array([0, 1, 1]), 1).shape == (3, 1)
    assert sig.infer_outputs(np.zeros((4, 3))) == 3
    with pytest.raises(ValueError, match=r"must be 0 or 1, found \[2\]"):
        sig.encode_targets(np.array([0, 2]), 1)
    with pytest.raises(ValueError, match="the model has 2 sigmoid outputs"):
        sig.encode_targets(np.zeros((3, 3)), 2)
    ident = get_head("identity")
    assert ident.encode_targets(np.array([1.5, 2.0]), 1).shape == (2, 1)
    with pytest.raises(ValueError, match="the model has 2 outputs"):
        ident.encode_targets(np.zeros((3, 1)), 2)


def test_predictions_per_head():
    F = np.array([[0.3, -0.2], [-1.0, 2.0]])
    np.testing.assert_array_equal(get_head("softmax").predict_from_logits(F), [0, 1])
    np.testing.assert_array_equal(get_head("sigmoid").predict_from_logits(F[:, :1]), [1, 0])
    np.testing.assert_array_equal(get_head("sigmoid").predict_from_logits(F), [[1, 0], [0, 1]])
    np.testing.assert_array_equal(get_head("identity").predict_from_logits(F[:, :1]), [0.3, -1.0])


@pytest.mark.parametrize("name", ["softmax", "sigmoid"])
def test_classifiers_predict_no_label_for_rows_that_are_not_finite(name, backend):
    F = np.array([[0.3, -0.2], [np.nan, 1.0], [np.inf, 0.0], [-1.0, 2.0], [-np.inf, -np.inf]])
    Fd = backend.asarray(F, dtype=backend.dtype("float32"))
    with pytest.raises(
        ValueError, match=r"3 of 5 rows have NaN or infinite outputs.*diverged.*overflowed"
    ):
        get_head(name).predict_from_logits(Fd)
    finite = get_head(name).predict_from_logits(Fd[::3, ...])
    assert sn.to_numpy(finite).shape[0] == 2


def test_regression_predictions_keep_non_finite_values_visible():
    F = np.array([[np.nan], [1.0]])
    out = get_head("identity").predict_from_logits(F)
    assert np.isnan(out[0]) and out[1] == 1.0


def test_a_model_whose_outputs_overflow_refuses_to_predict(backend):
    m = sn.Model(hidden=(), output="softmax", backend=backend, seed=0).build(2, 3)
    m.set_parameters(
        {"dense1.B": np.array([[3e38, 0.0, 0.0], [0.0, 0.0, 0.0]]), "dense1.c": np.zeros(3)}
    )
    X = np.array([[0.5, 0.0], [10.0, 0.0], [0.0, 1.0], [20.0, 1.0]])  # rows 1 and 3 overflow
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(ValueError, match="2 of 4 rows have NaN or infinite outputs"):
            m.predict(X)
        P = sn.to_numpy(m.predict_proba(X))  # probabilities show the NaN rows as they are
    assert np.isnan(P[1]).all() and np.isfinite(P[[0, 2]]).all()
    np.testing.assert_array_equal(sn.to_numpy(m.predict(X[[0, 2]])), [0, 0])


def test_softmax_refuses_a_column_of_labels():
    head = get_head("softmax")
    for call in (lambda y: head.infer_outputs(y), lambda y: head.encode_targets(y, 3)):
        with pytest.raises(ValueError, match=r"shape \(3, 1\).*\(n,\).*\(n, k\).*y\.ravel\(\)"):
            call(np.array([[0], [2], [1]]))


def test_unknown_head():
    with pytest.raises(
        ValueError, match=r"unknown output head 'poisson'.*sigmoid, softmax, identity"
    ):
        get_head("poisson")
    with pytest.raises(ValueError, match="softmax head needs n_outputs >= 2"):
        sn.Model(output="softmax").build(3, 1)


def test_sum_reduction_gives_the_notes_totals(rng):
    X, y = rng.normal(size=(8, 3)), rng.integers(0, 3, size=8)
    mean = sn.Model(hidden=(4,), seed=0, dtype="float64", reduction="mean")
    total = sn.Model(hidden=(4,), seed=0, dtype="float64", reduction="sum")
    lm, gm = mean.loss_and_gradients(X, y)
    lt, gt = total.loss_and_gradients(X, y)
    assert lt == pytest.approx(8 * lm, rel=1e-12)
    for k in gm:
        np.testing.assert_allclose(gt[k], 8 * gm[k], rtol=1e-10, atol=1e-14)

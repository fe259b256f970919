"""The same computation on every backend agrees with NumPy (float64: 1e-10, float32: 1e-4)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tolerance

import scratchnet as sn
from scratchnet.testing import compare_backends, relative_error

CASES = {
    "softmax-relu": dict(hidden=(8, 6), activation="relu", output="softmax"),
    "sigmoid-tanh-l2": dict(hidden=(7,), activation="tanh", output="sigmoid", l2=0.1),
    "identity-gelu-bn": dict(hidden=(6, 5), activation="gelu", output="identity", batch_norm=True),
    "softmax-selu-sum": dict(hidden=(5,), activation="selu", output="softmax", reduction="sum"),
}


def _targets(output, rng, n):
    if output == "softmax":
        return rng.integers(0, 4, size=n)
    if output == "sigmoid":
        return rng.integers(0, 2, size=(n, 3))
    return rng.normal(size=(n, 2))


@pytest.mark.parametrize("case", sorted(CASES))
def test_loss_and_gradients_match_numpy(case, backend, dtype):
    cfg = CASES[case]
    rng = np.random.default_rng(0)
    X = rng.normal(size=(16, 5))
    y = _targets(cfg["output"], rng, 16)
    ref = sn.Model(**cfg, dtype=dtype, seed=1)
    other = sn.Model(**cfg, dtype=dtype, seed=1, backend=backend)
    loss_ref, g_ref = ref.loss_and_gradients(X, y)
    loss, g = other.loss_and_gradients(X, y)
    tol = tolerance(dtype)
    assert abs(loss - loss_ref) <= tol * abs(loss_ref)
    for name in g_ref:
        assert relative_error(sn.to_numpy(g[name]), sn.to_numpy(g_ref[name])) <= tol, name


def test_predictions_match_numpy(backend):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 5))
    y = rng.integers(0, 3, size=40)
    ref = sn.Model(hidden=(8,), dtype="float64", seed=3)
    ref.fit(X, y, epochs=3, batch_size=8, optimizer="sgd", lr=0.1)
    other = ref.copy(backend=backend)
    np.testing.assert_allclose(sn.to_numpy(other.predict_proba(X)), sn.to_numpy(ref.predict_proba(X)),
                               rtol=1e-10)  # fmt: skip
    np.testing.assert_array_equal(sn.to_numpy(other.predict(X)), sn.to_numpy(ref.predict(X)))


def test_training_without_randomness_matches_numpy(backend, dtype):
    """Full-batch Adam, no dropout: every backend follows NumPy's trajectory."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(30, 4))
    y = rng.integers(0, 3, size=30)
    runs = []
    for be in ("numpy", backend):
        m = sn.Model(
            hidden=(6,), activation="tanh", batch_norm=True, dtype=dtype, seed=5, backend=be
        )
        hist = m.fit(X, y, epochs=5, batch_size=None, optimizer="adam", lr=0.05)
        runs.append((hist.history["loss"], sn.to_numpy(m.parameters())))
    (loss_a, p_a), (loss_b, p_b) = runs
    tol = 1e-9 if dtype == "float64" else 1e-4
    np.testing.assert_allclose(loss_b, loss_a, rtol=tol)
    for name in p_a:
        assert relative_error(p_b[name], p_a[name]) <= tol, name


def test_compare_backends_helper(backend):
    rng = np.random.default_rng(6)
    X, y = rng.normal(size=(8, 3)), rng.integers(0, 2, size=8)
    m = sn.Model(hidden=(4,), output="sigmoid", dtype="float64", seed=7)
    m.build(3, 1)
    diffs = compare_backends(m, X, y, backend=backend.name, device=backend.device)
    assert set(diffs) == {"loss", *m.parameters()}
    assert max(diffs.values()) < 1e-10

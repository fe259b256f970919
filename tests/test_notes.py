"""The notes, transcribed literally in NumPy, against the library.

Each test writes a formula of ../shared/reference/nn-from-scratch-notes.md as it stands there
(ascent on the total log-likelihood, delta = y - y_hat) and compares with scratchnet, which descends
on the negative log-likelihood: with ``reduction="sum"`` the library's gradients are exactly the
notes' with the sign flipped, and with ``"mean"`` they are also divided by N (the notes' remark).
"""

from __future__ import annotations

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.activations import get_activation


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _params(model):
    return sn.to_numpy(model.parameters())


# --------------------------------------------------------------------------------------------
# Section 2, equations (1)-(2): binary MLP with three hidden layers (K, J, M units)
@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "softplus"])
def test_binary_mlp_equations_1_and_2(activation, rng):
    N, p, K, J, M = 9, 4, 5, 3, 4
    X = rng.normal(size=(N, p))
    y = rng.integers(0, 2, size=N).astype(float)
    model = sn.Model(hidden=(K, J, M), activation=activation, output="sigmoid", reduction="sum",
                     dtype="float64", seed=0)  # fmt: skip
    loss, grads = model.loss_and_gradients(X, y)
    P = _params(model)
    B1, c1, B2, c2, B3, c3 = (P[k] for k in ("dense1.B", "dense1.c", "dense2.B", "dense2.c",
                                              "dense3.B", "dense3.c"))  # fmt: skip
    a, b = P["dense4.B"][:, 0], P["dense4.c"][0]
    u = get_activation(activation)

    def du(Z):
        return u.derivative(Z, u.forward(Z))

    # forward pass, matrix form: Z(l) = H(l-1) B(l) + 1_n c(l)^T, H(l) = u(Z(l))
    ones = np.ones((N, 1))
    Z1 = X @ B1 + ones @ c1[None, :]
    H1 = u.forward(Z1)
    Z2 = H1 @ B2 + ones @ c2[None, :]
    H2 = u.forward(Z2)
    Z3 = H2 @ B3 + ones @ c3[None, :]
    H3 = u.forward(Z3)
    f = H3 @ a + b
    y_hat = _sigmoid(f)
    L = np.sum(y * np.log(y_hat) + (1 - y) * np.log(1 - y_hat))  # log-likelihood, maximised
    assert loss == pytest.approx(-L, rel=1e-12)

    delta = y - y_hat
    E3 = np.outer(delta, a) * du(Z3)  # (delta a^T) * u'(Z(3))
    E2 = (E3 @ B3.T) * du(Z2)  # equation (1), l < L
    E1 = (E2 @ B2.T) * du(Z1)
    notes = {
        "dense1.B": X.T @ E1,  # equation (2), l = 1
        "dense1.c": np.ones(N) @ E1,
        "dense2.B": H1.T @ E2,  # equation (2), l > 1
        "dense2.c": np.ones(N) @ E2,
        "dense3.B": H2.T @ E3,
        "dense3.c": np.ones(N) @ E3,
        "dense4.B": (H3.T @ delta)[:, None],  # dL/da = H(L)^T delta
        "dense4.c": np.array([np.ones(N) @ delta]),  # dL/db = 1^T delta
    }
    for name, value in notes.items():
        np.testing.assert_allclose(sn.to_numpy(grads[name]), -value, rtol=1e-10, atol=1e-13)


# --------------------------------------------------------------------------------------------
# Section 3, equations (3)-(5): softmax MLP
def test_softmax_mlp_equations_3_to_5(rng):
    N, p, K, M, V = 8, 3, 6, 4, 5
    X = rng.normal(size=(N, p))
    y = rng.integers(0, V, size=N)
    model = sn.Model(hidden=(K, M), activation="tanh", output="softmax", reduction="sum",
                     dtype="float64", seed=1)  # fmt: skip
    _, grads = model.loss_and_gradients(X, y)
    P = _params(model)
    B1, c1, B2, c2 = P["dense1.B"], P["dense1.c"], P["dense2.B"], P["dense2.c"]
    A, b = P["dense3.B"], P["dense3.c"]

    Z1 = X @ B1 + c1
    H1 = np.tanh(Z1)
    Z2 = H1 @ B2 + c2
    H2 = np.tanh(Z2)
    F = H2 @ A + b
    Pr = np.exp(F) / np.exp(F).sum(axis=1, keepdims=True)  # P_{i,v}
    indicator = (y[:, None] == np.arange(V)[None, :]).astype(float)
    Delta = indicator - Pr  # equation (3): 1(y_i = v) - P_{i,v}
    E2 = (Delta @ A.T) * (1 - H2**2)  # equation (4), l = L
    E1 = (E2 @ B2.T) * (1 - H1**2)  # equation (4), l < L
    notes = {
        "dense1.B": X.T @ E1,  # equation (5)
        "dense1.c": E1.sum(axis=0),
        "dense2.B": H1.T @ E2,
        "dense2.c": E2.sum(axis=0),
        "dense3.B": H2.T @ Delta,  # dL/dA = H(L)^T Delta
        "dense3.c": Delta.sum(axis=0),  # dL/db = 1^T Delta
    }
    for name, value in notes.items():
        np.testing.assert_allclose(sn.to_numpy(grads[name]), -value, rtol=1e-10, atol=1e-13)

    # the remark: the mean log-loss scales the final E (and so every gradient) by 1/N
    mean_model = sn.Model(
        hidden=(K, M), activation="tanh", reduction="mean", dtype="float64", seed=1
    )
    _, mean_grads = mean_model.loss_and_gradients(X, y)
    for name, value in notes.items():
        np.testing.assert_allclose(
            sn.to_numpy(mean_grads[name]), -value / N, rtol=1e-10, atol=1e-14
        )


# --------------------------------------------------------------------------------------------
# Section 4.1, equation (8): L2 on the weights B(l) and A, not on biases
def test_l2_equation_8(rng):
    N, lam = 7, 0.3
    X = rng.normal(size=(N, 3))
    y = rng.integers(0, 3, size=N)
    plain = sn.Model(hidden=(4,), activation="tanh", reduction="sum", dtype="float64", seed=2)
    reg = sn.Model(hidden=(4,), activation="tanh", reduction="sum", l2=lam, dtype="float64", seed=2)
    _, g = plain.loss_and_gradients(X, y)
    _, g_reg = reg.loss_and_gradients(X, y)
    P = _params(reg)
    for name in ("dense1.B", "dense2.B"):
        notes_ascent = -sn.to_numpy(g[name]) - lam * P[name]  # H^T E - lambda B
        np.testing.assert_allclose(sn.to_numpy(g_reg[name]), -notes_ascent, rtol=1e-12)
    for name in ("dense1.c", "dense2.c"):
        np.testing.assert_array_equal(sn.to_numpy(g_reg[name]), sn.to_numpy(g[name]))


# --------------------------------------------------------------------------------------------
# Section 4.2: dropout recursion with the masks M(l)
def test_dropout_recursion_with_masks(rng):
    N, p, K, M, V, rate = 10, 3, 6, 5, 3, 0.4
    keep = 1.0 - rate
    X = rng.normal(size=(N, p))
    y = rng.integers(0, V, size=N)
    model = sn.Model(hidden=(K, M), activation="tanh", dropout=rate, reduction="sum",
                     dtype="float64", seed=3)  # fmt: skip
    model.build(p, V)
    M1 = (rng.random((N, K)) < keep).astype(float)
    M2 = (rng.random((N, M)) < keep).astype(float)
    drops = [ly for ly in model.layers if ly.kind == "dropout"]
    drops[0].freeze(M1)
    drops[1].freeze(M2)
    _, grads = model.loss_and_gradients(X, y)
    P = _params(model)
    B1, c1, B2, c2, A, b = (P[k] for k in ("dense1.B", "dense1.c", "dense2.B", "dense2.c",
                                           "dense3.B", "dense3.c"))  # fmt: skip

    Z1 = X @ B1 + c1
    H1t = (np.tanh(Z1) * M1) / keep  # H~(1) = (1/p) (H(1) * M(1))
    Z2 = H1t @ B2 + c2
    H2t = (np.tanh(Z2) * M2) / keep
    F = H2t @ A + b
    Pr = np.exp(F) / np.exp(F).sum(axis=1, keepdims=True)
    Delta = np.eye(V)[y] - Pr
    E2 = (Delta @ A.T) * (1 - np.tanh(Z2) ** 2) * M2 / keep  # l = L
    E1 = (E2 @ B2.T) * (1 - np.tanh(Z1) ** 2) * M1 / keep  # l < L
    notes = {
        "dense1.B": X.T @ E1,
        "dense1.c": E1.sum(0),
        "dense2.B": H1t.T @ E2,  # (H~(l-1))^T E(l)
        "dense2.c": E2.sum(0),
        "dense3.B": H2t.T @ Delta,  # (H~(L))^T Delta
        "dense3.c": Delta.sum(0),
    }
    for name, value in notes.items():
        np.testing.assert_allclose(sn.to_numpy(grads[name]), -value, rtol=1e-10, atol=1e-13)


def test_dropout_worked_example_of_the_notes():
    """The notes' example omits the 1/p scale (see DESIGN.md errata); the library keeps it."""
    H = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    M = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    B = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    # notes: H~ = H * M = [[1, 0, 3], [0, 5, 0]]; Z = H~ B = [[1 + 15, 2 + 18], [15, 20]]
    notes_Z = np.array([[16.0, 20.0], [15.0, 20.0]])
    np.testing.assert_array_equal((H * M) @ B, notes_Z)
    drop = sn.layers.Dropout(0.5)
    drop.build(3, _numpy_ctx())
    drop.freeze(M)
    Z = drop.forward(H, training=True) @ B
    np.testing.assert_array_equal(Z, notes_Z / 0.5)  # kept units scaled by 1/p, p = 0.5


def _numpy_ctx():
    from scratchnet.backends import get_backend
    from scratchnet.layers import BuildContext

    be = get_backend("numpy")
    return BuildContext(be, be.dtype("float64"), np.random.default_rng(0))


# --------------------------------------------------------------------------------------------
# Section 1: one neuron per layer; gradients of the output f itself
def _chain(depth: int, activation: str, seed: int):
    model = sn.Model(hidden=(1,) * depth, activation=activation, output="identity",
                     dtype="float64", seed=seed, init="normal")  # fmt: skip
    return model.build(3, 1)


def test_single_neuron_depth_3_closed_form(rng):
    model = _chain(3, "sigmoid", seed=4)
    X = rng.normal(size=(5, 3))
    grads = sn.to_numpy(model.output_gradients(X))
    P = _params(model)
    B1, c1 = P["dense1.B"][:, 0], P["dense1.c"][0]
    B2, c2 = P["dense2.B"][0, 0], P["dense2.c"][0]
    B3, c3 = P["dense3.B"][0, 0], P["dense3.c"][0]
    a, b = P["dense4.B"][0, 0], P["dense4.c"][0]
    u, du = _sigmoid, lambda z: _sigmoid(z) * (1 - _sigmoid(z))
    for i, x in enumerate(X):
        z1 = x @ B1 + c1
        h1 = u(z1)
        z2 = h1 * B2 + c2
        h2 = u(z2)
        z3 = h2 * B3 + c3
        h3 = u(z3)
        f = a * h3 + b
        assert float(sn.to_numpy(model.decision_function(X[i : i + 1]))[0, 0]) == pytest.approx(f)
        expected = {
            "dense4.B": h3,  # df/da = h(3)
            "dense4.c": 1.0,  # df/db = 1
            "dense3.c": a * du(z3),
            "dense3.B": a * du(z3) * h2,
            "dense2.B": a * du(z3) * B3 * du(z2) * h1,
            "dense2.c": a * du(z3) * B3 * du(z2),
            "dense1.B": a * du(z3) * B3 * du(z2) * B2 * du(z1) * x,  # one entry per x_ik
            "dense1.c": a * du(z3) * B3 * du(z2) * B2 * du(z1),
        }
        for name, value in expected.items():
            np.testing.assert_allclose(
                grads[name][i].reshape(-1), np.reshape(value, -1), rtol=1e-12
            )


@pytest.mark.parametrize("J", [1, 2, 5, 8])
def test_single_neuron_general_depth_products(J, rng):
    model = _chain(J, "tanh", seed=5)
    X = rng.normal(size=(4, 3))
    grads = sn.to_numpy(model.output_gradients(X))
    P = _params(model)
    B = [None] + [P[f"dense{j}.B"] for j in range(1, J + 1)]
    c = [None] + [P[f"dense{j}.c"][0] for j in range(1, J + 1)]
    a = P[f"dense{J + 1}.B"][0, 0]
    for i, x in enumerate(X):
        z, h = [None] * (J + 1), [None] * (J + 1)
        for j in range(1, J + 1):
            z[j] = (x @ B[1][:, 0] if j == 1 else h[j - 1] * B[j][0, 0]) + c[j]
            h[j] = np.tanh(z[j])
        du = [None] + [1 - np.tanh(z[j]) ** 2 for j in range(1, J + 1)]
        for j in range(1, J + 1):
            # a * prod_{l=j..J} u'(z(l)) * prod_{l=j+1..J} B(l)  (empty product = 1)
            common = a * np.prod([du[m] for m in range(j, J + 1)])
            common *= np.prod([B[m][0, 0] for m in range(j + 1, J + 1)])
            below = x if j == 1 else h[j - 1]
            np.testing.assert_allclose(grads[f"dense{j}.c"][i, 0], common, rtol=1e-12)
            np.testing.assert_allclose(grads[f"dense{j}.B"][i].reshape(-1), common * np.reshape(below, -1),
                                       rtol=1e-12)  # fmt: skip


def test_output_gradients_sum_to_the_batch_gradient(rng):
    """Per-sample df/dtheta summed with weights (f_i - y_i) is the regression loss gradient."""
    model = sn.Model(hidden=(4, 3), activation="tanh", output="identity", reduction="sum",
                     dtype="float64", seed=6).build(3, 1)  # fmt: skip
    X, y = rng.normal(size=(6, 3)), rng.normal(size=6)
    per_sample = sn.to_numpy(model.output_gradients(X))
    residual = sn.to_numpy(model.decision_function(X))[:, 0] - y
    _, grads = model.loss_and_gradients(X, y)
    for name, g in per_sample.items():
        np.testing.assert_allclose(
            np.tensordot(residual, g, axes=1), sn.to_numpy(grads[name]), rtol=1e-10
        )


def test_output_gradients_choose_the_output_unit(rng):
    model = sn.Model(hidden=(3,), output="softmax", dtype="float64", seed=7).build(2, 3)
    X = rng.normal(size=(4, 2))
    g2 = sn.to_numpy(model.output_gradients(X, output=2))
    assert g2["dense2.B"].shape == (4, 3, 3)
    assert not g2["dense2.B"][:, :, :2].any() and g2["dense2.B"][:, :, 2].any()
    with pytest.raises(ValueError, match=r"output must be an int in \[0, 3\)"):
        model.output_gradients(X, output=3)


# --------------------------------------------------------------------------------------------
# A hand-worked example: every intermediate value computed on paper
def test_hand_worked_two_unit_network():
    model = sn.Model(hidden=(2,), activation="relu", output="identity", dtype="float64", seed=0)
    model.build(2, 1)
    model.set_parameters({
        "dense1.B": [[1.0, -1.0], [0.5, 1.0]], "dense1.c": [0.0, 0.5],
        "dense2.B": [[1.0], [2.0]], "dense2.c": [-1.0],
    })  # fmt: skip
    X, y = np.array([[1.0, 2.0]]), np.array([3.0])
    # Z1 = [1*1 + 2*0.5 + 0, 1*(-1) + 2*1 + 0.5] = [2, 1.5]; H1 = relu(Z1) = [2, 1.5]
    # f = 2*1 + 1.5*2 - 1 = 4; loss = (1/2)(4 - 3)^2 = 0.5
    loss, g = model.loss_and_gradients(X, y)
    assert loss == 0.5
    # dF = f - y = 1; dA = H1^T dF = [[2], [1.5]]; db = [1]
    np.testing.assert_array_equal(g["dense2.B"], [[2.0], [1.5]])
    np.testing.assert_array_equal(g["dense2.c"], [1.0])
    # E1 = (dF A^T) * relu'(Z1) = [1, 2]; dB1 = X^T E1 = [[1, 2], [2, 4]]; dc1 = [1, 2]
    np.testing.assert_array_equal(g["dense1.B"], [[1.0, 2.0], [2.0, 4.0]])
    np.testing.assert_array_equal(g["dense1.c"], [1.0, 2.0])
    model.backward(np.array([[1.0]]))
    np.testing.assert_array_equal(model.errors["dense1"], [[1.0, 2.0]])  # E(1), inspectable
    np.testing.assert_array_equal(model.errors["dense2"], [[1.0]])
    # one plain gradient step with lr 0.1: B1 <- B1 - 0.1 dB1
    model.fit(X, y, epochs=1, batch_size=None, optimizer="sgd", lr=0.1, shuffle=False)
    np.testing.assert_allclose(
        sn.to_numpy(model.parameters()["dense1.B"]), [[0.9, -1.2], [0.3, 0.6]]
    )

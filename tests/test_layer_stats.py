"""LayerStats: per-layer statistics equal a direct NumPy computation on every backend, are kept one
entry per epoch, travel with saved models, leave training unchanged, and can be drawn."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.callbacks import History, LayerStats

ROOT = Path(__file__).resolve().parents[1]
N, P, UNITS, K = 12, 4, 3, 3
LR = 0.1


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.1, 1.0, size=(N, P))  # positive: a unit with negative weights stays dead
    return X, np.arange(N) % K


def _model(activation: str, backend, setup=None) -> sn.Model:
    """A built 4-3-3 softmax model in float64; ``setup(params)`` edits its initial parameters."""
    m = sn.Model(hidden=(UNITS,), activation=activation, dtype="float64", seed=3, backend=backend)
    m.build(P, K)
    if setup is not None:
        params = {k: np.array(v) for k, v in sn.to_numpy(m.parameters()).items()}
        setup(params)
        m.set_parameters(params)
    return m


def _kill_first_unit(params):  # Z[:, 0] < 0 on every row: a dead relu unit
    params["dense1.B"][:, 0] = -np.abs(params["dense1.B"][:, 0]) - 1.0


def _saturate(params):  # large weights push sigmoid into its flat tails
    params["dense1.B"] *= 40.0
    params["dense1.c"][:] = 5.0


def _derivative(activation: str, Z: np.ndarray, H: np.ndarray) -> np.ndarray:
    return {"tanh": 1.0 - H**2, "sigmoid": H * (1.0 - H), "relu": (Z > 0).astype(float)}[activation]


def _reference(activation, params, X, y, epochs, batch):
    """The notes' recursion in plain NumPy, with plain SGD (delta B = -lr dL/dB), batches in order."""
    u = {
        "tanh": np.tanh,
        "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
        "relu": lambda z: np.maximum(z, 0),
    }
    B1, c1 = params["dense1.B"].copy(), params["dense1.c"].copy()
    B2, c2 = params["dense2.B"].copy(), params["dense2.c"].copy()
    Y = np.eye(K)[y]
    out = {"dense1": {}, "dense2": {}, "activation1": {}}

    def add(layer, stat, value):
        out[layer].setdefault(stat, []).append(value)

    for _ in range(epochs):
        steps = {}
        for start in range(0, N, batch):
            Xb, Yb = X[start : start + batch], Y[start : start + batch]
            Z1 = Xb @ B1 + c1
            H1 = u[activation](Z1)
            F = H1 @ B2 + c2
            Pr = np.exp(F - F.max(axis=1, keepdims=True))
            Pr /= Pr.sum(axis=1, keepdims=True)
            dF = (Pr - Yb) / len(Xb)  # mean cross-entropy: dL/dF = (y_hat - y) / n
            dB2, dc2 = H1.T @ dF, dF.sum(axis=0)
            du = _derivative(activation, Z1, H1)
            E1 = (dF @ B2.T) * du
            dB1, dc1 = Xb.T @ E1, E1.sum(axis=0)
            act = {"mean": H1.mean(), "std": H1.std()}
            if activation == "relu":
                act["dead_fraction"] = np.all(H1 == 0, axis=0).mean()
            else:
                act["saturated_fraction"] = np.mean(np.abs(du) < 1e-3)
            new1, new2 = B1 - LR * dB1, B2 - LR * dB2
            for name, g, old, new in (("dense1", dB1, B1, new1), ("dense2", dB2, B2, new2)):
                steps.setdefault((name, "grad_norm"), []).append(np.linalg.norm(g))
                ratio = np.linalg.norm(new - old) / np.linalg.norm(old)
                steps.setdefault((name, "update_ratio"), []).append(ratio)
            for stat, value in act.items():
                steps.setdefault(("activation1", stat), []).append(value)
            B1, c1, B2, c2 = new1, c1 - LR * dc1, new2, c2 - LR * dc2
        for (layer, stat), values in steps.items():
            add(layer, stat, float(np.mean(values)))
        add("dense1", "weight_norm", float(np.linalg.norm(B1)))
        add("dense2", "weight_norm", float(np.linalg.norm(B2)))
    return out


def _assert_close(got, expected, rtol=1e-10):
    assert sorted(got) == sorted(expected)
    for layer in expected:
        assert sorted(got[layer]) == sorted(expected[layer]), layer
        for stat in expected[layer]:
            np.testing.assert_allclose(got[layer][stat], expected[layer][stat], rtol=rtol,
                                       atol=1e-300, err_msg=f"{layer}.{stat}")  # fmt: skip


CASES = [
    pytest.param("tanh", None, id="tanh"),
    pytest.param("relu", _kill_first_unit, id="relu-dead-unit"),
    pytest.param("sigmoid", _saturate, id="sigmoid-saturated"),
]


@pytest.mark.parametrize(("activation", "setup"), CASES)
@pytest.mark.parametrize("batch", [N, N // 2], ids=["one-step", "two-steps"])
def test_statistics_equal_a_direct_numpy_computation(backend, activation, setup, batch):
    X, y = _data()
    model = _model(activation, backend, setup)
    expected = _reference(activation, sn.to_numpy(model.parameters()), X, y, 3, batch)
    hist = model.fit(X, y, epochs=3, batch_size=batch, optimizer="sgd", lr=LR, shuffle=False,
                     callbacks=[LayerStats()])  # fmt: skip
    _assert_close(hist.layers, expected)
    for stats in hist.layers.values():
        assert all(len(values) == 3 for values in stats.values())  # one entry per epoch
    if activation == "relu":
        assert hist.layers["activation1"]["dead_fraction"][0] >= 1 / UNITS
    if activation == "sigmoid":
        assert hist.layers["activation1"]["saturated_fraction"][0] > 0.5


def test_the_layer_stats_callback_leaves_training_unchanged(backend):
    X, y = sn.datasets.make_moons(80, noise=0.2, seed=1)
    runs = []
    for callbacks in ([], [LayerStats()]):
        m = sn.Model(hidden=(8, 8), activation="relu", batch_norm=True, dropout=0.2, seed=0,
                     dtype="float64", backend=backend)  # fmt: skip
        h = m.fit(X, y, epochs=3, batch_size=16, lr=0.01, callbacks=callbacks)
        runs.append((sn.to_numpy(m.parameters()), h))
    (plain, h0), (watched, h1) = runs
    for name in plain:
        np.testing.assert_array_equal(plain[name], watched[name], err_msg=name)
    assert h0.history["loss"] == h1.history["loss"]
    assert h0.layers == {}
    # batch norm and dropout layers get no entry; Dense and activation layers do, by name
    assert sorted(h1.layers) == ["activation1", "activation2", "dense1", "dense2", "dense3"]


def test_skipped_batches_are_not_counted():
    X, y = _data()
    X2, y2 = np.concatenate([X, X[::-1]]), np.concatenate([y, y[::-1]])
    weights = np.r_[np.ones(N), np.zeros(N)]  # the second batch of each epoch has weight 0
    one = _model("tanh", "numpy").fit(X, y, epochs=2, batch_size=N, optimizer="sgd", lr=LR,
                                      callbacks=[LayerStats()])  # fmt: skip
    two = _model("tanh", "numpy").fit(X2, y2, epochs=2, batch_size=N, optimizer="sgd", lr=LR,
                                      shuffle=False, sample_weight=weights,
                                      callbacks=[LayerStats()])  # fmt: skip
    _assert_close(two.layers, one.layers, rtol=1e-12)


def test_layer_stats_are_saved_and_loaded_with_the_model(tmp_path):
    X, y = _data()
    m = _model("relu", "numpy", _kill_first_unit)
    hist = m.fit(X, y, epochs=2, batch_size=4, callbacks=[LayerStats()])
    hist.layers["dense1"]["update_ratio"][0] = math.inf  # an exploding step stays infinite
    hist.layers["dense1"]["grad_norm"][1] = -math.inf
    hist.layers["dense1"]["weight_norm"][1] = math.nan  # NaN stays NaN
    m.save(tmp_path / "m.npz")
    loaded = sn.load(tmp_path / "m.npz").history
    assert sorted(loaded.layers) == sorted(hist.layers)
    assert loaded.layers["dense1"]["update_ratio"][0] == math.inf
    assert loaded.layers["dense1"]["grad_norm"][1] == -math.inf
    assert math.isnan(loaded.layers["dense1"]["weight_norm"][1])
    loaded.layers["dense1"]["weight_norm"][1] = hist.layers["dense1"]["weight_norm"][1] = 1.0
    assert loaded.layers == hist.layers
    assert loaded.history == hist.history


def test_histories_without_layers_still_load_and_bad_ones_are_refused():
    old = {"history": {"loss": [1.0, 0.5]}, "epoch": [0, 1], "stopped_by": None}
    h = History.from_dict(old)
    assert h.layers == {} and h.history == {"loss": [1.0, 0.5]}
    assert History.from_dict(h.to_dict()).layers == {}
    with pytest.raises(ValueError, match="layer names"):
        History.from_dict({**old, "layers": {"dense1": [1.0]}})


def test_bad_threshold_is_refused():
    for bad in (0, -1e-3, "small", True):
        with pytest.raises(ValueError, match="threshold"):
            LayerStats(threshold=bad)


def test_plot_layer_stats_draws_one_panel_per_family(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from scratchnet.plots import plot_layer_stats

    assert sn.plots.plot_layer_stats is plot_layer_stats  # where users look for figures

    X, y = _data()
    m = sn.Model(hidden=(4, 4), activation=("relu", "sigmoid"), seed=0)
    hist = m.fit(X, y, epochs=3, batch_size=4, callbacks=[LayerStats()])
    fig = plot_layer_stats(hist)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["gradient norm", "weight norm", "update ratio", "inactive units",
                      "activation mean", "activation std"]  # fmt: skip
    grad_ax = fig.axes[0]
    assert grad_ax.get_yscale() == "log" and fig.axes[1].get_yscale() == "linear"
    assert sorted(line.get_label() for line in grad_ax.get_lines()) == [
        "dense1",
        "dense2",
        "dense3",
    ]
    np.testing.assert_allclose(
        grad_ax.get_lines()[0].get_ydata(), hist.layers["dense1"]["grad_norm"]
    )
    inactive = sorted(line.get_label() for line in fig.axes[3].get_lines())
    assert inactive == ["activation1 dead", "activation2 saturated"]

    one = plot_layer_stats(hist.layers, stats=["grad_norm"], layers=["dense2"],
                           path=tmp_path / "g.png")  # fmt: skip
    assert [ax.get_title() for ax in one.axes] == ["gradient norm"]
    assert (tmp_path / "g.png").stat().st_size > 0
    with pytest.raises(ValueError, match="no layer statistics"):
        plot_layer_stats(History())
    with pytest.raises(ValueError, match="no statistics for layers"):
        plot_layer_stats(hist, layers=["dense7"])
    with pytest.raises(ValueError, match="unknown statistics"):
        plot_layer_stats(hist, stats=["gradnorm"])


def test_the_vanishing_gradients_example_runs_and_writes_its_figure(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    env = {**os.environ, "SCRATCHNET_OFFLINE": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "vanishing_gradients.py"), "--quick",
         "--out", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {line[:22].strip(): line[22:].split() for line in proc.stdout.splitlines()[1:5]}
    assert sorted(rows) == ["ReLU, He", "sigmoid + batch norm", "sigmoid, Xavier", "tanh, Xavier"]
    first, last = (float(v) for v in rows["sigmoid, Xavier"][:2])
    assert first < last / 100  # the sigmoid chain's gradient vanishes towards the input
    for name in ("vanishing_gradients.png", "layer_stats_sigmoid.png"):
        assert (tmp_path / name).stat().st_size > 0, name


def test_a_diverged_epoch_gets_its_entry_from_the_weights_it_reached():
    X, y = _data()
    m = sn.Model(hidden=(UNITS,), activation="relu", output="identity", seed=0)
    stats = LayerStats()
    with pytest.warns(sn.TrainingDivergedWarning):
        h = m.fit(X * 1e3, y * 1e3, epochs=20, batch_size=4, optimizer="sgd", lr=10.0,
                  callbacks=[stats])  # fmt: skip
    assert h.stopped_by == "nan"
    grad_norms = h.layers["dense1"]["grad_norm"]
    assert len(grad_norms) == len(h.epoch)  # the diverged epoch is recorded too
    last = grad_norms[-1]
    assert not math.isfinite(last) or last > 1e3 * grad_norms[0]

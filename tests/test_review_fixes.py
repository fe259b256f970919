"""Regression tests for defects found in review: each test names the behaviour it protects."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from conftest import skip_unavailable

import scratchnet as sn
from scratchnet.layers import Dense


def _blobs(n=60, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    return np.array([[0.0, 3.0], [3.0, 0.0], [-3.0, -3.0]])[y] + rng.normal(size=(n, 2)), y


def test_batches_whose_weights_are_all_zero_are_skipped():
    X, y = _blobs(20)
    w = np.ones(20)
    w[3] = 0.0
    m = sn.Model(hidden=(4,), seed=0)
    hist = m.fit(X, y, epochs=2, batch_size=1, sample_weight=w, shuffle=False)
    assert np.isfinite(hist.history["loss"]).all() and m.steps_done == 2 * 19
    m2 = sn.Model(hidden=(4,), seed=0)
    hist2 = m2.fit(X, y, epochs=2, batch_size=2, class_weight={0: 0.0})
    assert np.isfinite(hist2.history["loss"]).all()


def test_training_accuracy_uses_the_weights_like_validation_accuracy():
    X, y = _blobs(40)
    m = sn.Model(hidden=(8,), seed=0)
    w = (y == 0).astype(float) + 1e-12
    hist = m.fit(X, y, epochs=1, batch_size=None, optimizer="sgd", lr=1e-12, sample_weight=w)
    pred = sn.to_numpy(m.predict(X))
    assert hist.history["accuracy"][0] == pytest.approx(np.mean(pred[y == 0] == 0), abs=1e-6)


def test_training_continues_after_a_divergence():
    X, _ = _blobs(50)
    target = X[:, 0] * 1e20
    m = sn.Model(hidden=(8,), output="identity", seed=0)
    with pytest.warns(sn.TrainingDivergedWarning):
        m.fit(X, target, epochs=5, batch_size=10, optimizer="momentum", lr=0.1)
    for slots in m.optimizer.state.values():
        assert all(np.isfinite(sn.to_numpy(a)).all() for a in slots.values())
    hist = m.fit(X, X[:, 0], epochs=2, batch_size=10, lr=1e-4)
    assert np.isfinite(hist.history["loss"]).all() and hist.stopped_by is None


def test_a_handed_in_optimiser_starts_from_zero_state():
    X, y = _blobs(30)
    opt = sn.Adam(lr=0.01)
    sn.Model(hidden=(8,), seed=0).fit(X, y, epochs=2, optimizer=opt)
    reused = sn.Model(hidden=(16,), seed=1)
    reused.fit(X, y, epochs=2, optimizer=opt)  # other shapes: must not see the old moments
    fresh = sn.Model(hidden=(16,), seed=1)
    fresh.fit(X, y, epochs=2, optimizer=sn.Adam(lr=0.01))
    for name, value in sn.to_numpy(fresh.parameters()).items():
        np.testing.assert_array_equal(sn.to_numpy(reused.parameters())[name], value)


def test_custom_initialiser_output_is_copied():
    W0 = np.full((2, 4), 0.3, dtype=np.float32)
    m = sn.Model(layers=[Dense(4, init=lambda shape, r: W0)], seed=0)
    X, y = _blobs(20)
    m.fit(X, y, epochs=2)
    np.testing.assert_array_equal(W0, np.float32(0.3))
    with pytest.raises(
        ValueError, match=r"init returned an array of shape \(3,\), expected \(2, 4\)"
    ):
        sn.Model(layers=[Dense(4, init=lambda shape, r: np.zeros(3))]).build(2, 2)


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


def test_early_stopping_maximises_r2_and_checkpoint_monitors_strictly(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 2))
    y = X[:, 0] - X[:, 1]
    stop = sn.EarlyStopping(patience=3, monitor="val_r2")
    m = sn.Model(hidden=(8,), output="identity", seed=0)
    hist = m.fit(X, y, epochs=15, batch_size=8, lr=0.01, validation_split=0.25, callbacks=[stop])
    assert hist.best_epoch == int(np.argmax(hist.history["val_r2"]))
    with pytest.raises(ValueError, match="mode must be 'auto', 'min' or 'max'"):
        sn.EarlyStopping(mode="up")
    cb = sn.ModelCheckpoint(tmp_path / "m.npz", monitor="val_accuracy")
    Xc, yc = _blobs(30)
    with pytest.raises(ValueError, match="ModelCheckpoint monitors 'val_accuracy'.*validation"):
        sn.Model(hidden=(4,), seed=0).fit(Xc, yc, epochs=1, callbacks=[cb])
    low = sn.ModelCheckpoint(tmp_path / "best.npz", monitor="loss", mode="max")
    sn.Model(hidden=(4,), seed=0).fit(Xc, yc, epochs=3, lr=0.01, callbacks=[low])
    assert len(low.saved) == 1  # the loss only falls: with mode="max" only epoch 1 is "best"


def test_checkpoints_carry_the_running_history(tmp_path):
    X, y = _blobs(30)
    cb = sn.ModelCheckpoint(tmp_path / "e{epoch}.npz", monitor="loss", save_best_only=False)
    m = sn.Model(hidden=(4,), seed=0)
    m.fit(X, y, epochs=2, callbacks=[cb])
    assert sn.load(tmp_path / "e2.npz").history.epoch == [0, 1]
    m.fit(X, y, epochs=1, callbacks=[cb])
    assert sn.load(tmp_path / "e3.npz").history.epoch == [2]


def test_build_starts_counters_afresh():
    X, y = _blobs(30)
    m = sn.Model(hidden=(4,), seed=0)
    m.fit(X, y, epochs=3)
    m.build(2, 3)
    assert (m.epochs_done, m.steps_done, m.optimizer, m.history) == (0, 0, None, None)
    hist = m.fit(X, y, epochs=2, lr=sn.schedules.CosineDecay(0.01, epochs=2))
    assert hist.history["lr"][0] > 0


def test_batch_norm_needs_two_rows_and_ignores_a_one_row_batch():
    X, y = _blobs(9)
    m = sn.Model(hidden=(4,), batch_norm=True, seed=0)
    with pytest.raises(ValueError, match="at least 2 samples per mini-batch"):
        m.fit(X, y, epochs=1, batch_size=1)
    m.fit(X[:8], y[:8], epochs=1, batch_size=8)
    before = sn.to_numpy(m.state())
    m.fit(X, y, epochs=1, batch_size=8, shuffle=False)  # batches of 8 rows, then 1 row
    after = sn.to_numpy(m.state())
    m2 = sn.Model(hidden=(4,), batch_norm=True, seed=0)
    m2.fit(X[:8], y[:8], epochs=1, batch_size=8)
    m2.fit(X[:8], y[:8], epochs=1, batch_size=8, shuffle=False)
    for key in before:
        np.testing.assert_allclose(after[key], sn.to_numpy(m2.state())[key], rtol=1e-6)


def test_loading_onto_another_device_reseeds_the_device_generator(tmp_path):
    skip_unavailable("array_api_strict")
    X, y = _blobs(30)
    m = sn.Model(hidden=(4,), dropout=0.3, backend="array_api_strict", device="device1", seed=0)
    m.fit(X, y, epochs=1)
    m.save(tmp_path / "m.npz")
    moved = sn.load(tmp_path / "m.npz", device="device2")
    assert moved.backend.device_spec() == "device2"
    moved.fit(X, y, epochs=1)


def test_hostile_headers_and_training_state_are_value_errors(tmp_path):
    import io
    import json
    import zipfile

    bomb = tmp_path / "bomb.npz"
    header = np.lib.format.header_data_from_array_1_0(np.zeros(1, dtype=np.float32))
    header["shape"] = (2**40,)
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    with zipfile.ZipFile(bomb, "w") as zf:
        zf.writestr("__config__.npy", buf.getvalue() + b"\0" * 16)
    with pytest.raises(ValueError, match="declares shape"):
        sn.load(bomb)

    X, y = _blobs(20)
    m = sn.Model(hidden=(4,), seed=0)
    m.fit(X, y, epochs=1)
    good = tmp_path / "good.npz"
    m.save(good)
    with np.load(good) as archive:
        members = {k: archive[k] for k in archive.files}
    config = json.loads(bytes(members["__config__"]).decode())
    del config["training"]["epochs_done"]
    members["__config__"] = np.frombuffer(json.dumps(config).encode(), dtype=np.uint8)
    bad = tmp_path / "bad.npz"
    np.savez(bad, **members)
    with pytest.raises(ValueError, match="malformed training state"):
        sn.load(bad)


def test_plotting_keeps_the_users_matplotlib_backend():
    matplotlib = pytest.importorskip("matplotlib")
    previous = matplotlib.get_backend()
    try:
        matplotlib.use("svg")
        sn.plots.plot_confusion_matrix([0, 1], [0, 1])
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(previous)

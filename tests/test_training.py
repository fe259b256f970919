"""fit(): GD/SGD/mini-batch, validation, weights, early stopping, NaN guard, callbacks, history."""

from __future__ import annotations

import io
import math
import re

import numpy as np
import pytest
from conftest import blobs

import scratchnet as sn
from scratchnet.callbacks import Callback


def _blobs(n=120, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    centers = np.array([[0.0, 3.0], [3.0, 0.0], [-3.0, -3.0]])
    return centers[y] + rng.normal(size=(n, 2)), y


class StepCounter(Callback):
    def __init__(self):
        self.sizes = []

    def on_batch_end(self, batch, logs):
        self.sizes.append(logs["size"])


@pytest.mark.parametrize("batch_size, steps", [(None, 1), (1, 50), (16, 4), (50, 1), (500, 1)])
def test_gd_sgd_and_mini_batch_step_counts(batch_size, steps):
    X, y = _blobs(50)
    m = sn.Model(hidden=(4,), seed=0)
    counter = StepCounter()
    m.fit(X, y, epochs=2, batch_size=batch_size, callbacks=[counter])
    assert m.steps_done == 2 * steps
    assert sum(counter.sizes) == 100
    if batch_size == 16:
        assert counter.sizes[:4] == [16, 16, 16, 2]


def test_full_batch_gd_is_the_notes_update():
    X, y = _blobs(30)
    m = sn.Model(hidden=(4,), activation="tanh", dtype="float64", seed=1)
    start = sn.to_numpy(m.build(2, 3).parameters())
    _, grads = m.loss_and_gradients(X, y)
    m.fit(X, y, epochs=1, batch_size=None, optimizer="gd", lr=0.5)
    for name, value in sn.to_numpy(m.parameters()).items():
        np.testing.assert_allclose(value, start[name] - 0.5 * sn.to_numpy(grads[name]), rtol=1e-12)


def test_rows_are_reshuffled_every_epoch_from_the_seed():
    X, y = _blobs(40)
    seen = []

    def record(Xb, rng):
        seen.append(sn.to_numpy(Xb)[:, 0].copy())
        return Xb

    m = sn.Model(hidden=(3,), seed=5)
    m.fit(X, y, epochs=2, batch_size=40, augment=record)
    # a single batch of all rows is full-batch GD: order is irrelevant and not shuffled
    m2 = sn.Model(hidden=(3,), seed=5)
    m2.fit(X, y, epochs=2, batch_size=39, augment=record)
    first, second = seen[2], seen[4]
    assert not np.array_equal(first, second)
    m3 = sn.Model(hidden=(3,), seed=5)
    m3.fit(X, y, epochs=1, batch_size=39, augment=record)
    np.testing.assert_array_equal(seen[-2], first)  # same seed, same order
    m4 = sn.Model(hidden=(3,), seed=5)
    m4.fit(X, y, epochs=1, batch_size=39, shuffle=False, augment=record)
    np.testing.assert_array_equal(seen[-2], X[:39, 0].astype(np.float32))


def test_bitwise_reproducible_on_numpy():
    X, y = _blobs(200)
    runs = []
    for _ in range(2):
        m = sn.Model(hidden=(16, 8), dropout=0.2, batch_norm=True, seed=7)
        m.fit(X, y, epochs=3, batch_size=16, optimizer="adam", augment=sn.augment.GaussianNoise(0.05),
              validation_split=0.2)  # fmt: skip
        runs.append(sn.to_numpy(m.parameters()))
    for name in runs[0]:
        assert np.array_equal(runs[0][name], runs[1][name]), name


def test_history_keys_and_values():
    X, y = _blobs()
    m = sn.Model(hidden=(8,), seed=0)
    hist = m.fit(X, y, epochs=3, batch_size=16, validation_split=0.25)
    assert set(hist.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"}
    assert all(len(v) == 3 for v in hist.history.values())
    assert hist.epoch == [0, 1, 2] and m.history is hist
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    assert 0.0 <= hist.history["accuracy"][-1] <= 1.0 and hist.history["seconds"][0] > 0
    assert "History(epochs=3" in repr(hist)
    again = m.fit(X, y, epochs=2)
    assert again.epoch == [3, 4]  # epochs continue across fits


def test_regression_history_and_evaluate():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=100)
    m = sn.Model(hidden=(16,), output="identity", seed=0)
    hist = m.fit(X, y, epochs=60, batch_size=20, lr=0.01, validation_data=(X[:20], y[:20]))
    assert set(hist.history) == {"loss", "val_loss", "val_mse", "val_r2", "lr", "seconds"}
    scores = m.evaluate(X, y)
    assert set(scores) == {"loss", "mse", "r2"}
    assert scores["r2"] > 0.9 and scores["loss"] == pytest.approx(scores["mse"] / 2, rel=1e-4)


def test_evaluate_classifier_matches_predictions():
    X, y = _blobs()
    m = sn.Model(hidden=(8,), seed=0)
    m.fit(X, y, epochs=20, batch_size=16, lr=0.01)
    scores = m.evaluate(X, y)
    acc = float(np.mean(sn.to_numpy(m.predict(X)) == y))
    assert scores["accuracy"] == pytest.approx(acc)
    assert scores["accuracy"] > 0.9
    w = (y == 0).astype(float)  # weights on class 0 only
    weighted = m.evaluate(X, y, sample_weight=w)
    assert weighted["accuracy"] == pytest.approx(
        float(np.mean(sn.to_numpy(m.predict(X))[y == 0] == 0))
    )


def test_validation_split_is_stratified():
    y = np.array([0] * 90 + [1] * 10)
    X = np.random.default_rng(0).normal(size=(100, 2))
    held = []

    class Spy(Callback):
        def on_train_begin(self, logs):
            held.append(logs)

    m = sn.Model(hidden=(3,), seed=0)
    from scratchnet.data import split_indices

    train, val = split_indices(100, 0.2, np.random.default_rng(0), y)
    assert np.bincount(y[val]).tolist() == [18, 2]
    assert len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == 100
    m.fit(X, y, epochs=1, validation_split=0.2, callbacks=[Spy()])
    assert held[0]["has_validation"] and held[0]["steps"] == math.ceil(80 / 32)


def test_class_weight_and_sample_weight_change_the_objective():
    X, y = _blobs(60)
    base = sn.Model(hidden=(4,), dtype="float64", seed=0)
    l0, _ = base.loss_and_gradients(X, y)
    weighted = base.copy()
    w = np.where(y == 0, 5.0, 1.0)
    hist_w = weighted.fit(
        X, y, epochs=1, batch_size=None, optimizer="gd", lr=0.0 + 1e-12, sample_weight=w
    )
    cw = base.copy()
    hist_c = cw.fit(
        X, y, epochs=1, batch_size=None, optimizer="gd", lr=1e-12, class_weight={0: 5.0}
    )
    assert hist_w.history["loss"][0] == pytest.approx(hist_c.history["loss"][0], rel=1e-9)
    assert hist_w.history["loss"][0] != pytest.approx(l0, rel=1e-3)
    balanced = base.copy()
    balanced.fit(X, y, epochs=1, class_weight="balanced")


def test_class_weight_shifts_decisions():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 2))
    y = (X[:, 0] + 0.8 * rng.normal(size=400) > 0).astype(int)
    plain = sn.Model(hidden=(8,), output="sigmoid", seed=0)
    plain.fit(X, y, epochs=30, batch_size=32, lr=0.01)
    heavy = sn.Model(hidden=(8,), output="sigmoid", seed=0)
    heavy.fit(X, y, epochs=30, batch_size=32, lr=0.01, class_weight={1: 10.0})
    assert sn.to_numpy(heavy.predict(X)).mean() > sn.to_numpy(plain.predict(X)).mean() + 0.1


def test_early_stopping_patience_restores_best_weights():
    X, y = _blobs(200)
    rng = np.random.default_rng(1)
    y_noisy = np.where(rng.random(200) < 0.3, rng.integers(0, 3, 200), y)
    m = sn.Model(hidden=(64, 64), seed=0)
    stop = sn.EarlyStopping(patience=3)
    hist = m.fit(
        X, y_noisy, epochs=300, batch_size=8, lr=0.01, validation_split=0.3, callbacks=[stop]
    )
    assert hist.stopped_by == "patience" and hist.stopped_epoch is not None
    assert len(hist.epoch) < 300
    best = int(np.argmin(hist.history["val_loss"]))
    assert hist.best_epoch == best == stop.best_epoch
    assert hist.stopped_epoch == best + 3


def test_early_stopping_restored_weights_reproduce_the_best_val_loss():
    X, y = _blobs(150)
    m = sn.Model(hidden=(32,), seed=3)
    Xv, yv = X[:50], (y[:50] + 1) % 3  # a validation set that disagrees, so val_loss rises
    hist = m.fit(X[50:], y[50:], epochs=30, batch_size=10, validation_data=(Xv, yv),
                 callbacks=[sn.EarlyStopping(patience=2)])  # fmt: skip
    assert m.evaluate(Xv, yv)["loss"] == pytest.approx(min(hist.history["val_loss"]), rel=1e-5)


def test_early_stopping_epsilon_rule():
    X, y = _blobs(60)
    m = sn.Model(hidden=(4,), seed=0)
    stop = sn.EarlyStopping(patience=None, epsilon=1e9)  # any decrease is "too small"
    hist = m.fit(X, y, epochs=20, callbacks=[stop])
    assert hist.stopped_by == "epsilon" and len(hist.epoch) == 2  # needs two epochs to compare


def test_early_stopping_rules_together_and_errors():
    X, y = _blobs(60)
    both = sn.EarlyStopping(patience=50, epsilon=1e9, monitor="loss")
    hist = sn.Model(hidden=(4,), seed=0).fit(X, y, epochs=10, callbacks=[both])
    assert hist.stopped_by == "epsilon"
    with pytest.raises(ValueError, match="fit\\(\\) has no validation data"):
        sn.Model(hidden=(4,), seed=0).fit(X, y, epochs=2, callbacks=[sn.EarlyStopping()])
    with pytest.raises(ValueError, match="needs patience"):
        sn.EarlyStopping(patience=None, epsilon=None)
    with pytest.raises(ValueError, match="which fit\\(\\) does not log"):
        sn.Model(hidden=(4,), seed=0).fit(
            X, y, epochs=2, callbacks=[sn.EarlyStopping(monitor="f1")]
        )
    acc = sn.EarlyStopping(patience=2, monitor="val_accuracy")
    sn.Model(hidden=(4,), seed=0).fit(X, y, epochs=3, validation_split=0.3, callbacks=[acc])
    assert acc.best == -max(acc.model.history.history["val_accuracy"][: acc.best_epoch + 1])


def test_divergence_stops_cleanly_and_keeps_the_best_weights():
    X, _ = _blobs(100)
    m = sn.Model(hidden=(16,), output="identity", seed=0)
    target = X[:, 0] * 1e3
    m.fit(X, target, epochs=2, batch_size=10, optimizer="sgd", lr=1e-6)
    good = sn.to_numpy(m.parameters())
    with pytest.warns(sn.TrainingDivergedWarning, match="diverged"):
        hist = m.fit(X, target, epochs=50, batch_size=10, optimizer="sgd", lr=10.0)
    assert hist.stopped_by == "nan"
    assert not math.isfinite(hist.history["loss"][-1])
    restored = sn.to_numpy(m.parameters())
    assert all(np.isfinite(v).all() for v in restored.values())
    if hist.best_epoch is None:  # diverged in the first epoch: the weights from before the fit
        for name in good:
            np.testing.assert_array_equal(restored[name], good[name])
    assert np.isfinite(sn.to_numpy(m.predict(X))).all()


def test_verbose_progress_output():
    X, y = _blobs(64)
    stream = io.StringIO()
    m = sn.Model(hidden=(4,), seed=0)
    m.fit(X, y, epochs=2, batch_size=16, callbacks=[sn.ProgressBar(2, stream=stream)])
    lines = stream.getvalue().strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2 loss=") and "accuracy=" in lines[0]

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    bar = Terminal()  # a bar needs a terminal; elsewhere verbose=1 writes lines
    m.fit(X, y, epochs=1, batch_size=16, callbacks=[sn.ProgressBar(1, stream=bar)])
    assert "epoch 1/1" in bar.getvalue() and "4/4" in bar.getvalue()


def test_verbose_argument_prints(capsys):
    X, y = _blobs(32)
    sn.Model(hidden=(4,), seed=0).fit(X, y, epochs=2, verbose=2)
    out = capsys.readouterr().out
    assert out.count("epoch ") == 2 and "loss=" in out
    sn.Model(hidden=(4,), seed=0).fit(X, y, epochs=1, verbose=1)  # not a terminal: one line
    captured = capsys.readouterr()
    assert "epoch 1/1 loss=" in captured.out and "\r" not in captured.out + captured.err


def test_custom_callback_can_stop_training():
    class StopAfterTwo(Callback):
        def on_epoch_end(self, epoch, logs):
            if epoch == 1:
                self.model.stop_training = True
                self.model.stop_reason = "enough"

    X, y = _blobs(32)
    hist = sn.Model(hidden=(4,), seed=0).fit(X, y, epochs=10, callbacks=[StopAfterTwo()])
    assert hist.stopped_by == "enough" and len(hist.epoch) == 2


def test_model_checkpoint_saves_best(tmp_path):
    X, y = _blobs(60)
    cb = sn.ModelCheckpoint(tmp_path / "best-{epoch}.npz", monitor="val_loss")
    m = sn.Model(hidden=(4,), seed=0)
    m.fit(X, y, epochs=3, validation_split=0.3, callbacks=[cb])
    assert cb.saved and all((tmp_path / p.split("/")[-1]).exists() for p in cb.saved)
    loaded = sn.load(cb.saved[-1])
    assert loaded.epochs_done >= 1


def test_dropout_is_off_at_inference():
    X, y = _blobs(40)
    m = sn.Model(hidden=(16,), dropout=0.5, seed=0)
    m.fit(X, y, epochs=2)
    a, b = sn.to_numpy(m.predict_proba(X)), sn.to_numpy(m.predict_proba(X))
    np.testing.assert_array_equal(a, b)


def test_batch_norm_running_statistics_are_learned_not_optimised():
    X, y = _blobs(100)
    X = X * 5.0 + 10.0
    m = sn.Model(hidden=(8,), batch_norm=True, seed=0)
    m.fit(X, y, epochs=5, batch_size=20)
    state = sn.to_numpy(m.state())
    assert set(state) == {"batchnorm1.running_mean", "batchnorm1.running_var"}
    assert np.abs(state["batchnorm1.running_mean"]).max() > 1.0
    assert not any("running" in k for k in m.optimizer.state)
    assert not any(ly.params.get("c") is not None for ly in m.layers[:1])  # BN replaces the bias


def test_digits_reach_a_sane_accuracy():
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    X, y = digits.data / 16.0, digits.target
    Xtr, Xte, ytr, yte = sn.data.train_test_split(X, y, test_size=0.25, seed=0)
    m = sn.Model(hidden=(64,), seed=0)
    m.fit(Xtr, ytr, epochs=15, batch_size=32, optimizer="adam", lr=3e-3)
    assert m.evaluate(Xte, yte)["accuracy"] > 0.9


def test_weighted_regression_scores_match_scikit_learn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(50, 2)), rng.normal(size=50)
    w = rng.random(50)
    m = sn.Model(hidden=(4,), output="identity", dtype="float64", seed=0)
    m.fit(X, y, epochs=2)
    pred = sn.to_numpy(m.predict(X))
    scores = m.evaluate(X, y, sample_weight=w)
    assert scores["r2"] == pytest.approx(metrics.r2_score(y, pred, sample_weight=w), rel=1e-10)
    assert scores["mse"] == pytest.approx(
        metrics.mean_squared_error(y, pred, sample_weight=w), rel=1e-10
    )
    assert m.evaluate(X, y)["r2"] == pytest.approx(metrics.r2_score(y, pred), rel=1e-10)


def test_batches_whose_weights_are_all_zero_are_skipped():
    X, y = blobs(20)
    w = np.ones(20)
    w[3] = 0.0
    m = sn.Model(hidden=(4,), seed=0)
    hist = m.fit(X, y, epochs=2, batch_size=1, sample_weight=w, shuffle=False)
    assert np.isfinite(hist.history["loss"]).all() and m.steps_done == 2 * 19
    m2 = sn.Model(hidden=(4,), seed=0)
    hist2 = m2.fit(X, y, epochs=2, batch_size=2, class_weight={0: 0.0})
    assert np.isfinite(hist2.history["loss"]).all()


def test_training_accuracy_uses_the_weights_like_validation_accuracy():
    X, y = blobs(40)
    m = sn.Model(hidden=(8,), seed=0)
    w = (y == 0).astype(float) + 1e-12
    hist = m.fit(X, y, epochs=1, batch_size=None, optimizer="sgd", lr=1e-12, sample_weight=w)
    pred = sn.to_numpy(m.predict(X))
    assert hist.history["accuracy"][0] == pytest.approx(np.mean(pred[y == 0] == 0), abs=1e-6)


def test_training_continues_after_a_divergence():
    X, _ = blobs(50)
    target = X[:, 0] * 1e20
    m = sn.Model(hidden=(8,), output="identity", seed=0)
    with pytest.warns(sn.TrainingDivergedWarning):
        m.fit(X, target, epochs=5, batch_size=10, optimizer="momentum", lr=0.1)
    for flat in m.optimizer.state.values():
        assert np.isfinite(sn.to_numpy(flat)).all()
    hist = m.fit(X, X[:, 0], epochs=2, batch_size=10, lr=1e-4)
    assert np.isfinite(hist.history["loss"]).all() and hist.stopped_by is None


def test_a_handed_in_optimiser_starts_from_zero_state():
    X, y = blobs(30)
    opt = sn.Adam(lr=0.01)
    sn.Model(hidden=(8,), seed=0).fit(X, y, epochs=2, optimizer=opt)
    reused = sn.Model(hidden=(16,), seed=1)
    reused.fit(X, y, epochs=2, optimizer=opt)  # other shapes: must not see the old moments
    fresh = sn.Model(hidden=(16,), seed=1)
    fresh.fit(X, y, epochs=2, optimizer=sn.Adam(lr=0.01))
    for name, value in sn.to_numpy(fresh.parameters()).items():
        np.testing.assert_array_equal(sn.to_numpy(reused.parameters())[name], value)


def test_build_starts_counters_afresh():
    X, y = blobs(30)
    m = sn.Model(hidden=(4,), seed=0)
    m.fit(X, y, epochs=3)
    m.build(2, 3)
    assert (m.epochs_done, m.steps_done, m.optimizer, m.history) == (0, 0, None, None)
    hist = m.fit(X, y, epochs=2, lr=sn.schedules.CosineDecay(0.01, epochs=2))
    assert hist.history["lr"][0] > 0


def test_batch_norm_needs_two_rows_and_ignores_a_one_row_batch():
    X, y = blobs(9)
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
    Xc, yc = blobs(30)
    with pytest.raises(ValueError, match="ModelCheckpoint monitors 'val_accuracy'.*validation"):
        sn.Model(hidden=(4,), seed=0).fit(Xc, yc, epochs=1, callbacks=[cb])
    low = sn.ModelCheckpoint(tmp_path / "best.npz", monitor="loss", mode="max")
    sn.Model(hidden=(4,), seed=0).fit(Xc, yc, epochs=3, lr=0.01, callbacks=[low])
    assert len(low.saved) == 1  # the loss only falls: with mode="max" only epoch 1 is "best"


def test_checkpoints_carry_the_running_history(tmp_path):
    X, y = blobs(30)
    cb = sn.ModelCheckpoint(tmp_path / "e{epoch}.npz", monitor="loss", save_best_only=False)
    m = sn.Model(hidden=(4,), seed=0)
    m.fit(X, y, epochs=2, callbacks=[cb])
    assert sn.load(tmp_path / "e2.npz").history.epoch == [0, 1]
    m.fit(X, y, epochs=1, callbacks=[cb])
    assert sn.load(tmp_path / "e3.npz").history.epoch == [2]


# ----- the divergence guard: what trips it and what it restores -------------------------------
class _RaiseLearningRate(Callback):
    """Healthy training until ``at``, then a learning rate that makes it diverge."""

    def __init__(self, at, lr):
        self.at, self.lr = at, lr

    def on_epoch_end(self, epoch, logs):
        if epoch == self.at:
            self.model.optimizer.schedule = sn.schedules.as_schedule(self.lr)


def _reported_loss(record):
    match = re.search(r"measured now, is (\S+) \(", str(record.message))
    assert match, str(record.message)
    return float(match.group(1))


def test_an_exploding_loss_is_caught_in_the_first_epoch_and_nothing_predicts_from_nan():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4)) * 100
    y = (X[:, 0] > 0).astype(int)
    m = sn.Model(hidden=(16,), seed=0)
    initial = sn.to_numpy(m.build(4, 2).parameters())
    with pytest.warns(sn.TrainingDivergedWarning, match=r"in epoch 1, the training loss exploded"):
        hist = m.fit(X, y, epochs=20, optimizer="sgd", lr=10.0)  # today's 8e32 epoch
    assert hist.stopped_by == "nan" and hist.best_epoch is None and len(hist.epoch) == 1
    assert 1e20 < hist.history["loss"][0] < math.inf
    for name, value in sn.to_numpy(m.parameters()).items():
        np.testing.assert_array_equal(value, initial[name])
    assert sn.to_numpy(m.predict(X)).shape == (200,)  # every row has finite outputs


def test_the_restored_weights_have_the_loss_the_warning_reports():
    X, y = _blobs(120)
    m = sn.Model(hidden=(16,), seed=0)
    with pytest.warns(sn.TrainingDivergedWarning, match="reached after epoch 4") as records:
        hist = m.fit(X, y, epochs=10, batch_size=16, optimizer="sgd", lr=0.05,
                     callbacks=[_RaiseLearningRate(3, 1e3)])  # fmt: skip
    assert len(hist.epoch) == 5 and hist.best_epoch == 3
    reported = _reported_loss(records[0])
    assert m.evaluate(X, y)["loss"] == pytest.approx(reported, rel=1e-5)
    assert reported < min(hist.history["loss"][:4])  # the end of the best epoch, measured


def test_weights_whose_loss_is_not_finite_are_never_restored():
    X, y = _blobs(120)
    m = sn.Model(hidden=(16,), seed=0)
    before = sn.to_numpy(m.build(2, 3).parameters())
    # one GD step per epoch: epoch 1 is measured at the initial weights and looks healthy, but
    # its update leaves weights (finite, ~1e30) whose outputs overflow
    with pytest.warns(sn.TrainingDivergedWarning, match="from before this fit") as records:
        hist = m.fit(X, y, epochs=5, batch_size=None, optimizer="sgd", lr=1e30)
    assert math.isfinite(hist.history["loss"][0]) and not math.isfinite(hist.history["loss"][1])
    assert hist.best_epoch is None
    for name, value in sn.to_numpy(m.parameters()).items():
        np.testing.assert_array_equal(value, before[name])
    assert m.evaluate(X, y)["loss"] == pytest.approx(_reported_loss(records[0]), rel=1e-5)
    assert sn.to_numpy(m.predict(X)).shape == (120,)


def test_parameters_that_turn_infinite_trip_the_guard_even_when_the_loss_is_finite():
    X, y = _blobs(60)
    m = sn.Model(hidden=(8,), seed=0)
    with pytest.warns(sn.TrainingDivergedWarning, match="the parameters became NaN or infinite"):
        hist = m.fit(X, y, epochs=3, batch_size=None, optimizer="sgd", lr=1e300)
    assert len(hist.epoch) == 1 and math.isfinite(hist.history["loss"][0])
    assert all(np.isfinite(v).all() for v in sn.to_numpy(m.parameters()).values())


def test_the_divergence_rule_and_its_numbers_are_documented():
    from scratchnet import guards

    assert guards.EXPLOSION_FACTOR == 1e6 and guards.EXPLOSION_FLOOR == 1e3
    doc = guards.DivergenceGuard.__doc__
    assert "EXPLOSION_FACTOR" in doc and "start of every epoch" in doc


def test_a_tiny_loss_that_rises_a_millionfold_below_the_floor_does_not_trip():
    from scratchnet.guards import DivergenceGuard

    m = sn.Model(hidden=(2,), seed=0).build(2, 2)
    m.optimizer = sn.SGD(0.1)
    guard = DivergenceGuard(m)
    for epoch, loss in enumerate([1e-9, 1e-8, 5e-3, 2.0]):  # 2.0 is 2e9 x the lowest, < floor
        guard.begin_epoch(epoch)
        assert guard.check(epoch, {"loss": loss}, loss, loss)
    guard.begin_epoch(4)
    assert not guard.check(4, {"loss": 2e3}, 2e3, 2e3)  # above the floor and 1e6 x the lowest
    assert "exploded" in guard.reason

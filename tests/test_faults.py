"""Faults: a save killed mid-write, a fit interrupted mid-epoch, a run resumed from its checkpoint.

- SIGKILL at any moment of a save leaves the previous file loadable (the archive is written to a
  hidden temporary file and renamed over the target in one step), and what stays behind is only
  hidden ``.<name>.<random>.tmp`` files, never something that looks like a model.
- ``KeyboardInterrupt`` raised from a callback mid-epoch leaves a model that predicts, evaluates
  and trains on, with finite parameters.
- Training resumed from the last epoch's checkpoint ends with the same bits as an uninterrupted
  run (NumPy, float64).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import scratchnet as sn

ROOT = Path(sn.__file__).resolve().parent.parent

# A child that builds a model of ~46 MB (float64, 2 x 2048 hidden units) and saves it over the
# target, saying when it starts; "stall" makes it stop for good right after the temporary file is
# written and flushed, before the rename (scratchnet.io calls os.fsync on it first).
CHILD = r"""
import os, sys, time
import scratchnet as sn
target, mode = sys.argv[1], sys.argv[2]
model = sn.Model(hidden=(2048, 2048), seed=1, dtype="float64").build(784, 10)
if mode == "stall":
    real_fsync = os.fsync
    def fsync(fd):
        real_fsync(fd)
        print("written", flush=True)
        time.sleep(600)
    os.fsync = fsync
print("saving", flush=True)
start = time.perf_counter()
model.save(target)
print("saved", time.perf_counter() - start, flush=True)
"""


def _child(target: Path, mode: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", CHILD, str(target), mode], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def _wait_for(proc: subprocess.Popen, word: str) -> str:
    line = proc.stdout.readline()
    if not line.startswith(word):
        proc.kill()
        raise AssertionError(f"child said {line!r}, not {word!r}: {proc.stderr.read()}")
    return line


def _kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    proc.stderr.close()


def _is_old(model, old) -> bool:
    if model.get_config()["hidden"] != old.get_config()["hidden"]:
        return False
    new = sn.to_numpy(model.parameters())
    return all(np.array_equal(new[k], v) for k, v in sn.to_numpy(old.parameters()).items())


def test_sigkill_during_save_leaves_the_old_file(tmp_path):
    old = sn.Model(hidden=(8,), seed=0).build(5, 3)
    target = tmp_path / "model.npz"
    old.save(target)

    # a complete save first: it tells how long a save takes, and the new file must load
    scratch = tmp_path / "complete" / "model.npz"
    scratch.parent.mkdir()
    proc = _child(scratch, "complete")
    _wait_for(proc, "saving")
    seconds = float(_wait_for(proc, "saved").split()[1])
    proc.wait(timeout=60)
    proc.stdout.close()
    proc.stderr.close()
    assert sn.load(scratch).get_config()["hidden"] == [2048, 2048]

    # killed right after the temporary file is complete, before the rename: the old file stays
    proc = _child(target, "stall")
    _wait_for(proc, "saving")
    _wait_for(proc, "written")
    _kill(proc)
    assert _is_old(sn.load(target), old)

    # killed at several moments of the save: the target is the old model or the whole new one
    outcomes = []
    for fraction in (0.0, 0.2, 0.45, 0.7, 0.95):
        proc = _child(target, "complete")
        _wait_for(proc, "saving")
        time.sleep(fraction * seconds)
        _kill(proc)
        loaded = sn.load(target)  # never a partial file: a ValueError here fails the test
        outcomes.append("old" if _is_old(loaded, old) else "new")
        if outcomes[-1] == "new":
            assert loaded.get_config()["hidden"] == [2048, 2048]
            old.save(target)  # back to the old model for the next kill
    assert "old" in outcomes, outcomes

    # what the kills left behind is hidden and never named like a model
    for path in tmp_path.iterdir():
        if path.name in ("model.npz", "complete"):
            continue
        assert re.fullmatch(r"\.model\.npz\.[0-9a-f]{8}\.tmp", path.name), path.name
    assert sorted(p.name for p in tmp_path.glob("*.npz")) == ["model.npz"]


# ----------------------------------------------------------------------------------------------
# interrupted training
class Interrupt(sn.Callback):
    """Raises KeyboardInterrupt (what Ctrl-C raises) after batch ``batch`` of epoch ``epoch``."""

    def __init__(self, epoch: int, batch: int) -> None:
        self.at = (epoch, batch)
        self.epoch = -1

    def on_epoch_begin(self, epoch, logs):
        self.epoch = epoch

    def on_batch_end(self, batch, logs):
        if (self.epoch, batch) == self.at:
            raise KeyboardInterrupt


def _data(seed=3):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(80, 4)), rng.integers(0, 3, size=80)


def _model():
    return sn.Model(hidden=(8,), dropout=0.2, batch_norm=True, seed=4, dtype="float64")


def _fit(model, X, y, epochs, callbacks=()):
    return model.fit(X, y, epochs=epochs, batch_size=16, optimizer="adam",
                     lr=sn.schedules.StepDecay(0.01, 0.5, 1), callbacks=list(callbacks))  # fmt: skip


def test_keyboard_interrupt_mid_epoch_leaves_a_usable_model():
    X, y = _data()
    model = _model()
    with pytest.raises(KeyboardInterrupt):
        _fit(model, X, y, 5, [Interrupt(epoch=2, batch=3)])
    assert model.epochs_done == 2  # the third epoch did not finish
    for value in sn.to_numpy(model.parameters()).values():
        assert np.isfinite(value).all()
    for value in sn.to_numpy(model.state()).values():
        assert np.isfinite(value).all()
    proba = sn.to_numpy(model.predict_proba(X))
    assert proba.shape == (80, 3) and np.allclose(proba.sum(axis=1), 1.0)
    assert set(np.unique(sn.to_numpy(model.predict(X)))) <= {0, 1, 2}
    assert np.isfinite(model.evaluate(X, y)["loss"])
    model.fit(X, y, epochs=2, batch_size=16)  # trains on, same optimiser
    assert model.epochs_done == 4
    for value in sn.to_numpy(model.parameters()).values():
        assert np.isfinite(value).all()


def test_resuming_from_the_last_checkpoint_after_an_interrupt_is_bit_exact(tmp_path):
    X, y = _data()
    straight = _model()
    _fit(straight, X, y, 4, [sn.ModelCheckpoint(tmp_path / "s{epoch}.npz", save_best_only=False)])

    run = _model()
    checkpoints = sn.ModelCheckpoint(tmp_path / "r{epoch}.npz", save_best_only=False)
    with pytest.raises(KeyboardInterrupt):
        _fit(run, X, y, 4, [checkpoints, Interrupt(epoch=2, batch=1)])
    assert [Path(p).name for p in checkpoints.saved] == ["r1.npz", "r2.npz"]

    resumed = sn.load(tmp_path / "r2.npz")  # the last epoch boundary before the interrupt
    assert resumed.epochs_done == 2
    resumed.fit(X, y, epochs=2, batch_size=16)  # optimiser, schedule and generators come back
    for name, value in sn.to_numpy(straight.parameters()).items():
        assert np.array_equal(sn.to_numpy(resumed.parameters())[name], value), name
    for name, value in sn.to_numpy(straight.state()).items():
        assert np.array_equal(sn.to_numpy(resumed.state())[name], value), name
    assert resumed.history.epoch == [2, 3]
    assert resumed.history.history["loss"] == straight.history.history["loss"][2:]

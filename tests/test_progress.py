"""Progress output people can read: lines when not on a terminal, and what stopped training."""

from __future__ import annotations

import io
import sys
import types

import numpy as np
from conftest import blobs

import scratchnet as sn


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _fit(stream, verbose=1, **kwargs):
    X, y = blobs(60)
    bar = sn.ProgressBar(verbose, stream=stream)
    m = sn.Model(hidden=(4,), seed=0)
    history = m.fit(X, y, epochs=3, batch_size=10, callbacks=[bar, *kwargs.pop("callbacks", [])],
                    **kwargs)  # fmt: skip
    return history, stream.getvalue()


def test_verbose_1_writes_one_line_per_epoch_when_the_output_is_not_a_terminal():
    _, text = _fit(io.StringIO())
    lines = text.strip().splitlines()
    assert len(lines) == 3 and lines[0].startswith("epoch 1/3 ") and "\r" not in text
    assert all("loss" in line for line in lines)


def test_ipykernel_imported_outside_a_kernel_still_gives_lines(monkeypatch):
    """Importing ipykernel (a test runner, a tool) is not running in Jupyter: no bar in a log."""
    shell = types.SimpleNamespace()  # an IPython terminal shell has no kernel
    ipython = types.SimpleNamespace(get_ipython=lambda: shell)
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    _, text = _fit(io.StringIO())
    assert len(text.strip().splitlines()) == 3 and "\r" not in text
    shell.kernel = object()  # inside a Jupyter kernel the bar redraws in the notebook
    _, text = _fit(io.StringIO())
    assert "\r" in text


def test_verbose_1_draws_a_bar_on_a_terminal():
    _, text = _fit(_Terminal())
    assert "\r" in text  # tqdm redraws in place
    assert "epoch 3/3" in text


def test_early_stopping_announces_the_rule_and_the_restored_epoch():
    X, y = blobs(80)
    noise = np.random.default_rng(0).normal(size=X.shape) * 5  # validation that stops improving
    stop = sn.EarlyStopping(patience=2)
    stream = io.StringIO()
    m = sn.Model(hidden=(8,), seed=0)
    history = m.fit(X, y, epochs=60, batch_size=8, lr=0.05, callbacks=[stop,
                    sn.ProgressBar(1, stream=stream)], validation_data=(X + noise, y))  # fmt: skip
    assert history.stopped_by == "patience"
    last = stream.getvalue().strip().splitlines()[-1]
    stopped_at = len(history.epoch)
    assert last == (
        f"stopped at epoch {stopped_at}: val_loss has not improved for 2 epochs; "
        f"restored the weights of epoch {history.best_epoch + 1}"
    )
    assert stop.message == last


def test_the_epsilon_rule_and_a_full_run_with_restored_weights_are_announced():
    stop = sn.EarlyStopping(patience=None, epsilon=10.0)  # any epoch's fall is below 10
    _, text = _fit(io.StringIO(), callbacks=[stop])
    assert "stopped at epoch 2: the training loss fell by less than 10 for 1 epoch" in text
    full = sn.EarlyStopping(patience=100, monitor="loss")
    _, text = _fit(io.StringIO(), callbacks=[full])
    assert text.strip().splitlines()[-1].startswith("trained every epoch; restored the weights of")


def test_nothing_is_announced_without_a_stopping_callback():
    _, text = _fit(io.StringIO())
    assert "stopped" not in text and "restored" not in text

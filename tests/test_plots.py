"""Plots: files are written, values are right, bad input is refused."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.plots import confusion_matrix

pytest.importorskip("matplotlib")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def trained():
    X, y = sn.datasets.make_moons(120, noise=0.2, seed=0)
    m = sn.Model(hidden=(8,), activation="tanh", seed=0)
    hist = m.fit(X, y, epochs=4, batch_size=16, lr=0.01, validation_split=0.25,
                 callbacks=[sn.EarlyStopping(patience=10)])  # fmt: skip
    return m, hist, X, y


def test_learning_curves_png(trained, tmp_path):
    _, hist, _, _ = trained
    path = tmp_path / "curves.png"
    fig = hist.plot(path=path)
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "accuracy"]
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert labels[:2] == ["loss", "val_loss"] and any("restored" in lab for lab in labels)


def test_history_plot_errors(trained):
    with pytest.raises(ValueError, match="history is empty"):
        sn.plots.plot_history({})
    with pytest.raises(ValueError, match="none of the requested metrics"):
        sn.plots.plot_history(trained[1], metrics=["f1"])


def test_decision_boundary_png(trained, tmp_path):
    m, _, X, y = trained
    path = tmp_path / "boundary.png"
    sn.plots.plot_decision_boundary(m, X, y, resolution=50, path=path)
    assert path.read_bytes()[:8] == PNG_MAGIC
    with pytest.raises(ValueError, match=r"need 2-D inputs of shape \(n, 2\)"):
        sn.plots.plot_decision_boundary(m, np.ones((3, 3)), np.zeros(3))


def test_confusion_matrix_counts_and_png(tmp_path):
    np.testing.assert_array_equal(confusion_matrix([0, 1, 1, 2, 2], [0, 1, 2, 2, 0]),
                                  [[1, 0, 0], [0, 1, 1], [1, 0, 1]])  # fmt: skip
    assert confusion_matrix([0, 1], [1, 1], n_classes=4).shape == (4, 4)
    with pytest.raises(ValueError, match="y_true has 2 labels, y_pred 3"):
        confusion_matrix([0, 1], [0, 1, 1])
    path = tmp_path / "cm.png"
    fig = sn.plots.plot_confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2], labels=["a", "b", "c"],
                                         normalize=True, path=path)  # fmt: skip
    assert path.read_bytes()[:8] == PNG_MAGIC and "accuracy 0.750" in fig.axes[0].get_title()


def test_compare_histories(trained, tmp_path):
    _, hist, _, _ = trained
    fig = sn.plots.plot_histories({"a": hist, "b": hist}, "val_loss", path=tmp_path / "c.png")
    assert [line.get_label() for line in fig.axes[0].lines] == ["a", "b"]
    with pytest.raises(ValueError, match="did not log 'val_r2'"):
        sn.plots.plot_histories({"a": hist}, "val_r2")


def test_decision_boundaries_side_by_side(trained, tmp_path):
    m, _, X, y = trained
    fig = sn.plots.plot_decision_boundaries(
        {"a": m, "b": m}, X, y, resolution=30, path=tmp_path / "b.png"
    )
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"]
    assert (tmp_path / "b.png").read_bytes()[:8] == PNG_MAGIC
    with pytest.raises(ValueError, match="models is empty"):
        sn.plots.plot_decision_boundaries({}, X, y)


def test_plotting_keeps_the_users_matplotlib_backend():
    matplotlib = pytest.importorskip("matplotlib")
    previous = matplotlib.get_backend()
    try:
        matplotlib.use("svg")
        sn.plots.plot_confusion_matrix([0, 1], [0, 1])
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(previous)

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


@pytest.mark.parametrize("normalize", [None, "true", "pred", "all"])
def test_confusion_matrix_normalisation_matches_scikit_learn(normalize):
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 4, size=200)
    y_pred = np.where(rng.random(200) < 0.6, y_true, rng.integers(0, 4, size=200))
    y_true[y_true == 3] = 2  # class 3 never occurs: an empty row (and a sparse column)
    for k in (None, 5):  # class 4 is neither true nor predicted: an empty row and column
        got = confusion_matrix(y_true, y_pred, n_classes=k, normalize=normalize)
        want = metrics.confusion_matrix(
            y_true, y_pred, labels=list(range(k or 4)), normalize=normalize
        )
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-15)
        assert got.dtype == (np.int64 if normalize is None else np.float64)


def test_confusion_matrix_normalisation_sums():
    y_true, y_pred = [0, 0, 1, 1, 1, 2], [0, 1, 1, 1, 2, 2]
    np.testing.assert_allclose(confusion_matrix(y_true, y_pred, normalize="true").sum(1), 1.0)
    np.testing.assert_allclose(confusion_matrix(y_true, y_pred, normalize="pred").sum(0), 1.0)
    assert confusion_matrix(y_true, y_pred, normalize="all").sum() == pytest.approx(1.0)
    assert confusion_matrix(y_true, y_pred, normalize="pred")[1, 1] == pytest.approx(2 / 3)


def test_confusion_matrix_refuses_bad_input():
    with pytest.raises(ValueError, match="normalize must be one of None, 'true', 'pred' or 'all'"):
        confusion_matrix([0, 1], [0, 1], normalize="rows")
    with pytest.raises(ValueError, match=r"y_pred must hold class indices in 0\.\.1"):
        confusion_matrix([0, 1], [0, 2], n_classes=2)
    with pytest.raises(ValueError, match="y_true must hold class indices"):
        confusion_matrix([-1, 1], [0, 1])
    with pytest.raises(ValueError, match="normalize must be one of"):
        sn.plots.plot_confusion_matrix([0, 1], [0, 1], normalize="columns")


@pytest.mark.parametrize(
    ("normalize", "cell", "heading"),
    [(None, "1", ""), ("true", "1.00", "rows sum to 1"), ("pred", "0.50", "columns sum to 1"),
     ("all", "0.25", "shares")],
)  # fmt: skip
def test_confusion_matrix_plot_shows_the_chosen_values(normalize, cell, heading, tmp_path):
    fig = sn.plots.plot_confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2], normalize=normalize,
                                         path=tmp_path / "cm.png")  # fmt: skip
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]  # row-major: the last is cell (2, 2)
    assert texts[8] == cell
    assert heading in ax.get_title()


def _legend_texts(ax):
    legend = ax.get_legend()
    assert legend is not None, "the panel has no legend"
    return [t.get_text() for t in legend.get_texts()]


def test_decision_boundary_has_axis_labels_and_a_legend(trained):
    m, _, X, y = trained
    fig = sn.plots.plot_decision_boundary(m, X, y, resolution=20)
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("feature 0", "feature 1")
    assert _legend_texts(ax) == ["0", "1"]
    fig = sn.plots.plot_decision_boundary(m, X, y, resolution=20, feature_names=["x1", "x2"],
                                          class_names=["lower moon", "upper moon"])  # fmt: skip
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x1", "x2")
    assert _legend_texts(ax) == ["lower moon", "upper moon"]


def test_decision_boundary_legend_has_one_entry_per_class():
    X, y = sn.datasets.make_spirals(90, n_classes=3, seed=0)
    m = sn.Model(hidden=(8,), seed=0)
    m.fit(X, y, epochs=1, batch_size=32)
    fig = sn.plots.plot_decision_boundary(m, X, y.astype(np.float64), resolution=10)
    assert _legend_texts(fig.axes[0]) == ["0", "1", "2"]


def test_decision_boundaries_label_every_panel(trained):
    m, _, X, y = trained
    fig = sn.plots.plot_decision_boundaries({"a": m, "b": m}, X, y, resolution=10,
                                            feature_names=("u", "v"), class_names=("no", "yes"))  # fmt: skip
    for ax in fig.axes:
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("u", "v")
        assert _legend_texts(ax) == ["no", "yes"]


def test_decision_boundary_refuses_wrong_names(trained):
    m, _, X, y = trained
    with pytest.raises(ValueError, match="class_names must be a sequence of 2 names"):
        sn.plots.plot_decision_boundary(m, X, y, resolution=5, class_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="feature_names must be a sequence of 2 names"):
        sn.plots.plot_decision_boundary(m, X, y, resolution=5, feature_names="xy")
    with pytest.raises(ValueError, match=r"y must hold one class per row of X"):
        sn.plots.plot_decision_boundary(m, X, y[:-1], resolution=5)

"""Pictures where a picture beats a number: learning curves, decision boundaries, confusion matrices.

Matplotlib is an optional dependency (``pip install 'scratchnet[plot]'``); it is imported when a
plotting function is called, never by ``import scratchnet``. Each function returns the matplotlib
``Figure`` and, given ``path``, saves it (PNG by suffix) and closes it.

>>> import numpy as np, scratchnet as sn
>>> X, y = sn.datasets.make_moons(200, noise=0.2, seed=0)
>>> m = sn.Model(hidden=(16,), activation="tanh", seed=0)
>>> hist = m.fit(X, y, epochs=20, batch_size=16, lr=0.01)
>>> fig = sn.plots.plot_history(hist)             # doctest: +SKIP
>>> fig = sn.plots.plot_decision_boundary(m, X, y)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .backends import to_numpy
from .layer_stats import FAMILIES


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt  # picks a non-interactive backend on headless machines
    except ImportError as exc:
        raise ImportError(f"plots need matplotlib: pip install 'scratchnet[plot]' ({exc})") from exc
    return plt


def _finish(fig: Any, path: str | os.PathLike | None) -> Any:
    if path is not None:
        fig.savefig(path, dpi=120, bbox_inches="tight")
        _pyplot().close(fig)
    return fig


def plot_history(
    history: Any,
    metrics: Sequence[str] | None = None,
    path: str | os.PathLike | None = None,
    title: str | None = None,
) -> Any:
    """Learning curves: one panel per metric, training and validation side by side.

    Parameters
    ----------
    history : History or dict
        What ``fit`` returned (or its ``.history`` dict).
    metrics : sequence of str, optional
        Base names to plot (default: ``loss`` and, when logged, ``accuracy``).
    path : str or path-like, optional
        Save the figure there (and close it).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    logs = history.history if hasattr(history, "history") else dict(history)
    if not logs:
        raise ValueError("the history is empty: train for at least one epoch first")
    epochs = getattr(history, "epoch", None) or list(range(len(next(iter(logs.values())))))
    if metrics is None:
        metrics = [m for m in ("loss", "accuracy", "r2") if m in logs or f"val_{m}" in logs]
    metrics = [m for m in metrics if m in logs or f"val_{m}" in logs]
    if not metrics:
        raise ValueError(f"none of the requested metrics were logged; logged: {sorted(logs)}")
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.6), squeeze=False)
    x = np.asarray(epochs) + 1
    best = getattr(history, "best_epoch", None)
    from matplotlib.ticker import MaxNLocator

    for ax, metric in zip(axes[0], metrics, strict=True):
        for key, style in ((metric, "-"), (f"val_{metric}", "--")):
            if key in logs:
                ax.plot(x, logs[key], style, marker="o", markersize=3, label=key)
        if best is not None:
            ax.axvline(best + 1, color="grey", linestyle=":", label=f"restored (epoch {best + 1})")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    stopped = getattr(history, "stopped_by", None)
    heading = title or "learning curves"
    if stopped:
        heading += f" (stopped: {stopped})"
    fig.suptitle(heading)
    fig.tight_layout()
    return _finish(fig, path)


def plot_histories(
    histories: dict[str, Any],
    metric: str = "val_loss",
    path: str | os.PathLike | None = None,
    title: str | None = None,
) -> Any:
    """One metric of several fits in one panel, e.g. validation losses of competing regularisers.

    Parameters
    ----------
    histories : dict of str -> History
        Curve label -> what ``fit`` returned.
    metric : str
        A logged key (``"val_loss"``, ``"accuracy"``, ...).
    path, title : optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for label, hist in histories.items():
        if metric not in hist.history:
            raise ValueError(f"{label!r} did not log {metric!r}; it logged {sorted(hist.history)}")
        ax.plot([e + 1 for e in hist.epoch], hist.history[metric], label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_title(title or metric)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return _finish(fig, path)


def _class_colors(k: int) -> Any:
    """``k`` distinct colours (RGBA rows): matplotlib's tab10 up to 10 classes, else tab20/turbo."""
    from matplotlib import colormaps

    if k <= 10:
        return colormaps["tab10"](np.arange(k))
    if k <= 20:
        return colormaps["tab20"](np.arange(k))
    return colormaps["turbo"](np.linspace(0, 1, k))


def _label_text(value: Any) -> str:
    """A class label as legend text: ``1.0`` reads ``1``."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _names(given: Sequence[str] | None, count: int, what: str, default: Sequence[str]) -> list[str]:
    if given is None:
        return list(default)
    if isinstance(given, str) or len(given) != count:
        raise ValueError(f"{what} must be a sequence of {count} names, got {given!r}")
    return [str(name) for name in given]


def plot_decision_boundary(
    model: Any,
    X: Any,
    y: Any,
    resolution: int = 200,
    path: str | os.PathLike | None = None,
    title: str | None = None,
    ax: Any = None,
    feature_names: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
) -> Any:
    """Predicted classes over the plane, with the data on top (2-D inputs only).

    Each class has one colour in the background (where the model predicts it) and for the points
    (whose true class it is); the legend names the classes of ``y``.

    Parameters
    ----------
    model : Model or estimator
        Anything with ``predict`` on (n, 2) arrays.
    X : array of shape (n, 2)
    y : array of shape (n,)
        True classes of the rows of ``X``.
    resolution : int
        Grid points per axis.
    path, title : optional
    ax : matplotlib Axes, optional
        Draw into it instead of a new figure.
    feature_names : sequence of 2 str, optional
        Axis labels (default ``"feature 0"``, ``"feature 1"``).
    class_names : sequence of str, optional
        Legend entries, one per distinct value of ``y`` in sorted order (default: the values).

    Returns
    -------
    matplotlib.figure.Figure
    """
    X, y = to_numpy(X), np.asarray(to_numpy(y))
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"decision boundaries need 2-D inputs of shape (n, 2), got {X.shape}")
    if y.shape != (X.shape[0],):
        raise ValueError(
            f"y must hold one class per row of X, shape ({X.shape[0]},), got {y.shape}"
        )
    axis_names = _names(feature_names, 2, "feature_names", ("feature 0", "feature 1"))
    pad = 0.1 * (X.max(axis=0) - X.min(axis=0)) + 1e-9
    lo, hi = X.min(axis=0) - pad, X.max(axis=0) + pad
    gx, gy = np.meshgrid(
        np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    )
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    zz = np.asarray(to_numpy(model.predict(grid))).reshape(gx.shape)
    true_classes = np.unique(y)
    legend_names = _names(class_names, true_classes.size, "class_names",
                          [_label_text(c) for c in true_classes])  # fmt: skip
    classes = np.unique(np.concatenate([true_classes, np.unique(zz)]))  # colour index per class
    colors = _class_colors(classes.size)
    plt = _pyplot()
    from matplotlib.colors import ListedColormap

    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 4.5))
    else:
        fig = ax.figure
    ax.contourf(gx, gy, np.searchsorted(classes, zz), levels=np.arange(classes.size + 1) - 0.5,
                cmap=ListedColormap(colors), alpha=0.3)  # fmt: skip
    for value, name in zip(true_classes, legend_names, strict=True):
        rows = y == value
        color = colors[int(np.searchsorted(classes, value))]
        ax.scatter(X[rows, 0], X[rows, 1], color=color, edgecolors="k", s=14, label=name)
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    ax.legend(title="class", fontsize=8, title_fontsize=8, loc="best")
    ax.set_title(title or "decision boundary")
    return _finish(fig, path)


def plot_decision_boundaries(
    models: dict[str, Any],
    X: Any,
    y: Any,
    resolution: int = 150,
    path: str | os.PathLike | None = None,
    title: str | None = None,
    feature_names: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
) -> Any:
    """`plot_decision_boundary` for several models side by side (one panel each).

    Parameters
    ----------
    models : dict of str -> model
        Panel title -> anything with ``predict`` on (n, 2) arrays.
    X : array of shape (n, 2)
    y : array of shape (n,)
    resolution : int
        Grid points per axis.
    path, title : optional
    feature_names : sequence of 2 str, optional
        Axis labels of every panel (default ``"feature 0"``, ``"feature 1"``).
    class_names : sequence of str, optional
        Legend entries, one per distinct value of ``y`` in sorted order.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not models:
        raise ValueError("models is empty: give at least one label -> model")
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 4), squeeze=False)
    for ax, (label, model) in zip(axes[0], models.items(), strict=True):
        plot_decision_boundary(model, X, y, resolution=resolution, title=label, ax=ax,
                               feature_names=feature_names, class_names=class_names)  # fmt: skip
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _finish(fig, path)


#: the ``normalize`` values of `confusion_matrix`, scikit-learn's
NORMALIZE = (None, "true", "pred", "all")


def _check_normalize(normalize: Any) -> str | None:
    if normalize is True:  # earlier releases took a bool meaning row shares
        return "true"
    if normalize is False:
        return None
    if normalize not in NORMALIZE:
        raise ValueError(
            f"normalize must be one of None, 'true', 'pred' or 'all', got {normalize!r}"
        )
    return normalize


def confusion_matrix(
    y_true: Any, y_pred: Any, n_classes: int | None = None, normalize: str | None = None
) -> np.ndarray:
    """Counts C[i, j] of samples of true class i predicted as j, or their shares.

    Parameters
    ----------
    y_true, y_pred : arrays of shape (n,)
        Class indices 0..K-1 (any backend's arrays, or lists).
    n_classes : int, optional
        K; default one more than the largest label seen.
    normalize : {None, "true", "pred", "all"}, default None
        As in scikit-learn: None gives counts; ``"true"`` divides each row by its sum, so
        C[i, j] = P(predicted j | true i) and rows sum to 1 (row i of the diagonal is the recall
        of class i); ``"pred"`` divides each column by its sum, C[i, j] = P(true i | predicted
        j) (the diagonal holds the precisions); ``"all"`` divides by n. A row or column without
        samples stays 0.

    Returns
    -------
    ndarray of shape (K, K)
        int64 counts, or float64 shares when normalised.

    Examples
    --------
    >>> confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2]).tolist()
    [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
    >>> confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2], normalize="true").tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.0, 0.0, 1.0]]
    """
    normalize = _check_normalize(normalize)
    t = np.asarray(to_numpy(y_true)).astype(np.int64).ravel()
    p = np.asarray(to_numpy(y_pred)).astype(np.int64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} labels, y_pred {p.size}")
    k = n_classes or int(max(t.max(initial=0), p.max(initial=0))) + 1
    for name, labels in (("y_true", t), ("y_pred", p)):
        if labels.size and (labels.min() < 0 or labels.max() >= k):
            raise ValueError(
                f"{name} must hold class indices in 0..{k - 1}, got values from "
                f"{labels.min()} to {labels.max()}"
            )
    out = np.zeros((k, k), dtype=np.int64)
    np.add.at(out, (t, p), 1)
    if normalize is None:
        return out
    axis = {"true": 1, "pred": 0, "all": None}[normalize]
    totals = out.sum(axis=axis, keepdims=axis is not None)
    return out / np.maximum(totals, 1)  # empty rows/columns: 0, as scikit-learn gives


def plot_confusion_matrix(
    y_true: Any,
    y_pred: Any,
    labels: Sequence[str] | None = None,
    normalize: str | None = None,
    path: str | os.PathLike | None = None,
    title: str | None = None,
) -> Any:
    """Heat map of `confusion_matrix`, counts (or shares) written in each cell.

    Parameters
    ----------
    y_true, y_pred : arrays of shape (n,)
        Class indices 0..K-1.
    labels : sequence of K str, optional
        Tick names of the classes (default ``"0"``, ``"1"``, ...).
    normalize : {None, "true", "pred", "all"}, default None
        What the cells show, as in `confusion_matrix`: counts, row shares (recall on the
        diagonal), column shares (precision on the diagonal) or shares of all samples. ``True``
        is read as ``"true"`` and ``False`` as None.
    path, title : optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    normalize = _check_normalize(normalize)
    cm = confusion_matrix(y_true, y_pred, len(labels) if labels is not None else None)
    values = cm if normalize is None else confusion_matrix(y_true, y_pred, cm.shape[0], normalize)
    plt = _pyplot()
    k = cm.shape[0]
    fig, ax = plt.subplots(figsize=(0.5 * k + 3, 0.5 * k + 2.5))
    image = ax.imshow(values, cmap="Blues")
    fig.colorbar(image, ax=ax)
    names = list(labels) if labels is not None else [str(i) for i in range(k)]
    ax.set_xticks(range(k), names, rotation=45 if k > 6 else 0)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    threshold = values.max() / 2 if values.size else 0
    for i in range(k):
        for j in range(k):
            text = str(cm[i, j]) if normalize is None else f"{values[i, j]:.2f}"
            ax.text(j, i, text, ha="center", va="center", fontsize=7,
                    color="white" if values[i, j] > threshold else "black")  # fmt: skip
    accuracy = np.trace(cm) / max(cm.sum(), 1)
    shown = {None: "", "true": ", rows sum to 1", "pred": ", columns sum to 1", "all": ", shares"}
    ax.set_title(title or f"confusion matrix (accuracy {accuracy:.3f}{shown[normalize]})")
    fig.tight_layout()
    return _finish(fig, path)


def plot_layer_stats(
    history: Any,
    stats: Sequence[str] | None = None,
    layers: Sequence[str] | None = None,
    path: str | os.PathLike | None = None,
    title: str | None = None,
) -> Any:
    """Per-layer statistics by epoch: one panel per statistic family, one line per layer.

    Parameters
    ----------
    history : History or dict
        A `History` from a fit with `scratchnet.callbacks.LayerStats`, or its ``layers`` dict
        (``{layer: {stat: [one float per epoch]}}``).
    stats : sequence of str, optional
        Statistics to draw (default: every one recorded): ``grad_norm``, ``weight_norm``,
        ``update_ratio``, ``dead_fraction``, ``saturated_fraction``, ``mean``, ``std``.
    layers : sequence of str, optional
        Layer names to draw (default: all).
    path : str or path-like, optional
        Save the figure there (PNG by suffix) and close it.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        Panels titled by family (``"gradient norm"``, ``"weight norm"``, ``"update ratio"``,
        ``"inactive units"``, ``"activation mean"``, ``"activation std"``) where something was
        recorded; gradient norms and update ratios on a log scale.
    """
    recorded = history.layers if hasattr(history, "layers") else history
    if not isinstance(recorded, dict):
        raise TypeError(f"history must be a History or a dict of layers, got {type(history)}")
    if not recorded:
        raise ValueError(
            "no layer statistics recorded: fit with callbacks=[scratchnet.callbacks.LayerStats()]"
        )
    names = list(recorded) if layers is None else list(layers)
    unknown = [n for n in names if n not in recorded]
    if unknown:
        raise ValueError(f"no statistics for layers {unknown}; recorded: {list(recorded)}")
    known = {s for group, _, _ in FAMILIES.values() for s in group}
    wanted = known if stats is None else set(stats)
    if not wanted <= known:
        raise ValueError(f"unknown statistics {sorted(wanted - known)}; known: {sorted(known)}")
    panels = [
        (family, [s for s in group if s in wanted], label, log)
        for family, (group, label, log) in FAMILIES.items()
        if any(s in recorded[n] for n in names for s in group if s in wanted)
    ]
    if not panels:
        raise ValueError(f"none of {sorted(wanted)} was recorded for layers {names}")
    plt = _pyplot()
    cols = min(3, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows), squeeze=False)
    epochs = list(getattr(history, "epoch", []) or [])
    from matplotlib.ticker import MaxNLocator

    for ax, (family, group, label, log) in zip(axes.flat, panels, strict=False):
        for name in names:
            for stat in group:
                values = recorded[name].get(stat)
                if not values:
                    continue
                x = np.asarray(epochs[-len(values) :] if len(epochs) >= len(values) else
                               range(len(values))) + 1  # fmt: skip
                tag = name if len(group) == 1 else f"{name} {stat.split('_')[0]}"
                ax.plot(x, values, marker="o", markersize=3, label=tag)
        if log:
            ax.set_yscale("log")
        ax.set_title(family)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    for ax in list(axes.flat)[len(panels) :]:
        ax.remove()
    fig.suptitle(title or "layer statistics")
    fig.tight_layout()
    return _finish(fig, path)

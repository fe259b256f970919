"""Hooks into fit(): History, a progress bar, checkpoints, per-layer statistics (`LayerStats`).

Early stopping lives in `regularization`.

A callback sees the model and the per-epoch logs (Python floats: ``loss``, ``accuracy``,
``val_loss``, ``val_accuracy``, ``lr``, ``seconds``). Batch hooks receive no loss value: reading one
would force a device synchronisation on every step. Setting ``model.stop_training = True`` (and
``model.stop_reason``) ends training after the current epoch.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

from .layer_stats import (
    SATURATION_THRESHOLD,
    EpochSums,
    activation_step_stats,
    dense_step_stats,
    frobenius_norm,
)
from .layers import Activation, Dense


class Callback:
    """Base class; override the hooks you need (all of them do nothing here)."""

    model: Any = None

    def set_model(self, model: Any) -> None:
        self.model = model

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        """Before the first epoch; logs hold ``epochs`` (of this fit), ``initial_epoch`` (epochs
        done before it), ``steps`` (per epoch), ``has_validation``, and ``rank`` and ``ranks``
        (0 and 1 unless the fit is data-parallel: `scratchnet.distributed`)."""

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any]) -> None:
        """Before each epoch (0-based)."""

    def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None:
        """After each optimiser step; logs hold ``size`` (rows in the batch)."""

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        """After each epoch, with its metrics."""

    def on_train_end(self, logs: dict[str, Any]) -> None:
        """After the last epoch (also after an early stop)."""


def _json_float(value: float) -> float | str | None:
    """A float JSON can hold: NaN as None, an infinity as "inf" / "-inf" (exploding is news)."""
    if math.isnan(value):
        return None
    return value if math.isfinite(value) else str(value)


class History(Callback):
    """Per-epoch metrics of a fit, Keras-style; `fit` returns it.

    Attributes
    ----------
    history : dict of str -> list of float
        ``loss``, ``accuracy`` (classifiers), ``val_loss`` and ``val_accuracy`` (with validation
        data), ``lr`` and ``seconds``, one entry per epoch.
    epoch : list of int
        Epoch numbers (continuing across successive fits).
    stopped_by : str or None
        Why training stopped before ``epochs``: ``"patience"`` (validation rule), ``"epsilon"``
        (training-loss rule), ``"nan"`` (loss turned NaN/inf) or another callback's reason.
    stopped_epoch : int or None
        Epoch after which training stopped early.
    best_epoch : int or None
        Epoch whose weights were restored, if any were.
    layers : dict of str -> dict of str -> list of float
        Per-layer statistics by layer name, then statistic (``"dense1"`` -> ``"grad_norm"`` ->
        one value per epoch), filled by the `LayerStats` callback; empty without it.
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.layers: dict[str, dict[str, list[float]]] = {}
        self.epoch: list[int] = []
        self.stopped_by: str | None = None
        self.stopped_epoch: int | None = None
        self.best_epoch: int | None = None

    def on_epoch_end(self, epoch, logs):
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def plot(self, path: str | Path | None = None, **kwargs: Any) -> Any:
        """Learning curves (see `scratchnet.plots.plot_history`); saved to ``path`` if given."""
        from .plots import plot_history

        return plot_history(self, path=path, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable content (for saving with a model)."""
        return {
            "history": {k: [None if not math.isfinite(v) else v for v in vals]
                        for k, vals in self.history.items()},
            "epoch": list(self.epoch),
            "stopped_by": self.stopped_by,
            "stopped_epoch": self.stopped_epoch,
            "best_epoch": self.best_epoch,
            "layers": {name: {k: [_json_float(v) for v in vals]
                              for k, vals in stats.items()}
                       for name, stats in self.layers.items()},
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """Inverse of `to_dict` (missing and non-finite values come back as NaN)."""
        h = cls()
        h.history = {k: [math.nan if v is None else float(v) for v in vals]
                     for k, vals in data.get("history", {}).items()}  # fmt: skip
        h.epoch = [int(e) for e in data.get("epoch", [])]
        h.stopped_by = data.get("stopped_by")
        h.stopped_epoch = data.get("stopped_epoch")
        h.best_epoch = data.get("best_epoch")
        layers = data.get("layers") or {}  # files written before LayerStats have none
        if not isinstance(layers, dict) or not all(isinstance(v, dict) for v in layers.values()):
            raise ValueError("history 'layers' must map layer names to {statistic: [values]}")
        h.layers = {str(name): {str(k): [math.nan if v is None else float(v) for v in vals]
                                for k, vals in stats.items()}
                    for name, stats in layers.items()}  # fmt: skip
        return h

    def __repr__(self) -> str:
        last = {k: round(v[-1], 4) for k, v in self.history.items() if v and k != "seconds"}
        stop = (
            f", stopped_by={self.stopped_by!r} at epoch {self.stopped_epoch}"
            if self.stopped_by
            else ""
        )
        return f"History(epochs={len(self.epoch)}, last={last}{stop})"


#: metric names (or parts of them) where larger values are better
MAXIMISED = ("accuracy", "score", "r2")


def direction(monitor: str, mode: str) -> float:
    """+1 when smaller values of ``monitor`` are better, -1 when larger ones are.

    ``mode="auto"`` maximises names containing accuracy, score or r2 and minimises the rest.
    """
    if mode == "auto":
        return -1.0 if any(part in monitor for part in MAXIMISED) else 1.0
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    return 1.0 if mode == "min" else -1.0


def monitored(logs: dict[str, float], monitor: str, owner: str) -> float:
    """``logs[monitor]``, or a ValueError listing what fit() does log."""
    if monitor not in logs:
        raise ValueError(
            f"{owner} monitors {monitor!r}, which fit() does not log here; available: "
            f"{', '.join(logs)} (val_* metrics need validation_data or validation_split)"
        )
    return logs[monitor]


def format_logs(logs: dict[str, float]) -> str:
    """``loss=0.1234 accuracy=0.9876 ...``, the way progress output shows metrics."""
    parts = []
    for key, value in logs.items():
        if key == "seconds":
            parts.append(f"{value:.2f}s")
        elif key == "lr":
            parts.append(f"lr={value:.3g}")
        else:
            parts.append(f"{key}={value:.4f}")
    return " ".join(parts)


def _in_jupyter_kernel() -> bool:
    """True inside a running Jupyter kernel (not merely with ipykernel imported somewhere)."""
    if "ipykernel" not in sys.modules or "IPython" not in sys.modules:
        return False
    shell = sys.modules["IPython"].get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class ProgressBar(Callback):
    """Progress output: ``verbose=1`` a tqdm bar per epoch, ``verbose=2`` one line per epoch.

    A bar needs a terminal (or Jupyter) to redraw in place; where the output is a file or a pipe
    (a log, CI), ``verbose=1`` writes one line per epoch instead, as Keras does. At the end, what
    stopped training and which weights were restored (by `EarlyStopping`) is printed on a line of
    its own.

    Parameters
    ----------
    verbose : {1, 2}
    stream : file-like, optional
        Where to write (stderr by default for bars, stdout for lines).
    """

    def __init__(self, verbose: int = 1, stream: Any = None) -> None:
        if verbose not in (1, 2):
            raise ValueError(f"verbose must be 1 (bar) or 2 (one line per epoch), got {verbose!r}")
        self.verbose = verbose
        self.stream = stream
        self._bar = None
        self._epochs = 0
        self._first = 0
        self._steps = 0

    def on_train_begin(self, logs):
        self._epochs = logs["epochs"]
        self._first = logs.get("initial_epoch", 0)
        self._steps = logs["steps"]

    def _bars(self) -> bool:
        """Whether a redrawn bar can be shown (a terminal or a Jupyter kernel), else lines."""
        if self.verbose != 1:
            return False
        if _in_jupyter_kernel():
            return True
        stream = self.stream or sys.stderr
        isatty = getattr(stream, "isatty", None)
        return bool(isatty and isatty())

    def on_epoch_begin(self, epoch, logs):
        if self._bars():
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=self._steps,
                desc=f"epoch {epoch - self._first + 1}/{self._epochs}",
                unit="batch",
                leave=True,
                file=self.stream or sys.stderr,
                dynamic_ncols=True,
            )

    def on_batch_end(self, batch, logs):
        if self._bar is not None:
            self._bar.update(1)

    def on_epoch_end(self, epoch, logs):
        if self._bar is not None:
            self._bar.set_postfix_str(format_logs(logs), refresh=False)
            self._bar.close()
            self._bar = None
        else:
            stream = self.stream or sys.stdout
            label = f"epoch {epoch - self._first + 1}/{self._epochs}"
            print(f"{label} {format_logs(logs)}", file=stream, flush=True)

    def on_train_end(self, logs):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        for message in logs.get("messages", []):
            print(message, file=self.stream or sys.stdout, flush=True)


class ModelCheckpoint(Callback):
    """Save the model after epochs (atomically; see `scratchnet.io`).

    Parameters
    ----------
    path : str or Path
        File to write; ``{epoch}`` in the name is replaced by the 1-based epoch number.
    monitor : str
        Metric deciding what "best" means.
    mode : {"auto", "min", "max"}
        Whether smaller or larger ``monitor`` values are better; "auto" maximises accuracy, score
        and r2 and minimises the rest.
    save_best_only : bool
        Save only when ``monitor`` improves; otherwise after every epoch.
    include_optimizer : bool
        Also store optimiser state and history, so that training can resume exactly.

    In a data-parallel fit (`scratchnet.distributed`) only rank 0 writes; every rank keeps the
    same ``best``, and ``saved`` lists the files on rank 0.
    """

    def __init__(
        self,
        path: str | Path,
        monitor: str = "val_loss",
        save_best_only: bool = True,
        include_optimizer: bool = True,
        mode: str = "auto",
    ) -> None:
        self.path = str(path)
        self.monitor = monitor
        self.sign = direction(monitor, mode)
        self.save_best_only = save_best_only
        self.include_optimizer = include_optimizer
        self.best = math.inf
        self.saved: list[str] = []
        self.writes = True  # False on the ranks other than 0 of a data-parallel fit

    def on_train_begin(self, logs):
        self.writes = logs.get("rank", 0) == 0

    def on_epoch_end(self, epoch, logs):
        if self.save_best_only:
            value = self.sign * monitored(logs, self.monitor, "ModelCheckpoint")
            if not math.isfinite(value) or value >= self.best:
                return
            self.best = value
        if not self.writes:
            return
        path = self.path.replace("{epoch}", str(epoch + 1))
        self.model.save(path, include_optimizer=self.include_optimizer)
        self.saved.append(path)


class LayerStats(Callback):
    """Per-epoch, per-layer statistics of training, kept in ``history.layers``.

    For each Dense layer (the output layer included): ``grad_norm``, the mean over the epoch's
    steps of ||dL/dB(l)||_F; ``update_ratio``, the mean of ||delta B(l)||_F / ||B(l)||_F where
    delta B(l) is the change the optimiser made in a step and B(l) the weights before it; and
    ``weight_norm``, ||B(l)||_F at the end of the epoch. For each activation layer: ``mean`` and
    ``std`` of its output H, plus ``dead_fraction`` (relu family) or ``saturated_fraction``
    (sigmoid, tanh), averaged over steps (see `scratchnet.layer_stats`).

    The gradient is the one the optimiser received: the objective's, L2 term included, before
    any clipping. Statistics are computed on the device after each optimiser step and read back
    once per epoch (one transfer); the cost per step is one copy of the parameter buffer and a
    few reductions per layer. Batches skipped because all their weights are zero are not
    counted. An epoch that diverged (see `scratchnet.guards.DivergenceGuard`) gets its entry as
    training ends, from the weights it reached before the guard restored earlier ones: exploding
    gradients show there. Training itself is unchanged.

    In a data-parallel fit (`scratchnet.distributed`) every rank keeps its own: gradients and
    weights are the same on every rank (the gradient is read after the all-reduce), the
    activation statistics are those of the rank's own rows.

    Parameters
    ----------
    threshold : float
        |u'(Z)| below which an entry of a sigmoid or tanh layer counts as saturated.

    Examples
    --------
    >>> import numpy as np, scratchnet as sn
    >>> X = np.random.default_rng(0).normal(size=(64, 3)); y = (X[:, 0] > 0).astype(int)
    >>> m = sn.Model(hidden=(8,), activation="relu", seed=0)
    >>> h = m.fit(X, y, epochs=2, batch_size=32, callbacks=[sn.callbacks.LayerStats()])
    >>> sorted(h.layers), sorted(h.layers["dense1"])
    (['activation1', 'dense1', 'dense2'], ['grad_norm', 'update_ratio', 'weight_norm'])
    >>> len(h.layers["activation1"]["dead_fraction"])
    2
    """

    def __init__(self, threshold: float = SATURATION_THRESHOLD) -> None:
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) or threshold <= 0:
            raise ValueError(f"threshold must be a float > 0, got {threshold!r}")
        self.threshold = float(threshold)
        self._sums = EpochSums()
        self._before: Any = None
        self._steps_done = 0

    def _weights(self, flat: Any, layer: Dense) -> Any:
        return self.model.parameter_layout.view(flat, f"{layer.name}.B", self.model.backend.xp)

    def on_epoch_begin(self, epoch, logs):
        self._sums = EpochSums()
        self._before = self.model.store.copy_values()
        self._steps_done = self.model.steps_done

    def on_batch_end(self, batch, logs):
        model = self.model
        if model.steps_done == self._steps_done:  # a skipped batch: no optimiser step was taken
            return
        self._steps_done = model.steps_done
        self._sums.steps += 1
        store = model.store
        for layer in model.layers:
            if isinstance(layer, Dense):
                grad, before = self._weights(store.grads, layer), self._weights(self._before, layer)
                self._sums.add(layer.name, dense_step_stats(grad, before, layer.params["B"]))
            elif isinstance(layer, Activation) and "H" in layer.cache:
                Z, H = layer.cache["Z"], layer.cache["H"]
                self._sums.add(layer.name, activation_step_stats(layer.fn, Z, H, self.threshold))
        self._before = store.copy_values()

    def on_epoch_end(self, epoch, logs):
        dense = [ly for ly in self.model.layers if isinstance(ly, Dense)]
        ends = {(ly.name, "weight_norm"): frobenius_norm(ly.params["B"]) for ly in dense}
        means = self._sums.means(self.model.backend.to_numpy, ends)
        recorded = self.model.history.layers
        for name, stats in means.items():
            for stat, value in stats.items():
                recorded.setdefault(name, {}).setdefault(stat, []).append(value)
        for name, stats in recorded.items():  # an epoch without a step: NaN, one entry per epoch
            for stat, values in stats.items():
                if stat not in means.get(name, {}):
                    values.append(math.nan)
        self._before = None

    def on_train_end(self, logs):
        if self._before is not None:  # the last epoch ended without on_epoch_end: it diverged
            with self.model.backend.quiet_floating_point():  # its norms may overflow: inf is news
                self.on_epoch_end(None, {})

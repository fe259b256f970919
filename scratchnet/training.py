"""The training loop: epochs of shuffled mini-batches, metrics, callbacks and a divergence guard.

Device traffic follows contract 6: the data crosses to the device once per fit, each epoch sends
one permutation of row indices, mini-batches are gathered on the device with ``xp.take``, and the
epoch's loss and accuracy are accumulated there and read back once per epoch. Data read by rows
(a memory map: `scratchnet.streaming`) crosses batch by batch instead: each step reads its rows
from the source, cast to the model's dtype, and validation reads its rows chunk by chunk.

A fit is all or nothing for its arguments: `fit` checks every argument, the data, the targets,
the weights and the validation data before it builds or touches the model, and an exception
raised later (by a callback, say) puts back the parameters, optimiser state, counters, history,
generators and the built shape it found.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from .callbacks import Callback, History, ProgressBar
from .data import batch_bounds
from .evaluation import evaluate_arrays
from .fit_checks import FitPlan, check_distributed, check_fit
from .guards import DivergenceGuard, Rollback
from .schedules import Clock
from .streaming import CupyPrefetcher, RowStream, select_rows

Array = Any


def fit(
    model: Any,
    X: Any,
    y: Any,
    *,
    epochs: int = 10,
    batch_size: int | None = 32,
    optimizer: Any = None,
    lr: Any = None,
    validation_data: tuple | None = None,
    validation_split: float = 0.0,
    shuffle: bool = True,
    class_weight: dict | str | None = None,
    sample_weight: Any = None,
    callbacks: list[Callback] | None = None,
    augment: Any = None,
    verbose: int = 0,
    distributed: Any = None,
) -> History:
    """Train ``model`` on (X, y).

    Parameters
    ----------
    model : Model
    X : array of shape (n, n_features)
        NumPy array or an array of the model's backend; or data read batch by batch, never
        whole: a memory map (``np.load(path, mmap_mode="r")``, ``np.memmap``) or an h5py- or
        zarr-like array-like (see `scratchnet.streaming`).
    y : array of shape (n,) or (n, k)
        Targets in the head's format (see `Model.loss_and_gradients`).
    epochs : int
        Passes over the training data.
    batch_size : int or None
        None: full-batch gradient descent (the notes' GD; refused for X read batch by batch,
        which it would read whole); 1: SGD; k: mini-batches of k rows.
    optimizer : str or Optimizer, optional
        ``"adam"``, ``"sgd"``, ``"momentum"``, ... or an `Optimizer`. Default: keep the model's
        optimiser (and its state) from an earlier fit, else Adam. Naming one, or passing an
        instance other than ``model.optimizer``, starts from zero optimiser state; leave it out on
        later calls to continue training where it stopped.
    lr : float or Schedule, optional
        Learning rate (or schedule) for the optimiser.
    validation_data : (X_val, y_val) or (X_val, y_val, w_val), optional
    validation_split : float
        Share of (X, y) held out for validation, stratified by class for classifiers; ignored
        when ``validation_data`` is given.
    shuffle : bool
        Reshuffle the rows every epoch (from the model's seed).
    class_weight : dict or "balanced", optional
        Weight per class index (softmax, or 0/1 for a single sigmoid output).
    sample_weight : array of shape (n,), optional
    callbacks : list of Callback, optional
        E.g. ``[EarlyStopping(patience=5)]``.
    augment : callable, optional
        ``augment(X_batch, rng) -> X_batch``, applied to each training batch on the device
        (see `scratchnet.augment`).
    verbose : {0, 1, 2}
        0 silent, 1 a progress bar per epoch, 2 one line per epoch.
    distributed : scratchnet.distributed.MPI, optional
        Data-parallel training: every MPI rank calls fit with the same arguments (and, by
        default, the same data); each computes the gradient of its share of every batch and one
        all-reduce per step sums them, so the ranks train as one process would (see
        `scratchnet.distributed`). Only rank 0 prints progress and writes checkpoints.

    Returns
    -------
    History
        Per-epoch ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``, ``lr``, ``seconds``.

    Raises
    ------
    TypeError, ValueError
        A bad argument or bad data. Every check runs before the model is built or touched, and
        an exception raised while training (a callback's, for instance) restores the
        parameters, optimiser state, counters, history, generators and built shape the fit
        found: a fit that raises changes nothing. (An interrupt, ``KeyboardInterrupt``, keeps the
        weights reached so far.)

    Warns
    -----
    TrainingDivergedWarning
        The loss or the parameters turned NaN/inf, or the loss exploded (see `DivergenceGuard`):
        training stops, and weights whose training loss was measured are restored.
    """
    distributed = check_distributed(distributed)
    try:
        plan = check_fit(
            model, X, y, epochs=epochs, batch_size=batch_size, optimizer=optimizer, lr=lr,
            validation_data=validation_data, validation_split=validation_split, shuffle=shuffle,
            class_weight=class_weight, sample_weight=sample_weight, callbacks=callbacks,
            augment=augment, verbose=verbose, distributed=distributed,
        )  # fmt: skip
    except Exception as exc:
        if distributed is not None:
            distributed.refuse(exc)  # the other ranks raise too, instead of waiting for this one
        raise
    rollback = Rollback(model, plan.optimizer)
    try:
        return _train(model, plan)
    except Exception:
        rollback.put_back()
        raise


def _train(model: Any, plan: FitPlan) -> History:
    """The committing half of `fit`: build, install, train."""
    if not model.built:
        model.build(plan.n_features, plan.n_outputs)
    be, xp = model.backend, model.backend.xp
    Xd, Y, w = plan.X, be.asarray(plan.Y, dtype=model.dtype), plan.w
    val = None
    if plan.val is not None:
        Xv, Yv, wv = plan.val
        val = (Xv, be.asarray(Yv, dtype=model.dtype), wv)
    elif plan.val_idx is not None:
        model.shuffle_rng.bit_generator.state = plan.shuffle_state
        idx = be.asarray(plan.val_idx)
        wv = None if w is None else w[plan.val_idx]
        val = (select_rows(Xd, plan.val_idx, be), xp.take(Y, idx, axis=0), wv)
    if plan.optimizer is not None:
        if plan.schedule is not None:
            plan.optimizer.schedule = plan.schedule
        if plan.optimizer is not model.optimizer:
            plan.optimizer.reset()  # a named or handed-in optimiser starts from zero state
        model.optimizer = plan.optimizer
    elif plan.schedule is not None:
        model.optimizer.schedule = plan.schedule
    dist = plan.distributed
    if dist is not None:
        dist.begin(model, plan)  # the same model, data and arguments on every rank, or all raise

    loop = _Loop(model, Xd, Y, w, plan.train_idx, plan.batch_size, plan.shuffle, plan.augment, dist)
    history = History()
    model.history = history  # visible to callbacks (checkpoints save it) while training runs
    bars = [cb for cb in plan.callbacks if isinstance(cb, ProgressBar)]
    if plan.verbose and (dist is None or dist.is_root):
        bars.append(ProgressBar(plan.verbose))
    # progress output last, so that it reports what the other callbacks decided at the end
    every = [history, *(cb for cb in plan.callbacks if not isinstance(cb, ProgressBar)), *bars]
    for cb in every:
        cb.set_model(model)
    model.stop_training, model.stop_reason = False, None
    begin = {
        "epochs": plan.epochs,
        "initial_epoch": model.epochs_done,
        "steps": loop.steps,
        "has_validation": val is not None,
        "rank": 0 if dist is None else dist.rank,
        "ranks": 1 if dist is None else dist.size,
    }
    for cb in every:
        cb.on_train_begin(begin)

    guard = DivergenceGuard(model)
    for _ in range(plan.epochs):
        epoch = model.epochs_done
        guard.begin_epoch(epoch)
        for cb in every:
            cb.on_epoch_begin(epoch, {})
        start = time.perf_counter()
        with be.quiet_floating_point():  # divergence is reported once, by the guard
            logs = loop.run_epoch(epoch, every)
            if dist is not None:
                dist.average_state(model)  # batch-norm running statistics: one model everywhere
            if val is not None:
                vlogs = evaluate_arrays(model, *val) if dist is None else dist.evaluate(model, *val)
                logs.update({f"val_{k}": v for k, v in vlogs.items()})
        be.synchronize()
        logs["seconds"] = time.perf_counter() - start
        used = be.kernels
        if be.record_training(logs["seconds"]):  # faster kernels, the same bits: use them now
            _adopt_kernels(model.layers, used, be.kernels)
        if dist is not None:  # rank 0's logs on every rank: every rank's callbacks decide alike
            logs, loop.measured = dist.broadcast((logs, loop.measured))
        model.epochs_done += 1
        if not guard.check(epoch, logs, *loop.measured):
            history.on_epoch_end(epoch, logs)
            break
        for cb in every:
            cb.on_epoch_end(epoch, logs)
        model.optimizer.schedule.on_epoch_end(epoch, logs)  # after callbacks: they may add metrics
        if dist is not None:
            dist.agree_to_stop(model)  # a callback that stops one rank stops them all
        if model.stop_training:
            break
    end: dict[str, Any] = {}
    for cb in every:
        cb.on_train_end(end)
    if guard.tripped:
        with be.quiet_floating_point():
            guard.restore(loop.training_rows())
        if dist is not None:
            dist.broadcast_model(model)  # the ranks measured on their own rows: keep rank 0's
        end["best_epoch"] = guard.best_epoch
    history.stopped_by = model.stop_reason
    history.stopped_epoch = history.epoch[-1] if model.stop_reason else None
    history.best_epoch = end.get("best_epoch")
    for layer in model.layers:
        layer.clear_cache()
    return history


def _adopt_kernels(layers: list, used: Any, faster: Any) -> None:
    """Hand ``faster`` kernels to the layers that computed with ``used`` (the backend's until
    now); a layer set to the portable path (None) keeps it."""
    for layer in layers:
        if getattr(layer, "backend_kernels", None) is used:
            layer.use_kernels(faster)


class _Loop:
    """One fit's epoch loop over prepared device arrays."""

    def __init__(self, model, Xd, Y, w, train_idx, batch_size, shuffle, augment, dist) -> None:
        self.model = model
        be = model.backend
        self.xp = be.xp
        self.Xd, self.Y = Xd, Y
        self.w_host = w
        self.w_dev = None if w is None else be.asarray(w, dtype=model.dtype)
        self.train_idx = train_idx
        n_train = train_idx.shape[0]
        self.batch_size = n_train if batch_size is None else min(batch_size, n_train)
        self.bounds = list(batch_bounds(n_train, self.batch_size))
        self.dist = dist
        if dist is not None:  # the same steps on every rank (sharded: of this rank's own rows)
            self.bounds = dist.batch_bounds(n_train, batch_size)
        self.steps = len(self.bounds)
        self.full_batch = self.steps == 1
        self.shuffle = shuffle and not self.full_batch  # GD's sum does not depend on row order
        self.augment = augment
        self.classifier = model.head.is_classifier
        #: X is read from a memory map (or another source) one batch at a time
        self.stream = isinstance(Xd, RowStream)
        if self.full_batch and n_train != Xd.shape[0]:
            idx = be.asarray(train_idx)
            self.Xd = select_rows(Xd, train_idx, be)
            self.Y = self.xp.take(Y, idx, axis=0)
            self.w_dev = None if w is None else self.xp.take(self.w_dev, idx, axis=0)
            self.w_host = None if w is None else w[train_idx]
            self.train_idx = np.arange(n_train)
        #: (mean loss per unit of weight of the last epoch, that of its first trained batch)
        self.measured = (math.nan, math.nan)

    def training_rows(self) -> tuple[Array, Array, np.ndarray | None]:
        """(X, Y, w) of the training rows (held-out rows left out), for measuring a loss."""
        if self.train_idx.shape[0] == self.Xd.shape[0]:
            return self.Xd, self.Y, self.w_host
        be = self.model.backend
        idx = be.asarray(self.train_idx)
        w = None if self.w_host is None else self.w_host[self.train_idx]
        return select_rows(self.Xd, self.train_idx, be), self.xp.take(self.Y, idx, axis=0), w

    def batches(self, order: np.ndarray) -> list[tuple[int, int, int, np.ndarray | None]]:
        """Per step: (start, stop) of this process's rows in ``order``, and the number and
        weights of the rows of the whole batch (of every rank's rows of it), which set its norm."""
        if self.dist is not None:
            return self.dist.epoch_batches(order, self.bounds, self.w_host)
        w = self.w_host
        return [(a, b, b - a, None if w is None else w[order[a:b]]) for a, b in self.bounds]

    def stream_reads(self, order: np.ndarray, steps: list) -> Any:
        """The epoch's batches of X read from its `RowStream`, one at a time, on the device: on
        CuPy the next batch's copy overlaps the current step (`CupyPrefetcher`); elsewhere
        each batch is read when its step asks for it."""
        batches = [order[start:stop] for start, stop, _, _ in steps]
        if self.model.backend.name == "cupy":
            return iter(CupyPrefetcher(self.Xd, batches))
        return (self.Xd.take(rows) for rows in batches)

    def run_epoch(self, epoch: int, callbacks: list[Callback]) -> dict[str, float]:
        model, xp, dist = self.model, self.xp, self.dist
        n_train = self.train_idx.shape[0]
        order = model.shuffle_rng.permutation(self.train_idx) if self.shuffle else self.train_idx
        whole = self.full_batch and not self.shuffle and dist is None
        order_dev = None if whole else model.backend.asarray(order)
        loss_sum = 0.0
        correct = 0.0
        lr = 0.0
        first = None  # the first trained batch's loss (measured at the epoch's starting weights)
        schedule = model.optimizer.schedule
        kernels = getattr(model.backend, "kernels", None)  # hits counted in one fused pass
        if schedule.steady_within_epoch:  # ask once, not per step
            lr = schedule(
                Clock(model.steps_done, epoch, epoch + 1 / self.steps, model.samples_seen)
            )
        listeners = [cb for cb in callbacks if type(cb).on_batch_end is not Callback.on_batch_end]
        steps = self.batches(order)
        reads = self.stream_reads(order, steps) if self.stream else None
        for b, (start, stop, rows, w_rows) in enumerate(steps):
            if whole:
                Xb, Yb, wb = self.Xd, self.Y, self.w_dev
                w_rows = self.w_host
                if reads is not None:
                    Xb = next(reads)
            else:
                idx = order_dev[start:stop]
                Xb = xp.take(self.Xd, idx, axis=0) if reads is None else next(reads)
                Yb = xp.take(self.Y, idx, axis=0)
                wb = None if self.w_dev is None else xp.take(self.w_dev, idx, axis=0)
            if w_rows is not None and model.reduction == "mean" and not w_rows.sum() > 0:
                for cb in listeners:  # every row of this batch has weight 0: nothing to learn
                    cb.on_batch_end(b, {"size": rows})
                continue
            if self.augment is not None and stop > start:
                Xb = self.augment(Xb, model.rng)
            norm = model.loss_scale(rows, w_rows)
            if not schedule.steady_within_epoch:
                progress = epoch + (b + 1) / self.steps
                lr = schedule(Clock(model.steps_done, epoch, progress, model.samples_seen))
            if dist is None:
                loss, F = model.train_step(Xb, Yb, wb, norm, lr)
            else:  # this rank's gradient, one all-reduce that sums the ranks', the same update
                loss, F = dist.train_step(model, Xb, Yb, wb, norm, lr)
            batch_loss = loss * (1.0 / norm)
            loss_sum = loss_sum + batch_loss
            if first is None:
                rows_weight = float(rows if w_rows is None else w_rows.sum())
                first = None if rows_weight <= 0 else (batch_loss, rows_weight)
            if self.classifier and F is not None:
                correct = correct + model.head.correct(F, Yb, wb, kernels)
            for cb in listeners:  # callbacks that do not listen are not called per step
                cb.on_batch_end(b, {"size": rows})
        n_rows = n_train
        total_weight = float(n_train if self.w_host is None else self.w_host[self.train_idx].sum())
        first_loss = None if first is None else first[0]
        if dist is not None:  # sums over the ranks' rows (and epoch totals of every shard)
            n_rows, total_weight = dist.epoch_totals(n_rows, total_weight)
            sums = dist.sum_scalars(loss_sum, correct, 0.0 if first is None else first[0])
            loss_sum, correct, first_loss = sums
        model.samples_seen += n_rows
        scale = 1.0 if model.reduction == "sum" else 1.0 / total_weight
        total = float(loss_sum)
        logs = {"loss": total * scale}
        mean = total / total_weight
        self.measured = (mean, mean if first is None else float(first_loss) / first[1])
        if self.classifier:
            logs["accuracy"] = float(correct) / total_weight
        logs["lr"] = float(lr)
        return logs

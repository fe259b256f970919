"""Guards around a fit: divergence detection with a measured restore, and all-or-nothing rollback.

`DivergenceGuard` stops a fit whose loss or parameters turn non-finite or whose loss explodes, and
puts back weights whose training loss it has measured. `Rollback` captures what a fit may change
before it changes anything, so that a fit that raises leaves the model as it found it.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from .evaluation import evaluate_arrays

#: The divergence rule of `DivergenceGuard`, on an epoch's mean training loss per unit of sample weight:
#: it has exploded when it exceeds EXPLOSION_FACTOR times the lowest loss measured so far in the
#: fit AND EXPLOSION_FLOOR. Six orders of magnitude in one epoch is beyond any spike of healthy
#: training (Adam's late spikes on separable data are a few), yet far below the ~1e38 where
#: float32 overflows, so a blow-up is caught while the weights are still finite. The floor keeps a
#: model whose loss is already tiny (1e-9 on separable data) from tripping on a harmless rise:
#: a mean cross-entropy of 1e3 per sample means logits off by about 1e3, and a mean squared
#: residual of 2e3 per sample is no fit at any target scale that float32 trains well.
EXPLOSION_FACTOR = 1e6


EXPLOSION_FLOOR = 1e3


class TrainingDivergedWarning(UserWarning):
    """Training diverged (loss or parameters NaN/inf, or the loss exploded); it stopped and
    weights whose loss was measured were restored."""


class DivergenceGuard:
    """Stops a diverging fit and puts back weights whose training loss it has measured.

    **When it trips.** After each epoch, when (1) the epoch's loss is NaN or infinite, (2) a
    parameter or batch-norm statistic is NaN or infinite (one ``isfinite`` reduction over the flat
    buffer ``model.store.values``), or (3) the epoch's mean loss per unit of sample weight exceeds
    both `EXPLOSION_FACTOR` (1e6) times the lowest loss measured so far in this fit and
    `EXPLOSION_FLOOR` (1e3). "Measured" covers earlier epochs' means and every epoch's first
    batch, whose loss is computed at the epoch's starting weights, so that a blow-up inside the
    first epoch is caught too.

    **What it restores.** An epoch's logged loss is the mean of per-batch losses, each computed
    before that batch's update: it measures the path from the epoch's starting weights, never the
    weights at its end. So the guard snapshots the weights (with optimiser state and batch-norm
    statistics) at the start of every epoch. When it trips in epoch j, it measures the training
    loss, one inference pass over the training rows each (what ``model.evaluate`` reports on
    them: no dropout, batch-norm running statistics, no L2 penalty), of two candidates: the
    weights at the start of epoch j (the end of the last healthy epoch) and those at the start of
    the healthy epoch with the lowest mean loss. It restores the one with the lower finite loss
    and reports that loss; if neither is finite, it restores the weights from before the fit
    (and reports their loss). Counters (``epochs_done``, ``steps_done``) keep counting the work
    done.
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self.lowest = math.inf  # lowest per-weight loss measured in this fit
        self.best_loss = math.inf  # lowest logged loss of a healthy epoch
        self.best: tuple | None = None  # the start snapshot of that epoch
        self.start: tuple | None = None  # (epoch, snapshot, optimiser slots, iterations)
        self.initial: tuple | None = None  # the first start: the weights from before the fit
        self.tripped = False
        self.reason = ""
        #: the epoch whose end weights were restored; None: the weights from before the fit
        self.best_epoch: int | None = None

    def begin_epoch(self, epoch: int) -> None:
        """Snapshot the weights the coming epoch starts from."""
        model, opt = self.model, self.model.optimizer
        copy_ = model.backend.asarray
        slots = {slot: copy_(a, copy=True) for slot, a in opt.state.items()}
        self.start = (epoch, model.snapshot(), slots, opt.iterations)
        if self.initial is None:
            self.initial = self.start

    def _finite_parameters(self) -> bool:
        xp = self.model.backend.xp
        arrays = [self.model.store.values]
        arrays += [v for layer in self.model.layers for v in layer.state.values()]
        return all(bool(xp.all(xp.isfinite(a))) for a in arrays)

    def check(self, epoch: int, logs: dict[str, float], mean: float, first: float) -> bool:
        """True when the epoch was healthy; False (and stop the fit) when it diverged."""
        loss = logs["loss"]
        reference = min(self.lowest, first)
        if not math.isfinite(loss):
            reason = f"the training loss became {loss}"
        elif not self._finite_parameters():
            reason = "the parameters became NaN or infinite"
        elif mean > EXPLOSION_FACTOR * reference and mean > EXPLOSION_FLOOR:
            reason = (
                f"the training loss exploded to {loss:.4g}, {mean / reference:.2g} times the "
                "lowest measured in this fit"
            )
        else:
            self.lowest = min(reference, mean)
            if loss < self.best_loss:
                self.best_loss, self.best = loss, self.start
            return True
        self.tripped = True
        self.reason = f"in epoch {epoch + 1}, {reason}"
        self.model.stop_training = True
        self.model.stop_reason = "nan"
        return False

    def _measure(self, snap: tuple, rows: tuple) -> float:
        self.model.restore(snap[1])
        return evaluate_arrays(self.model, *rows)["loss"]

    def restore(self, rows: tuple) -> None:
        """Measure the candidates on the training ``rows`` (X, Y, w), restore one, and warn."""
        candidates = [self.start]
        if self.best is not None and self.best is not self.start:
            candidates.append(self.best)
        measured = [(self._measure(c, rows), c) for c in candidates]
        finite = [(loss, c) for loss, c in measured if math.isfinite(loss)]
        if finite:
            loss, chosen = min(finite, key=lambda pair: pair[0])
        else:
            chosen = self.initial
            loss = next((x for x, c in measured if c is chosen), None)
            loss = self._measure(chosen, rows) if loss is None else loss
        epoch, snapshot, slots, iterations = chosen
        model = self.model
        model.restore(snapshot)
        model.optimizer.state = slots
        model.optimizer.iterations = iterations
        self.best_epoch = epoch - 1 if epoch > self.initial[0] else None
        where = (
            "from before this fit" if self.best_epoch is None
            else f"reached after epoch {self.best_epoch + 1}"
        )  # fmt: skip
        none = "" if finite else "no weights of this fit had a finite loss; "
        warnings.warn(
            f"{self.reason} (diverged); training stopped and {none}the weights {where} were "
            f"restored: their training loss, measured now, is {loss:.6g} (as model.evaluate "
            "reports it on the training rows). Lower the learning rate, or clip gradients "
            "(optimizer=Adam(lr, clip_norm=1.0)).",
            TrainingDivergedWarning,
            stacklevel=6,  # restore, _train, fit, Model.fit, its device wrapper, the caller
        )


class Rollback:
    """What a fit may change, captured before it changes anything; `put_back` restores it when
    the fit raises."""

    _ATTRIBUTES = ("optimizer", "history", "epochs_done", "steps_done", "samples_seen",
                   "stop_training", "stop_reason")  # fmt: skip

    def __init__(self, model: Any, incoming: Any) -> None:
        self.model = model
        self.attributes = {name: getattr(model, name) for name in self._ATTRIBUTES}
        self.built = model.built
        self.snapshot = model.snapshot() if self.built else None
        self.shuffle_state = model.shuffle_rng.bit_generator.state
        self.rng_state = model.rng.get_state()
        self.optimizers = []
        for opt in (model.optimizer, incoming):
            if opt is None or any(opt is o[0] for o in self.optimizers):
                continue
            # the model's own optimiser is updated in place while training: copy its slots; a
            # handed-in one is reset (its dict replaced), so references keep its old slots
            slots = {
                k: model.backend.asarray(v, copy=True) if opt is model.optimizer else v
                for k, v in opt.state.items()
            }
            sched = opt.schedule
            self.optimizers.append((opt, opt.iterations, slots, sched, sched.get_state()))

    def put_back(self) -> None:
        model = self.model
        if self.built:
            model.restore(self.snapshot)
        else:
            model.layers, model.store, model.n_features, model.n_outputs = [], None, None, None
        for name, value in self.attributes.items():
            setattr(model, name, value)
        for opt, iterations, slots, sched, sched_state in self.optimizers:
            opt.iterations, opt.state, opt.schedule = iterations, slots, sched
            if sched_state is not None:
                sched.set_state(sched_state)
        model.shuffle_rng.bit_generator.state = self.shuffle_state
        model.rng.set_state(self.rng_state)
        for layer in model.layers:
            layer.clear_cache()

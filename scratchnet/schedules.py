"""Learning-rate schedules alpha_t (section 5 leaves alpha_t free; these are the usual choices).

A schedule is evaluated on the host before every step, from a `Clock` (steps and epochs so far), and
returns a Python float, so no device synchronisation is needed. ``ReduceOnPlateau`` and
``AdaptiveRate`` also listen to the end of each epoch, where the validation loss is known; what
they learn while training (the current rate, the best value, the count of epochs without
improvement) is part of `Schedule.get_config`, so it survives saving, loading and pickling.

================= =============================================================================
Constant           alpha
StepDecay          alpha * drop ** floor(epoch / every)
ExponentialDecay   alpha * rate ** (progress / every), progress in fractional epochs
InverseScaling     alpha / (1 + t) ** power, t counted in steps, epochs or samples
CosineDecay        linear warm-up to alpha, then min_lr + (alpha - min_lr) (1 + cos(pi s)) / 2
ReduceOnPlateau    alpha, multiplied by factor after ``patience`` epochs without improvement
AdaptiveRate       alpha, divided by 5 after ``patience`` epochs without improvement, while above
                   min_lr (scikit-learn's ``learning_rate="adaptive"``)
================= =============================================================================

>>> from scratchnet.schedules import Clock, StepDecay
>>> sched = StepDecay(0.1, drop=0.5, every=10)
>>> sched(Clock(epoch=25))
0.025
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from .validation import check_float, check_positive_int


@dataclass(frozen=True)
class Clock:
    """Where training stands when a step is about to run.

    Attributes
    ----------
    step : int
        Updates already done (over all fits).
    epoch : int
        Current epoch, 0-based.
    progress : float
        Fractional epochs completed once this step is done (epoch + (batch + 1) / batches).
    samples : int
        Samples seen before the current epoch.
    """

    step: int = 0
    epoch: int = 0
    progress: float = 0.0
    samples: int = 0


class Schedule(ABC):
    """Base class: ``schedule(clock) -> float``."""

    name: ClassVar[str] = ""
    #: True when the rate can only change between epochs (it reads no step or progress from the
    #: clock), so the training loop asks once per epoch instead of once per step
    steady_within_epoch: ClassVar[bool] = False

    def __init__(self, initial: float) -> None:
        self.initial = check_float(initial, "learning rate", 0.0, low_open=True)

    @abstractmethod
    def __call__(self, clock: Clock) -> float:
        """The learning rate for the coming step."""

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        """Hook called by fit() after each epoch with its metrics (most schedules ignore it)."""

    def get_config(self) -> dict[str, Any]:
        """Name, constructor arguments and running state (under ``"state"``, only for schedules
        that have one), JSON-serialisable; `schedule_from_config` rebuilds the schedule from it."""
        config = {"name": self.name, "initial": self.initial, **self._args()}
        state = self.get_state()
        if state is not None:
            config["state"] = state
        return config

    def _args(self) -> dict[str, Any]:
        return {}

    def get_state(self) -> dict[str, Any] | None:
        """What the schedule has learnt while training (JSON-serialisable), or None if nothing."""
        return None

    def set_state(self, state: dict[str, Any]) -> None:
        """Put back the output of `get_state`."""
        raise ValueError(f"{type(self).__name__} has no running state to restore")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._args().items())
        return f"{type(self).__name__}({self.initial!r}{', ' + args if args else ''})"


class Constant(Schedule):
    """alpha_t = alpha."""

    name = "constant"
    steady_within_epoch = True

    def __call__(self, clock):
        return self.initial


class StepDecay(Schedule):
    """alpha_t = alpha * drop ** floor(epoch / every)."""

    name = "step"
    steady_within_epoch = True

    def __init__(self, initial: float, drop: float = 0.5, every: int = 10) -> None:
        super().__init__(initial)
        self.drop = check_float(drop, "drop", 0.0, 1.0, low_open=True)
        self.every = check_positive_int(every, "every")

    def __call__(self, clock):
        return self.initial * self.drop ** (clock.epoch // self.every)

    def _args(self):
        return {"drop": self.drop, "every": self.every}


class ExponentialDecay(Schedule):
    """alpha_t = alpha * rate ** (progress / every), smooth in fractional epochs."""

    name = "exponential"

    def __init__(self, initial: float, rate: float = 0.96, every: float = 1.0) -> None:
        super().__init__(initial)
        self.rate = check_float(rate, "rate", 0.0, 1.0, low_open=True)
        self.every = check_float(every, "every", 0.0, low_open=True)

    def __call__(self, clock):
        return self.initial * self.rate ** (clock.progress / self.every)

    def _args(self):
        return {"rate": self.rate, "every": self.every}


class InverseScaling(Schedule):
    """alpha_t = alpha / (1 + t) ** power.

    ``unit="step"`` counts updates, ``"epoch"`` epochs, and ``"sample"`` the samples seen before
    the current epoch (scikit-learn's ``learning_rate="invscaling"``).
    """

    name = "invscaling"
    UNITS = ("step", "epoch", "sample")

    def __init__(self, initial: float, power: float = 0.5, unit: str = "step") -> None:
        super().__init__(initial)
        self.power = check_float(power, "power", 0.0)
        if unit not in self.UNITS:
            raise ValueError(f"unit must be one of {self.UNITS}, got {unit!r}")
        self.unit = unit

    def __call__(self, clock):
        t = {"step": clock.step, "epoch": clock.epoch, "sample": clock.samples}[self.unit]
        return self.initial / (1.0 + t) ** self.power

    def _args(self):
        return {"power": self.power, "unit": self.unit}


class CosineDecay(Schedule):
    """Linear warm-up over ``warmup_epochs``, then a half cosine down to ``min_lr`` at ``epochs``.

    Parameters
    ----------
    initial : float
        Peak rate alpha, reached at the end of warm-up.
    epochs : float
        Length of the whole schedule (warm-up included); the rate stays at min_lr afterwards.
    warmup_epochs : float
    min_lr : float
    """

    name = "cosine"

    def __init__(
        self, initial: float, epochs: float, warmup_epochs: float = 0.0, min_lr: float = 0.0
    ) -> None:
        super().__init__(initial)
        self.epochs = check_float(epochs, "epochs", 0.0, low_open=True)
        self.warmup_epochs = check_float(
            warmup_epochs, "warmup_epochs", 0.0, self.epochs, high_open=True
        )
        self.min_lr = check_float(min_lr, "min_lr", 0.0, self.initial)

    def __call__(self, clock):
        e = clock.progress
        if e < self.warmup_epochs:
            return self.initial * e / self.warmup_epochs
        span = (e - self.warmup_epochs) / (self.epochs - self.warmup_epochs)
        cos = 0.5 * (1.0 + math.cos(math.pi * min(1.0, span)))
        return self.min_lr + (self.initial - self.min_lr) * cos

    def _args(self):
        return {"epochs": self.epochs, "warmup_epochs": self.warmup_epochs, "min_lr": self.min_lr}


class ReduceOnPlateau(Schedule):
    """Multiply the rate by ``factor`` once ``monitor`` has not improved for ``patience`` epochs.

    Parameters
    ----------
    initial : float
    factor : float in (0, 1)
    patience : int
        Epochs without an improvement larger than ``min_delta`` before a reduction.
    min_delta : float
    monitor : str
        A key of the epoch logs, ``"val_loss"`` by default; where it is missing (no validation
        data) the training ``"loss"`` is used.
    min_lr : float
        Floor of the rate.
    mode : {"min", "max"}
        Whether the monitored value should go down (losses) or up (accuracies, scores).
    """

    name = "plateau"
    steady_within_epoch = True

    def __init__(
        self,
        initial: float,
        factor: float = 0.1,
        patience: int = 10,
        min_delta: float = 1e-4,
        monitor: str = "val_loss",
        min_lr: float = 0.0,
        mode: str = "min",
    ) -> None:
        super().__init__(initial)
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.mode = mode
        self.factor = check_float(factor, "factor", 0.0, 1.0, low_open=True, high_open=True)
        self.patience = check_positive_int(patience, "patience")
        self.min_delta = check_float(min_delta, "min_delta", 0.0)
        self.monitor = monitor
        self.min_lr = check_float(min_lr, "min_lr", 0.0)
        self.current = self.initial
        self.best = math.inf
        self.wait = 0

    def __call__(self, clock):
        return self.current

    def on_epoch_end(self, epoch, logs):
        value = logs.get(self.monitor, logs.get("loss"))
        if value is None or not math.isfinite(value):
            return
        if self.mode == "max":
            value = -value
        if value < self.best - self.min_delta:
            self.best, self.wait = value, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.current = max(self.min_lr, self.current * self.factor)
            self.wait = 0

    def _args(self):
        return {
            "factor": self.factor,
            "patience": self.patience,
            "min_delta": self.min_delta,
            "monitor": self.monitor,
            "min_lr": self.min_lr,
            "mode": self.mode,
        }

    def get_state(self):
        """The current rate, the best value so far (None before the first epoch) and the count of
        epochs without improvement."""
        best = None if math.isinf(self.best) else self.best
        return {"current": self.current, "best": best, "wait": self.wait}

    def set_state(self, state):
        self.current = float(state["current"])
        self.best = math.inf if state["best"] is None else float(state["best"])
        self.wait = int(state["wait"])


class AdaptiveRate(ReduceOnPlateau):
    """scikit-learn's ``learning_rate="adaptive"``: divide the rate by 5 (``factor=0.2``) each time
    ``monitor`` fails to improve by ``min_delta`` for ``patience`` consecutive epochs, as long as the
    rate is above ``min_lr``.

    It counts by scikit-learn's rule rather than `ReduceOnPlateau`'s: an epoch is "no improvement"
    when its value is above ``best - min_delta``, and ``best`` follows every epoch (a small
    improvement lowers it, yet still counts against the rate). ``min_lr`` is a threshold, not a
    clamp: a rate above it is divided once more (and may fall below it), a rate at or below it is
    left alone (`can_reduce` is then False, and scikit-learn's estimators stop training).

    Parameters
    ----------
    initial : float
    factor : float in (0, 1), default=0.2
    patience : int, default=2
        Consecutive epochs without an improvement of at least ``min_delta`` before a reduction.
    min_delta : float, default=1e-4
        scikit-learn's ``tol``.
    monitor : str or None, default="loss"
        A key of the epoch logs; where it is missing the training ``"loss"`` is used. None switches
        the epoch hook off: the rate then changes only through `reduce`, called by whoever judges
        the plateau (the estimators of `scratchnet.sklearn` do, with scikit-learn's counter over
        the training loss or, with early stopping, the validation score).
    min_lr : float, default=1e-6
    mode : {"min", "max"}, default="min"
        Whether the monitored value should go down (losses) or up (accuracies, scores).

    >>> sched = AdaptiveRate(0.5, patience=2)
    >>> for epoch, loss in enumerate([1.0, 1.0, 1.0]):
    ...     sched.on_epoch_end(epoch, {"loss": loss})
    >>> sched(Clock())
    0.1
    """

    name = "adaptive"

    def __init__(
        self,
        initial: float,
        factor: float = 0.2,
        patience: int = 2,
        min_delta: float = 1e-4,
        monitor: str | None = "loss",
        min_lr: float = 1e-6,
        mode: str = "min",
    ) -> None:
        super().__init__(initial, factor, patience, min_delta, monitor, min_lr, mode)

    def on_epoch_end(self, epoch, logs):
        if self.monitor is None:
            return
        value = logs.get(self.monitor, logs.get("loss"))
        if value is None or not math.isfinite(value):
            return
        if self.mode == "max":
            value = -value
        if value > self.best - self.min_delta:
            self.wait += 1
        else:
            self.wait = 0
        self.best = min(self.best, value)
        if self.wait >= self.patience:
            self.reduce()

    @property
    def can_reduce(self) -> bool:
        """Whether the rate is still above ``min_lr``."""
        return self.current > self.min_lr

    def reduce(self) -> float:
        """Multiply the rate by ``factor`` if it is above ``min_lr``, restart the count of epochs
        without improvement, and return the rate."""
        if self.can_reduce:
            self.current = self.current * self.factor
        self.wait = 0
        return self.current


SCHEDULES: dict[str, type[Schedule]] = {
    cls.name: cls
    for cls in (
        Constant,
        StepDecay,
        ExponentialDecay,
        InverseScaling,
        CosineDecay,
        ReduceOnPlateau,
        AdaptiveRate,
    )
}


def as_schedule(lr: float | Schedule) -> Schedule:
    """A `Schedule` from a float (constant) or a Schedule."""
    if isinstance(lr, Schedule):
        return lr
    return Constant(lr)


def schedule_from_config(config: dict[str, Any]) -> Schedule:
    """Rebuild a schedule, with its running state, from `Schedule.get_config`."""
    config = dict(config)
    name = config.pop("name", None)
    if name not in SCHEDULES:
        raise ValueError(f"unknown learning-rate schedule {name!r} in saved configuration")
    state = config.pop("state", None)
    sched = SCHEDULES[name](**config)
    if state is not None:
        sched.set_state(state)
    return sched

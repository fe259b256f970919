"""First-order optimisers (section 5): plain GD/SGD, momentum, Nesterov, AdaGrad, RMSProp, Adam, AdamW.

Whether a step is gradient descent, stochastic or mini-batch is decided by ``fit(batch_size=...)``
(None: the whole set, the notes' GD; 1: SGD; k: mini-batch); the optimiser only turns a gradient g
of the minimised loss into an update of each parameter theta:

=========== ================================================================================
SGD          theta <- theta - lr g
momentum     v <- mu v - lr g;  theta <- theta + v
Nesterov     v <- mu v - lr g;  theta <- theta + mu v - lr g
AdaGrad      s <- s + g^2;  theta <- theta - lr g / (sqrt(s) + eps)
RMSProp      s <- rho s + (1 - rho) g^2;  theta <- theta - lr g / (sqrt(s) + eps)
Adam         m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
             theta <- theta - lr m_hat / (sqrt(v_hat) + eps),  m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t)
AdamW        Adam, after theta <- (1 - lr wd) theta on weights (decoupled decay; biases untouched)
=========== ================================================================================

An optimiser acts on the model's flat parameter buffer (`scratchnet.params`): its state slots
(v, s, m) are flat buffers of the same layout, so one step is one pass over each array. They live
on the model's device and move with ``model.to()``. The arithmetic is
delegated to the backend's kernels, which update in place where the library allows it (NumPy,
CuPy, PyTorch) and return new arrays elsewhere (JAX).

Gradient clipping, applied before the update: ``clip_norm`` rescales all gradients together so that
their global L2 norm is at most clip_norm; ``clip_value`` clips each entry to [-clip_value, clip_value].
"""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from .params import ParameterLayout
from .schedules import Clock, Constant, Schedule, as_schedule, schedule_from_config
from .validation import check_float, warn_user

Array = Any


class Optimizer(ABC):
    """Base class. Subclasses define ``slots`` (state names) and `update`.

    Parameters
    ----------
    lr : float or Schedule
        Learning rate alpha_t; a float is a constant schedule.
    clip_norm : float, optional
        Global-norm gradient clipping threshold.
    clip_value : float, optional
        Element-wise gradient clipping threshold.
    """

    name: ClassVar[str] = ""
    slots: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        lr: float | Schedule = 0.01,
        clip_norm: float | None = None,
        clip_value: float | None = None,
    ) -> None:
        self.schedule = as_schedule(lr)
        self.clip_norm = (
            None if clip_norm is None else check_float(clip_norm, "clip_norm", 0, low_open=True)
        )
        self.clip_value = (
            None if clip_value is None else check_float(clip_value, "clip_value", 0, low_open=True)
        )
        self.iterations = 0
        #: slot name -> flat buffer of the parameter layout (empty before the first step)
        self.state: dict[str, Array] = {}

    @property
    def lr(self) -> float:
        """The initial (or constant) learning rate."""
        return self.schedule.initial

    def learning_rate(self, clock: Clock) -> float:
        """alpha_t for the coming step."""
        return self.schedule(clock)

    def step(
        self,
        params: Array,
        grads: Array,
        lr: float,
        kernels: Any,
        layout: ParameterLayout | None = None,
    ) -> Array:
        """One update of the flat parameter buffer; returns the new buffer.

        Parameters
        ----------
        params, grads : arrays of shape (size,)
            The model's flat parameter and gradient buffers (`scratchnet.params`).
        lr : float
            Learning rate for this step.
        kernels : PortableKernels
            The backend's kernels; in-place kernels update ``params`` and the state and return
            the same arrays, the portable ones return new arrays.
        layout : ParameterLayout, optional
            Where each parameter lives (the global norm is summed per parameter in forward
            order, and decoupled weight decay touches ``[0, layout.weight_stop)``). None treats
            the whole buffer as one weight.
        """
        if layout is None:
            layout = ParameterLayout([("weights", tuple(params.shape), True)])
        grads = self._clip(grads, kernels, layout)
        self.iterations += 1
        if not self.state:
            self.state = {s: kernels.xp.zeros_like(params) for s in self.slots}
        params, self.state = self.update(params, grads, self.state, lr, kernels, layout)
        return params

    @abstractmethod
    def update(
        self,
        p: Array,
        g: Array,
        slots: dict[str, Array],
        lr: float,
        kernels: Any,
        layout: ParameterLayout,
    ) -> tuple[Array, dict[str, Array]]:
        """Update the flat buffer ``p`` and the state slots (one flat array each)."""

    def _clip(self, g: Array, kernels: Any, layout: ParameterLayout) -> Array:
        if self.clip_value is not None:
            g = kernels.clip(g, self.clip_value)
        if self.clip_norm is not None:
            xp = kernels.xp
            total = xp.sqrt(sum(xp.sum(seg * seg) for seg in layout.segments(g)))
            factor = self.clip_norm / xp.clip(total, min=self.clip_norm)
            g = kernels.scale(g, factor)
        return g

    def state_arrays(self, layout: ParameterLayout, xp: Any) -> dict[str, dict[str, Array]]:
        """The state as ``{parameter name: {slot: array of the parameter's shape}}`` (views)."""
        if not self.state:
            return {}
        per_slot = {s: layout.views(flat, xp) for s, flat in self.state.items()}
        return {name: {s: per_slot[s][name] for s in self.state} for name in layout.names}

    def set_state_arrays(
        self, arrays: dict[str, dict[str, Array]], layout: ParameterLayout, backend: Any,
        dtype: Any,
    ) -> None:  # fmt: skip
        """Set the state from ``{parameter name: {slot: array}}`` (the inverse of `state_arrays`).

        Parameters absent from ``arrays`` start from zero state; every slot of `slots` must be
        given for the others.
        """
        if not arrays:
            self.state = {}
            return
        xp = backend.xp
        zeros = {n: xp.zeros(layout[n].shape, dtype=dtype, device=backend.device)
                 for n in layout.names}  # fmt: skip
        self.state = {
            s: layout.flatten(
                {n: (backend.asarray(arrays[n][s], dtype=dtype) if n in arrays else zeros[n])
                 for n in layout.names},
                xp, dtype, backend.device,
            )
            for s in self.slots
        }  # fmt: skip

    @classmethod
    def from_config(cls, config: dict) -> Optimizer:
        """Rebuild from `get_config` output (the schedule included)."""
        config = dict(config)
        config["lr"] = schedule_from_config(config["lr"])
        return cls(**config)

    def get_config(self) -> dict:
        """Constructor arguments (JSON-serialisable), the schedule included."""
        return {
            "lr": self.schedule.get_config(),
            "clip_norm": self.clip_norm,
            "clip_value": self.clip_value,
            **self._hyper(),
        }

    def _hyper(self) -> dict:
        return {}

    def reset(self) -> None:
        """Forget all state (moments, step count)."""
        self.iterations = 0
        self.state = {}

    def move_state(self, convert) -> None:
        """Apply ``convert(array) -> array`` to every state buffer (device moves, dtype casts)."""
        self.state = {s: convert(a) for s, a in self.state.items()}

    def __repr__(self) -> str:
        args = {"lr": self.schedule, **self._hyper()}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in args.items())})"


class SGD(Optimizer):
    """Gradient descent, optionally with (Nesterov) momentum.

    Parameters
    ----------
    lr : float or Schedule
    momentum : float in [0, 1)
        mu; 0 gives the notes' plain update theta <- theta - alpha g.
    nesterov : bool
        Look-ahead momentum (needs momentum > 0).
    """

    name = "sgd"

    def __init__(self, lr=0.01, momentum: float = 0.0, nesterov: bool = False, **kwargs) -> None:
        super().__init__(lr, **kwargs)
        self.momentum = check_float(momentum, "momentum", 0.0, 1.0, high_open=True)
        if nesterov and self.momentum == 0.0:
            raise ValueError("nesterov=True needs momentum > 0")
        self.nesterov = bool(nesterov)
        self.slots = ("velocity",) if self.momentum > 0 else ()

    def update(self, p, g, slots, lr, kernels, layout):
        if self.momentum == 0.0:
            return kernels.sgd(p, g, lr), slots
        p, v = kernels.momentum(p, g, slots["velocity"], lr, self.momentum, self.nesterov)
        return p, {"velocity": v}

    def _hyper(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov}


class AdaGrad(Optimizer):
    """Per-coordinate rates shrinking with the summed squared gradients (Duchi et al., 2011)."""

    name = "adagrad"
    slots = ("sum_sq",)

    def __init__(self, lr=0.01, eps: float = 1e-8, **kwargs) -> None:
        super().__init__(lr, **kwargs)
        self.eps = check_float(eps, "eps", 0.0, low_open=True)

    def update(self, p, g, slots, lr, kernels, layout):
        p, s = kernels.adagrad(p, g, slots["sum_sq"], lr, self.eps)
        return p, {"sum_sq": s}

    def _hyper(self):
        return {"eps": self.eps}


class RMSProp(Optimizer):
    """Rates scaled by a running mean of squared gradients (Tieleman and Hinton, 2012)."""

    name = "rmsprop"
    slots = ("mean_sq",)

    def __init__(self, lr=0.001, rho: float = 0.9, eps: float = 1e-8, **kwargs) -> None:
        super().__init__(lr, **kwargs)
        self.rho = check_float(rho, "rho", 0.0, 1.0, high_open=True)
        self.eps = check_float(eps, "eps", 0.0, low_open=True)

    def update(self, p, g, slots, lr, kernels, layout):
        p, s = kernels.rmsprop(p, g, slots["mean_sq"], lr, self.rho, self.eps)
        return p, {"mean_sq": s}

    def _hyper(self):
        return {"rho": self.rho, "eps": self.eps}


class Adam(Optimizer):
    """Adam with bias correction (Kingma and Ba, 2015).

    Parameters
    ----------
    lr : float or Schedule
    beta1, beta2 : float in [0, 1)
        Decay rates of the first and second moment estimates.
    eps : float
        Added to sqrt(v_hat).
    """

    name = "adam"
    slots = ("m", "v")

    def __init__(
        self, lr=0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, **kwargs
    ) -> None:
        super().__init__(lr, **kwargs)
        self.beta1 = check_float(beta1, "beta1", 0.0, 1.0, high_open=True)
        self.beta2 = check_float(beta2, "beta2", 0.0, 1.0, high_open=True)
        self.eps = check_float(eps, "eps", 0.0, low_open=True)

    def update(self, p, g, slots, lr, kernels, layout):
        t = self.iterations
        p, m, v = kernels.adam(
            p, g, slots["m"], slots["v"], lr, self.beta1, self.beta2, self.eps,
            1.0 - self.beta1**t, 1.0 - self.beta2**t,
        )  # fmt: skip
        return p, {"m": m, "v": v}

    def _hyper(self):
        return {"beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter, 2019), on weights only.

    Parameters
    ----------
    weight_decay : float
        wd; each step first scales weights by (1 - lr wd). Biases, batch-norm gamma and beta are
        not decayed, as L2 never touches them either.
    """

    name = "adamw"

    def __init__(self, lr=0.001, weight_decay: float = 0.01, **kwargs) -> None:
        super().__init__(lr, **kwargs)
        self.weight_decay = check_float(weight_decay, "weight_decay", 0.0)

    def update(self, p, g, slots, lr, kernels, layout):
        stop = layout.weight_stop  # the weights lead the layout: one slice to decay
        if self.weight_decay > 0.0 and stop > 0:
            factor = 1.0 - lr * self.weight_decay
            if kernels.in_place:
                kernels.decay(p[:stop], factor)
            else:
                p = kernels.xp.concat([kernels.decay(p[:stop], factor), p[stop:]], axis=0)
        return super().update(p, g, slots, lr, kernels, layout)

    def _hyper(self):
        return {**super()._hyper(), "weight_decay": self.weight_decay}


OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.name: cls for cls in (SGD, AdaGrad, RMSProp, Adam, AdamW)
}
_SHORTCUTS = {
    "gd": (SGD, {}),
    "momentum": (SGD, {"momentum": 0.9}),
    "nesterov": (SGD, {"momentum": 0.9, "nesterov": True}),
}


def lr_conflict(optimizer: Any, lr: Any) -> str | None:
    """The warning for an `Optimizer` instance with a learning rate of its own plus a different
    ``lr``: ``lr`` wins (it is the later, more specific argument). None when there is nothing to
    say: no instance, no ``lr``, the same rate, or an ``lr`` the checks will refuse anyway."""
    if not isinstance(optimizer, Optimizer) or lr is None:
        return None
    own = optimizer.schedule
    if isinstance(lr, Schedule):
        if lr is own or lr.get_config() == own.get_config():
            return None
    elif isinstance(lr, numbers.Real) and not isinstance(lr, bool):
        if not (math.isfinite(lr) and lr > 0) or (isinstance(own, Constant) and lr == own.initial):
            return None
    else:
        return None
    mine = own.initial if isinstance(own, Constant) else own
    return (
        f"optimizer={type(optimizer).__name__}(lr={mine!r}) and lr={lr!r} both set a learning "
        f"rate; lr={lr!r} wins (it replaces the optimiser's schedule). Leave one of them out "
        "to silence this"
    )


def get_optimizer(spec: str | Optimizer, lr: float | Schedule | None = None) -> Optimizer:
    """An optimiser from a name (``"adam"``, ``"sgd"``, ``"gd"``, ``"momentum"``, ``"nesterov"``,
    ``"adagrad"``, ``"rmsprop"``, ``"adamw"``) or an `Optimizer` instance.

    ``lr`` sets the learning rate of a named optimiser (each has its own default otherwise).
    Given with an instance, ``lr`` wins: it replaces the instance's schedule, with a
    `UserWarning` when the instance's own rate differs (``Adam(lr=0.01)`` and ``lr=0.001``:
    0.001 is used).
    """
    if isinstance(spec, Optimizer):
        if lr is not None:
            conflict = lr_conflict(spec, lr)
            if conflict is not None:
                warn_user(conflict)
            spec.schedule = as_schedule(lr)
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"optimizer must be a name or an Optimizer, got {type(spec).__name__}")
    key = spec.lower()
    if key in _SHORTCUTS:
        cls, kwargs = _SHORTCUTS[key]
    elif key in OPTIMIZERS:
        cls, kwargs = OPTIMIZERS[key], {}
    else:
        names = ", ".join([*OPTIMIZERS, *_SHORTCUTS])
        raise ValueError(f"unknown optimizer {spec!r}; valid names are {names}")
    return cls(**kwargs) if lr is None else cls(lr=lr, **kwargs)


def optimizer_from_config(name: str, config: dict) -> Optimizer:
    """Rebuild an optimiser from its name and `Optimizer.get_config`."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r} in saved configuration")
    return OPTIMIZERS[name].from_config(config)


__all__ = [
    "SGD",
    "AdaGrad",
    "Adam",
    "AdamW",
    "Optimizer",
    "RMSProp",
    "get_optimizer",
    "lr_conflict",
]

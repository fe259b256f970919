"""Per-layer training statistics: what `scratchnet.callbacks.LayerStats` measures (drawn by
`scratchnet.plots.plot_layer_stats`).

Each training step gives, for every Dense layer l, the gradient dL/dB(l) the optimiser received and
the change delta B(l) it made, and for every activation layer the batch's Z(l) and H(l) = u(Z(l)).
From them, on the device and with the standard's functions only:

============== ============= ==========================================================
statistic      layers        per step (the epoch's value is the mean over its steps)
============== ============= ==========================================================
grad_norm      Dense         ||dL/dB(l)||_F
update_ratio   Dense         ||delta B(l)||_F / ||B(l)||_F, B(l) before the step
weight_norm    Dense         ||B(l)||_F at the end of the epoch (not averaged)
dead_fraction  relu family   share of units with H = 0 (relu) or Z <= 0 (leaky_relu) on
                             every row of the batch
saturated_...  sigmoid, tanh share of entries of Z with |u'(Z)| < 1e-3
mean, std      every one     mean and standard deviation of all entries of H
============== ============= ==========================================================

Section 1 of the notes explains why these matter: the gradient reaching B(j) carries the product
prod_l u'(z(l)) B(l) of the layers above it, so a factor u' < 1 (sigmoid: at most 1/4) or a dead
unit (u' = 0) shrinks it geometrically with depth. Section 6's initialisers keep the factors
near 1.

>>> import numpy as np
>>> from scratchnet.activations import get_activation
>>> Z = np.array([[-1.0, 2.0], [-3.0, 0.5]])
>>> relu = get_activation("relu")
>>> stats = activation_step_stats(relu, Z, relu.forward(Z))
>>> float(stats["dead_fraction"]), float(stats["mean"])
(0.5, 0.625)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .namespace import array_namespace

Array = Any

#: activations whose units can die (no gradient on every row of a batch)
RELU_FAMILY = ("relu", "leaky_relu")
#: activations that saturate: u'(Z) tends to 0 for large |Z|
SATURATING = ("sigmoid", "tanh")
#: |u'(Z)| below this counts as saturated
SATURATION_THRESHOLD = 1e-3

#: statistic family -> (statistics drawn in its panel, y label, log scale)
FAMILIES: dict[str, tuple[tuple[str, ...], str, bool]] = {
    "gradient norm": (("grad_norm",), "||dL/dB||", True),
    "weight norm": (("weight_norm",), "||B||", False),
    "update ratio": (("update_ratio",), "||delta B|| / ||B||", True),
    "inactive units": (("dead_fraction", "saturated_fraction"), "fraction", False),
    "activation mean": (("mean",), "mean of H", False),
    "activation std": (("std",), "std of H", False),
}


def frobenius_norm(A: Array) -> Array:
    """||A||_F = sqrt(sum_ij A_ij^2), as a 0-d array on A's device."""
    xp = array_namespace(A)
    return xp.sqrt(xp.sum(A * A))


def dense_step_stats(grad: Array, before: Array, after: Array) -> dict[str, Array]:
    """Statistics of one optimiser step on one Dense layer's weights.

    Parameters
    ----------
    grad : array of shape (fan_in, fan_out)
        dL/dB(l), the gradient the optimiser received.
    before, after : arrays of shape (fan_in, fan_out)
        B(l) before and after the step.

    Returns
    -------
    dict
        ``grad_norm`` = ||grad||_F and ``update_ratio`` = ||after - before||_F / ||before||_F
        (0-d arrays; the ratio is inf or NaN when B was zero before the step).
    """
    return {
        "grad_norm": frobenius_norm(grad),
        "update_ratio": frobenius_norm(after - before) / frobenius_norm(before),
    }


def activation_step_stats(
    fn: Any, Z: Array, H: Array, threshold: float = SATURATION_THRESHOLD
) -> dict[str, Array]:
    """Statistics of one training batch's activations H = u(Z).

    Parameters
    ----------
    fn : ActivationFunction
        The layer's u (its ``name`` selects the statistics, ``derivative`` gives u'(Z)).
    Z, H : arrays of shape (n, units)
        The batch's input and output of the activation.
    threshold : float
        Entries with |u'(Z)| < threshold count as saturated (sigmoid and tanh).

    Returns
    -------
    dict
        ``mean`` and ``std`` of all entries of H; ``dead_fraction`` for the relu family (units
        with H = 0 on all n rows, for leaky_relu Z <= 0); ``saturated_fraction`` for sigmoid and
        tanh. 0-d arrays.
    """
    xp = array_namespace(H)
    stats = {"mean": xp.mean(H), "std": xp.std(H)}
    if fn.name in RELU_FAMILY:
        off = H == 0.0 if fn.name == "relu" else Z <= 0.0
        stats["dead_fraction"] = xp.mean(xp.astype(xp.all(off, axis=0), H.dtype))
    elif fn.name in SATURATING:
        flat = xp.abs(fn.derivative(Z, H)) < threshold
        stats["saturated_fraction"] = xp.mean(xp.astype(flat, H.dtype))
    return stats


class EpochSums:
    """Running sums of device scalars over an epoch's steps, read back once at its end.

    ``add(layer, stats)`` adds one step's 0-d arrays; `means` stacks every sum into one array,
    copies it to the host with ``to_numpy`` (one transfer) and divides by the number of steps.
    """

    def __init__(self) -> None:
        self.sums: dict[tuple[str, str], Array] = {}
        self.steps = 0

    def add(self, layer: str, stats: dict[str, Array]) -> None:
        """Add one step's statistics of ``layer``."""
        for stat, value in stats.items():
            key = (layer, stat)
            self.sums[key] = value if key not in self.sums else self.sums[key] + value

    def means(self, to_numpy: Any, extra: dict[tuple[str, str], Array] | None = None) -> dict:
        """``{layer: {stat: float}}``: each sum over ``steps`` (NaN without steps), plus the
        ``extra`` 0-d arrays (end-of-epoch values such as ``weight_norm``) as they are."""
        extra = extra or {}
        keys = [*self.sums, *extra]
        if not keys:
            return {}
        values = [*self.sums.values(), *extra.values()]
        xp = array_namespace(values[0])
        host = np.asarray(to_numpy(xp.stack(values)), dtype=np.float64)
        out: dict[str, dict[str, float]] = {}
        for i, (layer, stat) in enumerate(keys):
            value = float(host[i])
            if i < len(self.sums):
                value = value / self.steps if self.steps else math.nan
            out.setdefault(layer, {})[stat] = value
        return out

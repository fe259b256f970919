"""Public checks that a model's hand-derived gradients are right, on any backend.

`check_gradients` compares `Model.loss_and_gradients` with fourth-order central differences in
float64::

    dL/dtheta ~ (-L(theta + 2h) + 8 L(theta + h) - 8 L(theta - h) + L(theta - 2h)) / (12 h)

whose error is O(h^4) plus round-off of about 1e-16 |L| / h: with h = 1e-4 both stay near 1e-12,
a hundred times below the two-point formula's, so that even the vanishing gradients at the bottom
of deep sigmoid chains are checked. Dropout masks are frozen so that the objective is a fixed
function. `compare_backends` runs the same computation on two backends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .backends import to_numpy
from .layers import Dropout


@dataclass
class GradientReport:
    """Result of `check_gradients`.

    Attributes
    ----------
    errors : dict of str -> float
        Per parameter, ||g_analytic - g_numeric|| / max(||g_analytic|| + ||g_numeric||, floor),
        floor = 1e-6 max(1, |L|): gradients far below the loss's own scale (a bias in front of
        batch normalisation has an exact zero gradient) are compared in absolute terms.
    tol : float
    analytic, numeric : dict of str -> ndarray
        The two gradients, on the host.
    """

    errors: dict[str, float]
    tol: float
    analytic: dict[str, np.ndarray] = field(repr=False)
    numeric: dict[str, np.ndarray] = field(repr=False)

    @property
    def max_error(self) -> float:
        return max(self.errors.values(), default=0.0)

    @property
    def ok(self) -> bool:
        return self.max_error < self.tol

    def __str__(self) -> str:
        lines = [f"gradient check: max relative error {self.max_error:.2e} (tol {self.tol:.0e})"]
        lines += [f"  {name:<24} {err:.2e}" for name, err in self.errors.items()]
        return "\n".join(lines)


def relative_error(a: np.ndarray, b: np.ndarray, floor: float = 1e-12) -> float:
    """||a - b|| / max(||a|| + ||b||, floor): 0 for equal arrays, at most 1 above the floor."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), floor))


def check_gradients(
    model: Any,
    X: Any,
    y: Any,
    sample_weight: Any = None,
    eps: float = 1e-4,
    tol: float = 1e-6,
    training: bool = True,
    raise_on_error: bool = True,
) -> GradientReport:
    """Central-difference check of every parameter gradient, in float64.

    The check runs on a float64 copy of ``model`` on the same backend; the model's parameters
    are not changed (an unbuilt model is built first, from X and y). Dropout masks are drawn once and frozen, so the objective is deterministic; batch
    norm uses batch statistics when ``training``.

    Parameters
    ----------
    model : Model
        Built, or built here from X and y.
    X, y, sample_weight :
        As for `Model.loss_and_gradients`; keep them small (each parameter entry costs two
        evaluations).
    eps : float
        Step h of the central difference.
    tol : float
        Largest acceptable relative error per parameter.
    training : bool
        Check the training objective (dropout, batch statistics) or the inference one.
    raise_on_error : bool
        Raise `AssertionError` with the report when a parameter exceeds ``tol``.

    Returns
    -------
    GradientReport

    Examples
    --------
    >>> import numpy as np, scratchnet as sn
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(6, 3)), np.array([0, 1, 2, 1, 0, 2])
    >>> m = sn.Model(hidden=(4,), activation="tanh", l2=0.1, seed=0)
    >>> sn.testing.check_gradients(m, X, y).ok
    True
    """
    if not model.built:
        model.loss_and_gradients(X, y, sample_weight)
    probe = model.copy(dtype="float64")
    if training:
        probe.forward(X, training=True)
        for layer in probe.layers:
            if isinstance(layer, Dropout) and layer.mask is not None:
                layer.freeze()
    loss, grads = probe.loss_and_gradients(X, y, sample_weight, training=training)
    analytic = {k: to_numpy(v).astype(np.float64) for k, v in grads.items()}
    base = {k: to_numpy(v).astype(np.float64) for k, v in probe.parameters().items()}
    state = probe.state()

    def objective(params: dict[str, np.ndarray]) -> float:
        probe.set_parameters(params)
        probe.set_state(state)  # batch norm's running statistics are not part of the objective
        value, _ = probe.loss_and_gradients(X, y, sample_weight, training=training)
        return value

    numeric = {}
    stencil = ((2.0, -1.0), (1.0, 8.0), (-1.0, -8.0), (-2.0, 1.0))
    for name, value in base.items():
        g = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            total = 0.0
            for step, weight in stencil:
                moved = value.copy()
                moved[idx] += step * eps
                total += weight * objective({**base, name: moved})
            g[idx] = total / (12.0 * eps)
        numeric[name] = g
    floor = 1e-6 * max(1.0, abs(loss))
    errors = {name: relative_error(analytic[name], numeric[name], floor) for name in base}
    report = GradientReport(errors, tol, analytic, numeric)
    if raise_on_error and not report.ok:
        raise AssertionError(str(report))
    return report


def compare_backends(
    model: Any,
    X: Any,
    y: Any,
    backend: str,
    device: Any = None,
    training: bool = False,
) -> dict[str, float]:
    """Loss and gradients of ``model`` on its own backend and on ``backend``, compared.

    Dropout is off unless ``training``; masks then differ between backends by design.

    Returns
    -------
    dict
        ``"loss"`` and every parameter name -> relative difference (see `relative_error`).
    """
    other = model.copy(backend=backend, device=device)
    loss_a, grads_a = model.loss_and_gradients(X, y, training=training)
    loss_b, grads_b = other.loss_and_gradients(X, y, training=training)
    diffs = {"loss": abs(loss_a - loss_b) / max(abs(loss_a), 1e-12)}
    for name in grads_a:
        diffs[name] = relative_error(to_numpy(grads_a[name]), to_numpy(grads_b[name]))
    return diffs

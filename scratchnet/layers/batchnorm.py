"""Batch normalisation (Ioffe and Szegedy, 2015), the notes' section 7."""

from __future__ import annotations

from typing import Any

from ..namespace import array_namespace
from .base import Array, BuildContext, Layer


class BatchNorm(Layer):
    """Normalise each feature over the batch, then scale and shift: Y = gamma * Zhat + beta.

    Parameters
    ----------
    momentum : float
        Running statistics follow r <- momentum r + (1 - momentum) batch_statistic.
    eps : float
        Added to the variance before the square root.
    name : str, optional

    Notes
    -----
    Training, for Z of shape (n, d)::

        mu = (1/n) 1^T Z                  var = (1/n) 1^T (Z - mu)^2   (biased)
        Zhat = (Z - mu) / sqrt(var + eps)  Y = gamma * Zhat + beta

    Inference uses the running mean and variance instead of mu and var (a training batch of one
    row leaves them unchanged: its variance is 0). Backward, with G = dL/dY
    and s = 1 / sqrt(var + eps)::

        dL/dgamma = 1^T (G * Zhat)       dL/dbeta = 1^T G
        dL/dZ = (s / n) * (n Ghat - 1^T Ghat - Zhat * (1^T (Ghat * Zhat))),   Ghat = G * gamma

    which follows from differentiating through mu and var (both depend on every row of Z). At
    inference the map is affine per feature and dL/dZ = G * gamma * s.

    Parameters ``gamma`` (ones) and ``beta`` (zeros), shape (d,); state ``running_mean`` (zeros) and
    ``running_var`` (ones), shape (d,), moved and saved with the model but never optimised.
    """

    kind = "batchnorm"

    def __init__(self, momentum: float = 0.9, eps: float = 1e-5, name: str | None = None) -> None:
        super().__init__(name)
        if not (isinstance(momentum, int | float) and 0.0 <= momentum < 1.0):
            raise ValueError(f"momentum must be a float in [0, 1), got {momentum!r}")
        if not (isinstance(eps, int | float) and eps > 0):
            raise ValueError(f"eps must be a float > 0, got {eps!r}")
        self.momentum = float(momentum)
        self.eps = float(eps)

    def build(self, n_in: int, ctx: BuildContext) -> int:
        xp, dev, dt = ctx.backend.xp, ctx.backend.device, ctx.dtype
        self.params = {
            "gamma": xp.ones((n_in,), dtype=dt, device=dev),
            "beta": xp.zeros((n_in,), dtype=dt, device=dev),
        }
        self.state = {
            "running_mean": xp.zeros((n_in,), dtype=dt, device=dev),
            "running_var": xp.ones((n_in,), dtype=dt, device=dev),
        }
        self.grads = {}
        self.n_in, self.n_out = n_in, n_in
        return n_in

    def forward(self, H: Array, training: bool = False, rng: Any = None) -> Array:
        xp = array_namespace(H)
        if training:
            mean = xp.mean(H, axis=0)
            centered = H - mean
            var = xp.mean(centered * centered, axis=0)
            if H.shape[0] > 1:  # a one-row batch has variance 0: keep it out of the statistics
                m = self.momentum
                self.state = {
                    "running_mean": m * self.state["running_mean"] + (1.0 - m) * mean,
                    "running_var": m * self.state["running_var"] + (1.0 - m) * var,
                }
        else:
            centered = H - self.state["running_mean"]
            var = self.state["running_var"]
        inv_std = 1.0 / xp.sqrt(var + self.eps)
        Zhat = centered * inv_std
        self.cache = {"Zhat": Zhat, "inv_std": inv_std, "training": training}
        return Zhat * self.params["gamma"] + self.params["beta"]

    def backward(self, E: Array, need_input_grad: bool = True) -> Array | None:
        Zhat, inv_std = self._cached("Zhat"), self.cache["inv_std"]
        xp = array_namespace(E)
        self.grads["gamma"] = xp.sum(E * Zhat, axis=0)
        self.grads["beta"] = xp.sum(E, axis=0)
        if not need_input_grad:
            return None
        G = E * self.params["gamma"]
        if not self.cache["training"]:
            return G * inv_std
        n = G.shape[0]
        return (inv_std / n) * (n * G - xp.sum(G, axis=0) - Zhat * xp.sum(G * Zhat, axis=0))

    def per_sample_gradients(self, E: Array) -> dict[str, Array]:
        """Inference mode only (the map is then per-sample): dgamma_i = e_i * zhat_i, dbeta_i = e_i."""
        if self._cached("training"):
            raise ValueError(
                "per-sample gradients through batch normalisation in training mode are undefined: "
                "each output depends on the whole batch"
            )
        return {"gamma": E * self.cache["Zhat"], "beta": E}

    def get_config(self) -> dict[str, Any]:
        return {
            "momentum": self.momentum,
            "eps": self.eps,
            **({"name": self.name} if self.name else {}),
        }

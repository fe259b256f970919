"""Inverted dropout (section 4.2): H~ = (H * M) / p with M ~ Bernoulli(p), p = 1 - rate."""

from __future__ import annotations

from typing import Any

from array_api_compat import device

from ..namespace import array_namespace
from .base import Array, BuildContext, Layer


class Dropout(Layer):
    """Drops each unit with probability ``rate`` while training; the identity at inference.

    Parameters
    ----------
    rate : float
        Drop probability in [0, 1). The notes' keep probability is p = 1 - rate.
    name : str, optional

    Notes
    -----
    Forward in training: M ~ Bernoulli(p) drawn on the device, H~ = (1/p) (H * M), so E[H~] = H.
    Backward: dL/dH = (1/p) (dL/dH~ * M), the factor M(l)/p of the notes' recursion.

    Masks can be fixed for tests and gradient checks: `freeze` keeps the last mask (or one given)
    until `unfreeze`.

    Examples
    --------
    >>> from scratchnet.layers import Dropout
    >>> Dropout(0.5).keep_prob
    0.5
    """

    kind = "dropout"

    def __init__(self, rate: float = 0.5, name: str | None = None) -> None:
        super().__init__(name)
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0.0 <= rate < 1.0:
            raise ValueError(f"dropout rate must be a float in [0, 1), got {rate!r}")
        self.rate = float(rate)
        self.mask: Array = None
        self.frozen = False

    @property
    def keep_prob(self) -> float:
        """p = 1 - rate, the notes' Bernoulli parameter."""
        return 1.0 - self.rate

    def build(self, n_in: int, ctx: BuildContext) -> int:
        self.n_in, self.n_out = n_in, n_in
        return n_in

    def freeze(self, mask: Array | None = None) -> None:
        """Use ``mask`` (0/1, shape (n, width)), or the last drawn one, for every forward pass."""
        if mask is not None:
            self.mask = mask
        if self.mask is None:
            raise ValueError("no mask to freeze: pass one, or run a training forward pass first")
        self.frozen = True

    def unfreeze(self) -> None:
        """Draw a fresh mask on every training forward pass again."""
        self.frozen = False

    def forward(self, H: Array, training: bool = False, rng: Any = None) -> Array:
        if not training or self.rate == 0.0:
            self.cache = {"scale": None}
            return H
        xp = array_namespace(H)
        if not self.frozen:
            if rng is None:
                raise ValueError(
                    "a training forward pass through Dropout needs the device generator: "
                    "forward(H, training=True, rng=backend.make_rng(seed)), or freeze(mask)"
                )
            self.mask = rng.bernoulli(tuple(H.shape), self.keep_prob, H.dtype, xp)
        else:
            if tuple(self.mask.shape) != tuple(H.shape):
                raise ValueError(
                    f"frozen dropout mask has shape {tuple(self.mask.shape)}, "
                    f"but the layer input has shape {tuple(H.shape)}"
                )
            if array_namespace(self.mask) is not xp or self.mask.dtype != H.dtype:
                self.mask = xp.asarray(self.mask, dtype=H.dtype, device=device(H))
        scale = self.mask * (1.0 / self.keep_prob)
        self.cache = {"scale": scale}
        return H * scale

    def backward(self, E: Array, need_input_grad: bool = True) -> Array | None:
        scale = self._cached("scale")
        return E if scale is None else E * scale

    def get_config(self) -> dict[str, Any]:
        return {"rate": self.rate, **({"name": self.name} if self.name else {})}

"""Layers: each keeps its forward and its hand-written backward side by side.

=========== ====================================================== ==============================
layer        forward                                                backward (E = dL/d output)
=========== ====================================================== ==============================
Dense        Z = H B + 1 c^T                                        dB = H^T E, dc = 1^T E, dH = E B^T
Activation   H = u(Z)                                               dZ = E * u'(Z)
Dropout      H~ = (H * M) / p  (training)                           dH = (E * M) / p
BatchNorm    Y = gamma * (Z - mu) / sqrt(var + eps) + beta          see `BatchNorm`
=========== ====================================================== ==============================
"""

from __future__ import annotations

from .activation import Activation
from .base import BuildContext, Layer
from .batchnorm import BatchNorm
from .dense import Dense
from .dropout import Dropout

LAYER_TYPES: dict[str, type[Layer]] = {
    cls.kind: cls for cls in (Dense, Activation, Dropout, BatchNorm)
}


def layer_from_config(kind: str, config: dict) -> Layer:
    """Rebuild a layer from its registered ``kind`` and `Layer.get_config` output."""
    if kind not in LAYER_TYPES:
        raise ValueError(f"unknown layer type {kind!r}; known types are {', '.join(LAYER_TYPES)}")
    return LAYER_TYPES[kind].from_config(config)


__all__ = [
    "LAYER_TYPES",
    "Activation",
    "BatchNorm",
    "BuildContext",
    "Dense",
    "Dropout",
    "Layer",
    "layer_from_config",
]

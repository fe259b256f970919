"""The layer stack a `Model` builds from its arguments, and the checks on those arguments.

``Model(hidden=(64, 32), activation="relu", dropout=0.1, batch_norm=True)`` becomes, per hidden
layer, ``Dense -> [BatchNorm] -> Activation -> [Dropout]``, then the output Dense layer (the notes'
A and b, or a and b for one output). Unnamed layers get names ``dense1``, ``batchnorm1``,
``activation1``, ``dropout1``, ``dense2``, ... which key parameters (``"dense1.B"``) and files.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import validation as check
from .layers import Activation, BatchNorm, Dense, Dropout, Layer


def int_tuple(hidden: Any) -> tuple[int, ...]:
    """``hidden`` as a tuple of positive ints (one int is one layer)."""
    if isinstance(hidden, int | np.integer) and not isinstance(hidden, bool):
        hidden = (int(hidden),)
    try:
        values = tuple(hidden)
    except TypeError as exc:
        raise TypeError(f"hidden must be a sequence of ints, got {hidden!r}") from exc
    for h in values:
        check.check_positive_int(h, "each hidden layer width")
    return tuple(int(h) for h in values)


def per_layer(value: Any, n: int, name: str, kinds: Any) -> tuple:
    """One value repeated for ``n`` hidden layers, or a sequence of exactly ``n`` values."""
    if isinstance(value, kinds) and not isinstance(value, bool):
        return (value,) * n
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be one value or one per hidden layer, got {value!r}")
    if len(value) != n:
        raise ValueError(f"{name} has {len(value)} entries but there are {n} hidden layers")
    return tuple(value)


def hidden_stack(
    hidden: Sequence[int], activation: Sequence[str], dropout: Sequence[float], batch_norm: bool
) -> list[Layer]:
    """``Dense -> [BatchNorm] -> Activation -> [Dropout]`` for each hidden width."""
    stack: list[Layer] = []
    for width, act, rate in zip(hidden, activation, dropout, strict=True):
        stack.append(Dense(width, use_bias=not batch_norm))
        if batch_norm:
            stack.append(BatchNorm())
        stack.append(Activation(act))
        if rate > 0.0:
            stack.append(Dropout(rate))
    return stack


def complete_stack(
    hidden_layers: Sequence[Layer], n_outputs: int, output_layer: Dense | None, init: Any
) -> list[Layer]:
    """Copies of ``hidden_layers`` plus the output layer, named, each Dense with an initialiser.

    ``output_layer`` (a saved model's) is reused when it has ``n_outputs`` units.
    """
    stack = [copy.deepcopy(x) for x in hidden_layers]
    out = copy.deepcopy(output_layer) if output_layer is not None else None
    stack.append(out if out is not None and out.units == n_outputs else Dense(n_outputs))
    name_layers(stack)
    for i, layer in enumerate(stack):
        if isinstance(layer, Dense) and layer.init is None:
            layer.init = init or default_init(stack[i + 1 :])
    return stack


def name_layers(stack: list[Layer]) -> None:
    """Give unnamed layers names like dense1, batchnorm1, activation1, dropout1, dense2, ..."""
    taken = {ly.name for ly in stack if ly.name}
    if len(taken) != sum(1 for ly in stack if ly.name):
        raise ValueError("layer names must be unique")
    index = 0
    for layer in stack:
        if isinstance(layer, Dense):
            index += 1
        if layer.name:
            continue
        base = f"{layer.kind}{max(index, 1) if not isinstance(layer, Dense) else index}"
        name, k = base, 2
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        layer.name = name
        taken.add(name)


def default_init(following: list[Layer]) -> str:
    """Initialiser chosen by the next activation (skipping batch norm and dropout)."""
    for layer in following:
        if isinstance(layer, Activation):
            return layer.fn.init
        if isinstance(layer, Dense):
            break
    return "xavier_uniform"

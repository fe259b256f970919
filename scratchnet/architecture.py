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


def custom_stack(layers: Any, advise: bool = True) -> list[Layer] | None:
    """Copies of a custom hidden stack (``Model(layers=...)``), or None for none.

    With ``advise``, habits from Keras and PyTorch that the model would silently turn into
    something else get a `UserWarning`: the model adds the output layer itself, so a stack that
    ends in a Dense layer, or narrows to a 1-unit Dense layer and a sigmoid (or ends in a
    registered softmax), would gain a second output layer on top.
    """
    if layers is None:
        return None
    if isinstance(layers, Layer) or not all(isinstance(x, Layer) for x in layers):
        raise TypeError("layers must be a sequence of scratchnet.layers.Layer objects")
    stack = [copy.deepcopy(x) for x in layers]
    if advise and stack:
        advice = _output_layer_advice(stack)
        if advice is not None:
            check.warn_user(advice)
    return stack


def _output_layer_advice(stack: list[Layer]) -> str | None:
    last = stack[-1]
    dense = [x for x in stack if isinstance(x, Dense)]
    after = (
        "the model adds the output layer (Dense, sized from y) and the output head itself: "
        "leave it out of layers= and choose the head with Model(output='softmax'), 'sigmoid' "
        "or 'identity'"
    )
    if isinstance(last, Dense):
        return (
            f"layers= ends with Dense({last.units}), so it becomes a hidden linear layer right "
            f"before the output layer (two linear maps in a row); {after}"
        )
    if isinstance(last, Activation) and last.fn.name in ("sigmoid", "softmax"):
        narrowing = len(dense) > 1 and dense[-1].units == 1 < max(x.units for x in dense)
        if last.fn.name == "softmax" or narrowing:  # a chain of width 1 is no output layer
            width = f"Dense({dense[-1].units}), " if dense else ""
            return (
                f"layers= ends with {width}Activation({last.fn.name!r}) like an output layer, "
                f"but it becomes a hidden layer; {after}"
            )
    return None


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

"""Moving a model to another backend, device or dtype (`Model.to`).

The flat parameter buffer moves as one array, the layers are re-bound to views of the moved
buffer, and batch-norm state, frozen dropout masks and the optimiser's flat slots follow. The
device generator is re-seeded on the target from the model's seed (another library's generator
state does not carry over).
"""

from __future__ import annotations

from typing import Any

from .backends import to_device
from .params import ParameterStore


def move_model(model: Any, target: Any, dtype_name: str) -> None:
    """Move every array of ``model`` to backend ``target`` in ``dtype_name``, in place.

    Gradients and forward caches are dropped (they are recomputed by the next step).
    """

    def move(a):
        moved = to_device(a, target, dtype=dtype_name)
        if not getattr(getattr(moved, "flags", None), "writeable", True):
            # NumPy shares read-only buffers (JAX's) through DLPack; a model updates in place
            moved = target.asarray(moved, copy=True)
        return moved

    if model.built:
        store = ParameterStore(model.store.layout, move(model.store.values), target)
        for layer in model.layers:
            layer.state = {k: move(v) for k, v in layer.state.items()}
            layer.grads = {}
            layer.clear_cache()
            if getattr(layer, "mask", None) is not None:
                layer.mask = move(layer.mask)
        model.store = store
        store.bind(model.layers)
    if model.optimizer is not None:
        model.optimizer.move_state(move)
    model.rng = target.make_rng(model._device_seed)
    model.backend, model.dtype, model.dtype_name = target, target.dtype(dtype_name), dtype_name

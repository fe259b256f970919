"""The parameter store: every trained parameter of a model in one flat buffer on its device.

A model's B(l), c(l), gamma and beta are views into one contiguous 1-D array (one per model: a
model has one dtype), and their gradients are views into a second array of the same layout, as is
every optimiser slot (Adam's m and v, ...). An optimiser step, a gradient clip, a snapshot for
early stopping or the NaN guard, a device move and an all-reduce each act on one array.

The layout (`ParameterLayout`) maps each name (``"dense1.B"``) to an offset and a shape:

- weights (the parameters L2 and weight decay act on) come first, then biases and batch-norm
  parameters, each group in forward order, so decoupled weight decay touches one leading slice;
- every parameter starts at a multiple of `ALIGNMENT` elements (64 bytes in float32); the gaps are
  zero in values, gradients and optimiser slots, and stay zero under every update.

``model.parameter_layout.describe()`` lists it. On libraries whose arrays can be written (NumPy,
CuPy, PyTorch) the views alias the buffer and optimisers update it in place; on JAX, whose arrays
are immutable, an update returns a new buffer and the store re-slices the layer views from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

Array = Any

#: every parameter's offset is a multiple of this many elements
ALIGNMENT = 16


@dataclass(frozen=True)
class ParameterSlot:
    """Where one parameter lives in the flat buffer.

    Attributes
    ----------
    name : str
        ``"<layer>.<key>"``, e.g. ``"dense1.B"``.
    shape : tuple of int
        The shape users see (``(fan_in, fan_out)`` for B).
    offset : int
        Index of its first element in the flat buffer.
    is_weight : bool
        Penalised by L2 and decayed by AdamW.
    """

    name: str
    shape: tuple[int, ...]
    offset: int
    is_weight: bool

    @property
    def size(self) -> int:
        """Number of elements."""
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def stop(self) -> int:
        """One past its last element."""
        return self.offset + self.size


def _aligned(n: int) -> int:
    return -(-n // ALIGNMENT) * ALIGNMENT


class ParameterLayout:
    """Offsets and shapes of named parameters in one flat buffer.

    Parameters
    ----------
    entries : sequence of (name, shape, is_weight)
        In forward (user-visible) order; `slots` keeps that order.

    Examples
    --------
    >>> layout = ParameterLayout([("dense1.B", (3, 2), True), ("dense1.c", (2,), False),
    ...                           ("dense2.B", (2, 1), True)])
    >>> [(s.name, s.offset) for s in layout.slots]
    [('dense1.B', 0), ('dense1.c', 32), ('dense2.B', 16)]
    >>> layout.size, layout.weight_stop, layout.n_parameters
    (48, 18, 10)
    """

    def __init__(self, entries: Iterable[tuple[str, Sequence[int], bool]]) -> None:
        entries = [(str(n), tuple(int(d) for d in s), bool(w)) for n, s, w in entries]
        names = [n for n, _, _ in entries]
        if len(set(names)) != len(names):
            raise ValueError(f"parameter names must be unique, got {names}")
        offsets: dict[str, int] = {}
        position = 0
        weight_stop = 0
        for group in (True, False):  # weights first: weight decay then acts on one slice
            for name, shape, is_weight in entries:
                if is_weight is group:
                    offsets[name] = position
                    size = 1
                    for d in shape:
                        size *= d
                    if group:
                        weight_stop = position + size
                    position = _aligned(position + size)
        self.slots = tuple(ParameterSlot(n, s, offsets[n], w) for n, s, w in entries)
        self.size = position
        self.weight_stop = weight_stop
        self._by_name = {s.name: s for s in self.slots}
        #: name -> (offset, stop, size), looked up on every step without recomputing sizes
        self.spans = {s.name: (s.offset, s.stop, s.size) for s in self.slots}

    @property
    def names(self) -> list[str]:
        """Parameter names in forward order."""
        return [s.name for s in self.slots]

    @property
    def n_parameters(self) -> int:
        """Trained scalars (the padding excluded)."""
        return sum(s.size for s in self.slots)

    def __getitem__(self, name: str) -> ParameterSlot:
        return self._by_name[name]

    def __len__(self) -> int:
        return len(self.slots)

    def describe(self) -> list[dict[str, Any]]:
        """One dict per parameter: name, offset, shape, size, is_weight (forward order)."""
        return [
            {"name": s.name, "offset": s.offset, "shape": s.shape, "size": s.size,
             "is_weight": s.is_weight}
            for s in self.slots
        ]  # fmt: skip

    def view(self, flat: Array, name: str, xp: Any) -> Array:
        """The parameter ``name`` as an array of its shape (a view where the library allows)."""
        s = self._by_name[name]
        return xp.reshape(flat[s.offset : s.stop], s.shape)

    def views(self, flat: Array, xp: Any) -> dict[str, Array]:
        """Every parameter of ``flat``, by name, in forward order."""
        return {s.name: self.view(flat, s.name, xp) for s in self.slots}

    def segments(self, flat: Array) -> list[Array]:
        """The 1-D slice of each parameter in forward order (the padding left out)."""
        return [flat[s.offset : s.stop] for s in self.slots]

    def flatten(self, arrays: dict[str, Array], xp: Any, dtype: Any, device: Any) -> Array:
        """A new flat buffer holding ``arrays`` (name -> array of the slot's shape), zero gaps.

        Parameters
        ----------
        arrays : dict
            Arrays of the target library, one per slot name, already of the right shapes.
        """
        order = sorted(self.slots, key=lambda s: s.offset)
        parts = []
        position = 0
        for s in order:
            if s.offset > position:
                parts.append(xp.zeros((s.offset - position,), dtype=dtype, device=device))
            parts.append(xp.reshape(xp.astype(arrays[s.name], dtype), (s.size,)))
            position = s.stop
        if self.size > position:
            parts.append(xp.zeros((self.size - position,), dtype=dtype, device=device))
        if not parts:
            return xp.zeros((0,), dtype=dtype, device=device)
        return xp.concat(parts, axis=0) if len(parts) > 1 else xp.asarray(parts[0], copy=True)


class ParameterStore:
    """A model's parameters and gradients as two flat buffers with one layout.

    Parameters
    ----------
    layout : ParameterLayout
    values : array of shape (layout.size,)
        The parameter buffer (owned by the store from now on).
    backend : Backend
        Where the buffers live; ``backend.kernels.in_place`` says whether views alias them.

    Attributes
    ----------
    values, grads : arrays of shape (layout.size,)
        Parameters and the gradient of the last `gather_gradients`.
    """

    def __init__(self, layout: ParameterLayout, values: Array, backend: Any) -> None:
        self.layout = layout
        self.backend = backend
        self.in_place = bool(getattr(backend.kernels, "in_place", False))
        self.values = values
        xp = backend.xp
        self.grads = xp.zeros((layout.size,), dtype=values.dtype, device=backend.device)
        self._targets: dict[str, Array] = {}  # name -> view of grads handed to the layers
        self._targets_of: Array | None = None  # the gradient buffer those views belong to

    @classmethod
    def from_layers(cls, layers: Sequence[Any], backend: Any, dtype: Any) -> ParameterStore:
        """Pack the built layers' parameters into a new store and bind the layers to it."""
        entries, arrays = [], {}
        for layer in layers:
            for key, value in layer.params.items():
                name = f"{layer.name}.{key}"
                entries.append((name, tuple(value.shape), key in layer.weight_keys))
                arrays[name] = value
        layout = ParameterLayout(entries)
        xp = backend.xp
        values = layout.flatten(arrays, xp, dtype, backend.device)
        store = cls(layout, values, backend)
        store.bind(layers)
        return store

    # ----- binding ---------------------------------------------------------------------------
    def bind(self, layers: Sequence[Any]) -> None:
        """Point every layer's ``params`` at views of `values` (after any new buffer), and hand
        every layer the store's backend kernels (after a move they are the new backend's)."""
        xp = self.backend.xp
        kernels = getattr(self.backend, "kernels", None)
        for layer in layers:
            if hasattr(layer, "use_kernels"):
                layer.use_kernels(kernels)
        if self._targets_of is not self.grads:
            self._hand_out_targets(layers)
        for layer in layers:
            for key in layer.params:
                layer.params[key] = self.layout.view(self.values, f"{layer.name}.{key}", xp)

    def replace_values(self, values: Array, layers: Sequence[Any]) -> None:
        """Adopt a new parameter buffer (an optimiser's functional update, a move, a restore)."""
        same = values is self.values
        self.values = values
        if not same or not self.in_place:
            self.bind(layers)

    # ----- gradients -------------------------------------------------------------------------
    def _hand_out_targets(self, layers: Sequence[Any]) -> None:
        """Give each layer views of `grads` to write its gradients into (in-place libraries)."""
        self._targets_of = self.grads
        self._targets = self.layout.views(self.grads, self.backend.xp) if self.in_place else {}
        for layer in layers:
            if self.in_place and layer.params:
                layer.grad_targets = {k: self._targets[f"{layer.name}.{k}"] for k in layer.params}
            elif getattr(layer, "grad_targets", None) is not None:
                layer.grad_targets = None

    def gather_gradients(self, layers: Sequence[Any]) -> Array:
        """Copy each layer's ``grads`` into the flat gradient buffer and return it.

        In-place libraries write into the existing buffer, skipping the gradients a layer has
        already written into the views `bind` gave it (``layer.grad_targets``); the others build a
        new buffer.
        """
        xp = self.backend.xp
        if self.in_place:
            if self._targets_of is not self.grads:  # the buffer was replaced (an all-reduce)
                self._hand_out_targets(layers)
            targets, spans = self._targets, self.layout.spans
            for layer in layers:
                for key, g in layer.grads.items():
                    name = f"{layer.name}.{key}"
                    if g is targets.get(name):  # written in place by the layer's backward
                        continue
                    start, stop, size = spans[name]
                    self.grads[start:stop] = g if g.ndim == 1 else xp.reshape(g, (size,))
        else:
            arrays = {f"{ly.name}.{k}": g for ly in layers for k, g in ly.grads.items()}
            self.grads = self.layout.flatten(arrays, xp, self.values.dtype, self.backend.device)
        return self.grads

    def gradient_views(self) -> dict[str, Array]:
        """The gradient buffer as name -> array of each parameter's shape."""
        return self.layout.views(self.grads, self.backend.xp)

    # ----- copies ----------------------------------------------------------------------------
    def copy_values(self) -> Array:
        """A copy of the parameter buffer (one array: snapshots and checkpoints)."""
        return self.backend.asarray(self.values, copy=True)

    def write(self, arrays: dict[str, Array], layers: Sequence[Any]) -> None:
        """Set every parameter from ``arrays`` (name -> array of this backend and dtype)."""
        xp = self.backend.xp
        if self.in_place:
            for s in self.layout.slots:
                self.values[s.offset : s.stop] = xp.reshape(arrays[s.name], (s.size,))
        else:
            self.replace_values(
                self.layout.flatten(arrays, xp, self.values.dtype, self.backend.device), layers
            )

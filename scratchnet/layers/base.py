"""What every layer shares: uniform parameter, gradient, state and cache dicts (contract 3).

A layer maps H(l-1), an (n, fan_in) array, to its output, and back-maps the error E it receives
(dL/d output, shape (n, fan_out)) to dL/dH(l-1). Trained parameters live in ``params``, their
gradients (filled by `backward`) in ``grads`` under the same keys, non-trained arrays (batch-norm
running statistics) in ``state``, and what a forward pass keeps for its backward in ``cache``.
Optimisers, device moves and saving only ever see these dicts; inside a `Model` the ``params``
entries are views into the model's flat parameter store (`scratchnet.params`).

Layers hold no array library: `build` receives a `BuildContext`, and the calls receive their arrays
(the namespace comes from them) and, for dropout, the device generator ``rng``. A built layer also
keeps its backend's kernels (``backend_kernels``, see `scratchnet.backends.kernels`), through which
Dense and Activation reach a backend's fused element-wise loops; the model's parameter store hands
them the new backend's kernels after a move. Pickling and copying drop that reference (the layer
then computes with plain Array API expressions, the same values), so built layers copy and pickle
on every backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

Array = Any


@dataclass
class BuildContext:
    """What a layer needs to create its arrays.

    Attributes
    ----------
    backend : Backend
        Where arrays live.
    dtype : object
        The backend's float dtype.
    init_rng : numpy.random.Generator
        Host generator for initial weights (same draws on every backend).
    """

    backend: Any
    dtype: Any
    init_rng: np.random.Generator


class Layer(ABC):
    """Base class of all layers.

    Subclasses set ``kind`` (the registry name saved in model files) and implement `build`,
    `forward`, `backward` and `get_config`.
    """

    kind: ClassVar[str] = ""
    #: parameter keys that are weights (L2 and weight decay apply to these only, never to biases)
    weight_keys: ClassVar[tuple[str, ...]] = ()
    #: the backend's kernels (`scratchnet.backends.kernels.PortableKernels` or a faster subclass);
    #: None computes with the Array API expressions alone
    backend_kernels: Any = None
    #: where the parameter store would like each gradient written (key -> view of its flat
    #: gradient buffer), or None; a layer may write there instead of returning a new array
    grad_targets: dict[str, Array] | None = None

    def __init__(self, name: str | None = None) -> None:
        if name is not None and (not isinstance(name, str) or not name or "." in name):
            raise ValueError(f"layer name must be a non-empty str without '.', got {name!r}")
        self.name = name
        self.params: dict[str, Array] = {}
        self.grads: dict[str, Array] = {}
        self.state: dict[str, Array] = {}
        self.cache: dict[str, Any] = {}
        self.n_in: int | None = None
        self.n_out: int | None = None

    @property
    def built(self) -> bool:
        return self.n_out is not None

    def use_kernels(self, kernels: Any) -> None:
        """Compute with ``kernels`` (a backend's ``kernels``, or None for the portable path)."""
        self.backend_kernels = kernels

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("backend_kernels", None)  # a handle on a library: not copied, never pickled
        state.pop("grad_targets", None)  # views of a model's gradient buffer: the model's own
        return state

    @abstractmethod
    def build(self, n_in: int, ctx: BuildContext) -> int:
        """Create parameters for an input width ``n_in``; return the output width."""

    @abstractmethod
    def forward(self, H: Array, training: bool = False, rng: Any = None) -> Array:
        """Output for input H of shape (n, n_in); keeps in ``cache`` what `backward` needs.

        ``rng`` is the model's device generator (used by dropout masks while training).
        """

    @abstractmethod
    def backward(self, E: Array, need_input_grad: bool = True) -> Array | None:
        """Given E = dL/d(output), fill ``grads`` and return dL/dH (None if not needed)."""

    @abstractmethod
    def get_config(self) -> dict:
        """JSON-serialisable constructor arguments (no arrays)."""

    @classmethod
    def from_config(cls, config: dict) -> Layer:
        """Rebuild an unbuilt layer from `get_config`'s output."""
        return cls(**config)

    def per_sample_gradients(self, E: Array) -> dict[str, Array]:
        """Per-sample parameter gradients, each of shape (n, *param.shape), for the last forward.

        Layers without parameters return ``{}``. Used for the section-1 gradients of f.
        """
        return {}

    def clear_cache(self) -> None:
        """Drop the arrays kept from the last forward pass (frees memory after training)."""
        self.cache = {}

    def _cached(self, key: str) -> Any:
        """An entry of the forward cache; a `RuntimeError` saying what to call when it is gone."""
        try:
            return self.cache[key]
        except KeyError:
            raise RuntimeError(
                f"layer {self.name or self.kind!r} has no forward pass to differentiate: call "
                "model.forward(X, training=True) (or loss_and_gradients) before backward; "
                "predict, evaluate and fit keep nothing for a later backward"
            ) from None

    def _check_built(self) -> None:
        if not self.built:
            raise RuntimeError(f"layer {self.name or self.kind!r} is not built; call build() first")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        label = f"{self.name}: " if self.name else ""
        return (
            f"{type(self).__name__}({label}{args})" if label else f"{type(self).__name__}({args})"
        )

"""Weight initialisers of section 6, drawn on the host from a seeded `numpy.random.Generator`.

Drawing on the host (in float64, then cast) makes one seed give the same initial network on every
backend and dtype (contract 5). For a weight matrix B of shape (fan_in, fan_out):

============== ===================================================================
zeros          B = 0 (biases; for weights it makes every unit learn the same thing)
normal         B ~ N(0, std^2), std = 0.05 unless given
uniform        B ~ U(-limit, limit), limit = 0.05 unless given
lecun_normal   B ~ N(0, 1 / fan_in)
lecun_uniform  B ~ U(-sqrt(3 / fan_in), sqrt(3 / fan_in))
xavier_normal  B ~ N(0, 2 / (fan_in + fan_out))  (variance; see DESIGN.md errata)
xavier_uniform B ~ U(-sqrt(6 / (fan_in + fan_out)), +sqrt(6 / (fan_in + fan_out)))
he_normal      B ~ N(0, 2 / fan_in)
he_uniform     B ~ U(-sqrt(6 / fan_in), sqrt(6 / fan_in))
sklearn_glorot B ~ U(-sqrt(f / (fan_in + fan_out)), +sqrt(f / (fan_in + fan_out))), f = 6 unless
               given: scikit-learn's MLP initialisation, which takes f = 2 for the logistic
               activation (f = 6 is xavier_uniform)
============== ===================================================================

``glorot_normal`` and ``glorot_uniform`` are aliases of the Xavier pair.

>>> import numpy as np
>>> from scratchnet.initializers import get_initializer
>>> B = get_initializer("he_normal")((784, 256), np.random.default_rng(0))
>>> B.shape, round(float(B.var() * 784 / 2), 1)
((784, 256), 1.0)
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from numbers import Real
from typing import Any

import numpy as np


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of shape (fan_in, fan_out); a vector of length n gives (n, n)."""
    if len(shape) == 1:
        return shape[0], shape[0]
    return shape[0], shape[1]


class Initializer(ABC):
    """Base class: ``init(shape, rng) -> numpy.ndarray`` (float64) of that shape."""

    name = ""

    def __call__(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        fan_in, fan_out = fans(shape)
        return self.sample(shape, fan_in, fan_out, rng)

    @abstractmethod
    def sample(self, shape, fan_in, fan_out, rng) -> np.ndarray:
        """Draw an array of ``shape`` given the fans."""

    def get_config(self) -> dict[str, Any]:
        """``{"name": ..., **arguments}``, JSON-serialisable; `get_initializer` accepts it."""
        return {"name": self.name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Zeros(Initializer):
    """All zeros (section 6.1)."""

    name = "zeros"

    def sample(self, shape, fan_in, fan_out, rng):
        return np.zeros(shape)


class Constant(Initializer):
    """Every entry equal to ``value`` (batch-norm's gamma = 1, for instance)."""

    name = "constant"

    def __init__(self, value: float = 0.0) -> None:
        self.value = float(value)

    def sample(self, shape, fan_in, fan_out, rng):
        return np.full(shape, self.value)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value}

    def __repr__(self) -> str:
        return f"Constant({self.value})"


class Normal(Initializer):
    """N(0, std^2), independent entries (section 6.2)."""

    name = "normal"

    def __init__(self, std: float = 0.05) -> None:
        if not std > 0:
            raise ValueError(f"std must be > 0, got {std}")
        self.std = float(std)

    def sample(self, shape, fan_in, fan_out, rng):
        return rng.normal(0.0, self.std, size=shape)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "std": self.std}

    def __repr__(self) -> str:
        return f"Normal(std={self.std})"


class Uniform(Initializer):
    """U(-limit, limit), independent entries (section 6.2)."""

    name = "uniform"

    def __init__(self, limit: float = 0.05) -> None:
        if not limit > 0:
            raise ValueError(f"limit must be > 0, got {limit}")
        self.limit = float(limit)

    def sample(self, shape, fan_in, fan_out, rng):
        return rng.uniform(-self.limit, self.limit, size=shape)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "limit": self.limit}

    def __repr__(self) -> str:
        return f"Uniform(limit={self.limit})"


class _VarianceScaling(Initializer):
    """N(0, gain / fan) or U(-sqrt(3 gain / fan), +sqrt(3 gain / fan)): same variance gain / fan."""

    gain = 1.0
    mode = "fan_in"
    distribution = "normal"

    def sample(self, shape, fan_in, fan_out, rng):
        fan = {"fan_in": fan_in, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        variance = self.gain / fan
        if self.distribution == "normal":
            return rng.normal(0.0, math.sqrt(variance), size=shape)
        limit = math.sqrt(3.0 * variance)
        return rng.uniform(-limit, limit, size=shape)


class LecunNormal(_VarianceScaling):
    """N(0, 1 / fan_in) (section 6.3)."""

    name = "lecun_normal"


class LecunUniform(_VarianceScaling):
    """U(-sqrt(3 / fan_in), sqrt(3 / fan_in)) (section 6.3)."""

    name = "lecun_uniform"
    distribution = "uniform"


class XavierNormal(_VarianceScaling):
    """N(0, 2 / (fan_in + fan_out)): variance, as Glorot and Bengio (2010) define it (section 6.4)."""

    name = "xavier_normal"
    mode = "fan_avg"


class XavierUniform(_VarianceScaling):
    """U(-sqrt(6 / (fan_in + fan_out)), sqrt(6 / (fan_in + fan_out))) (section 6.4)."""

    name = "xavier_uniform"
    mode = "fan_avg"
    distribution = "uniform"


class HeNormal(_VarianceScaling):
    """N(0, 2 / fan_in) (section 6.5)."""

    name = "he_normal"
    gain = 2.0


class HeUniform(_VarianceScaling):
    """U(-sqrt(6 / fan_in), sqrt(6 / fan_in)) (section 6.5)."""

    name = "he_uniform"
    gain = 2.0
    distribution = "uniform"


class SklearnGlorot(Initializer):
    """U(-sqrt(factor / (fan_in + fan_out)), +sqrt(factor / (fan_in + fan_out))): scikit-learn's MLP
    initialisation, ``factor=6`` (Glorot uniform) or ``factor=2`` for the logistic activation.

    scikit-learn draws the biases from the same interval as their layer's weights; as a bias
    initialiser this class sees only the bias's length n (fans (n, n)), so `MLPClassifier` and
    `MLPRegressor` draw their default biases themselves.

    >>> import numpy as np
    >>> W = SklearnGlorot(factor=2.0)((30, 20), np.random.default_rng(0))
    >>> bool(np.abs(W).max() <= np.sqrt(2.0 / 50))
    True
    """

    name = "sklearn_glorot"

    def __init__(self, factor: float = 6.0) -> None:
        if isinstance(factor, bool) or not isinstance(factor, Real) or not 0 < factor < math.inf:
            raise ValueError(f"factor must be a finite number > 0, got {factor!r}")
        self.factor = float(factor)

    def bound(self, fan_in: int, fan_out: int) -> float:
        """Half-width of the interval for a layer of those fans."""
        return math.sqrt(self.factor / (fan_in + fan_out))

    def sample(self, shape, fan_in, fan_out, rng):
        limit = self.bound(fan_in, fan_out)
        return rng.uniform(-limit, limit, size=shape)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "factor": self.factor}

    def __repr__(self) -> str:
        return f"SklearnGlorot(factor={self.factor})"


_CLASSES = {
    cls.name: cls
    for cls in (
        Zeros,
        Constant,
        Normal,
        Uniform,
        LecunNormal,
        LecunUniform,
        XavierNormal,
        XavierUniform,
        HeNormal,
        HeUniform,
        SklearnGlorot,
    )
}
ALIASES = {"glorot_normal": "xavier_normal", "glorot_uniform": "xavier_uniform", "random": "normal"}

InitializerLike = (
    str | dict | Initializer | Callable[[tuple[int, ...], np.random.Generator], np.ndarray]
)


def initializer_names() -> list[str]:
    """Every accepted initialiser name, aliases included."""
    return [*_CLASSES, *ALIASES]


def get_initializer(spec: InitializerLike) -> Callable:
    """An initialiser from a name (``"he_normal"``), a configuration (``{"name": "normal",
    "std": 0.1}``), an `Initializer`, or any callable ``(shape, rng) -> ndarray``."""
    if isinstance(spec, dict):
        args = dict(spec)
        name = args.pop("name", None)
        key = ALIASES.get(name, name)
        if key not in _CLASSES:
            raise ValueError(
                f"unknown initializer {name!r}; valid names are {', '.join(initializer_names())}"
            )
        try:
            return _CLASSES[key](**args)
        except TypeError as exc:
            raise ValueError(f"bad arguments for initializer {name!r}: {exc}") from exc
    if isinstance(spec, str):
        key = ALIASES.get(spec, spec)
        if key not in _CLASSES:
            raise ValueError(
                f"unknown initializer {spec!r}; valid names are {', '.join(initializer_names())}"
            )
        return _CLASSES[key]()
    if callable(spec):
        return spec
    raise TypeError(
        f"init must be a name, an Initializer or a callable (shape, rng) -> array, got {spec!r}"
    )


def initializer_config(spec: InitializerLike | None) -> str | dict | None:
    """What a saved model records of an initialiser: the name or the configuration of a built-in
    one, None for a custom callable (whose draws are in the saved weights anyway)."""
    if spec is None or isinstance(spec, str):
        return spec
    if isinstance(spec, dict):
        return dict(spec)
    if isinstance(spec, Initializer) and spec.name in _CLASSES:
        return spec.get_config()
    return None

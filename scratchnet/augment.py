"""Label-preserving data augmentation (section 4.4), applied per mini-batch on the model's device.

Each transform T maps a batch X of shape (n, n_features) to a batch of the same shape, drawing its
randomness from the model's device generator (seeded from the model's seed), so training minimises
E_T[L(f(T(x)), y)] without ever copying the data set. Any callable ``(X_batch, rng) -> X_batch``
works as a transform too; ``rng`` is a `scratchnet.backends.DeviceRNG`.

Image transforms need ``image_shape``: (height, width) or (height, width, channels), with the
features of each row laid out row-major in that shape (as MNIST's 784 = 28 x 28 pixels are).

>>> import numpy as np
>>> from scratchnet.augment import RandomShift
>>> from scratchnet.backends import get_backend
>>> be = get_backend("numpy")
>>> X = np.arange(9.0).reshape(1, 9)            # one 3 x 3 image
>>> shift = RandomShift((3, 3), max_shift=1)
>>> shift.shift(X, np.array([1]), np.array([0])).reshape(3, 3)   # one row down, zeros enter
array([[0., 0., 0.],
       [0., 1., 2.],
       [3., 4., 5.]])
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

from array_api_compat import device as device_of

from .namespace import array_namespace
from .validation import check_float, check_positive_int

Array = Any


class Augmentation(ABC):
    """Base class: ``transform(X_batch, rng) -> X_batch`` of the same shape."""

    @abstractmethod
    def __call__(self, X: Array, rng: Any) -> Array:
        """Transform one batch."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class GaussianNoise(Augmentation):
    """X + std * N(0, 1) noise, independent per entry."""

    def __init__(self, std: float = 0.1) -> None:
        self.std = check_float(std, "std", 0.0, low_open=True)

    def __call__(self, X, rng):
        return X + self.std * rng.normal(tuple(X.shape), X.dtype)


class _ImageTransform(Augmentation):
    def __init__(self, image_shape: Sequence[int]) -> None:
        shape = tuple(image_shape)
        if len(shape) not in (2, 3):
            raise ValueError(
                f"image_shape must be (height, width[, channels]), got {image_shape!r}"
            )
        for s in shape:
            check_positive_int(s, "image_shape entries")
        self.image_shape = shape if len(shape) == 3 else (*shape, 1)

    def _check_width(self, X: Array) -> None:
        h, w, c = self.image_shape
        if X.shape[1] != h * w * c:
            raise ValueError(
                f"{type(self).__name__} expects {h * w * c} features per row for image shape "
                f"{self.image_shape}, got {X.shape[1]}"
            )

    def _images(self, X: Array) -> Array:
        self._check_width(X)
        return array_namespace(X).reshape(X, (X.shape[0], *self.image_shape))


class RandomFlip(_ImageTransform):
    """Mirror each image with probability ``p``, horizontally and/or vertically.

    Not label-preserving for digits or text; use it where mirror images keep their class.
    """

    def __init__(
        self,
        image_shape: Sequence[int],
        horizontal: bool = True,
        vertical: bool = False,
        p: float = 0.5,
    ) -> None:
        super().__init__(image_shape)
        if not (horizontal or vertical):
            raise ValueError("RandomFlip needs horizontal=True, vertical=True, or both")
        self.horizontal, self.vertical = bool(horizontal), bool(vertical)
        self.p = check_float(p, "p", 0.0, 1.0)

    def __call__(self, X, rng):
        xp = array_namespace(X)
        images = self._images(X)
        n = X.shape[0]
        for axis, enabled in ((2, self.horizontal), (1, self.vertical)):
            if enabled:
                flip = xp.reshape(rng.uniform((n,), X.dtype) < self.p, (n, 1, 1, 1))
                images = xp.where(flip, xp.flip(images, axis=axis), images)
        return xp.reshape(images, tuple(X.shape))


class RandomShift(_ImageTransform):
    """Translate each image by a random whole number of pixels in [-max_shift, max_shift] per axis.

    Pixels that enter from outside are zero (the background of MNIST-like images).
    """

    def __init__(self, image_shape: Sequence[int], max_shift: int = 2) -> None:
        super().__init__(image_shape)
        self.max_shift = check_positive_int(max_shift, "max_shift")

    def __call__(self, X, rng):
        n, k = X.shape[0], self.max_shift
        return self.shift(X, rng.integers(2 * k + 1, (n,)) - k, rng.integers(2 * k + 1, (n,)) - k)

    def shift(self, X: Array, dy: Array, dx: Array) -> Array:
        """Move image i down by dy[i] and right by dx[i] pixels (negative: up/left), zero-filled.

        Done as one gather: out[i, r, c] = X[i, r - dy_i, c - dx_i] where that lies inside.
        """
        self._check_width(X)
        xp = array_namespace(X)
        dev = device_of(X)
        h, w, c = self.image_shape
        n = X.shape[0]
        dy = xp.reshape(xp.asarray(dy, device=dev), (n, 1, 1, 1))
        dx = xp.reshape(xp.asarray(dx, device=dev), (n, 1, 1, 1))
        rows = xp.reshape(xp.arange(h, device=dev), (1, h, 1, 1)) - dy
        cols = xp.reshape(xp.arange(w, device=dev), (1, 1, w, 1)) - dx
        inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
        rows = xp.clip(rows, 0, h - 1)
        cols = xp.clip(cols, 0, w - 1)
        sample = xp.reshape(xp.arange(n, device=dev), (n, 1, 1, 1)) * (h * w * c)
        chan = xp.reshape(xp.arange(c, device=dev), (1, 1, 1, c))
        flat = sample + (rows * w + cols) * c + chan
        gathered = xp.take(xp.reshape(X, (-1,)), xp.reshape(flat, (-1,)), axis=0)
        gathered = xp.reshape(gathered, (n, h, w, c))
        out = xp.where(inside, gathered, xp.zeros_like(gathered))
        return xp.reshape(out, tuple(X.shape))


class RandomCrop(RandomShift):
    """Pad each image with ``padding`` zero pixels per side and crop back to its size at a random
    offset (the usual "random crop with padding"); the same as a shift by up to ``padding``."""

    def __init__(self, image_shape: Sequence[int], padding: int = 2) -> None:
        super().__init__(image_shape, max_shift=padding)
        self.padding = self.max_shift


class Compose(Augmentation):
    """Apply transforms in order: ``Compose([RandomShift(...), GaussianNoise(0.05)])``."""

    def __init__(self, transforms: Sequence[Callable]) -> None:
        transforms = list(transforms)
        if not transforms:
            raise ValueError("Compose needs at least one transform")
        for t in transforms:
            if not callable(t):
                raise TypeError(f"each transform must be callable (X, rng) -> X, got {t!r}")
        self.transforms = transforms

    def __call__(self, X, rng):
        for t in self.transforms:
            X = t(X, rng)
        return X


def as_augmentation(spec: Any) -> Callable | None:
    """None, a callable ``(X, rng) -> X``, or a list of them (composed in order)."""
    if spec is None:
        return None
    if isinstance(spec, list | tuple):
        return Compose(spec)
    if callable(spec):
        return spec
    raise TypeError(
        f"augment must be a callable (X_batch, rng) -> X_batch or a list of them, got {spec!r}"
    )

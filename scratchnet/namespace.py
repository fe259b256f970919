"""`array_namespace` with a per-type cache: the standard's entry point, cheap on the hot path.

``array_api_compat.array_namespace`` inspects its argument on every call (about 10 microseconds);
a training step asks it a dozen times. The namespace depends only on the array's type, so it is
looked up once per type. Math modules import `array_namespace` from here and otherwise use only
the standard.

`array_sum` and `array_max` are ``xp.sum`` and ``xp.max`` for the reductions a training step runs
on small arrays: on a plain NumPy array, whose namespace's ``sum`` and ``max`` are NumPy's own, they
call the ufunc's ``reduce`` directly, which is what ``numpy.sum`` and ``numpy.max`` end in (the
same result, bit for bit) without their dispatch layers (a few microseconds per call).

>>> import numpy as np
>>> array_namespace(np.ones(2)).__name__
'array_api_compat.numpy'
>>> float(array_sum(np.ones((2, 3)))), array_max(np.eye(2), axis=1).tolist()
(6.0, [1.0, 1.0])
"""

from __future__ import annotations

from typing import Any

import numpy as np
from array_api_compat import array_namespace as _lookup

_BY_TYPE: dict[type, Any] = {}
_ADD_REDUCE = np.add.reduce
_MAX_REDUCE = np.maximum.reduce


def array_namespace(x: Any) -> Any:
    """The Array API namespace of array ``x`` (as ``array_api_compat.array_namespace(x)``)."""
    kind = type(x)
    xp = _BY_TYPE.get(kind)
    if xp is None:
        xp = _BY_TYPE[kind] = _lookup(x)
    return xp


def array_sum(x: Any, axis: int | None = None, keepdims: bool = False) -> Any:
    """``xp.sum(x, axis=axis, keepdims=keepdims)`` in ``x``'s namespace ``xp``.

    Parameters
    ----------
    x : array
    axis : int, optional
        The axis to sum over; None sums every element.
    keepdims : bool
        Keep the reduced axis with length 1.
    """
    return _reduce(x, "sum", _ADD_REDUCE, axis, keepdims)


def array_max(x: Any, axis: int | None = None, keepdims: bool = False) -> Any:
    """``xp.max(x, axis=axis, keepdims=keepdims)`` in ``x``'s namespace ``xp``.

    Parameters
    ----------
    x : array
    axis : int, optional
        The axis to reduce; None takes the maximum of every element.
    keepdims : bool
        Keep the reduced axis with length 1.
    """
    return _reduce(x, "max", _MAX_REDUCE, axis, keepdims)


def _reduce(x: Any, name: str, ufunc_reduce: Any, axis: int | None, keepdims: bool) -> Any:
    """``xp.<name>``, or NumPy's ufunc ``reduce`` for a plain ndarray whose namespace's ``<name>``
    is NumPy's own (not where array-api-compat wraps it)."""
    xp = array_namespace(x)
    reduction = getattr(xp, name)
    if type(x) is np.ndarray and reduction is getattr(np, name):
        return ufunc_reduce(x, axis=axis, keepdims=keepdims)
    return reduction(x, axis=axis, keepdims=keepdims)

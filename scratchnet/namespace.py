"""`array_namespace` with a per-type cache: the standard's entry point, cheap on the hot path.

``array_api_compat.array_namespace`` inspects its argument on every call (about 10 microseconds);
a training step asks it a dozen times. The namespace depends only on the array's type, so it is
looked up once per type. Math modules import `array_namespace` from here and otherwise use only
the standard.

>>> import numpy as np
>>> array_namespace(np.ones(2)).__name__
'array_api_compat.numpy'
"""

from __future__ import annotations

from typing import Any

from array_api_compat import array_namespace as _lookup

_BY_TYPE: dict[type, Any] = {}


def array_namespace(x: Any) -> Any:
    """The Array API namespace of array ``x`` (as ``array_api_compat.array_namespace(x)``)."""
    kind = type(x)
    xp = _BY_TYPE.get(kind)
    if xp is None:
        xp = _BY_TYPE[kind] = _lookup(x)
    return xp

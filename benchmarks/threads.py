"""Thread limits for every library in the process, set at run time, and what BLAS is in use.

Why at run time and not through ``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS``: on the project's
reference machine (a 2-core virtual machine with OpenBLAS), ``OPENBLAS_NUM_THREADS=1`` set at
start-up makes single-thread float32 products run at 11-12 GFLOP/s instead of 37 until one large
(>= 512^3) product has run in the process. `threadpoolctl` changes the limit of the loaded BLAS and
OpenMP pools without that effect, and `warm_up_blas` runs one such product anyway.
"""

from __future__ import annotations

import os
import sys
from typing import Any

#: keeps the threadpoolctl limiter alive for the life of the process
_LIMITERS: list[Any] = []


def set_threads(n: int | None) -> dict[str, Any]:
    """Limit BLAS/OpenMP pools (threadpoolctl) and PyTorch (if imported) to ``n`` threads.

    Parameters
    ----------
    n : int or None
        Thread count; None leaves every library at its default.

    Returns
    -------
    dict
        What was set: ``threads``, ``threadpoolctl`` (bool) and ``torch`` (bool).
    """
    done = {"threads": n, "threadpoolctl": False, "torch": False}
    if n is None:
        return done
    if n < 1:
        raise ValueError(f"--threads must be >= 1, got {n}")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        pass
    else:
        _LIMITERS.append(threadpool_limits(limits=n))
        done["threadpoolctl"] = True
    if "torch" in sys.modules:
        set_torch_threads(n)
        done["torch"] = True
    return done


def set_torch_threads(n: int | None) -> None:
    """``torch.set_num_threads(n)`` (call after importing torch; None does nothing)."""
    if n is None:
        return
    import torch

    torch.set_num_threads(n)


def warm_up_blas(n: int = 512) -> None:
    """Run one n x n float32 product (see the module note on slow first products)."""
    import numpy as np

    a = np.ones((n, n), dtype=np.float32)
    a @ a


def blas_info() -> list[dict[str, Any]]:
    """The thread pools loaded in this process (library, version, threads), via threadpoolctl."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keys = ("user_api", "internal_api", "version", "num_threads", "threading_layer")
    return [{k: info.get(k) for k in keys} for info in threadpool_info()]


def cpu_count() -> int:
    """CPUs this process may run on (the affinity mask where the OS offers one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1

"""Shared fixtures: every numeric test runs on every backend available here.

JAX needs 64-bit mode for the float64 tests; it is switched on before JAX is first imported.
Backends that cannot run here are skipped with the reason `available_backends()` gives (CuPy
without a GPU says so), never failed.
"""

from __future__ import annotations

import os

os.environ.setdefault("JAX_ENABLE_X64", "1")
# the NumPy backend's Numba loops from the first step (by default they wait for 2 s of training
# in a process, which would make the kernels a test sees depend on the tests before it); the
# waiting policy has its own tests
os.environ.setdefault("SCRATCHNET_NUMBA", "1")

import numpy as np
import pytest

import scratchnet as sn

BACKENDS = ("numpy", "array_api_strict", "torch", "jax", "cupy")
_STATUS = sn.available_backends()

# array-api-strict on its non-default test device proves that code carries the device through
BACKEND_DEVICES = [
    pytest.param(("numpy", None), id="numpy"),
    pytest.param(("array_api_strict", "device1"), id="strict-device1"),
    pytest.param(("torch", None), id="torch"),
    pytest.param(("jax", None), id="jax"),
    pytest.param(("cupy", None), id="cupy", marks=pytest.mark.gpu),
]


def skip_unavailable(name: str) -> None:
    status = _STATUS[name]
    if not status.available:
        pytest.skip(f"{name} backend unavailable here: {status.reason}")


@pytest.fixture(params=BACKEND_DEVICES)
def backend(request):
    """(name, device) of each backend that runs here."""
    name, device = request.param
    skip_unavailable(name)
    return sn.get_backend(name, device)


@pytest.fixture(params=["float32", "float64"])
def dtype(request):
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def readonly():
    """Make NumPy inputs read-only (``writeable=False``), as array-api-extra's test backends do.

    ``readonly(a, b, ...)`` returns read-only copies; any kernel that writes into a user's array
    then raises instead of corrupting it unnoticed.
    """

    def freeze(*arrays):
        out = []
        for a in arrays:
            a = np.array(a, copy=True)
            a.flags.writeable = False
            out.append(a)
        return out[0] if len(out) == 1 else tuple(out)

    return freeze


def blobs(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three separable Gaussian blobs in 2-D: (X of shape (n, 2), labels in {0, 1, 2})."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    return np.array([[0.0, 3.0], [3.0, 0.0], [-3.0, -3.0]])[y] + rng.normal(size=(n, 2)), y


def tolerance(dtype: str) -> float:
    """Relative tolerance for comparing a backend with NumPy in this dtype."""
    return 1e-10 if dtype == "float64" else 1e-4


def pytest_report_header(config):
    lines = ["scratchnet backends (tests of unavailable ones are skipped):"]
    for name, status in _STATUS.items():
        lines.append(
            f"  {name:<17} {'available' if status.available else 'skipped: ' + status.reason}"
        )
    return lines

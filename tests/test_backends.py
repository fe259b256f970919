"""Backends: names, errors for people, device transfer, device random generators."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import BACKENDS, skip_unavailable

import scratchnet as sn
from scratchnet.backends import get_backend, library_of
from scratchnet.backends.kernels import PortableKernels


def test_unknown_backend_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown backend 'tensorflow'.*'numpy'.*'cupy'.*'auto'"):
        get_backend("tensorflow")


def test_backend_name_must_be_a_string():
    with pytest.raises(TypeError, match="backend must be a name"):
        get_backend(3)


def test_aliases_and_case():
    assert get_backend("NumPy").name == "numpy"
    assert get_backend("strict").name == "array_api_strict"


def test_available_backends_reports_every_backend_with_a_reason():
    report = sn.available_backends()
    assert set(report) == set(BACKENDS)
    assert report["numpy"].available and report["numpy"].reason == "ok"
    for status in report.values():
        assert isinstance(status.reason, str) and status.reason
        assert bool(status) == status.available


def test_auto_picks_numpy_without_a_gpu():
    if sn.available_backends()["cupy"].available:
        assert get_backend("auto").name == "cupy"
    else:
        assert get_backend("auto").name == "numpy"


def test_cupy_without_gpu_is_a_clear_runtime_error():
    pytest.importorskip("cupy")
    if sn.available_backends()["cupy"].available:
        pytest.skip("a CUDA device is usable here")
    with pytest.raises(RuntimeError, match="no usable CUDA device") as info:
        get_backend("cupy")
    assert "cudaError" not in str(info.value)
    with pytest.raises(RuntimeError, match="no usable CUDA device"):
        sn.Model(backend="cupy")


def test_missing_library_names_the_extra(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("No module named 'torch'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"pip install 'scratchnet\[torch\]'"):
        get_backend("torch")


def test_numpy_backend_refuses_other_devices():
    with pytest.raises(ValueError, match="numpy backend runs on device 'cpu' only"):
        get_backend("numpy", device="cuda:0")


def test_strict_unknown_device():
    skip_unavailable("array_api_strict")
    with pytest.raises(ValueError, match="no device 'device9'"):
        get_backend("array_api_strict", device="device9")


def test_import_scratchnet_loads_no_optional_array_library():
    code = (
        "import sys, scratchnet as sn\n"
        "m = sn.Model(hidden=(3,), seed=0).build(2, 2)\n"
        "bad = [k for k in ('torch', 'jax', 'cupy', 'array_api_strict', 'sklearn', 'matplotlib')"
        " if k in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_to_device_and_back(backend):
    x = np.arange(6.0).reshape(2, 3)
    y = sn.to_device(x, backend, dtype="float32")
    assert library_of(y) == backend.name
    assert backend.array_device(y) == backend.device
    back = sn.to_numpy(y)
    assert isinstance(back, np.ndarray) and back.dtype == np.float32
    np.testing.assert_array_equal(back, x)


def test_to_device_moves_dicts_and_between_libraries(backend):
    skip_unavailable("torch")
    import torch

    params = {"a": torch.ones(2), "b": torch.zeros(3)}
    moved = sn.to_device(params, backend)
    assert set(moved) == {"a", "b"} and library_of(moved["a"]) == backend.name
    np.testing.assert_array_equal(sn.to_numpy(moved)["a"], np.ones(2))


def test_to_numpy_passes_host_values_through():
    assert isinstance(sn.to_numpy([1, 2]), np.ndarray)
    x = np.ones(3)
    assert sn.to_numpy(x) is x


def test_device_rng_is_seeded_and_on_device(backend):
    dt = backend.dtype("float32")
    a = backend.make_rng(7).uniform((1000,), dt)
    b = backend.make_rng(7).uniform((1000,), dt)
    c = backend.make_rng(8).uniform((1000,), dt)
    assert backend.array_device(a) == backend.device
    a, b, c = (sn.to_numpy(v) for v in (a, b, c))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.dtype == np.float32 and 0.0 <= a.min() and a.max() < 1.0
    assert abs(a.mean() - 0.5) < 0.05


def test_device_rng_bernoulli_and_normal(backend):
    dt = backend.dtype("float32")
    gen = backend.make_rng(3)
    mask = sn.to_numpy(gen.bernoulli((20000,), 0.8, dt, backend.xp))
    assert set(np.unique(mask)) <= {0.0, 1.0}
    assert abs(mask.mean() - 0.8) < 0.02
    z = sn.to_numpy(gen.normal((20000,), dt))
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1.0) < 0.05
    k = sn.to_numpy(gen.integers(5, (1000,)))
    assert set(np.unique(k)) == {0, 1, 2, 3, 4}


def test_device_rng_state_round_trip(backend):
    dt = backend.dtype("float32")
    gen = backend.make_rng(11)
    gen.uniform((5,), dt)
    state = gen.get_state()
    first = sn.to_numpy(gen.uniform((5,), dt))
    other = backend.make_rng(99)
    other.set_state(state)
    np.testing.assert_array_equal(sn.to_numpy(other.uniform((5,), dt)), first)


def test_jax_float64_needs_x64_mode():
    skip_unavailable("jax")
    import jax

    be = get_backend("jax")
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", False)
    try:
        with pytest.raises(ValueError, match="JAX_ENABLE_X64=1"):
            be.dtype("float64")
    finally:
        jax.config.update("jax_enable_x64", previous)


def test_dtype_names_are_checked():
    with pytest.raises(ValueError, match="dtype must be one of"):
        get_backend("numpy").dtype("float16")


def test_backend_equality_and_description():
    assert get_backend("numpy") == get_backend("numpy")
    assert get_backend("numpy").describe() == "numpy on cpu"
    assert "numpy" in repr(get_backend("numpy"))


def test_every_fast_kernel_keeps_the_portable_signature(backend):
    import inspect

    kernels = backend.kernels
    for name, method in inspect.getmembers(PortableKernels, inspect.isfunction):
        if name.startswith("_"):
            continue
        ours = getattr(type(kernels), name)
        assert (
            inspect.signature(ours).parameters.keys() == inspect.signature(method).parameters.keys()
        )

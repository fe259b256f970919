"""Backends: names, errors for people, device transfer, device random generators."""

from __future__ import annotations

import ast
import copy
import pickle
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import BACKENDS, skip_unavailable

import scratchnet as sn
from scratchnet.backends import DeviceSpec, get_backend, library_of, parse_device, registry
from scratchnet.backends.kernels import PortableKernels

BACKENDS_DIR = Path(sn.backends.__file__).parent


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
    from scratchnet.backends.cupy_backend import cuda_devices

    count, reason = cuda_devices(__import__("cupy"))
    assert count == 0 and reason.startswith("cupy.cuda.is_available() is False: ")
    with pytest.raises(RuntimeError, match="no usable CUDA device") as info:
        get_backend("cupy")
    assert reason in str(info.value)  # the driver's own words, e.g. CUDARuntimeError: cudaError...
    assert reason in sn.available_backends()["cupy"].reason
    with pytest.raises(RuntimeError, match="no usable CUDA device"):
        sn.Model(backend="cupy")


def test_missing_library_names_the_extra(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("No module named 'torch'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(registry, "_CACHE", {})  # a cached backend would not import again
    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"pip install 'scratchnet\[torch\]'"):
        get_backend("torch")
    status = sn.backends.torch_backend.probe()
    assert not status.available and "pip install 'scratchnet[torch]'" in status.reason


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


def test_torch_kernels_update_in_place():
    skip_unavailable("torch")
    assert get_backend("torch").kernels.in_place is True


# ----- the cache -----------------------------------------------------------------------------
def test_get_backend_returns_one_instance_per_device(monkeypatch):
    from scratchnet.backends import numpy_backend

    monkeypatch.setattr(registry, "_CACHE", {})
    calls = []
    real = numpy_backend.resolve_device

    def counting(device=None):
        calls.append(device)
        return real(device)

    monkeypatch.setattr(numpy_backend, "resolve_device", counting)
    first = get_backend("numpy")
    assert get_backend("numpy") is first
    assert get_backend("NumPy", "cpu") is first
    assert get_backend(first) is first
    assert len(calls) == 1


def test_cached_backends_share_across_device_spellings(backend):
    assert get_backend(backend.name, backend.device) is backend
    assert get_backend(backend.name, backend.device_spec()) is backend


def test_failures_are_not_cached(monkeypatch):
    monkeypatch.setattr(registry, "_CACHE", {})
    with pytest.raises(ValueError, match="numpy backend runs on device 'cpu' only"):
        get_backend("numpy", "cuda:0")
    assert list(registry._CACHE) == []


# ----- device specs ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "kind", "index"),
    [
        (None, None, None),
        (0, "cuda", 0),
        (3, "cuda", 3),
        (np.int64(2), "cuda", 2),
        ("cpu", "cpu", None),
        ("CPU", "cpu", None),
        ("cpu:0", "cpu", 0),
        ("cuda", "cuda", None),
        ("cuda:1", "cuda", 1),
        (" CUDA:1 ", "cuda", 1),
        ("gpu", "cuda", None),
        ("gpu:2", "cuda", 2),
        ("tpu:0", "tpu", 0),
        ("device1", "device1", None),
        ("CPU_DEVICE", "cpu", None),
        (DeviceSpec("cuda", 4), "cuda", 4),
    ],
)
def test_parse_device_accepts(spec, kind, index):
    parsed = parse_device(spec)
    assert (parsed.kind, parsed.index) == (kind, index)
    assert parsed == DeviceSpec(kind, index) and hash(parsed) == hash(DeviceSpec(kind, index))


@pytest.mark.parametrize(
    "spec", [-1, True, 1.5, "", "cuda:", "cuda:-1", "cuda:x", "cuda:1:2", "1cuda", [0], object()]
)
def test_parse_device_refuses(spec):
    with pytest.raises(ValueError, match=r"device must be None, a GPU index .*'cuda:N'.*got"):
        parse_device(spec)


def test_parse_device_reads_library_device_objects():
    fake_cupy_device = type("Device", (), {"__module__": "cupy.cuda.device", "id": 1})()
    spec = parse_device(fake_cupy_device)
    assert spec == DeviceSpec("cuda", 1) and spec.library == "cupy"
    assert spec.native is fake_cupy_device
    if sn.available_backends()["torch"].available:
        import torch

        spec = parse_device(torch.device("cuda", 1))
        assert spec == DeviceSpec("cuda", 1) and spec.library == "torch"
        assert parse_device(torch.device("cpu")) == DeviceSpec("cpu")
    if sn.available_backends()["jax"].available:
        import jax

        device = jax.devices("cpu")[0]
        spec = parse_device(device)
        assert spec == DeviceSpec("cpu", device.id) and spec.native is device
    if sn.available_backends()["array_api_strict"].available:
        import array_api_strict as xs

        assert parse_device(xs.Device("device1")) == DeviceSpec("device1")
        assert parse_device(xs.Device("CPU_DEVICE")) == DeviceSpec("cpu")


@pytest.mark.parametrize(
    ("name", "device", "message"),
    [
        ("numpy", 0, "numpy backend runs on device 'cpu' only"),
        ("numpy", "gpu:1", "numpy backend runs on device 'cpu' only"),
        ("numpy", "cuda:x", "device must be None, a GPU index"),
        ("torch", "device1", "torch device must be 'cpu', 'cuda', 'cuda:N'"),
        ("jax", "nowhere", "JAX has no 'nowhere' devices"),
        ("array_api_strict", "cuda:1", "array_api_strict has no device 'cuda:1'"),
    ],
)
def test_backends_refuse_devices_they_do_not_have(name, device, message):
    skip_unavailable(name)
    with pytest.raises(ValueError, match=message):
        get_backend(name, device)


# ----- CuPy, simulated -------------------------------------------------------------------------
class _FakeCudaRuntimeError(RuntimeError):
    pass


_FakeCudaRuntimeError.__name__ = "CUDARuntimeError"


class _FakeDevice:
    __module__ = "cupy.cuda.device"  # where parse_device recognises a cupy.cuda.Device

    def __init__(self, index=0):
        self.id = index

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __eq__(self, other):
        return isinstance(other, _FakeDevice) and other.id == self.id

    __hash__ = object.__hash__

    def __str__(self):
        return f"<CUDA Device {self.id}>"


@pytest.fixture
def fake_cupy(monkeypatch):
    """A stand-in ``cupy`` whose driver calls are counted; ``.count``/``.error`` set the GPUs."""
    from scratchnet.backends import cupy_backend

    def get_device_count():
        fake.driver_calls += 1
        if fake.error is not None:
            raise fake.error
        return fake.count

    fake = SimpleNamespace(count=2, error=None, driver_calls=0, ndarray=type("ndarray", (), {}))
    fake.cuda = SimpleNamespace(
        is_available=lambda: fake.error is None and get_device_count() > 0,
        runtime=SimpleNamespace(getDeviceCount=get_device_count),
        Device=_FakeDevice,
    )
    fake.random = SimpleNamespace(default_rng=lambda seed: ("generator", seed))
    monkeypatch.setattr(cupy_backend, "import_cupy", lambda: fake)
    monkeypatch.setattr(cupy_backend, "cupy_namespace", lambda: SimpleNamespace(name="xp"))
    monkeypatch.setattr(registry, "_CACHE", {})
    return fake


def test_cuda_reason_is_kept_in_error_and_probe(fake_cupy):
    fake_cupy.error = _FakeCudaRuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")
    expected = "CUDARuntimeError: cudaErrorNoDevice: no CUDA-capable device is detected"
    with pytest.raises(RuntimeError, match="no usable CUDA device") as info:
        get_backend("cupy")
    assert expected in str(info.value)
    status = sn.available_backends()["cupy"]
    assert not status.available and expected in status.reason
    assert get_backend("auto").name == "numpy"


def test_cuda_zero_devices_says_so(fake_cupy):
    fake_cupy.count = 0
    status = sn.backends.cupy_backend.probe()
    assert not status.available and "getDeviceCount() is 0" in status.reason


def test_cupy_backend_is_cached_and_asks_the_driver_once(fake_cupy):
    be = get_backend("cupy", "cuda:1")
    calls = fake_cupy.driver_calls
    assert calls > 0
    assert get_backend("cupy", 1) is be
    assert get_backend("cupy", "gpu:1") is be
    assert get_backend("cupy", _FakeDevice(1)) is be
    assert fake_cupy.driver_calls == calls
    assert be.describe() == "cupy on cuda:1" and be.device_spec() == 1
    assert get_backend("auto") is get_backend("cupy")
    with pytest.raises(ValueError, match="CUDA device 5 requested, but only 2"):
        get_backend("cupy", 5)
    with pytest.raises(ValueError, match="cupy device must be an index"):
        get_backend("cupy", "cpu")


def test_cupy_activate_makes_a_new_device_context_per_call(fake_cupy):
    be = get_backend("cupy", 1)
    first, second = be.activate(), be.activate()
    assert first is not second and first is not be.device
    assert first.id == second.id == 1
    with first:
        pass


def test_cupy_rng_copies_without_modules(fake_cupy):
    rng = get_backend("cupy", 1).make_rng(7)
    assert rng._gen == ("generator", 7)
    assert not any(isinstance(v, type(sys)) for v in vars(rng).values())
    rng._draws = 3
    clone = copy.deepcopy(rng)
    assert clone.get_state() == {"seed": 7, "draws": 3} and clone._device == 1


# ----- copying and pickling --------------------------------------------------------------------
def test_backend_deep_copies_and_pickles(backend):
    assert copy.deepcopy(backend) is backend
    assert copy.copy(backend) is backend
    restored = pickle.loads(pickle.dumps(backend))
    assert restored == backend and hash(restored) == hash(backend)
    assert restored.describe() == backend.describe()


def test_device_rng_copies_and_pickles_continue_the_stream(backend):
    dt = backend.dtype("float32")
    gen = backend.make_rng(21)
    gen.uniform((3,), dt)
    gen.normal((2,), dt)
    module_type = type(sys)
    assert not any(isinstance(v, module_type) for v in vars(gen).values())
    copied = copy.deepcopy(gen)
    pickled = pickle.loads(pickle.dumps(gen))
    expected = [sn.to_numpy(gen.uniform((6,), dt)), sn.to_numpy(gen.integers(9, (4,)))]
    for other in (copied, pickled):
        u = other.uniform((6,), dt)
        assert backend.array_device(u) == backend.device
        np.testing.assert_array_equal(sn.to_numpy(u), expected[0])
        np.testing.assert_array_equal(sn.to_numpy(other.integers(9, (4,))), expected[1])


def test_to_numpy_builds_no_backend_per_array(backend, monkeypatch):
    arrays = [backend.asarray(np.full(2, float(i))) for i in range(3)]
    built = []
    module = registry.backend_module(backend.name)
    cls = getattr(module, registry._MODULES[backend.name][1])
    monkeypatch.setattr(cls, "__init__", lambda *a, **k: built.append(a))
    sn.to_numpy(arrays)
    sn.to_numpy(arrays)
    assert built == []


# ----- the import graph ------------------------------------------------------------------------
def _package_imports(path: Path) -> set[str]:
    """Modules of scratchnet.backends (or the package) that a file imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            if node.level > 1 or not node.module:
                found.add("<package>")
            else:
                found.add(node.module.partition(".")[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("scratchnet"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("scratchnet"))
    return found


def test_base_and_devices_import_nothing_from_the_package():
    for name in ("base.py", "devices.py"):
        assert _package_imports(BACKENDS_DIR / name) == set(), name


def test_backends_import_graph_is_acyclic():
    graph = {p.stem: _package_imports(p) for p in BACKENDS_DIR.glob("*.py") if p.stem != "__init__"}
    allowed = {
        "base",
        "devices",
        "kernels",
        "inplace",
        "numba_kernels",
        "numba_head_loops",
        "cupy_kernels",
        "torch_kernels",
    }
    assert graph["torch_kernels"] <= {"kernels"}
    assert graph["numba_kernels"] <= {"inplace", "kernels", "numba_head_loops"}
    assert graph["numba_head_loops"] == set()
    assert graph["cupy_kernels"] <= {"inplace", "kernels"}
    for name in ("numpy_backend", "cupy_backend", "torch_backend", "jax_backend"):
        assert graph[name] <= allowed, name
    assert graph["strict_backend"] <= allowed
    assert graph["registry"] <= {"base", "devices"}
    assert graph["transfer"] <= {"base", "registry"}
    state = {}

    def visit(node, path):
        assert state.get(node) != "open", f"import cycle: {' -> '.join([*path, node])}"
        if state.get(node) == "done":
            return
        state[node] = "open"
        for dep in graph.get(node, ()):
            visit(dep, [*path, node])
        state[node] = "done"

    for node in graph:
        visit(node, [])

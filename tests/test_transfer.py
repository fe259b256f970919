"""Moving arrays between libraries: `to_device` shares memory through DLPack where it can, and
copies where it must (another device, a cast, a read-only source for a writable library).

Sharing is proved two ways: the data addresses agree (``__array_interface__``, ``data_ptr()``,
``unsafe_buffer_pointer()``, ``data.ptr``), and a write through one library shows in the other.
The GPU cases run only where a CUDA device works; elsewhere they skip and say why.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import skip_unavailable

import scratchnet as sn
from scratchnet.backends import get_backend, library_of
from scratchnet.backends.transfer import data_pointer


def np_ptr(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def aligned(n: int, dtype=np.float64, alignment: int = 64) -> np.ndarray:
    """A writable NumPy vector whose first element sits on an ``alignment``-byte boundary."""
    itemsize = np.dtype(dtype).itemsize
    raw = np.zeros(n + alignment // itemsize, dtype=dtype)
    skip = (-np_ptr(raw) % alignment) // itemsize
    out = raw[skip : skip + n]
    assert np_ptr(out) % alignment == 0
    return out


def misaligned(n: int, dtype=np.float64) -> np.ndarray:
    """A NumPy vector 16 bytes past a 64-byte boundary (NumPy guarantees only 16)."""
    base = aligned(n + 8, dtype)
    out = base[16 // np.dtype(dtype).itemsize :][:n]
    assert np_ptr(out) % 64 == 16
    return out


# ----- NumPy and PyTorch on the CPU ---------------------------------------------------------------
def test_numpy_to_torch_shares_memory():
    torch = pytest.importorskip("torch")
    a = np.arange(6.0).reshape(2, 3)
    t = sn.to_device(a, "torch")
    assert isinstance(t, torch.Tensor) and t.data_ptr() == np_ptr(a)
    a[0, 0] = 42.0  # a write through NumPy shows in the tensor
    assert float(t[0, 0]) == 42.0


def test_torch_to_numpy_shares_memory_and_to_numpy_copy_true_does_not():
    torch = pytest.importorskip("torch")
    t = torch.arange(6, dtype=torch.float64).reshape(2, 3)
    a = sn.to_device(t, "numpy")
    assert np_ptr(a) == t.data_ptr() and a.flags.writeable
    t[1, 2] = -1.0
    assert a[1, 2] == -1.0
    assert np_ptr(sn.to_numpy(t)) == t.data_ptr()  # today's default: a view on the CPU
    fresh = sn.to_numpy(t, copy=True)
    assert np_ptr(fresh) != t.data_ptr() and fresh.flags.writeable
    fresh[0, 0] = 99.0
    assert float(t[0, 0]) == 0.0


def test_non_contiguous_tensor_reaches_numpy_as_a_strided_view():
    torch = pytest.importorskip("torch")
    t = torch.arange(6, dtype=torch.float64).reshape(2, 3).T
    a = sn.to_device(t, "numpy")
    assert np_ptr(a) == t.data_ptr() and a.strides == (8, 24)
    np.testing.assert_array_equal(a, t.numpy())


def test_bool_arrays_cross_by_dlpack():
    torch = pytest.importorskip("torch")
    a = np.array([True, False, True])
    t = sn.to_device(a, "torch")
    assert t.dtype == torch.bool and t.data_ptr() == np_ptr(a)
    assert sn.to_numpy(t).tolist() == [True, False, True]


def test_read_only_numpy_is_copied_for_torch():
    pytest.importorskip("torch")
    a = np.arange(4.0)
    a.flags.writeable = False
    t = sn.to_device(a, "torch")
    assert t.data_ptr() != np_ptr(a)
    t += 1.0  # torch tensors are writable: the copy keeps the read-only array intact
    np.testing.assert_array_equal(a, np.arange(4.0))
    with pytest.raises(ValueError, match=r"copy=False.*needs a copy"):
        sn.to_device(a, "torch", copy=False)


def test_tensor_requiring_grad_goes_through_the_host():
    torch = pytest.importorskip("torch")
    t = torch.ones(3, dtype=torch.float64, requires_grad=True)  # DLPack refuses to export it
    a = sn.to_device(t, "numpy")
    np.testing.assert_array_equal(a, np.ones(3))


def test_a_cast_copies_and_copy_false_refuses_it():
    pytest.importorskip("torch")
    a = np.arange(4.0)
    t = sn.to_device(a, "torch", dtype="float32")
    assert t.data_ptr() != np_ptr(a) and str(t.dtype) == "torch.float32"
    with pytest.raises(ValueError, match=r"to torch on cpu as float32 needs a copy"):
        sn.to_device(a, "torch", dtype="float32", copy=False)
    same = sn.to_device(a, "torch", copy=False)  # no cast, writable: shared, so allowed
    assert same.data_ptr() == np_ptr(a)


def test_copy_true_always_copies():
    pytest.importorskip("torch")
    a = np.arange(4.0)
    t = sn.to_device(a, "torch", copy=True)
    assert t.data_ptr() != np_ptr(a)
    assert np_ptr(sn.to_device(a, "numpy", copy=True)) != np_ptr(a)
    assert sn.to_device(a, "numpy") is a


# ----- JAX -----------------------------------------------------------------------------------
def test_numpy_to_jax_shares_a_64_byte_aligned_buffer():
    jax = pytest.importorskip("jax")
    a = aligned(1000)
    j = sn.to_device(a, "jax")
    assert isinstance(j, jax.Array) and j.unsafe_buffer_pointer() == np_ptr(a)
    a[3] = 7.0  # JAX assumes immutability; a write to the NumPy source shows through
    assert float(j[3]) == 7.0
    fresh = sn.to_device(a, "jax", copy=True)
    assert fresh.unsafe_buffer_pointer() != np_ptr(a)


def test_numpy_to_jax_copies_a_misaligned_buffer():
    pytest.importorskip("jax")
    a = misaligned(1000)
    j = sn.to_device(a, "jax")
    assert j.unsafe_buffer_pointer() != np_ptr(a)
    a[3] = 7.0
    assert float(j[3]) == 0.0  # the copy was taken before the write (a started as zeros)
    with pytest.raises(ValueError, match="needs a copy"):
        sn.to_device(a, "jax", copy=False)


def test_jax_to_numpy_is_a_read_only_view():
    jnp = pytest.importorskip("jax.numpy")
    j = jnp.arange(1000.0)
    a = sn.to_device(j, "numpy")
    assert np_ptr(a) == j.unsafe_buffer_pointer() and not a.flags.writeable
    view = sn.to_numpy(j, copy=False)
    assert np_ptr(view) == j.unsafe_buffer_pointer() and not view.flags.writeable
    fresh = sn.to_numpy(j, copy=True)
    assert np_ptr(fresh) != j.unsafe_buffer_pointer() and fresh.flags.writeable


def test_torch_to_jax_shares_and_jax_to_torch_copies():
    torch = pytest.importorskip("torch")
    pytest.importorskip("jax")
    t = torch.arange(1000, dtype=torch.float64)
    j = sn.to_device(t, "jax")
    assert j.unsafe_buffer_pointer() == t.data_ptr()
    back = sn.to_device(j, "torch")  # a JAX array is immutable, a tensor is not: copy
    assert back.data_ptr() != j.unsafe_buffer_pointer()
    back += 1.0
    assert float(j[0]) == 0.0


# ----- array-api-strict ----------------------------------------------------------------------
def test_numpy_and_strict_share_memory_on_every_strict_device():
    pytest.importorskip("array_api_strict")
    a = np.arange(5.0)
    for device in (None, "device1"):
        s = sn.to_device(a, "array_api_strict", device)
        assert data_pointer(s) == np_ptr(a)
        assert s.device == get_backend("array_api_strict", device).device
    s = sn.to_device(a, "array_api_strict", "device1")
    a[0] = -3.0
    assert float(s[0]) == -3.0
    back = sn.to_device(s, "numpy")
    assert np_ptr(back) == np_ptr(a)
    # to_numpy keeps its copy by default; copy=False gives the view
    assert np_ptr(sn.to_numpy(s)) != np_ptr(a)
    assert np_ptr(sn.to_numpy(s, copy=False)) == np_ptr(a)


def test_torch_to_strict_shares_memory():
    torch = pytest.importorskip("torch")
    pytest.importorskip("array_api_strict")
    t = torch.arange(4, dtype=torch.float64)
    s = sn.to_device(t, "array_api_strict", "device1")
    assert data_pointer(s) == t.data_ptr()


# ----- every backend -------------------------------------------------------------------------
def test_dlpack_device_names_the_backends_own_arrays(backend):
    x = backend.asarray(np.zeros(3))
    assert tuple(int(v) for v in x.__dlpack_device__()) == backend.dlpack_device()


def test_containers_move_with_the_copy_rule(backend):
    a, b = aligned(8), aligned(8)
    moved = sn.to_device({"a": a, "b": [b]}, "numpy", copy=True)
    assert np_ptr(moved["a"]) != np_ptr(a) and np_ptr(moved["b"][0]) != np_ptr(b)
    there = sn.to_device({"a": a}, backend)
    assert library_of(there["a"]) == backend.name
    np.testing.assert_array_equal(sn.to_numpy(there, copy=True)["a"], a)


def test_bad_copy_argument_and_impossible_copy_false():
    with pytest.raises(TypeError, match="copy must be None, True or False, got 'yes'"):
        sn.to_device(np.ones(2), "numpy", copy="yes")
    with pytest.raises(TypeError, match="copy must be None, True or False"):
        sn.to_numpy(np.ones(2), copy=1)
    with pytest.raises(ValueError, match="to_numpy.copy=False. cannot avoid a copy of a list"):
        sn.to_numpy([1.0, 2.0], copy=False)


# ----- GPUs (skipped without a CUDA device) ----------------------------------------------------
def _cuda_torch():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch finds no usable CUDA device here")
    return torch


@pytest.mark.gpu
def test_cupy_and_torch_cuda_share_device_memory():
    skip_unavailable("cupy")
    torch = _cuda_torch()
    import cupy

    c = cupy.arange(1000, dtype=cupy.float64)
    t = sn.to_device(c, "torch", "cuda:0")
    assert t.device.type == "cuda" and t.data_ptr() == c.data.ptr
    c[0] = 5.0
    assert float(t[0]) == 5.0
    t2 = torch.arange(1000, dtype=torch.float64, device="cuda:0")
    c2 = sn.to_device(t2, "cupy", 0)
    assert c2.data.ptr == t2.data_ptr()
    assert np_ptr(sn.to_numpy(c2)) != t2.data_ptr()  # GPU to host is a copy
    with pytest.raises(ValueError, match="copy=False"):
        sn.to_numpy(t2, copy=False)


@pytest.mark.gpu
def test_cupy_and_jax_gpu_share_device_memory():
    skip_unavailable("cupy")
    jax = pytest.importorskip("jax")
    try:
        jax.devices("gpu")
    except RuntimeError as exc:
        pytest.skip(f"JAX has no GPU here: {exc}")
    import cupy

    c = cupy.arange(1000, dtype=cupy.float32)
    j = sn.to_device(c, "jax", "gpu:0")
    assert j.unsafe_buffer_pointer() == c.data.ptr
    back = sn.to_device(j, "cupy", 0)  # CuPy arrays are writable, JAX's are not: copy
    assert back.data.ptr != j.unsafe_buffer_pointer()


@pytest.mark.gpu
def test_numpy_to_gpu_is_one_host_to_device_copy():
    skip_unavailable("cupy")
    a = np.arange(10.0)
    c = sn.to_device(a, "cupy")
    assert data_pointer(c) != np_ptr(a)
    np.testing.assert_array_equal(sn.to_numpy(c), a)
    with pytest.raises(ValueError, match="needs a copy"):
        sn.to_device(a, "cupy", copy=False)

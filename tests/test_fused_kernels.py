"""Fused optimiser kernels equal the unfused ones: per optimiser, dtype, weight decay and clipping.

The Numba loops (``scratchnet[fast]``) replay the ufunc kernels' arithmetic operation by operation in
the array's dtype, so on NumPy they agree bit for bit; the portable (new-array) kernels agree to
float rounding. PyTorch's in-place kernels are compared with the portable ones the same way.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import skip_unavailable

import scratchnet as sn
from scratchnet.backends.inplace import UfuncKernels
from scratchnet.backends.kernels import PortableKernels
from scratchnet.optimizers import SGD, AdaGrad, Adam, AdamW, RMSProp
from scratchnet.params import ParameterLayout

OPTIMIZERS = {
    "sgd": lambda **kw: SGD(lr=0.05, **kw),
    "momentum": lambda **kw: SGD(lr=0.05, momentum=0.9, **kw),
    "nesterov": lambda **kw: SGD(lr=0.05, momentum=0.9, nesterov=True, **kw),
    "adagrad": lambda **kw: AdaGrad(lr=0.05, **kw),
    "rmsprop": lambda **kw: RMSProp(lr=0.01, **kw),
    "adam": lambda **kw: Adam(lr=0.01, **kw),
    "adamw": lambda **kw: AdamW(lr=0.01, weight_decay=0.1, **kw),
}
CLIPS = {"none": {}, "norm": {"clip_norm": 0.5}, "value": {"clip_value": 0.05}}
LAYOUT = ParameterLayout([("dense1.B", (7, 5), True), ("dense1.c", (5,), False),
                          ("dense2.B", (5, 3), True), ("dense2.c", (3,), False)])  # fmt: skip


def _run(kernels, name, clip, dtype, to=np.asarray, steps=6):
    rng = np.random.default_rng(0)
    p = to(rng.normal(size=LAYOUT.size).astype(dtype))
    opt = OPTIMIZERS[name](**CLIPS[clip])
    for _ in range(steps):
        g = to(rng.normal(size=LAYOUT.size).astype(dtype))
        p = opt.step(p, g, opt.lr * 0.9, kernels, LAYOUT)  # a rate the schedule did not give
    return sn.to_numpy(p), {k: sn.to_numpy(v) for k, v in opt.state.items()}


def _numba_kernels():
    pytest.importorskip("numba")
    from scratchnet.backends.numba_kernels import NumbaKernels

    return NumbaKernels(sn.get_backend("numpy").xp, np)


@pytest.mark.parametrize("clip", sorted(CLIPS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_numba_kernels_equal_the_ufunc_kernels_bit_for_bit(name, dtype, clip):
    xp = sn.get_backend("numpy").xp
    fused, fused_state = _run(_numba_kernels(), name, clip, dtype)
    plain, plain_state = _run(UfuncKernels(xp, np), name, clip, dtype)
    portable, _ = _run(PortableKernels(xp), name, clip, dtype)
    np.testing.assert_array_equal(fused, plain)
    for slot in plain_state:
        np.testing.assert_array_equal(fused_state[slot], plain_state[slot])
    rtol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(fused, portable, rtol=rtol, atol=rtol)


def test_numba_kernels_fall_back_on_arrays_a_loop_cannot_take():
    kernels = _numba_kernels()
    p = np.ones((4, 6), dtype=np.float32)[:, ::2]  # not contiguous
    g = np.full((4, 3), 2.0, dtype=np.float32)
    out = kernels.sgd(p, g, 0.5)
    np.testing.assert_array_equal(out, 0.0)
    ints = np.arange(4)
    np.testing.assert_array_equal(kernels.decay(ints.astype(np.float16), 0.5), ints * 0.5)


def test_the_numba_policy_reads_the_switch(monkeypatch):
    from scratchnet.backends.numba_kernels import numba_policy

    monkeypatch.delenv("SCRATCHNET_NUMBA", raising=False)
    assert numba_policy() == "auto"  # the default: the loops wait for enough training
    for value, policy in [("auto", "auto"), (" AUTO ", "auto"), ("1", "eager"), ("0", "off")]:
        monkeypatch.setenv("SCRATCHNET_NUMBA", value)
        assert numba_policy() == policy
    monkeypatch.setenv("SCRATCHNET_NUMBA", "yes")
    with pytest.raises(ValueError, match=r"SCRATCHNET_NUMBA must be 0 .*, 1 .* or auto"):
        numba_policy()


def test_the_numpy_backend_picks_its_kernels_by_the_policy(monkeypatch):
    pytest.importorskip("numba")
    from scratchnet.backends import numpy_backend

    monkeypatch.setenv("SCRATCHNET_NUMBA", "1")
    assert numpy_backend.NumpyBackend().kernels.name == "numba"
    monkeypatch.setenv("SCRATCHNET_NUMBA", "0")
    off = numpy_backend.NumpyBackend()
    assert off.kernels.name == "ufunc" and not off.numba_deferred
    assert off.use_numba() is False and off.kernels.name == "ufunc"  # the switch wins
    assert off.record_training(100.0) is False
    monkeypatch.setenv("SCRATCHNET_NUMBA", "auto")
    monkeypatch.setattr(numpy_backend, "numba_loaded", lambda: False)
    waiting = numpy_backend.NumpyBackend()
    assert waiting.kernels.name == "ufunc" and waiting.numba_deferred
    monkeypatch.setattr(numpy_backend, "numba_loaded", lambda: True)  # an earlier fit loaded them
    assert numpy_backend.NumpyBackend().kernels.name == "numba"


def test_auto_loads_the_loops_once_the_process_has_trained_long_enough(monkeypatch):
    pytest.importorskip("numba")
    from scratchnet.backends import numpy_backend

    monkeypatch.setenv("SCRATCHNET_NUMBA", "auto")
    monkeypatch.setattr(numpy_backend, "numba_loaded", lambda: False)
    backend = numpy_backend.NumpyBackend()
    ufunc = backend.kernels
    limit = numpy_backend.PROMOTE_AFTER_SECONDS
    assert backend.record_training(0.6 * limit) is False and backend.kernels is ufunc
    assert backend.record_training(0.6 * limit) is True  # 1.2 x the limit, summed over calls
    assert backend.kernels.name == "numba" and not backend.numba_deferred
    assert backend.record_training(10 * limit) is False  # switched once
    assert backend.use_numba() is True


class _KernelsPerEpoch(sn.Callback):
    """Records which kernels the first layer computes with at the start of each epoch."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def on_epoch_begin(self, epoch, logs):
        self.seen.append(self.model.layers[0].backend_kernels.name)


def test_a_fit_switches_its_layers_to_the_loops_between_epochs_with_the_same_bits(monkeypatch):
    pytest.importorskip("numba")
    from scratchnet.backends import numpy_backend

    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(64, 5)), rng.integers(0, 3, size=64)
    monkeypatch.setattr(numpy_backend, "PROMOTE_AFTER_SECONDS", 0.0)  # after the first epoch
    monkeypatch.setattr(numpy_backend, "numba_loaded", lambda: False)
    runs = {}
    for switch in ("auto", "0"):
        monkeypatch.setenv("SCRATCHNET_NUMBA", switch)
        backend = numpy_backend.NumpyBackend()
        m = sn.Model(hidden=(8,), dropout=0.1, l2=1e-3, seed=0, backend=backend)
        m.build(5, 3)
        portable = m.layers[-1]
        portable.use_kernels(None)  # a layer set to the portable path keeps it
        watch = _KernelsPerEpoch()
        h = m.fit(X, y, epochs=3, batch_size=16, optimizer="adam", lr=0.01, callbacks=[watch])
        runs[switch] = (sn.to_numpy(m.store.values), h.history["loss"], watch.seen)
        assert portable.backend_kernels is None
    assert runs["auto"][2] == ["ufunc", "numba", "numba"]
    assert runs["0"][2] == ["ufunc", "ufunc", "ufunc"]
    np.testing.assert_array_equal(runs["auto"][0], runs["0"][0])
    assert runs["auto"][1] == runs["0"][1]


def test_other_backends_never_switch_kernels():
    be = sn.get_backend("array_api_strict")
    kernels = be.kernels
    assert be.record_training(1e9) is False and be.kernels is kernels


def test_training_gives_the_same_bits_with_and_without_numba(monkeypatch):
    pytest.importorskip("numba")
    from scratchnet.backends import numpy_backend

    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(64, 5)), rng.integers(0, 3, size=64)
    results, logs = [], []
    for switch in ("1", "0"):
        monkeypatch.setenv("SCRATCHNET_NUMBA", switch)
        backend = numpy_backend.NumpyBackend()
        assert backend.kernels.name == ("numba" if switch == "1" else "ufunc")
        m = sn.Model(hidden=(8,), dropout=0.1, l2=1e-3, seed=0, backend=backend)
        h = m.fit(X, y, epochs=3, batch_size=16, optimizer=AdamW(lr=0.01, clip_norm=1.0))
        results.append(sn.to_numpy(m.store.values))
        logs.append((h.history["loss"], h.history["accuracy"], m.evaluate(X, y)))
    np.testing.assert_array_equal(*results)
    assert logs[0] == logs[1]  # losses and hit counts (fused in one loop with Numba) alike


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_torch_in_place_kernels_equal_the_portable_ones(name):
    skip_unavailable("torch")
    be = sn.get_backend("torch")
    to = be.asarray
    for dtype in ("float32", "float64"):
        fast, _ = _run(be.kernels, name, "norm", dtype, to=to)
        portable, _ = _run(PortableKernels(be.xp), name, "norm", dtype, to=to)
        rtol = 1e-5 if dtype == "float32" else 1e-12
        np.testing.assert_allclose(fast, portable, rtol=rtol, atol=rtol)


@pytest.mark.gpu
@pytest.mark.parametrize("clip", sorted(CLIPS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_cupy_elementwise_kernels_equal_the_ufunc_kernels_bit_for_bit(name, dtype, clip):
    skip_unavailable("cupy")
    import cupy

    from scratchnet.backends.cupy_kernels import CupyFusedKernels

    be = sn.get_backend("cupy")
    assert isinstance(be.kernels, CupyFusedKernels)
    fused, fused_state = _run(be.kernels, name, clip, dtype, to=be.asarray)
    plain, plain_state = _run(UfuncKernels(be.xp, cupy), name, clip, dtype, to=be.asarray)
    np.testing.assert_array_equal(fused, plain)
    for slot in plain_state:
        np.testing.assert_array_equal(fused_state[slot], plain_state[slot])


def _torch_fused_kernels():
    skip_unavailable("torch")
    from scratchnet.backends.torch_kernels import TorchFusedKernels

    return TorchFusedKernels(sn.get_backend("torch").xp)


@pytest.mark.parametrize("clip", sorted(CLIPS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_torch_fused_kernels_equal_the_portable_ones(name, dtype, clip):
    kernels = _torch_fused_kernels()
    be = sn.get_backend("torch")
    fast, fast_state = _run(kernels, name, clip, dtype, to=be.asarray)
    portable, portable_state = _run(PortableKernels(be.xp), name, clip, dtype, to=be.asarray)
    rtol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(fast, portable, rtol=rtol, atol=rtol)
    for slot in portable_state:
        np.testing.assert_allclose(fast_state[slot], portable_state[slot], rtol=rtol, atol=rtol)
    if name.startswith("adam"):
        assert kernels._fused_adam is not None  # the fused kernel ran, it did not fall back


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_torch_adam_falls_back_to_the_chained_methods(dtype):
    kernels = _torch_fused_kernels()
    kernels._fused_adam = None  # as on a PyTorch without torch._fused_adam_
    be = sn.get_backend("torch")
    fast, _ = _run(kernels, "adam", "none", dtype, to=be.asarray)
    portable, _ = _run(PortableKernels(be.xp), "adam", "none", dtype, to=be.asarray)
    rtol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(fast, portable, rtol=rtol, atol=rtol)
    # arrays the fused kernel cannot take in one call (mixed dtypes) go the chained way too
    kernels = _torch_fused_kernels()
    import torch

    p, g = torch.ones(5, dtype=torch.float64), torch.full((5,), 0.5, dtype=torch.float64)
    m, v = torch.zeros(5, dtype=torch.float64), torch.zeros(5, dtype=torch.float64)
    assert not kernels._adam_fused(p, g.float(), m, v, 0.1, 0.9, 0.999, 1e-8, 0.1, 0.001)
    np.testing.assert_array_equal(p.numpy(), 1.0)  # nothing written
    kernels.adam(p, g, m, v, 0.1, 0.9, 0.999, 1e-8, 0.1, 0.001)
    # first step from zero moments: m_hat = g, v_hat = g^2, so p = 1 - lr g / (|g| + eps)
    np.testing.assert_allclose(p.numpy(), 1.0 - 0.1 * 0.5 / (0.5 + 1e-8), rtol=1e-12)
    np.testing.assert_allclose(m.numpy(), 0.05, rtol=1e-12)


def test_a_torch_fused_adam_refusal_falls_back_for_that_device_and_dtype_only():
    # PyTorch raises where its fused kernel has no implementation (a device or dtype): that pair
    # takes the chained methods from then on, the others keep the fused kernel
    kernels = _torch_fused_kernels()
    import torch

    fused, calls = kernels._fused_adam, []

    def refuse_float64(params, *args, **kwargs):
        calls.append(params[0].dtype)
        if params[0].dtype == torch.float64:
            raise NotImplementedError("no fused Adam for float64 here")
        return fused(params, *args, **kwargs)

    kernels._fused_adam = refuse_float64
    portable = PortableKernels(sn.get_backend("torch").xp)
    hyper = (0.1, 0.9, 0.999, 1e-8, 0.1, 0.001)
    for dtype in (torch.float64, torch.float64, torch.float32):
        p, g, m, v = (torch.full((5,), x, dtype=dtype) for x in (1.0, 0.5, 0.0, 0.0))
        expected = portable.adam(p.clone(), g, m.clone(), v.clone(), *hyper)
        got = kernels.adam(p, g, m, v, *hyper)
        for a, b in zip(got, expected, strict=True):
            torch.testing.assert_close(a, b)
    assert calls == [torch.float64, torch.float32]  # float64 refused once, then not offered
    assert kernels._refused == {("cpu", "torch.float64")}

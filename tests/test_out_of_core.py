"""Data larger than memory: memory maps and array-likes are read one batch or chunk at a time.

A fit on a memory map equals the fit on the same data in memory bit for bit (the same rows in the
same order go through the same operations), predictions can be written chunk by chunk into a
caller's buffer, no read serves more than one batch or chunk of rows, and nothing the size of the
data set is allocated (a tracemalloc bound, not a timing).
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import streaming

N, D = 600, 7


class CountingRows:
    """An h5py-like store: ``shape``, ``dtype``, ``len``, row slices and sorted unique index
    arrays; records how many rows each read served."""

    def __init__(self, data: np.ndarray) -> None:
        self._data = data
        self.shape = data.shape
        self.dtype = data.dtype
        self.reads: list[int] = []

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key):
        if isinstance(key, slice):
            block = self._data[key]
        else:
            idx = np.asarray(key)
            if idx.dtype.kind not in "iu" or idx.ndim != 1:
                raise TypeError(f"rows by slice or 1-D integer array only, got {key!r}")
            if idx.size > 1 and not np.all(np.diff(idx) > 0):
                raise TypeError("indices must be increasing, as h5py requires")
            block = self._data[idx]
        self.reads.append(int(block.shape[0]))
        return block.copy()


def _data(n=N, d=D, seed=0, classes=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.argmax(X[:, :classes] + 0.3 * rng.normal(size=(n, classes)), axis=1)
    return X, y


def _memmap(tmp_path, X, name="X.npy"):
    np.save(tmp_path / name, X)
    return np.load(tmp_path / name, mmap_mode="r")


def _params(model):
    return {k: sn.to_numpy(v) for k, v in model.parameters().items()}


def _same_params(a, b):
    pa, pb = _params(a), _params(b)
    return pa.keys() == pb.keys() and all(np.array_equal(pa[k], pb[k]) for k in pa)


def _history(h):
    return {k: v for k, v in h.history.items() if k != "seconds"}


FITS = {
    "shuffled": {},
    "in order": {"shuffle": False},
    "validation split": {"validation_split": 0.2},
    "class and sample weights": {"class_weight": "balanced", "sample_weight": "random"},
    "one batch": {"batch_size": 10_000, "validation_split": 0.1},
}


@pytest.mark.parametrize("kwargs", FITS.values(), ids=FITS.keys())
def test_a_fit_on_a_memory_map_equals_the_fit_in_memory(tmp_path, kwargs):
    X, y = _data()
    kw = {"epochs": 3, "batch_size": 32, "optimizer": "adam", "lr": 0.01, **kwargs}
    if kw.get("sample_weight") == "random":
        kw["sample_weight"] = np.random.default_rng(1).random(N)
    ref = sn.Model(hidden=(8,), dtype="float64", seed=3, batch_norm=True, dropout=0.1)
    h_ref = ref.fit(X, y, **kw)
    m = sn.Model(hidden=(8,), dtype="float64", seed=3, batch_norm=True, dropout=0.1)
    h = m.fit(_memmap(tmp_path, X), y, **kw)
    assert _same_params(m, ref)  # exactly: the same rows through the same operations
    assert _history(h) == _history(h_ref)
    Xm = _memmap(tmp_path, X)
    assert np.array_equal(m.predict(Xm), ref.predict(X))
    assert np.array_equal(m.predict_proba(Xm), ref.predict_proba(X))
    assert m.evaluate(Xm, y) == ref.evaluate(X, y)


def test_memory_mapped_validation_data_equals_in_memory(tmp_path):
    X, y = _data()
    Xv, yv = _data(150, seed=9)
    kw = {"epochs": 2, "batch_size": 50}
    ref = sn.Model(hidden=(6,), dtype="float64", seed=0)
    h_ref = ref.fit(X, y, validation_data=(Xv, yv), **kw)
    m = sn.Model(hidden=(6,), dtype="float64", seed=0)
    h = m.fit(X, y, validation_data=(_memmap(tmp_path, Xv, "Xv.npy"), yv), **kw)
    assert _same_params(m, ref)
    assert h.history["val_loss"] == h_ref.history["val_loss"]


def test_a_float64_map_feeds_a_float32_model_like_the_cast_array(tmp_path):
    X, y = _data()
    ref = sn.Model(hidden=(8,), dtype="float32", seed=0)
    ref.fit(X.astype(np.float32), y, epochs=2, batch_size=40, validation_split=0.1)
    m = sn.Model(hidden=(8,), dtype="float32", seed=0)
    m.fit(_memmap(tmp_path, X), y, epochs=2, batch_size=40, validation_split=0.1)
    assert _same_params(m, ref)


def test_every_backend_trains_on_a_memory_map_as_on_the_array(tmp_path, backend):
    X, y = _data(200)
    kw = {"epochs": 2, "batch_size": 32, "validation_split": 0.2}
    ref = sn.Model(hidden=(5,), backend=backend, dtype="float64", seed=0)
    ref.fit(X, y, **kw)
    m = sn.Model(hidden=(5,), backend=backend, dtype="float64", seed=0)
    m.fit(_memmap(tmp_path, X), y, **kw)
    assert _same_params(m, ref)
    out = np.empty(200, dtype=sn.to_numpy(ref.predict(X[:1])).dtype)
    assert np.array_equal(m.predict(_memmap(tmp_path, X), out=out), sn.to_numpy(ref.predict(X)))


def test_an_array_like_is_read_one_batch_or_chunk_at_a_time(monkeypatch):
    X, y = _data(3000)
    monkeypatch.setattr(streaming, "CHUNK_BYTES", 128 * D * 8)  # checks scan 128 rows at a time
    source = CountingRows(X)
    m = sn.Model(hidden=(8,), dtype="float64", seed=0)
    m.inference_chunk = 100
    m.fit(source, y, epochs=2, batch_size=64, validation_split=0.2, class_weight="balanced")
    assert source.reads and max(source.reads) <= 128
    assert sum(source.reads) >= 3000  # every row was checked
    ref = sn.Model(hidden=(8,), dtype="float64", seed=0)
    ref.inference_chunk = 100
    ref.fit(X, y, epochs=2, batch_size=64, validation_split=0.2, class_weight="balanced")
    assert _same_params(m, ref)
    source.reads.clear()
    out = np.zeros((3000, 3))
    assert m.predict_proba(source, out=out) is out
    np.testing.assert_array_equal(out, ref.predict_proba(X))
    assert m.evaluate(source, y) == ref.evaluate(X, y)
    assert np.array_equal(m.decision_function(source), ref.decision_function(X))
    assert max(source.reads) <= 128


def test_no_full_size_array_is_allocated(tmp_path):
    rng = np.random.default_rng(0)
    n, d = 50_000, 100  # a 40 MB float64 map; its float32 cast would take 20 MB
    X = rng.normal(size=(n, d))
    y = (X[:, 0] > 0).astype(np.int64)
    Xm = _memmap(tmp_path, X)
    del X
    m = sn.Model(hidden=(16,), dtype="float32", seed=0)
    m.inference_chunk = 1024
    tracemalloc.start()
    try:
        m.fit(Xm, y, epochs=1, batch_size=256, validation_split=0.1)
        _, fit_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        out = np.lib.format.open_memmap(tmp_path / "p.npy", "w+", np.int64, (n,))
        m.predict(Xm, out=out)
        _, predict_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    batch_bytes = 256 * d * 8
    limit = 40 * batch_bytes  # 8 MB: a generous multiple of a batch, far below one copy of X
    assert fit_peak < limit, fit_peak
    assert predict_peak < limit, predict_peak
    np.testing.assert_array_equal(out, m.predict(np.array(Xm)))  # a copy: the in-memory path


@pytest.mark.parametrize("method", ["predict", "predict_proba", "decision_function"])
def test_out_must_have_the_shape_and_dtype_of_the_result(tmp_path, method):
    X, y = _data(100)
    m = sn.Model(hidden=(4,), dtype="float64", seed=0)
    m.fit(X, y, epochs=1)
    good = sn.to_numpy(getattr(m, method)(X))
    out = np.empty_like(good)
    assert getattr(m, method)(_memmap(tmp_path, X), out=out) is out
    np.testing.assert_array_equal(out, good)
    assert getattr(m, method)(X, out=np.empty_like(good)) is not None  # in-memory X too
    with pytest.raises(ValueError, match=r"out must be a writable NumPy array of shape"):
        getattr(m, method)(X, out=np.empty((99, *good.shape[1:]), dtype=good.dtype))
    with pytest.raises(ValueError, match=rf"dtype {good.dtype}.*got shape .* and dtype int8"):
        getattr(m, method)(X, out=np.empty(good.shape, dtype=np.int8))
    frozen = np.empty_like(good)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="out is read-only"):
        getattr(m, method)(X, out=frozen)
    with pytest.raises(TypeError, match="out must be a writable NumPy array"):
        getattr(m, method)(X, out=good.tolist())


def test_full_batch_descent_on_a_memory_map_is_refused(tmp_path):
    X, y = _data(100)
    m = sn.Model(hidden=(4,), seed=0)
    with pytest.raises(ValueError, match=r"batch_size=None .* pass a batch_size"):
        m.fit(_memmap(tmp_path, X), y, batch_size=None)
    assert not m.built  # refused before anything was built
    m.fit(np.array(_memmap(tmp_path, X, "copy.npy")), y, batch_size=None, epochs=1)  # the advice
    assert m.built


def test_a_copy_of_a_map_is_in_memory_and_trains_full_batch(tmp_path):
    X, y = _data(100)
    mm = _memmap(tmp_path, X)
    for in_memory in (mm.copy(), mm.astype(np.float32), np.array(mm)):
        assert not streaming.is_streamed(in_memory)  # np.memmap instances, but no file behind
        sn.Model(hidden=(4,), seed=0).fit(in_memory, y, batch_size=None, epochs=1)
    assert streaming.is_streamed(mm[10:20])  # a slice still maps the file


def test_bad_rows_in_a_map_are_named_by_their_row(tmp_path, monkeypatch):
    monkeypatch.setattr(streaming, "CHUNK_BYTES", 64 * D * 8)
    X, y = _data(300)
    X[277, 4] = np.nan
    m = sn.Model(hidden=(4,), seed=0)
    with pytest.raises(ValueError, match="at row 277, column 4"):
        m.fit(_memmap(tmp_path, X), y, batch_size=16)
    X[277, 4] = 1e300  # finite in float64, inf in float32
    with pytest.raises(ValueError, match=r"too large .* row 277, column 4"):
        sn.Model(hidden=(4,), dtype="float32").fit(_memmap(tmp_path, X, "b.npy"), y)
    with pytest.raises(ValueError, match="X has 7 features, but the model was built for 3"):
        small = sn.Model(hidden=(4,), seed=0)
        small.fit(X[:, :3], y, epochs=1)
        small.predict(_memmap(tmp_path, X, "c.npy"))


def test_which_inputs_stream(tmp_path):
    X, _ = _data(20)
    mm = _memmap(tmp_path, X)
    assert streaming.is_streamed(mm)
    assert streaming.is_streamed(np.asarray(mm)[2:10])  # a view of a mapped file
    assert streaming.is_streamed(CountingRows(X))
    assert not streaming.is_streamed(X)
    assert not streaming.is_streamed(X.tolist())
    assert not streaming.is_streamed(np.asarray(mm).copy())
    torch = pytest.importorskip("torch")
    assert not streaming.is_streamed(torch.zeros(3, 2))


def test_a_memory_map_passed_to_a_single_step_call_still_works(tmp_path):
    X, y = _data(50)
    m = sn.Model(hidden=(4,), dtype="float64", seed=0)
    m.fit(X, y, epochs=1)
    mm = _memmap(tmp_path, X)
    loss_a, grads_a = m.loss_and_gradients(mm, y)
    loss_b, grads_b = m.loss_and_gradients(X, y)
    assert loss_a == loss_b
    assert all(np.array_equal(sn.to_numpy(grads_a[k]), sn.to_numpy(grads_b[k])) for k in grads_b)
    assert np.array_equal(sn.to_numpy(m.forward(mm)), sn.to_numpy(m.forward(X)))


@pytest.mark.gpu
def test_the_cupy_prefetcher_hands_out_the_batches_it_was_given():
    status = sn.available_backends()["cupy"]
    if not status.available:
        pytest.skip(f"cupy backend unavailable here: {status.reason}")
    be = sn.get_backend("cupy")
    X, _ = _data(500)
    rows = streaming.RowStream(X, be, be.xp.float32)
    order = np.random.default_rng(0).permutation(500)
    batches = [order[a : a + 64] for a in range(0, 500, 64)]
    got = [be.to_numpy(b) for b in streaming.CupyPrefetcher(rows, batches)]
    assert len(got) == len(batches)
    for batch, idx in zip(got, batches, strict=True):
        np.testing.assert_array_equal(batch, X[idx].astype(np.float32))


def test_a_one_rank_mpi_fit_reads_a_map_by_batches_like_one_process(monkeypatch):
    pytest.importorskip("mpi4py")
    monkeypatch.setattr(streaming, "CHUNK_BYTES", 128 * D * 8)
    X, y = _data(3000)
    source = CountingRows(X)
    kw = {"epochs": 2, "batch_size": 32, "validation_split": 0.25}
    ref = sn.Model(hidden=(6,), dtype="float64", seed=0)
    ref.fit(X, y, **kw)
    m = sn.Model(hidden=(6,), dtype="float64", seed=0)
    m.inference_chunk = 100
    m.fit(source, y, distributed=sn.distributed.MPI(), **kw)
    assert _same_params(m, ref)
    # one read of the rows whose checksum the ranks compare; every other read is a batch or chunk
    assert sorted(source.reads)[-1] == sn.distributed.SAMPLED_ROWS
    assert sorted(source.reads)[-2] <= 128


def test_a_uint8_image_map_trains_like_the_array(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(300, 16), dtype=np.uint8)
    y = (X[:, 0] > 127).astype(np.int64)
    ref = sn.Model(hidden=(4,), dtype="float32", seed=0)
    ref.fit(X, y, epochs=2, batch_size=30, validation_split=0.1)
    m = sn.Model(hidden=(4,), dtype="float32", seed=0)
    m.fit(_memmap(tmp_path, X), y, epochs=2, batch_size=30, validation_split=0.1)
    assert _same_params(m, ref)


def test_predicting_from_a_stream_reads_each_row_once_and_still_checks_it(monkeypatch):
    monkeypatch.setattr(streaming, "CHUNK_BYTES", 64 * D * 8)
    X, y = _data(600)
    m = sn.Model(hidden=(4,), dtype="float64", seed=0)
    m.fit(X, y, epochs=1, batch_size=32)
    m.inference_chunk = 100
    for method in (m.predict, m.predict_proba, m.decision_function):
        source = CountingRows(X)
        np.testing.assert_array_equal(sn.to_numpy(method(source)), sn.to_numpy(method(X)))
        assert sum(source.reads) <= 600 + 1  # once (plus the one-row probe of out=, if any)
        assert max(source.reads) <= 100
    bad = X.copy()
    bad[377, 2] = np.inf
    with pytest.raises(ValueError, match="at row 377, column 2"):
        m.predict(CountingRows(bad))
    out = np.zeros(600, dtype=np.int64)
    with pytest.raises(ValueError, match="at row 377, column 2"):
        m.predict(CountingRows(bad), out=out)

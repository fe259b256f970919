"""Data-parallel training over MPI (`scratchnet.distributed`).

The tests marked ``two_ranks`` need two MPI processes:

    mpiexec -n 2 python -m pytest -q -p no:cacheprovider tests/test_distributed.py

(`.ci/run` runs that line). Under plain pytest they skip with the reason, and
`test_the_mpi_tests_pass_under_mpiexec` starts that command in a subprocess, with a timeout, so
a deadlock fails instead of hanging. Every two-rank test finishes its collective calls before it
asserts, so that a failure on one rank cannot leave the other waiting.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import skip_unavailable

import scratchnet as sn

ROOT = Path(__file__).resolve().parents[1]
#: set by MPI launchers (MPICH's hydra, Open MPI, PMIx)
_LAUNCHER_VARS = ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK")
LAUNCHED = any(name in os.environ for name in _LAUNCHER_VARS)


def _world():
    """COMM_WORLD when this process was started by an MPI launcher and mpi4py imports."""
    if not LAUNCHED:
        return None
    try:
        from mpi4py import MPI
    except ImportError:
        return None
    return MPI.COMM_WORLD


WORLD = _world()
RANK = 0 if WORLD is None else WORLD.Get_rank()
SIZE = 1 if WORLD is None else WORLD.Get_size()
two_ranks = pytest.mark.skipif(
    SIZE < 2,
    reason="needs 2 MPI ranks: mpiexec -n 2 python -m pytest tests/test_distributed.py "
    "(test_the_mpi_tests_pass_under_mpiexec runs it)",
)
RTOL = 1e-8


def _data(n=203, d=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = rng.integers(0, k, size=n)
    w = rng.uniform(0.5, 2.0, size=n)
    return X, y, w


def _model(**kw):
    args = {"hidden": (8,), "l2": 1e-3, "dtype": "float64", "seed": 3, **kw}
    return sn.Model(**args)


def _gather(obj):
    return WORLD.allgather(obj)


def _rel(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def _params(model) -> np.ndarray:
    return sn.to_numpy(model.store.values)


def _assert_history_close(h, ref):
    assert h.epoch == ref.epoch
    for key, values in ref.history.items():
        if key != "seconds":
            np.testing.assert_allclose(h.history[key], values, rtol=RTOL, err_msg=key)


# ----- without MPI, or on one rank -----------------------------------------------------------
def test_a_missing_mpi4py_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    with pytest.raises(ImportError, match=r"scratchnet\[mpi\]"):
        sn.distributed.MPI()


def test_distributed_must_be_a_strategy():
    X, y, _ = _data(20)
    m = _model()
    with pytest.raises(TypeError, match=r"scratchnet\.distributed\.MPI"):
        m.fit(X, y, epochs=1, distributed="mpi")
    assert not m.built


def test_the_batch_split_rule():
    share = sn.distributed.share
    assert [share(7, r, 3) for r in range(3)] == [(0, 3), (3, 5), (5, 7)]
    assert [share(2, r, 3) for r in range(3)] == [(0, 1), (1, 2), (2, 2)]  # rank 2 gets none
    for n in range(12):  # numpy.array_split's rule: contiguous, the first n % P ranks get one more
        shares = [share(n, r, 4) for r in range(4)]
        assert [hi - lo for lo, hi in shares] == [p.size for p in np.array_split(np.arange(n), 4)]
        assert shares[0][0] == 0 and shares[-1][1] == n
        assert all(a[1] == b[0] for a, b in itertools.pairwise(shares))


def test_one_rank_is_the_plain_fit_bit_for_bit():
    MPI = pytest.importorskip("mpi4py.MPI", reason="mpi4py is not installed (scratchnet[mpi])")
    X, y, w = _data()
    kw = {"epochs": 2, "batch_size": 32, "sample_weight": w, "validation_split": 0.2}
    a, b = _model(), _model()
    ha = a.fit(X, y, **kw)
    hb = b.fit(X, y, distributed=sn.distributed.MPI(MPI.COMM_SELF), **kw)
    np.testing.assert_array_equal(_params(b), _params(a))
    assert hb.history["loss"] == ha.history["loss"]
    np.testing.assert_allclose(hb.history["val_loss"], ha.history["val_loss"], rtol=1e-14)


# ----- two ranks -------------------------------------------------------------------------------
@two_ranks
@pytest.mark.parametrize("batch_size", [32, 33, 3, 1, None])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_ranks_train_as_one_process(batch_size, reduction):
    """float64, sample and class weights, L2, validation: P ranks = one process, to rounding."""
    X, y, w = _data()
    kw = {
        "epochs": 3, "batch_size": batch_size, "optimizer": "adam", "lr": 0.01,
        "sample_weight": w, "class_weight": {0: 2.0, 2: 0.5}, "validation_split": 0.2,
    }  # fmt: skip
    ref = _model(reduction=reduction)
    h_ref = ref.fit(X, y, **kw)
    m = _model(reduction=reduction)
    dist = sn.distributed.MPI()
    h = m.fit(X, y, distributed=dist, **kw)
    histories = _gather(h.to_dict())
    params = _gather(_params(m))
    assert all(other == histories[0] for other in histories)  # identical History on every rank
    assert all(np.array_equal(p, params[0]) for p in params)  # and identical weights
    assert _rel(_params(m), _params(ref)) < RTOL
    _assert_history_close(h, h_ref)
    assert dist.gradient_path == "in place in host memory"


@two_ranks
@pytest.mark.parametrize(
    "name", ["torch", pytest.param("jax", marks=pytest.mark.slow), "array_api_strict"]
)
def test_ranks_train_as_one_process_on_other_backends(name):
    skip_unavailable(name)
    X, y, w = _data(64)  # equal shares: JAX compiles each new shape once, slowly
    kw = {"epochs": 2, "batch_size": 16, "sample_weight": w, "lr": 0.01}
    ref = _model()  # NumPy: float64 backends agree to rounding, and JAX compiles slowly
    h_ref = ref.fit(X, y, **kw)
    m = _model(backend=name)
    dist = sn.distributed.MPI()
    h = m.fit(X, y, distributed=dist, **kw)
    params = _gather(_params(m))
    assert all(np.array_equal(p, params[0]) for p in params)
    assert _rel(_params(m), _params(ref)) < RTOL
    _assert_history_close(h, h_ref)
    expected = "in place in host memory" if name == "torch" else "staged through the host"
    assert dist.gradient_path == expected


@two_ranks
def test_regression_with_validation_is_reduced_over_the_ranks():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(150, 4))
    Y = np.stack([X @ [1.0, -2.0, 0.5, 0.0], X[:, 0] ** 2], axis=1)
    kw = {"epochs": 3, "batch_size": 25, "validation_data": (X[:41], Y[:41])}
    ref = _model(output="identity")
    h_ref = ref.fit(X, Y, **kw)
    m = _model(output="identity")
    h = m.fit(X, Y, distributed=sn.distributed.MPI(), **kw)
    histories = _gather(h.to_dict())
    assert all(other == histories[0] for other in histories)
    assert {"val_loss", "val_mse", "val_r2"} <= set(h.history)
    _assert_history_close(h, h_ref)


@two_ranks
def test_early_stopping_stops_every_rank_at_the_same_epoch():
    X, y, _ = _data()
    kw = {"epochs": 30, "batch_size": 16, "lr": 0.05, "validation_split": 0.25}
    ref = _model()
    h_ref = ref.fit(X, y, callbacks=[sn.EarlyStopping(patience=2, min_delta=1e-3)], **kw)
    m = _model()
    stop = sn.EarlyStopping(patience=2, min_delta=1e-3)
    h = m.fit(X, y, callbacks=[stop], distributed=sn.distributed.MPI(), **kw)
    stopped = _gather((h.stopped_by, h.stopped_epoch, h.epoch, stop.best_epoch))
    params = _gather(_params(m))
    assert h_ref.stopped_by == "patience" and h_ref.stopped_epoch < 29
    assert all(s[:3] == (h_ref.stopped_by, h_ref.stopped_epoch, h_ref.epoch) for s in stopped)
    assert len({s[3] for s in stopped}) == 1
    assert all(np.array_equal(p, params[0]) for p in params)  # best weights restored alike
    assert _rel(_params(m), _params(ref)) < RTOL


@two_ranks
def test_a_callback_that_stops_one_rank_stops_them_all():
    class StopOnLastRank(sn.Callback):
        def on_epoch_end(self, epoch, logs):
            if epoch == 1 and RANK == SIZE - 1:
                self.model.stop_training, self.model.stop_reason = True, "mine"

    X, y, _ = _data(60)
    m = _model()
    h = m.fit(X, y, epochs=5, callbacks=[StopOnLastRank()], distributed=sn.distributed.MPI())
    assert _gather((h.epoch, h.stopped_by)) == [([0, 1], "mine")] * SIZE


@two_ranks
def test_checkpoints_are_written_by_rank_0_only(tmp_path):
    folder = Path(WORLD.bcast(str(tmp_path), root=0))  # one folder, seen by every rank
    X, y, _ = _data(60)
    cb = sn.ModelCheckpoint(folder / f"rank{RANK}-{{epoch}}.npz", save_best_only=False)
    m = _model()
    m.fit(X, y, epochs=2, batch_size=16, callbacks=[cb], distributed=sn.distributed.MPI())
    saved = _gather(cb.saved)
    WORLD.Barrier()
    files = sorted(p.name for p in folder.glob("rank*.npz"))
    assert files == ["rank0-1.npz", "rank0-2.npz"]
    assert saved[0] == [str(folder / n) for n in files] and all(s == [] for s in saved[1:])
    np.testing.assert_array_equal(_params(sn.load(folder / "rank0-2.npz")), _params(m))


@two_ranks
@pytest.mark.parametrize(
    "change, names",
    [
        ("values", r"rank 1 differs from rank 0 in X \(shape \(203, 5\)"),
        ("rows", r"rank 1 differs from rank 0 in X \(shape \(202, 5\)"),
        ("labels", "in targets"),
        ("weights", "in sample weights"),
        ("hidden", "in model configuration"),
        ("seed", "in initial parameters"),
        ("epochs", "in fit arguments"),
    ],
)
def test_a_rank_with_other_data_or_model_is_refused_on_every_rank(change, names):
    X, y, w = _data()
    model_kw, fit_kw = {}, {"epochs": 2, "batch_size": 32, "sample_weight": w}
    if RANK == 1:
        if change == "values":
            X = X + 1.0
        elif change == "rows":
            X, y, w = X[:-1], y[:-1], w[:-1]
            fit_kw["sample_weight"] = w
        elif change == "labels":
            y = (y + 1) % 3
        elif change == "weights":
            fit_kw["sample_weight"] = w * 2
        elif change == "hidden":
            model_kw["hidden"] = (9,)
        elif change == "seed":
            model_kw["seed"] = 4
        else:
            fit_kw["epochs"] = 3
    m = _model(**model_kw)
    with pytest.raises(ValueError, match="distributed fit refused") as info:
        m.fit(X, y, distributed=sn.distributed.MPI(), **fit_kw)
    messages = _gather(str(info.value))
    assert not m.built  # a refused fit changes nothing
    assert all(msg == messages[0] for msg in messages)  # every rank says the same
    assert re.search(names, messages[0]), messages[0]
    h = _model().fit(*_data(40)[:2], epochs=1, distributed=sn.distributed.MPI())  # still usable
    assert len(h.epoch) == 1


@two_ranks
def test_a_rank_whose_own_checks_fail_takes_the_others_down_with_it():
    X, y, _ = _data(40)
    m = _model()
    epochs = 0 if RANK == 1 else 2
    error = None
    try:
        m.fit(X, y, epochs=epochs, distributed=sn.distributed.MPI())
    except ValueError as exc:
        error = str(exc)
    errors = _gather(error)
    assert "epochs" in errors[1]
    assert "rank 1 refused it" in errors[0] and "epochs" in errors[0]
    assert not m.built


@two_ranks
def test_sharded_data_is_the_concatenation_with_interleaved_batches():
    """Rank r's s-th part joins every other rank's s-th part: one global batch per step."""
    if SIZE != 2:
        pytest.skip("written for 2 ranks")
    X, y, w = _data(100)
    sizes, B = (60, 40), 20  # 5 steps of 12 + 8 rows
    edges = [0, 60, 100]
    mine = slice(edges[RANK], edges[RANK + 1])
    kw = {"epochs": 3, "batch_size": B, "shuffle": False, "lr": 0.01}
    m = _model()
    h = m.fit(
        X[mine],
        y[mine],
        sample_weight=w[mine],
        distributed=sn.distributed.MPI(data="sharded"),
        **kw,
    )
    # the same steps in one process: step s = rank 0's part s, then rank 1's part s
    parts = [np.array_split(np.arange(edges[r], edges[r + 1]), 5) for r in range(2)]
    order = np.concatenate([np.concatenate([parts[0][s], parts[1][s]]) for s in range(5)])
    ref = _model()
    h_ref = ref.fit(X[order], y[order], sample_weight=w[order], **kw)
    params = _gather(_params(m))
    histories = _gather(h.to_dict())
    assert all(np.array_equal(p, params[0]) for p in params)
    assert all(other == histories[0] for other in histories)
    assert _rel(_params(m), _params(ref)) < RTOL
    _assert_history_close(h, h_ref)
    assert m.samples_seen == 3 * sum(sizes)


@two_ranks
def test_sharded_data_shuffles_each_shard_and_refuses_tiny_shards():
    X, y, _ = _data(90)
    mine = slice(0, 50) if RANK == 0 else slice(50, 90)
    m = _model()
    dist = sn.distributed.MPI(data="sharded")
    h = m.fit(X[mine], y[mine], epochs=2, batch_size=16, validation_split=0.2, distributed=dist)
    assert h.history["val_loss"][-1] > 0
    tiny = slice(0, 80) if RANK == 0 else slice(80, 83)  # 3 rows, but an epoch has 6 steps
    error = None
    try:
        _model().build(5, 3).fit(X[tiny], y[tiny], epochs=1, batch_size=16, distributed=dist)
    except ValueError as exc:
        error = str(exc)
    params = _gather(_params(m))
    errors = _gather(error)
    assert all(np.array_equal(p, params[0]) for p in params)
    assert all(e is not None and "rank 1 has 3 rows" in e for e in errors), errors


@two_ranks
def test_batch_norm_and_dropout_keep_the_ranks_in_step():
    X, y, _ = _data(120)
    m = _model(batch_norm=True, dropout=0.3)
    h = m.fit(X, y, epochs=2, batch_size=24, validation_split=0.2, distributed=sn.distributed.MPI())
    states = _gather({k: sn.to_numpy(v) for k, v in m.state().items()})
    params = _gather(_params(m))
    rng_states = _gather(m.rng.get_state())
    histories = _gather(h.to_dict())
    assert all(np.array_equal(p, params[0]) for p in params)
    assert all(np.array_equal(s[k], states[0][k]) for s in states for k in s)  # averaged
    assert rng_states[0] != rng_states[1]  # independent dropout masks
    assert all(other == histories[0] for other in histories)
    error = None
    try:  # 3-row batches leave a rank 1 row: batch statistics need 2
        _model(batch_norm=True).fit(X, y, epochs=1, batch_size=3, distributed=sn.distributed.MPI())
    except ValueError as exc:
        error = str(exc)
    assert "at least 2 rows per rank" in _gather(error)[0]


@two_ranks
def test_memory_mapped_data_trains_like_arrays(tmp_path):
    folder = Path(WORLD.bcast(str(tmp_path), root=0))
    X, y, _ = _data(90)
    if RANK == 0:
        np.save(folder / "X.npy", X)
    WORLD.Barrier()
    Xm = np.load(folder / "X.npy", mmap_mode="r")
    kw = {"epochs": 2, "batch_size": 16}
    ref = _model()
    ref.fit(X, y, **kw)
    m = _model()
    m.fit(Xm, y, distributed=sn.distributed.MPI(), **kw)
    params = _gather(_params(m))
    assert all(np.array_equal(p, params[0]) for p in params)
    assert _rel(_params(m), _params(ref)) < RTOL


@two_ranks
def test_a_diverging_fit_restores_the_same_weights_on_every_rank():
    X, y, _ = _data(100)
    m = _model(hidden=(16,), l2=0.0)
    with pytest.warns(sn.TrainingDivergedWarning):
        h = m.fit(X * 50, y, epochs=5, batch_size=10, optimizer="sgd", lr=1e6,
                  distributed=sn.distributed.MPI())  # fmt: skip
    params = _gather(_params(m))
    assert h.stopped_by == "nan"
    assert all(np.array_equal(p, params[0]) for p in params)
    assert np.all(np.isfinite(params[0]))


@two_ranks
@pytest.mark.gpu
@pytest.mark.parametrize("path", ["host", "nccl", "cuda-aware"])
def test_cupy_gradients_travel_by_each_gpu_path(path):
    """Needs CuPy on a GPU (two GPUs for NCCL, a CUDA-aware MPI for cuda-aware); skips here."""
    skip_unavailable("cupy")
    import cupy

    devices = cupy.cuda.runtime.getDeviceCount()
    if path == "nccl":
        from cupy.cuda import nccl

        if not nccl.available or devices < SIZE:
            pytest.skip(f"NCCL needs one GPU per rank and libnccl: {devices} GPUs, "
                        f"NCCL {'found' if nccl.available else 'missing'}")  # fmt: skip
    if path == "cuda-aware" and os.environ.get("SCRATCHNET_MPI_CUDA_AWARE") != "1":
        pytest.skip("set SCRATCHNET_MPI_CUDA_AWARE=1 where the MPI library is CUDA-aware")
    X, y, w = _data(64)
    kw = {"epochs": 2, "batch_size": 16, "sample_weight": w, "lr": 0.01}
    ref = _model()
    ref.fit(X, y, **kw)
    m = _model(backend="cupy", device=f"cuda:{RANK % devices}")
    dist = sn.distributed.MPI(gpu=path)
    m.fit(X, y, distributed=dist, **kw)
    params = _gather(_params(m))
    assert all(np.array_equal(p, params[0]) for p in params)
    assert _rel(_params(m), _params(ref)) < RTOL
    expected = {"host": "staged through the host", "nccl": "NCCL (cupyx.distributed)",
                "cuda-aware": "CUDA-aware MPI"}  # fmt: skip
    assert dist.gradient_path == expected[path]


# ----- the launcher ----------------------------------------------------------------------------
def _launch(args, timeout):
    mpiexec = shutil.which("mpiexec")
    if mpiexec is None:
        pytest.skip("mpiexec not found (pip install 'scratchnet[mpi]' brings MPICH's)")
    pytest.importorskip("mpi4py", reason="mpi4py is not installed (scratchnet[mpi])")
    if LAUNCHED:
        pytest.skip("already running under an MPI launcher")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PMI_", "PMIX_", "OMPI_", "MPI_", "HYDRA_", "PYTEST_"))
    }
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [mpiexec, "-n", "2", sys.executable, *args],
            capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"mpiexec -n 2 did not finish in {timeout} s (a deadlock?):\n{exc.stdout}")
    return proc, time.perf_counter() - start


def test_the_mpi_tests_pass_under_mpiexec():
    # JAX's compilations on two ranks sharing the cores take long: `.ci/run` runs that case
    args = [
        "-m",
        "pytest",
        "-q",
        "-rs",
        "-p",
        "no:cacheprovider",
        "-m",
        "not slow",
        str(Path(__file__)),
    ]
    proc, _seconds = _launch(args, timeout=240)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert "needs 2 MPI ranks" not in out, out[-6000:]
    assert " passed" in out


def test_the_example_runs_under_mpiexec(tmp_path):
    pytest.importorskip("sklearn")
    args = [str(ROOT / "examples" / "distributed_mnist.py"), "--quick", "--out", str(tmp_path)]
    proc, _seconds = _launch(args, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 ranks" in proc.stdout and "test accuracy" in proc.stdout
    assert proc.stdout.count("test accuracy") == 1  # printed by rank 0 only
    saved = sorted(p.name for p in tmp_path.glob("*_distributed_model.npz"))
    assert len(saved) == 1, saved
    if saved[0] != "mnist_distributed_model.npz":  # the fallback says so once, on its own line
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("fallback: ")]
        assert len(lines) == 1 and saved[0] in lines[0], proc.stdout


@two_ranks
def test_each_rank_reads_only_its_share_of_each_batch_from_a_streamed_source():
    from test_out_of_core import CountingRows

    X, y, _ = _data(192)
    reads = {}
    for epochs in (1, 2):
        source = CountingRows(X)
        _model().fit(source, y, epochs=epochs, batch_size=32, distributed=sn.distributed.MPI())
        reads[epochs] = source.reads
    extra = reads[2][len(reads[1]) :]  # what the second epoch read: its batches only
    assert reads[2][: len(reads[1])] == reads[1]
    assert sum(extra) == 192 // SIZE  # this rank's rows, not the whole set
    assert max(extra) == 32 // SIZE  # its share of one batch per read

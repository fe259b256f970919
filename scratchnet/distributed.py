"""Data-parallel training over MPI: P processes train one model, with one all-reduce per step.

``model.fit(X, y, batch_size=B, ..., distributed=sn.distributed.MPI())`` on every rank (started
with ``mpiexec -n P python script.py``). mpi4py and an MPI library come with the extra
``pip install "scratchnet[mpi]"``.

**Replicated data (the default).** Every rank passes the same full data (an array or a memory
map) and the same fit arguments. A memory map (or another source read by rows, see
`scratchnet.streaming`) is read batch by batch: each rank reads only its own rows of each batch
and of the validation rows (the start-of-fit checks scan every row once, in chunks). All ranks
draw the same shuffle from the model's seed, so they walk through the same global batches of B
rows. Rank r computes the gradient of its share of each batch: the batch's rows split into P
contiguous parts the way ``numpy.array_split`` does, so the
first ``n mod P`` ranks take ``ceil(n / P)`` rows and the others ``floor(n / P)``. Any P works
with any B: a rank whose share of a short batch is empty contributes a zero gradient. Every rank
scales its loss by the norm of the whole batch (1 / its total weight for ``reduction="mean"``),
rank 0 alone adds the L2 term, and one ``Allreduce`` sums the flat gradient buffer
(``model.store.grads``). The ranks then take the same optimiser step, so P ranks train as one
process with batch B does, to float rounding (the order of the sums differs), sample and class
weights included. The per-rank losses and hit counts are summed once per epoch, validation rows
are split across the ranks and their sums reduced, and rank 0's epoch logs are broadcast, so the
History is identical on every rank and callbacks decide alike (EarlyStopping stops every rank at
the same epoch; a callback that stops one rank stops all). Checkpoints are written by rank 0 only
(`ModelCheckpoint`; callbacks see ``rank`` and ``ranks`` in ``on_train_begin``'s logs).

**Sharded data** (``MPI(data="sharded")``). Each rank passes only its own rows, which may differ
in number. An epoch has ``S = ceil(N / B)`` steps, N the rows of all shards together (S = 1 for
``batch_size=None``). Each rank shuffles its own rows (from the model's seed) and splits them into S
contiguous parts (``numpy.array_split``); step s trains on the union of every rank's s-th part, a
global batch of about B rows in which a rank with more data has more rows. The norm is the whole
step's weight (one all-reduce of S numbers per epoch), so this is exactly single-process training
on the concatenated shards with those batches; every row of every shard is seen once per epoch.
Every rank needs at least S rows (2 S with batch norm). ``validation_split`` holds out part of each
shard and ``class_weight="balanced"`` balances each shard by its own counts.

**What is not the single-process run.** Dropout and augmentation draw from each rank's own device
generator (ranks other than 0 reseed theirs from its state and their rank, so masks are
independent): training equals the single-process run only without them. Batch norm normalises
with per-rank batch statistics (no synchronised batch norm); the running mean and variance are
averaged over the ranks after every epoch, so every rank holds the same model, but a P-rank run
with batch norm is not the single-process one.

**Refused before training.** At the start of each fit the ranks exchange a digest of the model
(configuration and a checksum of the initial parameters, optimiser state and counters), the fit
arguments and, with replicated data, the data (shapes, targets, weights and 1,024 evenly spaced
rows of X). A rank that differs, or whose own checks refused the fit, makes every rank raise a
ValueError that names the rank and what differs: never a deadlock. An exception raised on one
rank only after the start (a callback's, a full disk at a rank-0 checkpoint) leaves the others
waiting in the next collective; run scripts with ``mpiexec -n P python -m mpi4py script.py`` so
that an uncaught exception aborts the job.

**GPUs.** CuPy buffers go to mpi4py directly where the MPI is CUDA-aware (``gpu="cuda-aware"``,
or ``SCRATCHNET_MPI_CUDA_AWARE=1``: MPI has no portable query for it), otherwise through NCCL via
``cupyx.distributed`` where NCCL is installed, otherwise they are staged through the host. PyTorch
CUDA tensors use CUDA-aware MPI or the host; JAX arrays (immutable) always go through the host.
NumPy buffers and PyTorch CPU tensors are reduced in place in host memory.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from .data import batch_bounds as _batch_bounds
from .layers import BatchNorm
from .streaming import on_device, take_rows

Array = Any
DATA_MODES = ("replicated", "sharded")
GPU_PATHS = ("auto", "cuda-aware", "nccl", "host")
#: rows of X whose bits the start-of-fit check compares (evenly spaced, the first and last included)
SAMPLED_ROWS = 1024


def import_mpi() -> Any:
    """mpi4py's ``MPI`` module, or an ImportError that says how to install it."""
    try:
        from mpi4py import MPI as mpi
    except ImportError as exc:
        raise ImportError(
            "scratchnet.distributed needs mpi4py and an MPI library: pip install "
            "'scratchnet[mpi]' (mpi4py and MPICH from the package index), or build mpi4py "
            f"against your cluster's MPI ({exc})"
        ) from exc
    return mpi


def share(n: int, rank: int, size: int) -> tuple[int, int]:
    """Rows [lo, hi) of an n-row batch that ``rank`` of ``size`` takes (``numpy.array_split``).

    >>> [share(5, r, 2) for r in range(2)], [share(1, r, 2) for r in range(2)]
    ([(0, 3), (3, 5)], [(0, 1), (1, 1)])
    """
    q, extra = divmod(n, size)
    lo = rank * q + min(rank, extra)
    return lo, lo + q + (1 if rank < extra else 0)


class MPI:
    """Data-parallel training over an MPI communicator; pass it as ``fit(..., distributed=)``.

    Parameters
    ----------
    comm : mpi4py communicator, optional
        Default ``MPI.COMM_WORLD``.
    data : {"replicated", "sharded"}
        Every rank passes the same full data (replicated) or only its own rows (sharded); see
        the module's documentation for what each means.
    gpu : {"auto", "cuda-aware", "nccl", "host"}
        How GPU gradient buffers travel (NumPy and PyTorch CPU buffers are reduced in place).

    Attributes
    ----------
    rank, size : int
    gradient_path : str or None
        How the last gradient all-reduce travelled ("in place in host memory", "CUDA-aware
        MPI", "NCCL (cupyx.distributed)" or "staged through the host").
    """

    def __init__(self, comm: Any = None, *, data: str = "replicated", gpu: str = "auto") -> None:
        self._mpi = import_mpi()
        if data not in DATA_MODES:
            raise ValueError(f"data must be one of {DATA_MODES}, got {data!r}")
        if gpu not in GPU_PATHS:
            raise ValueError(f"gpu must be one of {GPU_PATHS}, got {gpu!r}")
        self.comm = self._mpi.COMM_WORLD if comm is None else comm
        self.rank = int(self.comm.Get_rank())
        self.size = int(self.comm.Get_size())
        self.data = data
        self.gpu = gpu
        self.gradient_path: str | None = None
        self._nccl: Any = None
        # set by `begin` for each fit: global rows and weight of an epoch, steps (sharded)
        self._totals: tuple[int, float] | None = None
        self._steps = 1

    @property
    def is_root(self) -> bool:
        """True on rank 0, the rank that writes files and prints."""
        return self.rank == 0

    @property
    def sharded(self) -> bool:
        return self.data == "sharded"

    def __repr__(self) -> str:
        return f"MPI(rank={self.rank}, size={self.size}, data={self.data!r}, gpu={self.gpu!r})"

    # ----- start of a fit: agree or refuse together ------------------------------------------
    def refuse(self, exc: BaseException) -> None:
        """This rank's checks refused the fit: tell the others (they raise too), then return so
        that the caller re-raises ``exc``."""
        self.comm.allgather({"error": f"{type(exc).__name__}: {exc}"})

    def begin(self, model: Any, plan: Any) -> None:
        """Check that every rank runs the same fit, or raise a ValueError on every rank.

        Called once per fit after the model is built and its optimiser installed. Exchanges one
        small message per rank (``allgather``) and decides from what every rank received, so
        all ranks decide alike.
        """
        try:
            n_train = int(plan.train_idx.shape[0])
            weight = float(n_train if plan.w is None else plan.w[plan.train_idx].sum())
            mine = {"error": None, "checks": self._checks(model, plan), "rows": (n_train, weight)}
        except Exception as exc:  # join the exchange all the same, so that no rank waits
            self.refuse(exc)
            raise
        every = self.comm.allgather(mine)
        failed = [(r, m["error"]) for r, m in enumerate(every) if m["error"] is not None]
        if failed:
            r, error = failed[0]
            raise ValueError(
                f"distributed fit refused: rank {r} refused it ({error}); every rank stops"
            )
        root = every[0]["checks"]
        differ = []
        absent = (None, "absent")
        for r, m in enumerate(every[1:], start=1):
            for name in [*root, *(k for k in m["checks"] if k not in root)]:
                theirs, ours = m["checks"].get(name, absent), root.get(name, absent)
                if theirs[0] != ours[0]:
                    differ.append(
                        f"rank {r} differs from rank 0 in {name} ({theirs[1]} vs {ours[1]})"
                    )
        if differ:
            raise ValueError(
                "distributed fit refused: every rank must build the same model (the same "
                "configuration and seed: seed=None draws different weights on each rank) and "
                "pass the same fit arguments"
                + (
                    " (build the model first, model.build(n_features, n_outputs), where a shard "
                    "may lack a class)"
                    if self.sharded
                    else " and the same data"
                )
                + "; "
                + "; ".join(differ)
            )
        rows = [m["rows"] for m in every]
        self._totals = (sum(n for n, _ in rows), math.fsum(w for _, w in rows))
        self._check_batches(model, plan, [n for n, _ in rows])
        if self.rank > 0:  # independent dropout masks and augmentations on every rank
            seq = np.random.SeedSequence([_seed_from(model.rng.get_state()), self.rank])
            fresh = model.backend.make_rng(int(seq.generate_state(1)[0]))
            model.rng.set_state(fresh.get_state())

    def _check_batches(self, model: Any, plan: Any, rows: list[int]) -> None:
        """Refuse shares that cannot train (identical inputs on every rank: identical answers)."""
        norm_layers = any(isinstance(layer, BatchNorm) for layer in model.layers)
        need = 2 if norm_layers else 1
        why = " (batch normalisation needs 2 rows per rank)" if norm_layers else ""
        if self.sharded:
            total = sum(rows)
            b = plan.batch_size
            self._steps = 1 if b is None or b >= total else math.ceil(total / b)
            short = [r for r, n in enumerate(rows) if n < need * self._steps]
            if short:
                raise ValueError(
                    f"sharded data: an epoch has {self._steps} steps (ceil of {total} rows / "
                    f"batch_size {b}) and each rank needs {need} rows per step{why}, but rank "
                    f"{short[0]} has {rows[short[0]]} rows; use a larger batch_size or give "
                    "that rank more rows"
                )
        elif norm_layers:
            n = rows[0]
            sizes = {b - a for a, b in _batch_bounds(n, min(plan.batch_size or n, n))}
            smallest = min(sizes) // self.size
            if smallest < 2:
                raise ValueError(
                    f"batch normalisation needs at least 2 rows per rank, but a batch of "
                    f"{min(sizes)} rows split over {self.size} ranks gives {smallest}; choose a "
                    "batch_size whose batches (the last one included) have at least "
                    f"{2 * self.size} rows"
                )

    def _checks(self, model: Any, plan: Any) -> dict[str, tuple[str, str]]:
        """name -> (digest, short description) of what must be the same on every rank."""
        be = model.backend
        layers = [(type(ly).__name__, ly.get_config()) for ly in model.layers]
        opt = model.optimizer
        checks = {
            "data mode": _entry(self.data, self.size),
            "model configuration": _entry(
                model.get_config(),
                be.name,
                model.n_features,
                model.n_outputs,
                layers,
                label=f"{model.n_features} inputs, {model.n_outputs} outputs",
            ),
            "initial parameters": _entry(
                be.to_numpy(model.store.values),
                *[be.to_numpy(v) for _, v in sorted(model.state().items())],
                model.epochs_done,
                model.steps_done,
                model.samples_seen,
            ),
            "optimizer": _entry(
                type(opt).__name__,
                opt.get_config(),
                opt.iterations,
                *[be.to_numpy(v) for _, v in sorted(opt.state.items())],
            ),
            "fit arguments": _entry(
                plan.epochs,
                plan.batch_size,
                plan.shuffle,
                [type(cb).__qualname__ for cb in plan.callbacks],
                None if plan.augment is None else type(plan.augment).__qualname__,
                plan.val is not None or plan.val_idx is not None,
                plan.w is None,
            ),
        }
        if not self.sharded:
            X = plan.X
            n = int(X.shape[0])
            picks = np.unique(np.linspace(0, n - 1, min(n, SAMPLED_ROWS)).astype(np.int64))
            rows = be.to_numpy(take_rows(X, picks, be))  # X may be a memory map's RowStream
            checks["X"] = _entry(rows, tuple(X.shape), label=f"shape {tuple(X.shape)}")
            checks["targets"] = _entry(plan.Y, label=f"shape {plan.Y.shape}")
            checks["sample weights"] = _entry(plan.w)
            checks["training rows"] = _entry(plan.train_idx, plan.val_idx)
            checks["shuffle generator"] = _entry(model.shuffle_rng.bit_generator.state)
            if plan.val is not None:
                Xv, Yv, wv = plan.val
                vrows = be.to_numpy(on_device(Xv[: min(int(Xv.shape[0]), SAMPLED_ROWS), ...]))
                checks["validation data"] = _entry(vrows, Yv, wv, label=f"shape {Yv.shape}")
        return checks

    # ----- the epoch loop --------------------------------------------------------------------
    def batch_bounds(self, n_train: int, batch_size: int | None) -> list[tuple[int, int]]:
        """(start, stop) of each step's rows: the global batches (replicated) or this rank's
        parts of its own shuffled rows (sharded)."""
        if self.sharded:
            return [share(n_train, s, self._steps) for s in range(self._steps)]
        return list(
            _batch_bounds(n_train, n_train if batch_size is None else min(batch_size, n_train))
        )

    def epoch_totals(self, n_rows: int, weight: float) -> tuple[int, float]:
        """Rows and weight of an epoch over every rank (sharded), or the given ones."""
        return self._totals if self.sharded and self._totals is not None else (n_rows, weight)

    def epoch_batches(
        self, order: np.ndarray, bounds: list[tuple[int, int]], w: np.ndarray | None
    ) -> list[tuple[int, int, int, np.ndarray | None]]:
        """Per step: (start, stop) of this rank's rows in ``order``, and the rows and weights of
        the whole step over every rank, which set its norm.

        Sharded: one all-reduce per epoch sums every rank's rows and weight per step; the
        whole step's weights are then given as a one-element array holding their sum.
        """
        if not self.sharded:
            steps = []
            for start, stop in bounds:
                lo, hi = share(stop - start, self.rank, self.size)
                weights = None if w is None else w[order[start:stop]]
                steps.append((start + lo, start + hi, stop - start, weights))
            return steps
        local = np.zeros((2, len(bounds)))
        for s, (start, stop) in enumerate(bounds):
            local[0, s] = stop - start
            local[1, s] = stop - start if w is None else w[order[start:stop]].sum()
        total = self.sum_array(local)
        return [
            (start, stop, int(total[0, s]), None if w is None else total[1, s : s + 1])
            for s, (start, stop) in enumerate(bounds)
        ]

    def train_step(
        self, model: Any, Xb: Array, Yb: Array, wb: Array | None, norm: float, lr: float
    ) -> tuple[Any, Array | None]:
        """This rank's gradient of its rows, summed over the ranks by one all-reduce, then one
        optimiser step (the same on every rank). Returns this rank's loss and logits (None for
        no rows)."""
        if int(Xb.shape[0]) == 0:  # a batch shorter than the rank count left this rank no rows
            loss, F = 0.0, None
            model.store.grads = model.backend.xp.zeros_like(model.store.grads)
        else:
            with self._penalty_once(model):
                loss, F = model.compute_gradients(Xb, Yb, wb, norm)
        model.store.grads = self.allreduce_sum_(model.store.grads, model.backend)
        model.apply_gradients(lr)
        return loss, F

    @contextmanager
    def _penalty_once(self, model: Any) -> Iterator[None]:
        """The L2 term enters the summed gradient once: rank 0 adds it, the others do not."""
        owners = [ly for ly in model.layers if getattr(ly, "l2", None) is not None]
        if self.rank == 0 or (model.l2 == 0.0 and not owners):
            yield
            return
        saved = model.l2, [ly.l2 for ly in owners]
        model.l2 = 0.0
        for ly in owners:
            ly.l2 = 0.0
        try:
            yield
        finally:
            model.l2 = saved[0]
            for ly, lam in zip(owners, saved[1], strict=True):
                ly.l2 = lam

    def sum_scalars(self, *values: Any) -> list[float]:
        """Numbers (floats or 0-d device arrays) summed over the ranks, as floats."""
        return [float(v) for v in self.sum_array(np.array([float(v) for v in values]))]

    def sum_array(self, a: np.ndarray) -> np.ndarray:
        """A host float64 array summed over the ranks (a new array)."""
        out = np.ascontiguousarray(a, dtype=np.float64).copy()
        if self.size > 1:
            self.comm.Allreduce(self._mpi.IN_PLACE, out, op=self._mpi.SUM)
        return out

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (a small picklable object: epoch logs)."""
        return obj if self.size == 1 else self.comm.bcast(obj, root=0)

    def agree_to_stop(self, model: Any) -> None:
        """When a callback stopped training on any rank, stop every rank (lowest rank's reason)."""
        if self.size == 1:
            return
        votes = self.comm.allgather((bool(model.stop_training), model.stop_reason))
        stopped = [v for v in votes if v[0]]
        if stopped:
            model.stop_training, model.stop_reason = True, stopped[0][1]

    def average_state(self, model: Any) -> None:
        """Average the non-trained state (batch-norm running statistics) over the ranks."""
        state = model.state()
        if not state or self.size == 1:
            return
        be = model.backend
        host = {k: be.to_numpy(v) for k, v in sorted(state.items())}
        total = self.sum_array(np.concatenate([np.ravel(v) for v in host.values()]))
        averaged, at = {}, 0
        for k, v in host.items():
            averaged[k] = (total[at : at + v.size] / self.size).reshape(v.shape).astype(v.dtype)
            at += v.size
        model.set_state(averaged)

    def broadcast_model(self, model: Any) -> None:
        """Rank 0's parameters, state and optimiser state on every rank (after a divergence
        restore, which measured the candidates on each rank's own rows)."""
        if self.size == 1:
            return
        be, opt = model.backend, model.optimizer
        payload = None
        if self.is_root:
            payload = {
                "parameters": be.to_numpy(model.store.values),
                "state": {k: be.to_numpy(v) for k, v in model.state().items()},
                "slots": {k: be.to_numpy(v) for k, v in opt.state.items()},
                "iterations": opt.iterations,
            }
        payload = self.comm.bcast(payload, root=0)
        if not self.is_root:
            model.restore({"parameters": payload["parameters"], "state": payload["state"]})
            opt.state = {k: be.asarray(v, dtype=model.dtype) for k, v in payload["slots"].items()}
            opt.iterations = payload["iterations"]

    def evaluate(self, model: Any, Xd: Array, Y: Array, w: np.ndarray | None) -> dict[str, float]:
        """`scratchnet.evaluation.evaluate_arrays` over the rows of every rank: each rank
        evaluates its share (replicated) or its own rows (sharded) and the sums are reduced.
        ``Xd`` may be a `RowStream`: a rank then reads its share chunk by chunk."""
        n = int(Xd.shape[0])
        lo, hi = (0, n) if self.sharded else share(n, self.rank, self.size)
        be, head = model.backend, model.head
        xp = be.xp
        Xl, Yl = Xd[lo:hi, ...], Y[lo:hi, ...]
        wl = None if w is None else np.asarray(w[lo:hi], dtype=np.float64)
        w_dev = None if wl is None else be.asarray(wl, dtype=model.dtype)
        k = int(Y.shape[1])
        loss_sum, correct, sq_res = 0.0, 0.0, np.zeros(k)
        for start in range(0, hi - lo, model.inference_chunk):
            stop = min(start + model.inference_chunk, hi - lo)
            F, Yc = model.infer(Xl[start:stop, ...]), Yl[start:stop, ...]
            wc = None if w_dev is None else w_dev[start:stop]
            losses, _ = head.sample_losses(F, Yc)
            loss_sum += float(xp.sum(losses if wc is None else losses * wc))
            if head.is_classifier:
                correct += float(head.correct(F, Yc, wc))
            else:
                R = F - Yc
                R2 = R * R if wc is None else R * R * xp.expand_dims(wc, axis=1)
                sq_res = sq_res + be.to_numpy(xp.sum(R2, axis=0)).astype(np.float64)
        Yh = be.to_numpy(Yl).astype(np.float64)
        wh = np.ones(hi - lo) if wl is None else wl
        sums = self.sum_array(np.concatenate([[loss_sum, correct, wh.sum()], sq_res, wh @ Yh]))
        loss_sum, correct, total_w = (float(v) for v in sums[:3])
        out = {"loss": loss_sum * (1.0 if model.reduction == "sum" else 1.0 / total_w)}
        if head.is_classifier:
            out["accuracy"] = correct / total_w
            return out
        ss_res = sums[3 : 3 + k]
        D = Yh - sums[3 + k :] / total_w
        ss_tot = self.sum_array((wh[:, None] * D * D).sum(axis=0))
        out["mse"] = float(ss_res.sum() / (total_w * k))
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), 0.0)
        out["r2"] = float(r2.mean())
        return out

    # ----- moving gradient buffers -----------------------------------------------------------
    def allreduce_sum_(self, buffer: Array, backend: Any) -> Array:
        """The sum of ``buffer`` over the ranks: the same array, reduced in place where the
        library allows, else a new array of the backend."""
        if self.size == 1:
            return buffer
        SUM, IN_PLACE = self._mpi.SUM, self._mpi.IN_PLACE
        view = _host_view(buffer, backend)
        if view is not None:
            self.gradient_path = "in place in host memory"
            self.comm.Allreduce(IN_PLACE, view, op=SUM)
            return buffer
        path = self._device_path(backend)
        if path == "cuda-aware":
            self.gradient_path = "CUDA-aware MPI"
            backend.synchronize()  # MPI does not follow CUDA streams: the gradient must be written
            self.comm.Allreduce(IN_PLACE, buffer, op=SUM)
            return buffer
        if path == "nccl":
            self.gradient_path = "NCCL (cupyx.distributed)"
            self._nccl.all_reduce(buffer, buffer, "sum")  # ordered on the current stream
            return buffer
        self.gradient_path = "staged through the host"
        host = np.array(backend.to_numpy(buffer), copy=True, order="C")
        self.comm.Allreduce(IN_PLACE, host, op=SUM)
        return backend.asarray(host, dtype=buffer.dtype)

    def _device_path(self, backend: Any) -> str:
        """How a device buffer of ``backend`` travels: cuda-aware, nccl or host."""
        on_gpu = backend.name == "cupy" or (
            backend.name == "torch" and getattr(backend.device, "type", "cpu") == "cuda"
        )
        if not on_gpu or self.gpu == "host":
            return "host"
        aware = os.environ.get("SCRATCHNET_MPI_CUDA_AWARE", "").lower() in ("1", "true", "yes")
        if self.gpu == "cuda-aware" or (self.gpu == "auto" and aware):
            return "cuda-aware"
        if backend.name == "cupy" and self._nccl_ready(backend):
            return "nccl"
        if self.gpu == "nccl":
            raise RuntimeError(
                "gpu='nccl' needs CuPy arrays and NCCL (pip install nvidia-nccl-cu12); "
                f"{backend.name} buffers here"
            )
        return "host"

    def _nccl_ready(self, backend: Any) -> bool:
        """Start a `cupyx.distributed` NCCL communicator once (collective: every rank here)."""
        if self._nccl is None:
            from cupy.cuda import nccl

            usable = nccl.available and self.comm.Compare(self._mpi.COMM_WORLD) in (
                self._mpi.IDENT, self._mpi.CONGRUENT,
            )  # fmt: skip
            if not usable:
                self._nccl = False
                return False
            import cupyx.distributed

            with backend.activate():
                self._nccl = cupyx.distributed.NCCLBackend(self.size, self.rank, use_mpi=True)
        return self._nccl is not False


def _host_view(buffer: Array, backend: Any) -> np.ndarray | None:
    """A writable NumPy view of a host buffer (NumPy, PyTorch on the CPU), else None."""
    if isinstance(buffer, np.ndarray):
        view = buffer
    elif backend.name == "torch" and getattr(backend.device, "type", "") == "cpu":
        view = buffer.detach().numpy()  # shares the tensor's memory
    else:
        return None
    return view if view.flags.c_contiguous and view.flags.writeable else None


def _entry(*parts: Any, label: str | None = None) -> tuple[str, str]:
    """(digest of ``parts``, a short description for messages)."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            a = np.ascontiguousarray(part)
            h.update(f"{a.dtype.str}{a.shape}".encode())
            h.update(a.tobytes())
        else:  # JSON of configurations; objects by class name (never a memory address)
            text = json.dumps(part, sort_keys=True, default=lambda o: type(o).__qualname__)
            h.update(text.encode())
    digest = h.hexdigest()
    return digest, (f"{label}, " if label else "") + f"checksum {digest[:12]}"


def _seed_from(state: Any) -> int:
    """A 32-bit number from a generator's JSON-friendly state."""
    text = json.dumps(state, sort_keys=True, default=str)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")

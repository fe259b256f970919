"""Data-parallel training over MPI: P processes train one MLP on MNIST as one process would.

Every rank runs this script; each takes its share of every batch of 128 rows, and one all-reduce
per step sums the gradients (see `scratchnet.distributed`). Rank 0 prints and saves. Needs the
extra ``pip install "scratchnet[mpi]"`` (mpi4py and MPICH).

Data: MNIST as in ``train_mnist.py`` (``--data``, ``$SCRATCHNET_MNIST``, the user cache), else
scikit-learn's 8x8 digits; ``--synthetic N`` trains on N random MNIST-shaped rows instead, to
measure throughput (docs/scaling.md). Rank 0 writes ``out/<data>_distributed_model.npz``, named
after the data used.

    mpiexec -n 2 python examples/distributed_mnist.py --quick         # seconds
    mpiexec -n 2 python examples/distributed_mnist.py                 # full run
    mpiexec -n 2 python examples/distributed_mnist.py --sharded       # each rank loads its rows
    mpiexec -n 2 python examples/distributed_mnist.py --synthetic 60000 --epochs 3 --threads 1
"""

from __future__ import annotations

import os
import statistics
import sys
from contextlib import nullcontext

import numpy as np
from _common import parse, parser

import scratchnet as sn


def _threads(n: int | None, dist):
    """Limit BLAS threads of this rank: by default the machine's cores over the ranks on it.

    Ranks that share a machine compete for its cores; OpenBLAS's default of one thread per core
    in every rank made two ranks on two cores 20 times slower here (docs/scaling.md).
    """
    if n is None:
        from mpi4py import MPI

        on_this_machine = dist.comm.Split_type(MPI.COMM_TYPE_SHARED).Get_size()
        n = max(1, (os.cpu_count() or 1) // on_this_machine)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        print("threadpoolctl is not installed: BLAS threads not limited", file=sys.stderr)
        return nullcontext()
    return threadpool_limits(n)


def _load(args, dist):
    """(X_train, y_train, X_test, y_test, name, description), read by every rank."""
    if args.synthetic:
        rng = np.random.default_rng(args.seed)
        X = rng.random((args.synthetic, 784), dtype=np.float32)
        y = rng.integers(0, 10, size=args.synthetic)
        return X, y, X[:1000], y[:1000], "synthetic", f"{args.synthetic} random 28x28 rows"
    info = None
    for turn in ("root", "others"):  # rank 0 first: only it may download into the cache
        if (turn == "root") == dist.is_root:
            data = sn.datasets.load_real_dataset(
                args.dataset, path=args.data, download=dist.is_root and not args.quick
            )
            info = data
        dist.comm.Barrier()
    X_train, y_train, X_test, y_test, meta = info
    if args.dataset == "auto" and meta.name != "mnist" and dist.is_root:
        print(f"fallback: MNIST was not found; training on {meta.name} instead, and naming the "
              f"output file {meta.name}_distributed_model.npz")  # fmt: skip
    if args.quick:
        X_train, y_train = X_train[:2000], y_train[:2000]
    return X_train, y_train, X_test, y_test, meta.name, str(meta)


def main(argv=None) -> float:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--data", default=None, help="folder with the four MNIST IDX files")
    p.add_argument("--dataset", default="auto", choices=sn.datasets.REAL_DATASETS)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128, help="global batch (all ranks)")
    p.add_argument("--sharded", action="store_true", help="each rank keeps only its own rows")
    p.add_argument("--synthetic", type=int, default=0, help="N random rows instead of MNIST")
    p.add_argument(
        "--threads", type=int, default=None, help="BLAS threads per rank (default: cores / ranks)"
    )
    args = parse(p, argv)

    dist = sn.distributed.MPI(data="sharded" if args.sharded else "replicated")
    say = print if dist.is_root else (lambda *a, **k: None)
    X_train, y_train, X_test, y_test, name, description = _load(args, dist)
    if args.sharded:  # keep this rank's contiguous block of rows (a real job would load only it)
        lo, hi = sn.distributed.share(X_train.shape[0], dist.rank, dist.size)
        X_train, y_train = X_train[lo:hi], y_train[lo:hi]
    epochs = 2 if args.quick else args.epochs
    say(f"data: {description}")
    say(f"{dist.size} ranks ({dist.data} data), train {X_train.shape} per rank, batch "
        f"{args.batch_size} in all, backend {args.backend}")  # fmt: skip

    model = sn.Model(
        hidden=(256, 128), activation="relu", output="softmax", backend=args.backend,
        device=args.device, dtype="float32", seed=args.seed,
    )  # fmt: skip
    if args.sharded:
        model.build(X_train.shape[1], 10)  # a shard may lack a class: fix the outputs first
    callbacks = [] if args.synthetic else [sn.EarlyStopping(patience=3, monitor="val_loss")]
    with _threads(args.threads, dist):
        history = model.fit(
            X_train, y_train, epochs=epochs, batch_size=args.batch_size, optimizer="adam",
            lr=1e-3, validation_split=0.0 if args.synthetic else 0.1, callbacks=callbacks,
            verbose=2 if not args.quick else 0, distributed=dist,
        )  # fmt: skip
    seconds = history.history["seconds"]
    rows = model.samples_seen / len(seconds)  # training rows of an epoch, every rank's
    steady = statistics.median(seconds[1:] if len(seconds) > 1 else seconds)
    say(f"{len(seconds)} epochs, {rows / steady:,.0f} samples/s (median epoch "
        f"{steady:.2f} s, first {seconds[0]:.2f} s), gradients "
        f"{dist.gradient_path or 'not reduced (1 rank)'}")  # fmt: skip

    scores = model.evaluate(X_test, y_test)
    say(f"test accuracy {scores['accuracy']:.4f}, test loss {scores['loss']:.4f}")
    if dist.is_root:
        path = args.out / f"{name}_distributed_model.npz"
        model.save(path)
        say(f"saved {path}")
    return scores["accuracy"]


if __name__ == "__main__":
    main()
    sys.exit(0)

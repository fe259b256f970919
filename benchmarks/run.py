"""Command-line entry point: scratchnet vs scikit-learn vs PyTorch on the same task, in one run.

Examples
--------
From the repository root::

    python -m benchmarks.run --quick                 # CI smoke run (tiny data, 1 epoch)
    python -m benchmarks.run                         # reference task, 2 epochs x 3 repeats
    python -m benchmarks.run --suite all --out out/  # plus wide, deep and batch-size configs
    python -m benchmarks.run --backend cupy          # scratchnet-CuPy vs PyTorch CUDA eager
    python benchmarks/run.py --help                  # works as a script too

See ``benchmarks/README.md`` for the columns, the fairness choices and the memory method.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: overrides applied by --quick (explicit options still win)
QUICK = {
    "samples": 2048,
    "test_samples": 512,
    "epochs": 1,
    "repeats": 1,
    "predict_repeats": 1,
    "matmul_size": 512,
}
DEFAULTS = {
    "samples": 60_000,
    "test_samples": 10_000,
    "epochs": 2,
    "repeats": 3,
    "predict_repeats": 3,
    "matmul_size": 2048,
}
MEMORY_FRAMEWORKS = ("scratchnet", "sklearn", "torch", "numpy-direct")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (options left as None fall back to `DEFAULTS` or `QUICK`)."""
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="Benchmark scratchnet against scikit-learn's MLPClassifier and PyTorch eager "
        "on the same MLP task; writes results.json and results.md.",
    )
    p.add_argument(
        "--quick", action="store_true", help="tiny data, 1 epoch, 1 repeat (CI smoke run)"
    )
    p.add_argument("--suite", choices=("reference", "sizes", "all"), default="reference",
                   help="reference task only; wide/deep/batch-size configs; or both")  # fmt: skip
    p.add_argument("--frameworks", default="scratchnet,scratchnet-unfused,sklearn,torch,numpy",
                   help="comma list of scratchnet, scratchnet-unfused (NumPy with the ufunc "
                   "kernels instead of Numba's fused optimiser and layer loops), sklearn, torch, numpy "
                   "(= numpy-direct and numpy-compat, the hand-written loops), numpy-direct, "
                   "numpy-compat")  # fmt: skip
    p.add_argument("--backend", choices=("numpy", "torch", "cupy", "jax"), default="numpy",
                   help="scratchnet's backend")  # fmt: skip
    p.add_argument("--device", choices=("cpu", "cuda"), default=None,
                   help="device of scratchnet (GPU backends) and PyTorch; default cuda for "
                   "cupy, else cpu")  # fmt: skip
    p.add_argument("--threads", type=int, default=2,
                   help="CPU threads for every library (threadpoolctl + torch.set_num_threads); "
                   "0 keeps library defaults (default 2)")  # fmt: skip
    p.add_argument("--epochs", type=int, default=None, help="epochs per repeat (default 2)")
    p.add_argument("--repeats", type=int, default=None, help="repeats per config (default 3)")
    p.add_argument("--samples", type=int, default=None, help="training rows (default 60000)")
    p.add_argument("--test-samples", type=int, default=None, help="test rows (default 10000)")
    p.add_argument("--data", default=None,
                   help="folder with the four MNIST IDX files, .gz or not (default: the first of "
                   "$SCRATCHNET_MNIST, $SCRATCHNET_DATA/mnist, ~/.cache/scratchnet/mnist that holds "
                   "them, else a synthetic set; nothing is downloaded)")  # fmt: skip
    p.add_argument("--synthetic", action="store_true", help="use the synthetic MNIST-shaped set")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--predict-repeats", type=int, default=None,
                   help="timed predict calls per repeat (default 3)")  # fmt: skip
    p.add_argument("--matmul-size", type=int, default=None,
                   help="side of the square product that measures the peak (default 2048)")  # fmt: skip
    p.add_argument("--memory-epochs", type=int, default=1,
                   help="epochs trained by each memory worker (default 1)")  # fmt: skip
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    p.add_argument("--include-slow", action="store_true",
                   help="also run scikit-learn on the wide net")  # fmt: skip
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"),
                   help="output folder for results.json and results.md")  # fmt: skip
    return p


def resolve_options(args: argparse.Namespace) -> argparse.Namespace:
    """Fill unset sizes from `QUICK` or `DEFAULTS`, pick the device, and check combinations."""
    base = QUICK if args.quick else DEFAULTS
    for key, value in base.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.device is None:
        args.device = "cuda" if args.backend == "cupy" else "cpu"
    if args.backend == "numpy" and args.device != "cpu":
        raise SystemExit(
            "--backend numpy runs on the CPU only; use --backend cupy or torch for cuda"
        )
    if args.backend == "cupy" and args.device != "cuda":
        raise SystemExit("--backend cupy needs --device cuda")
    for key in ("epochs", "repeats", "samples", "test_samples", "matmul_size", "memory_epochs"):
        if getattr(args, key) < 1:
            raise SystemExit(f"--{key.replace('_', '-')} must be >= 1, got {getattr(args, key)}")
    if args.predict_repeats < 0 or args.threads < 0:
        raise SystemExit("--predict-repeats and --threads must be >= 0")
    return args


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def _versions() -> dict[str, str]:
    """Versions of Python and of every benchmarked library imported so far."""
    import array_api_compat
    import numpy

    import scratchnet

    versions = {
        "python": platform.python_version(),
        "scratchnet": scratchnet.__version__,
        "numpy": numpy.__version__,
        "array-api-compat": array_api_compat.__version__,
    }
    modules = {"sklearn": "scikit-learn", "torch": "torch", "cupy": "cupy", "jax": "jax"}
    for module, label in modules.items():
        if module in sys.modules:
            versions[label] = getattr(sys.modules[module], "__version__", "?")
    return versions


def run_benchmarks(args: argparse.Namespace) -> dict[str, Any]:
    """Run the requested suites and return the report dict (see ``benchmarks/README.md``)."""
    from benchmarks import suite
    from benchmarks.data import load_dataset
    from benchmarks.flops import batch_products_seconds, layer_sizes, matmul_peak
    from benchmarks.frameworks import (
        TrainSpec,
        expand_frameworks,
        import_framework,
        unavailable_reason,
    )
    from benchmarks.memory import run_worker
    from benchmarks.threads import blas_info, cpu_count, set_threads, set_torch_threads

    frameworks = expand_frameworks(args.frameworks)
    threads = args.threads or None
    spec = TrainSpec(
        lr=args.lr,
        dtype=args.dtype,
        backend=args.backend,
        device=args.device,
        threads=threads,
        seed=args.seed,
    )
    if "scratchnet" in frameworks:
        reason = unavailable_reason("scratchnet", spec)
        if reason is not None:
            raise SystemExit(f"cannot benchmark scratchnet: {reason}")
    for name in frameworks:  # import first, so that the thread limits reach every library
        if unavailable_reason(name, spec) is None:
            import_framework(name, spec)
    thread_setup = set_threads(threads)
    if "torch" in sys.modules:
        set_torch_threads(threads)

    started = time.time()
    peaks = [matmul_peak(args.backend, args.matmul_size, 5, args.dtype, args.device)]
    if (
        "torch" in frameworks
        and args.backend != "torch"
        and unavailable_reason("torch", spec) is None
    ):
        peaks.append(matmul_peak("torch", args.matmul_size, 5, args.dtype, args.device))
    peak = peaks[0]["gflops"]
    print(f"matrix-product peak ({peaks[0]['library']}): {peak:.1f} GFLOP/s", file=sys.stderr)

    data_args = {
        "path": args.data,
        "n_train": args.samples,
        "n_test": args.test_samples,
        "dtype": args.dtype,
        "synthetic_only": args.synthetic,
        "seed": args.seed,
    }
    data = load_dataset(**data_args)
    data_summary = data.describe()
    print(f"data: {data_summary}", file=sys.stderr)

    with_reference = args.suite in ("reference", "all")
    batch_products = None
    if with_reference and args.backend == "numpy":  # the reference products alone, batch shapes
        ref = suite.REFERENCE
        sizes = layer_sizes(data.n_features, ref.hidden, data.n_classes)
        n_train = int(data.X_train.shape[0])
        batch_products = batch_products_seconds(sizes, ref.batch_size, n_train, args.dtype)
        print(f"reference products alone: {batch_products['seconds']:.3f} s/epoch", file=sys.stderr)
    results: list[dict[str, Any]] = []
    for config in suite.configs_for(args.suite):
        is_reference = config.name == suite.REFERENCE.name
        names = (
            frameworks
            if is_reference and with_reference
            else [f for f in frameworks if f in suite.SIZES_FRAMEWORKS]
        )
        results += suite.time_config(
            config,
            names,
            data,
            spec,
            epochs=args.epochs,
            repeats=args.repeats,
            predict_repeats=args.predict_repeats if is_reference and with_reference else 0,
            peak_gflops=peak,
            include_slow=args.include_slow,
        )
    del data
    # the peak again, after the training runs: a machine that was busy at the start would
    # otherwise give a low peak, a long floor and flattering "x floor" ratios
    end = matmul_peak(args.backend, args.matmul_size, 5, args.dtype, args.device)
    for measured in peaks:
        measured["when"] = "start"
    end["when"] = "end"
    peaks.append(end)
    if end["gflops"] > peak:
        peak = end["gflops"]
        suite.rescale_floor(results, peak)
    print(f"matrix-product peak again ({end['library']}): {end['gflops']:.1f} GFLOP/s; the floor "
          f"uses {peak:.1f}", file=sys.stderr)  # fmt: skip

    memory: list[dict[str, Any]] = []
    if with_reference and not args.no_memory:
        ref_spec = spec.to_dict()
        for name in frameworks:
            if name in MEMORY_FRAMEWORKS and unavailable_reason(name, spec) is None:
                print(f"memory: {name} in a fresh process", file=sys.stderr)
                memory.append(run_worker(name, ref_spec, data_args, args.memory_epochs))

    report: dict[str, Any] = {
        "meta": {
            "timestamp": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "wall_seconds": time.time() - started,
            "commit": _git_commit(),
            "platform": platform.platform(),
            "machine": platform.machine(),
            "cpu_count": cpu_count(),
            "threads": threads,
            "thread_setup": thread_setup,
            "blas": blas_info(),
            "backend": args.backend,
            "device": args.device,
            "dtype": args.dtype,
            "lr": args.lr,
            "epochs": args.epochs,
            "repeats": args.repeats,
            "quick": args.quick,
            "suite": args.suite,
            "frameworks": frameworks,
            "data": data_summary,
            "versions": _versions(),
            "argv": sys.argv[1:],
        },
        "matmul": peaks,
        "floor_gflops": peak,
        "batch_products": batch_products,
        "results": results,
        "ratios": suite.ratios(results),
        "growth": suite.growth(results),
        "memory": memory,
    }
    report["targets"] = suite.targets(results, memory, args.device, args.backend)
    warning = suite.busy_machine_warning(results, cpu_count(), threads)
    report["warnings"] = [warning] if warning else []
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    return report


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run, write ``results.json`` and ``results.md``, print the Markdown."""
    args = build_parser().parse_args(argv)
    # steady state: Numba's loops from the first step (a process that has trained a while);
    # what a fresh process pays first is in benchmarks.small_data's first-fit table
    os.environ.setdefault("SCRATCHNET_NUMBA", "1")
    here = str(Path(__file__).resolve().parent)
    if sys.path and sys.path[0] and str(Path(sys.path[0]).resolve()) == here:
        sys.path[0] = str(ROOT)  # run as ``python benchmarks/run.py``: import the package instead
    elif str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from benchmarks.report import markdown, write

    args = resolve_options(args)
    report = run_benchmarks(args)
    json_path, md_path = write(report, args.out)
    print(markdown(report))
    print(f"wrote {json_path} and {md_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Peak allocation of training on, and predicting from, a float64 memory map larger than the model's copy.

An MNIST-shaped float64 file (784 features, 10 classes; 150,000 rows, 0.88 GiB, by default) is
written in a temporary folder in blocks, then opened with ``np.load(path, mmap_mode="r")`` and fed
to a float32 network 784-256-128-10 (Adam, batch 128). ``tracemalloc`` measures the peak of
Python and NumPy allocations (pages of the mapped file that the kernel reads in are not
allocations and are not counted) during:

- ``fit`` with ``validation_split=0.1`` (the checks, the split, the epochs, the validation loss);
- ``predict(X, out=...)`` into a preallocated memory map;
- ``predict(X)`` into a fresh array.

Each peak is compared with the target of 256 MiB. Before scratchnet read memory maps batch by
batch, the float32 cast of the whole file made these peaks about the size of that cast.

Run: ``python -m benchmarks.out_of_core`` (``--quick``: a 20,000-row file, a smoke test).
Writes ``benchmarks/results/out_of_core.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MIB = 2**20
TARGET_MIB = 256.0
FEATURES, CLASSES = 784, 10


def write_map(path: Path, rows: int, seed: int, block: int = 10_000) -> np.ndarray:
    """Write a float64 (rows, 784) ``.npy`` file block by block; return its labels (int64).

    Each class has its own mean image, so the network has something to learn.
    """
    rng = np.random.default_rng(seed)
    means = rng.uniform(0.0, 1.0, size=(CLASSES, FEATURES))
    y = rng.integers(0, CLASSES, size=rows)
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(rows, FEATURES))
    for start in range(0, rows, block):
        stop = min(start + block, rows)
        noise = rng.normal(0.0, 0.5, size=(stop - start, FEATURES))
        X[start:stop] = means[y[start:stop]] + noise
    X.flush()
    del X
    return y


def peak_of(call: Any) -> tuple[float, float, Any]:
    """(peak MiB allocated during ``call()``, seconds, its result)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    start = time.perf_counter()
    try:
        result = call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / MIB, time.perf_counter() - start, result


def run(rows: int, epochs: int, batch_size: int, seed: int, folder: Path) -> dict[str, Any]:
    """Write the map, train and predict, and return the measurements."""
    import scratchnet as sn

    path = folder / "X.npy"
    y = write_map(path, rows, seed)
    X = np.load(path, mmap_mode="r")
    model = sn.Model(hidden=(256, 128), output="softmax", dtype="float32", seed=seed)

    def fit() -> Any:
        return model.fit(X, y, epochs=epochs, batch_size=batch_size, optimizer="adam",
                         lr=1e-3, validation_split=0.1)  # fmt: skip

    fit_mib, fit_s, history = peak_of(fit)
    out = np.lib.format.open_memmap(folder / "pred.npy", mode="w+", dtype=np.int64, shape=(rows,))
    into_mib, into_s, _ = peak_of(lambda: model.predict(X, out=out))
    fresh_mib, fresh_s, fresh = peak_of(lambda: model.predict(X))
    same = bool(np.array_equal(np.asarray(out), sn.to_numpy(fresh)))
    cast_mib = rows * FEATURES * 4 / MIB
    return {
        "rows": rows,
        "features": FEATURES,
        "file_mib": round(path.stat().st_size / MIB, 1),
        "float32_cast_mib": round(cast_mib, 1),
        "epochs": epochs,
        "batch_size": batch_size,
        "target_mib": TARGET_MIB,
        "fit": {
            "peak_mib": round(fit_mib, 1),
            "seconds": round(fit_s, 2),
            "ratio_to_target": round(fit_mib / TARGET_MIB, 3),
            "val_accuracy": history.history["val_accuracy"][-1],
        },
        "predict_into_out": {
            "peak_mib": round(into_mib, 1),
            "seconds": round(into_s, 2),
            "ratio_to_target": round(into_mib / TARGET_MIB, 3),
        },
        "predict_fresh": {
            "peak_mib": round(fresh_mib, 1),
            "seconds": round(fresh_s, 2),
            "ratio_to_target": round(fresh_mib / TARGET_MIB, 3),
        },
        "predictions_agree": same,
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "processor": platform.machine(),
            "cpus": _cpus(),
        },
    }


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def report(r: dict[str, Any]) -> str:
    lines = [
        f"float64 memory map {r['rows']:,} x {r['features']} ({r['file_mib']:,} MiB; its float32 "
        f"cast would be {r['float32_cast_mib']:,} MiB), float32 model, {r['epochs']} epoch(s), "
        f"batch {r['batch_size']}",
        f"{'call':<34} {'peak MiB':>9} {'/ target':>9} {'seconds':>8}",
    ]
    for key, name in (("fit", "fit (validation_split=0.1)"),
                      ("predict_into_out", "predict(X, out=memory map)"),
                      ("predict_fresh", "predict(X) into a fresh array")):  # fmt: skip
        m = r[key]
        lines.append(
            f"{name:<34} {m['peak_mib']:>9.1f} {m['ratio_to_target']:>9.3f} {m['seconds']:>8.2f}"
        )
    lines.append(f"target: <= {r['target_mib']:.0f} MiB each; predictions agree: "
                 f"{r['predictions_agree']}")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.out_of_core", description=__doc__)
    p.add_argument("--quick", action="store_true", help="a 20,000-row file, one epoch")
    p.add_argument("--rows", type=int, default=150_000)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = p.parse_args(argv)
    rows = 20_000 if args.quick else args.rows
    with tempfile.TemporaryDirectory(prefix="scratchnet-ooc-") as tmp:
        result = run(rows, args.epochs, args.batch_size, args.seed, Path(tmp))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "out_of_core_quick.json" if args.quick else "out_of_core.json"
    (out / name).write_text(json.dumps(result, indent=1) + "\n")
    print(report(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

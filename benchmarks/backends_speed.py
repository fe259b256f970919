"""Expected speed per backend: seconds per training epoch of two nets on every CPU backend.

Two tasks, each trained with Adam in float32 by ``Model.fit`` and timed per epoch (the
``seconds`` entry of the fit's history), after one warm-up epoch that pays one-off costs (Numba's
compilation, JAX's per-shape compilation of each operation):

* **MNIST-shaped**: 784-256-128-10, ReLU, softmax, batch 128, lr 1e-3, on a synthetic set of
  60,000 rows of MNIST's shape (``benchmarks.data.synthetic``); the matrix products dominate.
* **digits**: 64-100-10, ReLU, softmax, batch 200, lr 1e-3, on scikit-learn's 8x8 digits
  (1,347 training rows, 7 steps per epoch); the per-step Python work and per-operation dispatch
  dominate.

Backends (each measured in a fresh subprocess, so that one library's threads, caches and
compiled code do not affect the next): ``numpy`` (with the fused Numba loops from the first step
where Numba is installed: ``SCRATCHNET_NUMBA=1`` unless set otherwise), ``numpy-ufunc`` (the same
with ``SCRATCHNET_NUMBA=0``: ufunc kernels), ``torch``
(CPU), ``jax`` (CPU) and ``array_api_strict``. A backend that cannot run here is listed with
the reason. GPU backends are not measured here; ``python -m benchmarks.run --backend cupy`` does
that on a GPU machine.

Run from the repository root::

    python -m benchmarks.backends_speed            # 60,000 rows, 3 timed epochs (about 2 min)
    python -m benchmarks.backends_speed --quick    # smoke run: 2,048 rows, 1 timed epoch

The variants run in turn, and the whole sequence is repeated ``--rounds`` times (2; 1 with
``--quick``). The table shows, per task, the **fastest** timed epoch over all rounds, and each
backend's time relative to ``numpy`` measured in the same run: on a machine shared with other
work an epoch can only be slowed down by it, never sped up, so the fastest epoch is the best
estimate of the undisturbed time (``--json`` keeps every epoch's seconds and the medians).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

#: variant name -> (scratchnet backend name, extra environment)
VARIANTS: dict[str, tuple[str, dict[str, str]]] = {
    "numpy": ("numpy", {}),
    "numpy-ufunc": ("numpy", {"SCRATCHNET_NUMBA": "0"}),
    "torch": ("torch", {}),
    "jax": ("jax", {}),
    "array_api_strict": ("array_api_strict", {}),
}

#: task name -> (hidden layers, batch size, learning rate)
TASKS: dict[str, tuple[tuple[int, ...], int, float]] = {
    "mnist": ((256, 128), 128, 1e-3),
    "digits": ((100,), 200, 1e-3),
}

FULL = {"rows": 60_000, "epochs": 3, "digits_epochs": 20, "rounds": 2}
QUICK = {"rows": 2_048, "epochs": 1, "digits_epochs": 3, "rounds": 1}


def _data(task: str, rows: int) -> tuple[Any, Any]:
    """Training arrays (X of shape (n, p) float32, y of shape (n,) int64) of one task."""
    if task == "mnist":
        from benchmarks.data import synthetic

        data = synthetic(n_train=rows, n_test=1, dtype="float32", seed=0)
        return data.X_train, data.y_train
    import scratchnet as sn

    X_train, y_train, _, _ = sn.datasets.load_digits(dtype="float32", seed=0)
    return X_train, y_train


def measure(backend: str, task: str, rows: int, epochs: int) -> dict[str, Any]:
    """Train one task on one backend: warm-up epoch, then ``epochs`` timed epochs.

    Returns
    -------
    dict
        ``seconds`` (list of the timed epochs' seconds), ``min_s``, ``median_s`` and
        ``describe`` (the backend in words).
    """
    import scratchnet as sn

    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    hidden, batch, lr = TASKS[task]
    X, y = _data(task, rows)
    model = sn.Model(
        hidden=hidden, activation="relu", output="softmax", backend=backend, dtype="float32", seed=0
    )
    model.fit(X, y, epochs=1, batch_size=batch, optimizer="adam", lr=lr)  # warm-up
    history = model.fit(X, y, epochs=epochs, batch_size=batch, lr=lr)
    seconds = [float(s) for s in history.history["seconds"]]
    return {
        "seconds": seconds,
        "min_s": min(seconds),
        "median_s": statistics.median(seconds),
        "describe": model.backend.describe(),
    }


def _worker(args: argparse.Namespace) -> int:
    """Child process: measure every task on one backend and print one JSON line."""
    import scratchnet as sn

    status = sn.available_backends()[args.worker]
    if not status.available:
        print(json.dumps({"skipped": status.reason.splitlines()[0]}))
        return 0
    result: dict[str, Any] = {}
    for task in TASKS:
        epochs = args.epochs if task == "mnist" else args.digits_epochs
        try:
            result[task] = measure(args.worker, task, args.rows, epochs)
        except ImportError as err:  # scikit-learn missing for the digits
            result[task] = {"skipped": str(err).splitlines()[0]}
    if args.variant == "numpy":
        from scratchnet.backends.numba_kernels import numba_available

        result["numba"] = numba_available()
    print(json.dumps(result))
    return 0


def run_variant(variant: str, rows: int, epochs: int, digits_epochs: int) -> dict[str, Any]:
    """Measure one variant in a fresh subprocess; returns its JSON result (or a skip reason)."""
    backend, extra_env = VARIANTS[variant]
    command = [sys.executable, "-m", "benchmarks.backends_speed", "--worker", backend,
               "--variant", variant, "--rows", str(rows), "--epochs", str(epochs),
               "--digits-epochs", str(digits_epochs)]  # fmt: skip
    env = {**os.environ, **extra_env}
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"skipped": f"failed: {tail}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def best_round(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Merge the rounds of one variant: per task, every epoch's seconds and the fastest of them.

    Returns
    -------
    dict
        Per task ``seconds`` (all rounds), ``min_s`` and ``median_s`` (over all rounds); other
        entries (``numba``, ``describe``) from the first measured round; ``rounds`` as given. A
        variant skipped in every round is returned as its first round.
    """
    measured = [run for run in runs if "skipped" not in run]
    if not measured:
        return runs[0]
    merged: dict[str, Any] = {"rounds": runs}
    for run in measured:
        for key, value in run.items():
            if not isinstance(value, dict) or "seconds" not in value:
                merged.setdefault(key, value)
                continue
            entry = merged.setdefault(key, {**value, "seconds": []})
            entry["seconds"] = entry["seconds"] + list(value["seconds"])
            entry["min_s"] = min(entry["seconds"])
            entry["median_s"] = statistics.median(entry["seconds"])
    return merged


def _cell(result: dict[str, Any], task: str, reference: dict[str, Any] | None) -> str:
    if "skipped" in result:
        return "n/a"
    entry = result.get(task, {})
    if "min_s" not in entry:
        return "n/a"
    seconds = entry["min_s"]
    text = f"{seconds:.3f} s" if seconds >= 0.1 else f"{seconds * 1e3:.1f} ms"
    ref = (reference or {}).get(task, {}).get("min_s")
    if ref:
        text += f" ({seconds / ref:.2f}x)"
    return text


def table(results: dict[str, dict[str, Any]], rows: int) -> str:
    """Markdown table of the results: one row per variant, one column per task."""
    reference = results.get("numpy")
    if reference is not None and "skipped" in reference:
        reference = None
    lines = [
        f"| backend | MNIST-shaped epoch ({rows:,} rows) | digits epoch (1,347 rows) | notes |",
        "| --- | ---: | ---: | --- |",
    ]
    for variant, result in results.items():
        if "skipped" in result:
            note = f"not measured: {result['skipped']}"
        elif variant == "numpy":
            note = "fused Numba optimiser" if result.get("numba") else "Numba not in use"
        elif variant == "numpy-ufunc":
            note = "SCRATCHNET_NUMBA=0"
        else:
            note = ""
        mnist, digits = _cell(result, "mnist", reference), _cell(result, "digits", reference)
        lines.append(f"| {variant} | {mnist} | {digits} | {note} |")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.backends_speed",
        description="Seconds per training epoch of an MNIST-shaped net and a digits net on "
        "every CPU backend; prints a Markdown table.",
    )
    p.add_argument("--quick", action="store_true", help="smoke run: 2,048 rows, 1 timed epoch")
    p.add_argument("--backends", default=",".join(VARIANTS),
                   help=f"comma list of {', '.join(VARIANTS)} (default: all)")  # fmt: skip
    p.add_argument("--rows", type=int, default=None, help="rows of the MNIST-shaped set")
    p.add_argument("--epochs", type=int, default=None, help="timed epochs, MNIST-shaped")
    p.add_argument("--digits-epochs", type=int, default=None, help="timed epochs, digits")
    p.add_argument("--rounds", type=int, default=None, help="repeats of the whole sequence")
    p.add_argument("--json", default=None, help="also write the raw results to this file")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--variant", default=None, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    os.environ.setdefault("SCRATCHNET_NUMBA", "1")  # steady state; the workers inherit it
    defaults = QUICK if args.quick else FULL
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    for key in ("rows", "epochs", "digits_epochs", "rounds"):
        if getattr(args, key) < 1:
            raise SystemExit(f"--{key.replace('_', '-')} must be >= 1, got {getattr(args, key)}")
    if args.worker is not None:
        return _worker(args)
    variants = [v.strip() for v in args.backends.split(",") if v.strip()]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown or not variants:
        raise SystemExit(f"--backends takes a comma list of {', '.join(VARIANTS)}; got {unknown}")
    rounds: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    for r in range(args.rounds):
        for variant in variants:
            rounds[variant].append(run_variant(variant, args.rows, args.epochs, args.digits_epochs))
            print(f"round {r + 1}: measured {variant}", file=sys.stderr, flush=True)
    results = {variant: best_round(runs) for variant, runs in rounds.items()}
    print(table(results, args.rows))
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": args.rows, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

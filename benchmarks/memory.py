"""Peak memory of one training run, measured in a fresh Python process per framework.

Method (Linux): the worker imports the framework, loads the data, reads its current resident set
size (RSS), then resets the kernel's high-water mark (``echo 5 > /proc/self/clear_refs``), builds
the model and trains. Afterwards ``VmHWM`` in ``/proc/self/status`` is the peak RSS of the
training alone; "extra" is that peak minus the RSS after loading the data, i.e. everything the
framework allocated to train on data it was handed (copies of the data included). Where the
high-water mark cannot be reset (macOS, old kernels), ``ru_maxrss`` is used and the loading peak
may hide a smaller training peak; the JSON records which method was used.

On a GPU the worker also reports the framework's device-memory peak (PyTorch's
``max_memory_allocated``; CuPy's memory-pool total).

Run one worker by hand: ``python -m benchmarks.memory --framework torch --spec '{...}'``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

MIB = 2**20
_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kib(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def current_rss() -> int | None:
    """Resident set size of this process in bytes (None where /proc is missing)."""
    kib = _status_kib("VmRSS")
    return None if kib is None else kib * 1024


def max_rss() -> int:
    """``ru_maxrss`` of this process in bytes (kilobytes on Linux, bytes on macOS)."""
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(value if sys.platform == "darwin" else value * 1024)


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (Linux >= 4.0); True when it worked."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    hwm, rss = _status_kib("VmHWM"), _status_kib("VmRSS")
    return hwm is not None and rss is not None and hwm <= rss + 1024


def peak_rss() -> int:
    """Peak RSS in bytes since the last `reset_peak` (``VmHWM``), else ``ru_maxrss``."""
    kib = _status_kib("VmHWM")
    return kib * 1024 if kib is not None else max_rss()


def measure(framework: str, spec_dict: dict[str, Any], data_args: dict[str, Any], epochs: int):
    """Train ``framework`` for ``epochs`` epochs in this process and return memory figures (MiB).

    Parameters
    ----------
    framework : str
        A name from `benchmarks.frameworks.FRAMEWORK_NAMES`.
    spec_dict : dict
        `TrainSpec.to_dict` output.
    data_args : dict
        Keyword arguments of `benchmarks.data.load_dataset`.
    epochs : int

    Returns
    -------
    dict
        ``framework``, ``method``, ``data_mib``, ``rss_imports_mib``, ``rss_after_data_mib``,
        ``peak_rss_mib``, ``train_extra_mib``, ``epochs``, and device figures on a GPU.
    """
    from .data import load_dataset
    from .flops import layer_sizes
    from .frameworks import TrainSpec, import_framework, init_parameters, make_runner
    from .threads import set_threads, warm_up_blas

    spec = TrainSpec.from_dict(spec_dict)
    import_framework(framework, spec)  # first, so that the thread limits reach its libraries
    set_threads(spec.threads)
    warm_up_blas()
    rss_imports = current_rss()
    data = load_dataset(**data_args)
    rss_data = current_rss()
    if rss_data is None:
        rss_data = max_rss()
        method = "ru_maxrss (no /proc: the peak may include loading)"
    elif reset_peak():
        method = "VmHWM after clear_refs reset"
    else:
        method = "VmHWM without reset (the peak may include loading)"
    init = init_parameters(layer_sizes(data.n_features, spec.hidden, data.n_classes), spec.seed)
    runner = make_runner(framework, spec, data, init)
    runner.reset_device_peak()
    for _ in range(epochs):
        runner.train_epoch()
    runner.synchronize()
    peak = peak_rss()
    out = {
        "framework": framework,
        "label": runner.label,
        "method": method,
        "epochs": epochs,
        "data_mib": data.train_bytes / MIB,
        "rss_imports_mib": None if rss_imports is None else rss_imports / MIB,
        "rss_after_data_mib": rss_data / MIB,
        "peak_rss_mib": peak / MIB,
        "train_extra_mib": (peak - rss_data) / MIB,
    }
    out.update(runner.device_memory() or {})
    return out


def run_worker(
    framework: str,
    spec_dict: dict[str, Any],
    data_args: dict[str, Any],
    epochs: int,
    timeout: float = 1800.0,
) -> dict[str, Any]:
    """Run `measure` in a fresh ``python -m benchmarks.memory`` process and return its result.

    A failed worker gives ``{"framework": ..., "error": message}`` instead of raising.
    """
    data = {k: (str(v) if k == "path" and v is not None else v) for k, v in data_args.items()}
    args = ["--framework", framework, "--spec", json.dumps(spec_dict)]
    args += ["--data-args", json.dumps(data), "--epochs", str(epochs)]
    try:
        return json_worker("benchmarks.memory", args, timeout=timeout)
    except WorkerError as exc:
        return {"framework": framework, "error": str(exc)}


class WorkerError(RuntimeError):
    """A `json_worker` process that failed, timed out or printed no JSON line."""


def json_worker(
    module: str, args: list[str], env: dict[str, str] | None = None, timeout: float = 1800.0
) -> dict[str, Any]:
    """Run ``python -m module *args`` in a fresh process from the repository root and return the
    last line of its output that starts with ``{``, parsed as JSON.

    ``env`` adds to (or overrides) this process's environment; the repository goes in front of
    ``PYTHONPATH``. Raises `WorkerError` with the tail of the worker's output when it fails.
    """
    root = Path(__file__).resolve().parents[1]
    full = {**os.environ, **(env or {})}
    full["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), full.get("PYTHONPATH")]))
    cmd = [sys.executable, "-m", module, *args]
    try:
        proc = subprocess.run(
            cmd, cwd=root, env=full, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise WorkerError(f"{module} worker timed out after {timeout:.0f} s") from exc
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise WorkerError(" | ".join(tail) or f"exit {proc.returncode}")
    return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> int:
    """Entry point of the worker process: print one JSON line with `measure`'s result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", required=True)
    parser.add_argument("--spec", required=True, help="TrainSpec as JSON")
    parser.add_argument("--data-args", required=True, help="load_dataset keyword arguments as JSON")
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args(argv)
    result = measure(args.framework, json.loads(args.spec), json.loads(args.data_args), args.epochs)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

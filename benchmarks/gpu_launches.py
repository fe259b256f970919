"""GPU kernel launches per training step: scratchnet on CuPy against PyTorch CUDA eager.

A launch costs a few microseconds of host time whatever the kernel does, so on a small network
the number of launches per step, not the arithmetic, sets the step time. This script counts them
with CUPTI, through PyTorch's profiler: CUPTI records every kernel of the process, CuPy's
included, so one tool counts both frameworks the same way.

Method: build the MNIST-shaped network (784-256-128-10, Adam, float32), run a few warm-up steps
(CuPy compiles and caches its kernels on first use), then profile ``--steps`` steps and read the
Chrome trace the profiler writes: events of category ``kernel`` are launches, ``gpu_memcpy`` and
``gpu_memset`` are copies and fills. The counts are divided by the number of steps.

Usage (on a machine with an NVIDIA GPU, CuPy and PyTorch with CUDA)::

    python -m benchmarks.gpu_launches --batch-size 128 --steps 20 --out out/gpu

Without a usable GPU it exits with status 2 and one line saying why.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

#: Chrome-trace categories that are work on the device, and the name each is reported under
DEVICE_CATEGORIES = {"kernel": "kernels", "gpu_memcpy": "copies", "gpu_memset": "fills"}
SIZES = (784, 256, 128, 10)


def count_device_events(trace: dict[str, Any]) -> Counter:
    """Count the device events of a Chrome trace (as written by ``torch.profiler``).

    Parameters
    ----------
    trace : dict
        The parsed JSON of ``profile.export_chrome_trace``: ``{"traceEvents": [...]}``; each event
        has a category ``"cat"`` (``"kernel"``, ``"gpu_memcpy"``, ``"cpu_op"``, ...).

    Returns
    -------
    collections.Counter
        ``kernels``, ``copies`` and ``fills``: how many events of each kind the trace holds.

    Examples
    --------
    >>> count_device_events({"traceEvents": [{"cat": "kernel"}, {"cat": "cpu_op"},
    ...                                      {"cat": "Kernel"}, {"cat": "gpu_memcpy"}]})
    Counter({'kernels': 2, 'copies': 1})
    """
    events = trace.get("traceEvents") if isinstance(trace, dict) else None
    if not isinstance(events, list):
        raise ValueError("expected a Chrome trace: a dict with a 'traceEvents' list")
    counts: Counter = Counter()
    for event in events:
        category = str(event.get("cat", "")).lower() if isinstance(event, dict) else ""
        if category in DEVICE_CATEGORIES:
            counts[DEVICE_CATEGORIES[category]] += 1
    return counts


def per_step(counts: Counter, steps: int) -> dict[str, float]:
    """Counts divided by the number of profiled steps (every category present, zeros included)."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    return {name: counts.get(name, 0) / steps for name in DEVICE_CATEGORIES.values()}


def profile_steps(step: Callable[[], Any], steps: int, synchronize: Callable[[], Any]) -> Counter:
    """Run ``step`` ``steps`` times under the CUDA profiler and count the device events."""
    from torch.profiler import ProfilerActivity, profile

    synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(steps):
            step()
        synchronize()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace.json"
        prof.export_chrome_trace(str(path))
        return count_device_events(json.loads(path.read_text()))


def scratchnet_step(batch_size: int, seed: int = 0) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """One CuPy training step of scratchnet's MNIST-shaped model, and a device synchronisation."""
    import cupy as cp
    import numpy as np

    import scratchnet as sn

    rng = np.random.default_rng(seed)
    X = rng.random((batch_size, SIZES[0]), dtype=np.float32)
    y = rng.integers(0, SIZES[-1], batch_size)
    model = sn.Model(hidden=SIZES[1:-1], output="softmax", backend="cupy", seed=seed)
    model.fit(X, y, epochs=1, batch_size=batch_size, verbose=0)  # builds, compiles the kernels
    Xd = cp.asarray(X)
    Yd = cp.asarray(np.eye(SIZES[-1], dtype=np.float32)[y])
    norm = model.loss_scale(batch_size, None)
    lr = 1e-3

    def step():
        return model.train_step(Xd, Yd, None, norm, lr)

    return step, cp.cuda.get_current_stream().synchronize


def torch_step(batch_size: int, seed: int = 0) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """One PyTorch CUDA eager step of the same network (Adam with its default implementation)."""
    import torch

    torch.manual_seed(seed)
    layers: list[Any] = []
    for fan_in, fan_out in pairwise(SIZES):
        layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers[:-1]).cuda()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    X = torch.rand(batch_size, SIZES[0], device="cuda")
    y = torch.randint(0, SIZES[-1], (batch_size,), device="cuda")
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(net(X), y)
        loss.backward()
        optimizer.step()

    return step, torch.cuda.synchronize


def unusable_reason() -> str | None:
    """Why this machine cannot run the count (None when it can)."""
    try:
        import torch
    except ImportError:
        return "PyTorch is not installed (its profiler counts the launches)"
    if not torch.cuda.is_available():
        return "PyTorch sees no CUDA device"
    import scratchnet as sn

    status = sn.available_backends()["cupy"]
    return None if status.available else f"CuPy is not usable: {status.reason}"


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    p = argparse.ArgumentParser(prog="python -m benchmarks.gpu_launches", description=__doc__)
    p.add_argument("--batch-size", type=int, nargs="+", default=[128, 1024])
    p.add_argument("--steps", type=int, default=20, help="profiled steps (after 5 warm-up steps)")
    p.add_argument("--out", type=Path, default=None, help="folder for launches.json")
    args = p.parse_args(argv)
    reason = unusable_reason()
    if reason is not None:
        print(f"gpu_launches: {reason}", file=sys.stderr)
        raise SystemExit(2)
    results: dict[str, dict[str, float]] = {}
    print(f"{'framework':<18}{'batch':>7}{'kernels/step':>14}{'copies/step':>13}{'fills/step':>12}")
    for batch_size in args.batch_size:
        for name, make in (("scratchnet-cupy", scratchnet_step), ("torch-cuda", torch_step)):
            step, synchronize = make(batch_size)
            for _ in range(5):
                step()
            counts = per_step(profile_steps(step, args.steps, synchronize), args.steps)
            results[f"{name}@{batch_size}"] = counts
            print(f"{name:<18}{batch_size:>7}{counts['kernels']:>14.1f}"
                  f"{counts['copies']:>13.1f}{counts['fills']:>12.1f}")  # fmt: skip
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "launches.json").write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()

"""FLOP counts of an MLP epoch, the measured matrix-product peak, and the floor they imply.

The floor is the time an epoch would take if every matrix product ran at the best rate measured
for one large square product on this machine, and nothing else cost anything: element-wise work,
the optimiser, Python and data movement are all free. Real epochs are slower; "x floor" in the
reports says by how much.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from itertools import pairwise
from typing import Any


def layer_sizes(n_features: int, hidden: Sequence[int], n_outputs: int) -> list[int]:
    """Widths from input to output, e.g. ``[784, 256, 128, 10]``."""
    return [int(n_features), *(int(h) for h in hidden), int(n_outputs)]


def flops_per_sample(sizes: Sequence[int]) -> int:
    """Matrix-product FLOP for one training sample of a dense MLP.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths from input to output (at least two).

    Returns
    -------
    int
        forward 2 sum(fan_in fan_out) + weight gradients 2 sum(fan_in fan_out) + input
        gradients 2 sum(fan_in fan_out) over every layer except the first (the first layer's
        input gradient, dL/dX, is never needed). Biases, activations and the loss are not counted.

    Examples
    --------
    >>> flops_per_sample([784, 256, 128, 10])
    1007104
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes must hold at least two positive widths, got {sizes}")
    macs = [a * b for a, b in pairwise(sizes)]
    forward = 2 * sum(macs)
    weight_grads = 2 * sum(macs)
    input_grads = 2 * sum(macs[1:])
    return forward + weight_grads + input_grads


def epoch_flops(layer_sizes: Sequence[int], n_samples: int) -> int:
    """Matrix-product FLOP of one training epoch over ``n_samples`` rows (see `flops_per_sample`).

    Examples
    --------
    >>> epoch_flops([784, 256, 128, 10], 60_000)
    60426240000
    """
    return flops_per_sample(layer_sizes) * int(n_samples)


def floor_seconds(flops: float, peak_gflops: float) -> float:
    """Seconds for ``flops`` at ``peak_gflops`` GFLOP/s."""
    return float(flops) / (float(peak_gflops) * 1e9)


def batch_products_seconds(
    sizes: Sequence[int],
    batch_size: int,
    n_samples: int,
    dtype: str = "float32",
    repeats: int = 3,
) -> dict[str, Any]:
    """One epoch of the training step's matrix products alone, at the mini-batch shapes (NumPy).

    The same products as `flops_per_sample` counts, each written into a preallocated array: per
    layer H B (forward) and H^T E (weight gradient), and E B^T for every layer but the first,
    over ``n_samples // batch_size`` full batches and one smaller last batch. Nothing else runs,
    so the time is what the products cost at these shapes, which run below the square-matrix
    peak that defines the floor. Best of ``repeats`` epochs after one warm-up step.

    Returns
    -------
    dict
        ``seconds`` (best epoch), ``gflops`` (epoch FLOP / seconds) and ``batch_size``.
    """
    import numpy as np

    sizes = [int(s) for s in sizes]
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal((a, b)).astype(dtype) for a, b in pairwise(sizes)]
    full, rest = divmod(int(n_samples), int(batch_size))
    shapes = [int(batch_size)] * full + ([rest] if rest else [])

    def buffers(n: int) -> tuple[list, list, list]:
        H = [rng.standard_normal((n, a)).astype(dtype) for a in sizes[:-1]]
        Z = [np.empty((n, b), dtype=dtype) for b in sizes[1:]]
        E = [rng.standard_normal((n, b)).astype(dtype) for b in sizes[1:]]
        return H, Z, E

    grads = [np.empty_like(W) for W in weights]
    by_rows = {n: buffers(n) for n in set(shapes)}

    def step(n: int) -> None:
        H, Z, E = by_rows[n]
        for layer, W in enumerate(weights):
            np.matmul(H[layer], W, out=Z[layer])
        for layer in range(len(weights) - 1, -1, -1):
            np.matmul(H[layer].T, E[layer], out=grads[layer])
            if layer > 0:
                np.matmul(E[layer], weights[layer].T, out=H[layer])

    step(shapes[0])
    best = float("inf")
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        for n in shapes:
            step(n)
        best = min(best, time.perf_counter() - start)
    return {
        "seconds": best,
        "gflops": epoch_flops(sizes, n_samples) / best / 1e9,
        "batch_size": int(batch_size),
    }


def _matmul_callable(library: str, device: str, n: int, dtype: str) -> tuple[Any, Any]:
    """(product, synchronize) closures for an n x n product on ``library``/``device``."""
    import numpy as np

    host = np.random.default_rng(0).random((2, n, n), dtype=np.float32).astype(dtype)
    if library == "numpy":
        a, b = host[0], host[1]
        out = np.empty((n, n), dtype=dtype)
        return (lambda: np.matmul(a, b, out=out)), (lambda: None)
    if library == "torch":
        import torch

        dev = torch.device(device)
        a, b = (torch.from_numpy(host[i]).to(dev) for i in range(2))
        sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
        return (lambda: torch.matmul(a, b)), sync
    if library == "cupy":
        import cupy

        a, b = cupy.asarray(host[0]), cupy.asarray(host[1])
        return (lambda: cupy.matmul(a, b)), cupy.cuda.Device().synchronize
    if library == "jax":
        import jax.numpy as jnp

        a, b = jnp.asarray(host[0]), jnp.asarray(host[1])
        box: list[Any] = []

        def product() -> None:
            box[:] = [jnp.matmul(a, b)]

        def sync() -> None:
            if box:
                box[0].block_until_ready()

        return product, sync
    raise ValueError(f"no matrix-product probe for library {library!r}")


def matmul_peak(
    library: str = "numpy",
    n: int = 2048,
    repeats: int = 5,
    dtype: str = "float32",
    device: str = "cpu",
) -> dict[str, Any]:
    """Best rate of an n x n x n matrix product, in GFLOP/s.

    Parameters
    ----------
    library : {"numpy", "torch", "cupy", "jax"}
    n : int
        Matrix side; 2048 is large enough to reach the BLAS peak on a CPU.
    repeats : int
        Timed products after one untimed warm-up; the fastest counts.
    dtype : {"float32", "float64"}
    device : str
        ``"cpu"`` or ``"cuda"`` (torch); CuPy always uses the current GPU.

    Returns
    -------
    dict
        ``library``, ``device``, ``n``, ``dtype``, ``repeats``, ``best_s`` and ``gflops``.
    """
    product, sync = _matmul_callable(library, device, n, dtype)
    product()
    sync()
    best = float("inf")
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        product()
        sync()
        best = min(best, time.perf_counter() - start)
    return {
        "library": library,
        "device": device,
        "n": n,
        "dtype": dtype,
        "repeats": repeats,
        "best_s": best,
        "gflops": 2.0 * n**3 / best / 1e9,
    }

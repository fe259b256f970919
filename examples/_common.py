"""Command-line plumbing shared by the examples (not part of the library).

Every example takes ``--backend`` (numpy, torch, jax, cupy, array_api_strict or auto), ``--device``,
``--out`` (where PNG files and models go) and ``--quick`` (a tiny run for tests; also switched on by
the environment variable ``SCRATCHNET_QUICK=1``). A backend that cannot run here (CuPy without a
GPU, a library that is not installed) ends the example with one line on stderr and exit status 2,
not a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--backend", default="numpy", help="numpy, torch, jax, cupy, array_api_strict or auto"
    )
    p.add_argument("--device", default=None, help="device of the backend, e.g. cuda:0")
    p.add_argument(
        "--out", default="out", help="folder for figures and saved models (default: out/)"
    )
    p.add_argument("--quick", action="store_true", help="tiny run (seconds), as the tests use")
    p.add_argument("--seed", type=int, default=0)
    return p


def parse(
    p: argparse.ArgumentParser, argv=None, *, check_backend: bool = True
) -> argparse.Namespace:
    """Parse the command line; with ``check_backend``, exit (status 2) if the backend cannot run."""
    args = p.parse_args(argv)
    args.quick = args.quick or os.environ.get("SCRATCHNET_QUICK") == "1"
    if check_backend:
        require_backend(args.backend, args.device)
    args.out = Path(args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    return args


def require_backend(name: str, device=None) -> None:
    """Build the backend once; if it cannot run here, say why on one line and exit with status 2."""
    import scratchnet as sn

    try:
        sn.get_backend(name, device)
    except (ImportError, RuntimeError, ValueError, TypeError) as err:
        reason = " ".join(str(err).split()) or type(err).__name__
        where = f" (device {device!r})" if device is not None else ""
        print(f"examples: backend {name!r}{where} is not usable here: {reason}", file=sys.stderr)
        raise SystemExit(2) from None


def load_image_data(args: argparse.Namespace, dataset: str = "auto", path=None):
    """MNIST where it is found (or downloadable), else scikit-learn's 8x8 digits.

    Returns ``X_train, y_train, X_test, y_test, info`` (see
    ``scratchnet.datasets.load_real_dataset``); ``info.name`` is the set actually used. When
    ``"auto"`` falls back to the digits, one line of its own says so.
    """
    import scratchnet as sn

    offline = getattr(args, "offline", False)  # SCRATCHNET_OFFLINE=1 is obeyed by the loader
    data = sn.datasets.load_real_dataset(
        dataset, path=path, download=not (offline or args.quick), seed=args.seed
    )
    if dataset == "auto" and data.info.name != "mnist":
        print(
            f"fallback: MNIST was not found; training on scikit-learn's 8x8 digits instead, and "
            f"naming the output files {data.info.name}_* (MNIST is looked for in "
            "scratchnet.datasets.dataset_search_paths('mnist'))"
        )
    return data


class Timer:
    """``with Timer() as t: ...`` then ``t.seconds``."""

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start

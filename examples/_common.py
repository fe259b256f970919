"""Command-line plumbing shared by the examples (not part of the library).

Every example takes ``--backend`` (numpy, torch, jax, cupy, array_api_strict or auto), ``--device``,
``--out`` (where PNG files and models go) and ``--quick`` (a tiny run for tests; also switched on by
the environment variable ``SCRATCHNET_QUICK=1``).
"""

from __future__ import annotations

import argparse
import os
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


def parse(p: argparse.ArgumentParser, argv=None) -> argparse.Namespace:
    args = p.parse_args(argv)
    args.quick = args.quick or os.environ.get("SCRATCHNET_QUICK") == "1"
    args.out = Path(args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    return args


class Timer:
    """``with Timer() as t: ...`` then ``t.seconds``."""

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start

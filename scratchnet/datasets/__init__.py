"""Data sets: MNIST and Fashion-MNIST from IDX files, scikit-learn's digits, and seeded toy sets.

Everything returns host NumPy arrays; a model moves them to its device once per fit.

The modules, lower ones first (each imports only the ones above it):

- :mod:`~scratchnet.datasets.idx`: reading IDX files, :func:`read_idx`;
- :mod:`~scratchnet.datasets.fetch`: the IDX sets' files and checksums, the folders searched
  (:func:`dataset_search_paths`, :func:`cache_dir`), downloads and :class:`DatasetNotFoundError`;
- :mod:`~scratchnet.datasets.mnist`: :func:`load_mnist`, :func:`load_fashion_mnist` (and where
  they look) and :class:`DatasetSplit`;
- :mod:`~scratchnet.datasets.real`: :func:`load_digits`, :func:`load_real_dataset`,
  :class:`DatasetInfo` and :class:`RealDataset`;
- :mod:`~scratchnet.datasets.toy`: :func:`make_xor`, :func:`make_moons`, :func:`make_circles`
  and :func:`make_spirals`.
"""

from __future__ import annotations

from .fetch import DATA_ENV as DATA_ENV
from .fetch import OFFLINE_ENV as OFFLINE_ENV
from .fetch import DatasetNotFoundError, cache_dir, dataset_search_paths
from .idx import PathLike as PathLike
from .idx import read_idx
from .mnist import DatasetSplit, load_fashion_mnist, load_mnist
from .real import REAL_DATASETS as REAL_DATASETS
from .real import DatasetInfo, RealDataset, load_digits, load_real_dataset
from .toy import make_circles, make_moons, make_spirals, make_xor

__all__ = [
    "DatasetInfo",
    "DatasetNotFoundError",
    "DatasetSplit",
    "RealDataset",
    "cache_dir",
    "dataset_search_paths",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "load_real_dataset",
    "make_circles",
    "make_moons",
    "make_spirals",
    "make_xor",
    "read_idx",
]

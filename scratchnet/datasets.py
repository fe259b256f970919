"""Data sets: MNIST and Fashion-MNIST from IDX files, scikit-learn's digits, and seeded toy sets.

Everything returns host NumPy arrays; a model moves them to its device once per fit.

Where the IDX loaders look
--------------------------
:func:`load_mnist` and :func:`load_fashion_mnist` read the four standard IDX files
(``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
``t10k-labels-idx1-ubyte``, each gzip-compressed as ``.gz`` or uncompressed) from the first folder
that holds all four:

1. the ``path`` argument, when given (then only there, and downloads go there);
2. ``$SCRATCHNET_MNIST`` (``$SCRATCHNET_FASHION_MNIST``): a folder holding the four files;
3. ``$SCRATCHNET_DATA/mnist`` (``$SCRATCHNET_DATA/fashion-mnist``);
4. the user cache, ``$XDG_CACHE_HOME/scratchnet/<name>`` or ``~/.cache/scratchnet/<name>``;
5. for Fashion-MNIST, Debian's ``/usr/share/datasets/fashion-mnist``
   (``apt-get install dataset-fashion-mnist``).

Where none has them and ``download=True``, the files are fetched into the cache (or ``path``),
each into a temporary file that is renamed into place only after its MD5 checks out, so an
interrupted or corrupted download never lands in the cache. ``SCRATCHNET_OFFLINE=1`` turns
downloads off. :func:`dataset_search_paths` lists the folders; the error raised when nothing is
found (:class:`DatasetNotFoundError`) lists them too, with what each one lacks.

Every file's uncompressed contents are checked against the published MD5 (``verify=True``), and
its IDX header against its size, so a truncated or foreign file is named in a ``ValueError``.

Examples
--------
>>> from scratchnet.datasets import make_moons
>>> X, y = make_moons(n_samples=100, noise=0.1, seed=0)
>>> X.shape, X.dtype, y.shape, y.dtype
((100, 2), dtype('float64'), (100,), dtype('int64'))
>>> [int(c) for c in np.bincount(y)]
[50, 50]

Real data, where available (MNIST if found or downloadable, else scikit-learn's digits):

>>> from scratchnet.datasets import load_real_dataset
>>> X_train, y_train, X_test, y_test, info = load_real_dataset("auto")  # doctest: +SKIP
>>> print(info)  # doctest: +SKIP
MNIST handwritten digits: 60000 training and 10000 test images of 28x28 pixels, 10 classes (...)
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import math
import os
import struct
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .data import train_test_split
from .validation import check_float, check_positive_int

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

_log = logging.getLogger(__name__)

#: environment variable naming a folder with one subfolder per data set (``mnist/``, ...)
DATA_ENV = "SCRATCHNET_DATA"
#: environment variable that, set to 1/true/yes, turns every download off
OFFLINE_ENV = "SCRATCHNET_OFFLINE"

PathLike = str | os.PathLike


# ----------------------------------------------------------------------------------------------
# results and errors


class DatasetSplit(NamedTuple):
    """A train/test split; unpacks as ``X_train, y_train, X_test, y_test``.

    Attributes
    ----------
    X_train : ndarray of shape (n_train, n_features), or (n_train, rows, cols) unflattened
    y_train : ndarray of int64, shape (n_train,)
    X_test : ndarray of shape (n_test, n_features), or (n_test, rows, cols) unflattened
    y_test : ndarray of int64, shape (n_test,)
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


@dataclass(frozen=True)
class DatasetInfo:
    """Which real data set :func:`load_real_dataset` returned; ``str(info)`` is the description.

    Attributes
    ----------
    name : str
        ``"mnist"``, ``"fashion-mnist"`` or ``"digits"``.
    description : str
        One line for logs and reports: the set, its sizes and where it came from.
    source : str
        The folder the IDX files were read from, or ``"scikit-learn"`` for the digits.
    n_classes : int
        Number of classes (10 for all three), also where a slice of the labels lacks some.
    """

    name: str
    description: str
    source: str
    n_classes: int

    def __str__(self) -> str:
        return self.description


class RealDataset(NamedTuple):
    """:func:`load_real_dataset`'s result; unpacks as ``X_train, y_train, X_test, y_test, info``."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    info: DatasetInfo


class DatasetNotFoundError(FileNotFoundError):
    """No searched folder holds the data set's files, and none could be downloaded.

    The message lists each folder searched (with what it lacks), the environment variables and
    the file names to put there. ``searched`` holds the folders, in search order.
    """

    def __init__(self, message: str, name: str = "", searched: list[Path] | None = None) -> None:
        super().__init__(message)
        self.name = name
        self.searched = list(searched or [])

    def __str__(self) -> str:
        return str(self.args[0])


# ----------------------------------------------------------------------------------------------
# the IDX data sets


@dataclass(frozen=True)
class _IdxDataset:
    """What the loader needs to know about one IDX data set."""

    name: str  # folder and key: "mnist"
    title: str  # for people: "MNIST"
    description: str  # "handwritten digits"
    env: str  # "SCRATCHNET_MNIST"
    # (file stem, MD5 of the uncompressed file) for train images, train labels, test images, test labels
    files: tuple[tuple[str, str], ...]
    mirrors: tuple[str, ...]  # base URLs; a file's URL is base + stem + ".gz"
    system_dirs: tuple[str, ...] = ()
    n_classes: int = 10


_STEMS = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

# MD5 of the uncompressed files: MNIST's are the published values, checked against the files;
# Fashion-MNIST's were computed from Debian's dataset-fashion-mnist files and agree with the
# values torchvision published for the uncompressed files (its gzip checksums differ because
# Debian re-compressed the files).
_DATASETS: dict[str, _IdxDataset] = {
    "mnist": _IdxDataset(
        name="mnist",
        title="MNIST",
        description="handwritten digits",
        env="SCRATCHNET_MNIST",
        files=tuple(
            zip(
                _STEMS,
                (
                    "6bbc9ace898e44ae57da46a324031adb",
                    "a25bea736e30d166cdddb491f175f624",
                    "2646ac647ad5339dbf082846283269ea",
                    "27ae3e4e09519cfbb04c329615203637",
                ),
                strict=True,
            )
        ),
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
    ),
    "fashion-mnist": _IdxDataset(
        name="fashion-mnist",
        title="Fashion-MNIST",
        description="Zalando clothing images",
        env="SCRATCHNET_FASHION_MNIST",
        files=tuple(
            zip(
                _STEMS,
                (
                    "f4a8712d7a061bf5bd6d2ca38dc4d50a",
                    "9018921c3c673c538a1fc5bad174d6f9",
                    "8181f5470baa50b63fa0f6fddb340f0a",
                    "15d484375f8d13e6eb1aabb0c3f46965",
                ),
                strict=True,
            )
        ),
        mirrors=(
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        ),
        system_dirs=("/usr/share/datasets/fashion-mnist",),
    ),
}


def _spec(name: str) -> _IdxDataset:
    key = str(name).strip().lower().replace("_", "-")
    key = {"fashion": "fashion-mnist", "fashionmnist": "fashion-mnist"}.get(key, key)
    if key not in _DATASETS:
        raise ValueError(f"unknown data set {name!r}; expected one of {sorted(_DATASETS)}")
    return _DATASETS[key]


def cache_dir(name: str | None = None) -> Path:
    """The user cache folder where downloads go: ``$XDG_CACHE_HOME/scratchnet`` or ``~/.cache/scratchnet``.

    Parameters
    ----------
    name : str, optional
        A data set (``"mnist"``, ``"fashion-mnist"``): its subfolder of the cache.

    Returns
    -------
    pathlib.Path (not created here).
    """
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg).expanduser() if xdg and Path(xdg).expanduser().is_absolute() else None
    root = (base if base is not None else Path.home() / ".cache") / "scratchnet"
    return root if name is None else root / _spec(name).name


def _locations(spec: _IdxDataset, path: PathLike | None) -> list[tuple[Path, str]]:
    """(folder, where it comes from) in search order."""
    if path is not None:
        return [(Path(path).expanduser(), "path argument")]
    found: list[tuple[Path, str]] = []
    own = os.environ.get(spec.env, "").strip()
    if own:
        found.append((Path(own).expanduser(), f"${spec.env}"))
    data = os.environ.get(DATA_ENV, "").strip()
    if data:
        found.append((Path(data).expanduser() / spec.name, f"${DATA_ENV}/{spec.name}"))
    found.append((cache_dir(spec.name), "user cache"))
    found.extend((Path(d), "system data folder") for d in spec.system_dirs)
    return found


def dataset_search_paths(name: str = "mnist", path: PathLike | None = None) -> list[Path]:
    """The folders that :func:`load_mnist` / :func:`load_fashion_mnist` search, in order.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist"}
    path : str or os.PathLike, optional
        An explicit folder, as passed to the loader: then it is the only one searched.

    Returns
    -------
    list of pathlib.Path
        The explicit ``path``; else ``$SCRATCHNET_MNIST`` (``$SCRATCHNET_FASHION_MNIST``) and
        ``$SCRATCHNET_DATA/<name>`` where set, the user cache folder :func:`cache_dir` and, for
        Fashion-MNIST, ``/usr/share/datasets/fashion-mnist``. Folders need not exist.

    Examples
    --------
    >>> dataset_search_paths("mnist", path="/data/mnist")
    [PosixPath('/data/mnist')]
    """
    return [folder for folder, _ in _locations(_spec(name), path)]


def _idx_file(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def _offline() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in ("", "0", "false", "no")


# ----------------------------------------------------------------------------------------------
# reading IDX files

_IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _decompress(raw: bytes, source: Path) -> bytes:
    """The file's IDX bytes: gunzipped where it starts with the gzip magic, whatever its name."""
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise ValueError(
            f"{source}: the gzip stream is damaged or truncated ({err}); delete the file and "
            "fetch it again"
        ) from None


def _parse_idx(data: bytes, source: Path) -> np.ndarray:
    """The array an IDX byte string holds (a read-only view of ``data``, in file byte order)."""
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] not in _IDX_TYPES or data[3] == 0:
        raise ValueError(
            f"{source}: not an IDX file: it starts with 0x{data[:4].hex() or '(empty)'}, where "
            "IDX files start with two zero bytes, a type code (0x08 ubyte, 0x09 byte, 0x0B short, "
            "0x0C int, 0x0D float, 0x0E double) and the number of dimensions"
        )
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(
            f"{source}: IDX file truncated inside its header ({len(data)} bytes, the header of "
            f"a {ndim}-D array takes {header}); delete it and fetch it again"
        )
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = _IDX_TYPES[data[2]]
    expected = header + math.prod(shape) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "longer than its header says"
        raise ValueError(
            f"{source}: IDX file {what}: its header declares a {dtype.name} array of shape "
            f"{shape} ({expected} bytes with the header) but it holds {len(data)} bytes; "
            "delete it and fetch it again"
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)


def read_idx(path: PathLike) -> np.ndarray:
    """Read one IDX file (gzip-compressed or not) into a NumPy array.

    Parameters
    ----------
    path : str or os.PathLike
        The file; gzip compression is recognised by content, not by name.

    Returns
    -------
    ndarray
        Of the shape the header declares (e.g. (60000, 28, 28) for MNIST's training images)
        and its type (uint8, int8, int16, int32, float32 or float64), in native byte order.

    Raises
    ------
    ValueError
        Naming the file, where it is not IDX, is truncated or its gzip stream is damaged.
    """
    source = Path(path)
    arr = _parse_idx(_decompress(source.read_bytes(), source), source)
    return np.array(arr, dtype=arr.dtype.newbyteorder("="))


def _read_checked(file: Path, md5: str | None, title: str) -> np.ndarray:
    """The IDX array of ``file``, whose uncompressed bytes must hash to ``md5`` (unless None)."""
    data = _decompress(file.read_bytes(), file)
    arr = _parse_idx(data, file)
    if md5 is not None:
        got = hashlib.md5(data, usedforsecurity=False).hexdigest()
        if got != md5:
            raise ValueError(
                f"{file}: checksum mismatch: the MD5 of its uncompressed contents is {got}, "
                f"expected {md5}; it is corrupted or not the {title} file it is named after. "
                "Delete it (it is downloaded again where download=True), or pass verify=False "
                "to load it anyway"
            )
    return arr


# ----------------------------------------------------------------------------------------------
# downloading


def _fetch(url: str, dest: Path, timeout: float) -> None:
    """Copy the resource at ``url`` into the file ``dest`` (``file://`` URLs work too)."""
    import shutil
    import urllib.request

    from . import __version__

    request = urllib.request.Request(url, headers={"User-Agent": f"scratchnet/{__version__}"})
    with urllib.request.urlopen(request, timeout=timeout) as response, dest.open("wb") as out:
        shutil.copyfileobj(response, out, 1 << 20)


def _unreachable(err: BaseException) -> bool:
    """Whether ``err`` says the host cannot be reached at all (so its other files can't either)."""
    import urllib.error

    if isinstance(err, urllib.error.HTTPError):
        return False
    return isinstance(err, (urllib.error.URLError, TimeoutError, ConnectionError))


def _download(spec: _IdxDataset, folder: Path, timeout: float) -> list[str]:
    """Fetch the files ``folder`` lacks; returns the failures (empty when all four are there).

    Each file goes to a hidden temporary file in ``folder``, is checked (IDX structure and MD5
    of the uncompressed bytes), and only then renamed to its final name, so the folder never
    holds a partial or unverified file under a data file's name.
    """
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        return [f"cannot create {folder}: {err}"]
    failures: list[str] = []
    dead: set[str] = set()
    for stem, md5 in spec.files:
        if _idx_file(folder, stem) is not None:
            continue
        for mirror in spec.mirrors:
            if mirror in dead:
                continue
            url = f"{mirror}{stem}.gz"
            fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{stem}.", suffix=".part")
            os.close(fd)
            tmp = Path(tmp_name)
            try:
                _log.info("downloading %s to %s", url, folder)
                _fetch(url, tmp, timeout)
                _read_checked(tmp, md5, spec.title)
                with tmp.open("rb") as f:
                    gzipped = f.read(2) == b"\x1f\x8b"
                final = folder / (f"{stem}.gz" if gzipped else stem)
                tmp.chmod(0o644)  # mkstemp makes it private; a data file is not
                os.replace(tmp, final)
                break
            except (OSError, ValueError) as err:  # URLError, HTTPError, timeouts are OSErrors
                failures.append(f"{url}: {err}")
                if _unreachable(err):
                    dead.add(mirror)
            finally:
                tmp.unlink(missing_ok=True)
        else:
            if len(dead) == len(spec.mirrors):
                break  # no mirror can be reached: don't try the remaining files
    if all(_idx_file(folder, stem) is not None for stem, _ in spec.files):
        return []
    if created and not any(folder.iterdir()):
        folder.rmdir()  # leave no empty folder behind a download that fetched nothing
    return failures


# ----------------------------------------------------------------------------------------------
# loading


def _float_dtype(dtype: Any, normalize: bool) -> np.dtype:
    dt = np.dtype(dtype)
    if normalize and dt.kind != "f":
        raise ValueError(
            f"normalize=True scales pixels to [0, 1] and needs a floating dtype, got {dt}; "
            "pass normalize=False to keep the raw 0..255 values"
        )
    return dt


def _not_found(
    spec: _IdxDataset,
    locations: list[tuple[Path, str]],
    problems: list[str],
    download_note: str,
) -> DatasetNotFoundError:
    lines = [f"{spec.title} was not found. scratchnet looked in these folders, in this order:"]
    for i, ((folder, origin), problem) in enumerate(zip(locations, problems, strict=True), 1):
        lines.append(f"  {i}. {folder}  ({origin}: {problem})")
    lines.append(download_note)
    names = ", ".join(f"{stem}.gz" for stem, _ in spec.files)
    loader = "load_mnist" if spec.name == "mnist" else "load_fashion_mnist"
    lines += [
        "To fix it, put these four files (gzip-compressed, or uncompressed without .gz) in one "
        f"folder:\n    {names}",
        "and either pass that folder to "
        f"{loader}(path=...), or set {spec.env}=<that folder>, or set {DATA_ENV}=<a folder> "
        f"holding it as the subfolder {spec.name}/, or put the files in the user cache "
        f"{cache_dir(spec.name)} (XDG_CACHE_HOME moves it).",
    ]
    if spec.name == "fashion-mnist":
        lines.append(
            "On Debian and Ubuntu, `apt-get install dataset-fashion-mnist` installs them in "
            "/usr/share/datasets/fashion-mnist."
        )
    folders = [folder for folder, _ in locations]
    return DatasetNotFoundError("\n".join(lines), spec.name, folders)


def _load_idx_dataset(
    spec: _IdxDataset,
    path: PathLike | None,
    *,
    download: bool,
    normalize: bool,
    flatten: bool,
    dtype: Any,
    verify: bool,
    timeout: float,
) -> tuple[DatasetSplit, Path]:
    out_dtype = _float_dtype(dtype, normalize)
    timeout = check_float(timeout, "timeout", low=0.0, low_open=True)
    locations = _locations(spec, path)
    folder: Path | None = None
    problems: list[str] = []
    for candidate, _ in locations:
        if not candidate.is_dir():
            problems.append("no such folder")
            continue
        missing = [stem for stem, _ in spec.files if _idx_file(candidate, stem) is None]
        if not missing:
            folder = candidate
            break
        problems.append("missing " + ", ".join(missing))
    if folder is None:
        target = locations[0][0] if path is not None else cache_dir(spec.name)
        if not download:
            note = "Downloading was off (download=False)."
        elif _offline():
            note = f"Downloading was off ({OFFLINE_ENV} is set)."
        else:
            failures = _download(spec, target, timeout)
            if failures:
                shown = "\n".join(f"    {f}" for f in failures[:8])
                note = f"Downloading into {target} failed:\n{shown}"
            else:
                folder = target
        if folder is None:
            raise _not_found(spec, locations[: len(problems)], problems, note)

    files = [_idx_file(folder, stem) for stem, _ in spec.files]
    arrays = [
        _read_checked(file, md5 if verify else None, spec.title)
        for file, (_, md5) in zip(files, spec.files, strict=True)
    ]
    out = []
    for k in (0, 2):
        X, y = arrays[k], arrays[k + 1]
        img_file, lab_file = files[k], files[k + 1]
        if X.ndim != 3 or X.dtype != np.uint8:
            raise ValueError(
                f"{img_file}: expected uint8 images of shape (n, rows, cols), got {X.dtype.name} "
                f"of shape {X.shape}"
            )
        if y.ndim != 1 or y.dtype != np.uint8:
            raise ValueError(
                f"{lab_file}: expected uint8 labels of shape (n,), got {y.dtype.name} of shape "
                f"{y.shape}"
            )
        if X.shape[0] != y.shape[0]:
            raise ValueError(
                f"{img_file} holds {X.shape[0]} images but {lab_file} holds {y.shape[0]} labels"
            )
        if y.size and int(y.max()) >= spec.n_classes:
            raise ValueError(
                f"{lab_file}: labels must lie in [0, {spec.n_classes}), found {int(y.max())}"
            )
        X = X.astype(out_dtype)  # a fresh, writable copy
        if normalize:
            X /= 255
        if flatten:
            X = X.reshape(X.shape[0], -1)
        out += [X, y.astype(np.int64)]
    return DatasetSplit(*out), folder


_LOADER_PARAMETERS = """
    Parameters
    ----------
    path : str or os.PathLike, optional
        Folder holding the four IDX files. Given, it is the only folder searched and downloads
        go there; otherwise the folders of :func:`dataset_search_paths` are searched in order.
    download : bool, default True
        Fetch missing files (into ``path`` or the user cache) where no folder has them.
        ``SCRATCHNET_OFFLINE=1`` in the environment turns downloads off.
    normalize : bool, default True
        Scale pixels from 0..255 to [0, 1] (needs a floating ``dtype``). False keeps the raw
        values, cast to ``dtype`` (``dtype="uint8"`` gives the bytes as stored).
    flatten : bool, default True
        Images as rows of 784 features; False keeps them as 28x28 arrays.
    dtype : str or numpy dtype, default "float32"
        Dtype of the images.
    verify : bool, default True
        Check the MD5 of each file's uncompressed contents against the published value.
    timeout : float, default 30.0
        Seconds to wait for a mirror before trying the next.

    Returns
    -------
    DatasetSplit
        ``X_train, y_train, X_test, y_test`` as NumPy arrays: images of shape (60000, 784) and
        (10000, 784) (or (n, 28, 28) unflattened), labels int64 of shape (60000,) and
        (10000,) in 0..9.

    Raises
    ------
    DatasetNotFoundError
        A ``FileNotFoundError`` where no folder holds the files and none could be downloaded;
        its message lists the folders searched, the environment variables and the file names.
    ValueError
        Naming the file, where one is truncated, not IDX, or fails its checksum.
"""


def load_mnist(
    path: PathLike | None = None,
    *,
    download: bool = True,
    normalize: bool = True,
    flatten: bool = True,
    dtype: Any = "float32",
    verify: bool = True,
    timeout: float = 30.0,
) -> DatasetSplit:
    return _load_idx_dataset(
        _DATASETS["mnist"],
        path,
        download=download,
        normalize=normalize,
        flatten=flatten,
        dtype=dtype,
        verify=verify,
        timeout=timeout,
    )[0]


def load_fashion_mnist(
    path: PathLike | None = None,
    *,
    download: bool = True,
    normalize: bool = True,
    flatten: bool = True,
    dtype: Any = "float32",
    verify: bool = True,
    timeout: float = 30.0,
) -> DatasetSplit:
    return _load_idx_dataset(
        _DATASETS["fashion-mnist"],
        path,
        download=download,
        normalize=normalize,
        flatten=flatten,
        dtype=dtype,
        verify=verify,
        timeout=timeout,
    )[0]


load_mnist.__doc__ = (
    """MNIST handwritten digits (LeCun, Cortes, Burges): 60,000 training and 10,000 test images.
"""
    + _LOADER_PARAMETERS
    + """
    Examples
    --------
    >>> X_train, y_train, X_test, y_test = load_mnist()  # doctest: +SKIP
    >>> X_train.shape, X_train.dtype, y_train[:5]  # doctest: +SKIP
    ((60000, 784), dtype('float32'), array([5, 0, 4, 1, 9]))
    """
)

load_fashion_mnist.__doc__ = (
    """Fashion-MNIST (Xiao, Rasul, Vollgraf; Zalando, MIT licence): MNIST's format, clothing images.

    Ten balanced classes: 0 T-shirt/top, 1 trouser, 2 pullover, 3 dress, 4 coat, 5 sandal,
    6 shirt, 7 sneaker, 8 bag, 9 ankle boot. Also searched in Debian's
    ``/usr/share/datasets/fashion-mnist`` (``apt-get install dataset-fashion-mnist``).
"""
    + _LOADER_PARAMETERS
)


# ----------------------------------------------------------------------------------------------
# scikit-learn's digits and the real-data chooser


def load_digits(
    test_size: float = 0.25, seed: int | None = 0, *, dtype: Any = "float32"
) -> DatasetSplit:
    """scikit-learn's 8x8 handwritten digits (1,797 images, bundled: no download), split.

    Parameters
    ----------
    test_size : float in (0, 1), default 0.25
        Share of the images held out, stratified by class.
    seed : int or None, default 0
        Seed of the split.
    dtype : str or numpy dtype, default "float32"
        Floating dtype of the images.

    Returns
    -------
    DatasetSplit
        ``X_train, y_train, X_test, y_test``: images of shape (n, 64) scaled from 0..16 to
        [0, 1]; labels int64 in 0..9. With the defaults, 1347 training and 450 test rows.

    Raises
    ------
    ImportError
        Where scikit-learn is not installed; ``pip install 'scratchnet[examples]'`` adds it.

    Examples
    --------
    >>> X_train, y_train, X_test, y_test = load_digits()  # doctest: +SKIP
    >>> X_train.shape, X_test.shape  # doctest: +SKIP
    ((1347, 64), (450, 64))
    """
    out_dtype = _float_dtype(dtype, normalize=True)
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError as err:
        raise ImportError(
            "load_digits needs scikit-learn, which is not installed here; install it with "
            "pip install 'scratchnet[examples]' (or pip install scikit-learn)"
        ) from err
    bunch = sklearn_digits()
    X = np.asarray(bunch.data, dtype=out_dtype) / out_dtype.type(16)
    y = np.asarray(bunch.target, dtype=np.int64)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, seed=seed, stratify=True
    )
    return DatasetSplit(X_train, y_train, X_test, y_test)


#: names :func:`load_real_dataset` accepts
REAL_DATASETS = ("auto", "mnist", "fashion-mnist", "digits")


def _idx_info(
    spec: _IdxDataset, split: DatasetSplit, folder: Path, shape: tuple[int, ...]
) -> DatasetInfo:
    rows, cols = shape
    text = (
        f"{spec.title} {spec.description}: {split.X_train.shape[0]} training and "
        f"{split.X_test.shape[0]} test images of {rows}x{cols} pixels, {spec.n_classes} classes "
        f"(from {folder})"
    )
    return DatasetInfo(spec.name, text, str(folder), spec.n_classes)


def load_real_dataset(
    name: str = "auto",
    *,
    path: PathLike | None = None,
    download: bool = True,
    dtype: Any = "float32",
    test_size: float = 0.25,
    seed: int | None = 0,
    timeout: float = 30.0,
) -> RealDataset:
    """A real image-classification set for examples: MNIST where it can be had, else digits.

    Parameters
    ----------
    name : {"auto", "mnist", "fashion-mnist", "digits"}, default "auto"
        ``"auto"`` loads MNIST when it is found (``path``, environment, cache; see
        :func:`dataset_search_paths`) or can be downloaded (``download=True``), and falls back
        to scikit-learn's 8x8 digits otherwise. A named set is loaded or raises.
    path : str or os.PathLike, optional
        Folder of the IDX files, for ``"auto"``, ``"mnist"`` and ``"fashion-mnist"``.
    download : bool, default True
        Whether MNIST / Fashion-MNIST may be downloaded into the user cache (or ``path``).
    dtype : str or numpy dtype, default "float32"
        Floating dtype of the images, scaled to [0, 1].
    test_size, seed
        Split of the digits set (MNIST comes with its own split).
    timeout : float, default 30.0
        Seconds to wait for each download mirror.

    Returns
    -------
    RealDataset
        ``X_train, y_train, X_test, y_test, info``: images of shape (n, 784) for MNIST and
        Fashion-MNIST, (n, 64) for digits, labels int64 in 0..9; ``info`` is a
        :class:`DatasetInfo` whose ``str`` is a one-line description of the set used.

    Raises
    ------
    DatasetNotFoundError
        For ``"mnist"`` / ``"fashion-mnist"`` where the files are neither found nor fetched.
    ImportError
        For ``"digits"``, or ``"auto"`` falling back to it, without scikit-learn.

    Examples
    --------
    >>> X_train, y_train, X_test, y_test, info = load_real_dataset(download=False)  # doctest: +SKIP
    >>> print(info)  # doctest: +SKIP
    scikit-learn 8x8 digits: 1347 training and 450 test images of 8x8 pixels, 10 classes (...)
    """
    key = str(name).strip().lower().replace("_", "-")
    if key not in REAL_DATASETS:
        raise ValueError(f"name must be one of {list(REAL_DATASETS)}, got {name!r}")
    if key == "digits" and path is not None:
        raise ValueError("path applies to the IDX sets (MNIST, Fashion-MNIST), not to 'digits'")
    fallback_note = ""
    if key != "digits":
        spec = _DATASETS["mnist" if key == "auto" else key]
        try:
            split, folder = _load_idx_dataset(
                spec,
                path,
                download=download,
                normalize=True,
                flatten=False,
                dtype=dtype,
                verify=True,
                timeout=timeout,
            )
        except DatasetNotFoundError as not_found:
            if key != "auto":
                raise
            try:
                digits = load_digits(test_size, seed, dtype=dtype)
            except ImportError as err:
                raise ImportError(
                    f"load_real_dataset('auto') found no MNIST and cannot fall back to the "
                    f"digits set: {err}.\n{not_found}"
                ) from err
            fallback_note = (
                "; MNIST was not found locally"
                + (" and could not be downloaded" if download else " and download=False")
                + ", see scratchnet.datasets.dataset_search_paths('mnist')"
            )
        else:
            image_shape = split.X_train.shape[1:]
            flat = DatasetSplit(
                split.X_train.reshape(split.X_train.shape[0], -1),
                split.y_train,
                split.X_test.reshape(split.X_test.shape[0], -1),
                split.y_test,
            )
            return RealDataset(*flat, _idx_info(spec, flat, folder, image_shape))
    else:
        digits = load_digits(test_size, seed, dtype=dtype)
    text = (
        f"scikit-learn 8x8 digits: {digits.X_train.shape[0]} training and "
        f"{digits.X_test.shape[0]} test images of 8x8 pixels, 10 classes "
        f"(stratified split, test_size={test_size}, seed={seed}{fallback_note})"
    )
    return RealDataset(*digits, DatasetInfo("digits", text, "scikit-learn", 10))


# ----------------------------------------------------------------------------------------------
# toy sets


def _toy_args(n_samples: Any, noise: Any, n_classes: int) -> tuple[int, float]:
    n = check_positive_int(n_samples, "n_samples")
    if n < n_classes:
        raise ValueError(
            f"n_samples must be >= {n_classes} so that each of the {n_classes} classes has a "
            f"sample, got {n}"
        )
    return n, check_float(noise, "noise", low=0.0)


def _counts(n: int, k: int) -> list[int]:
    """``n`` split into ``k`` parts as equal as possible (the first ones take the remainder)."""
    return [n // k + (i < n % k) for i in range(k)]


def _finish(
    X: np.ndarray, y: np.ndarray, noise: float, rng: np.random.Generator, shuffle: bool
) -> tuple[np.ndarray, np.ndarray]:
    if noise > 0:
        X = X + rng.normal(0.0, noise, size=X.shape)
    if shuffle:
        order = rng.permutation(X.shape[0])
        X, y = X[order], y[order]
    return X, y


def make_xor(
    n_samples: int = 200,
    noise: float = 0.1,
    seed: int | np.random.Generator | None = 0,
    *,
    shuffle: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """The XOR problem: points around the four corners of the unit square, labelled x1 XOR x2.

    Corners (0, 0) and (1, 1) are class 0; (0, 1) and (1, 0) class 1. No line separates them,
    one hidden layer does. Corners get ``n_samples // 4`` points each (the first ones one more),
    so the two classes differ in size by at most one.

    Parameters
    ----------
    n_samples : int >= 2, default 200
    noise : float >= 0, default 0.1
        Standard deviation of the Gaussian noise added to each coordinate.
    seed : int, numpy.random.Generator or None, default 0
    shuffle : bool, default True
        Shuffle the rows; False keeps them grouped by corner in the order above.

    Returns
    -------
    X : ndarray of float64, shape (n_samples, 2)
    y : ndarray of int64, shape (n_samples,), in {0, 1}

    Examples
    --------
    >>> X, y = make_xor(4, noise=0.0, shuffle=False)
    >>> X.tolist(), y.tolist()
    ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1, 0])
    """
    n, noise = _toy_args(n_samples, noise, 2)
    rng = np.random.default_rng(seed)
    # order (0,0), (0,1), (1,0), (1,1): a remainder of 1..3 tops up both classes evenly
    corners = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    reps = _counts(n, 4)
    X = np.repeat(corners, reps, axis=0)
    y = np.repeat(np.array([0, 1, 1, 0], dtype=np.int64), reps)
    return _finish(X, y, noise, rng, shuffle)


def make_moons(
    n_samples: int = 200,
    noise: float = 0.1,
    seed: int | np.random.Generator | None = 0,
    *,
    shuffle: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles.

    Class 0 lies on the upper half of the unit circle, (cos t, sin t) for t in [0, pi]; class 1
    on the lower half circle (1 - cos t, 0.5 - sin t). Class 0 gets ``n_samples // 2`` points.

    Parameters
    ----------
    n_samples : int >= 2, default 200
    noise : float >= 0, default 0.1
        Standard deviation of the Gaussian noise added to each coordinate.
    seed : int, numpy.random.Generator or None, default 0
    shuffle : bool, default True

    Returns
    -------
    X : ndarray of float64, shape (n_samples, 2)
    y : ndarray of int64, shape (n_samples,), in {0, 1}
    """
    n, noise = _toy_args(n_samples, noise, 2)
    rng = np.random.default_rng(seed)
    n0, n1 = n // 2, n - n // 2
    t0, t1 = np.linspace(0.0, np.pi, n0), np.linspace(0.0, np.pi, n1)
    X = np.concatenate(
        [
            np.stack([np.cos(t0), np.sin(t0)], axis=1),
            np.stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)], axis=1),
        ]
    )
    y = np.repeat(np.array([0, 1], dtype=np.int64), [n0, n1])
    return _finish(X, y, noise, rng, shuffle)


def make_circles(
    n_samples: int = 200,
    noise: float = 0.05,
    seed: int | np.random.Generator | None = 0,
    *,
    factor: float = 0.5,
    shuffle: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric circles: class 0 of radius 1, class 1 of radius ``factor``.

    Parameters
    ----------
    n_samples : int >= 2, default 200
        Class 0 gets ``n_samples // 2`` points, evenly spaced in angle before the noise.
    noise : float >= 0, default 0.05
        Standard deviation of the Gaussian noise added to each coordinate.
    seed : int, numpy.random.Generator or None, default 0
    factor : float in (0, 1), default 0.5
        Radius of the inner circle.
    shuffle : bool, default True

    Returns
    -------
    X : ndarray of float64, shape (n_samples, 2)
    y : ndarray of int64, shape (n_samples,), in {0, 1}
    """
    n, noise = _toy_args(n_samples, noise, 2)
    factor = check_float(factor, "factor", low=0.0, high=1.0, low_open=True, high_open=True)
    rng = np.random.default_rng(seed)
    n0, n1 = n // 2, n - n // 2
    t0 = np.linspace(0.0, 2 * np.pi, n0, endpoint=False)
    t1 = np.linspace(0.0, 2 * np.pi, n1, endpoint=False)
    X = np.concatenate(
        [
            np.stack([np.cos(t0), np.sin(t0)], axis=1),
            factor * np.stack([np.cos(t1), np.sin(t1)], axis=1),
        ]
    )
    y = np.repeat(np.array([0, 1], dtype=np.int64), [n0, n1])
    return _finish(X, y, noise, rng, shuffle)


def make_spirals(
    n_samples: int = 300,
    n_classes: int = 3,
    noise: float = 0.2,
    seed: int | np.random.Generator | None = 0,
    *,
    shuffle: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one per class (the CS231n spiral set, for any number of arms).

    Arm k holds the points r (sin t, cos t) with radius r rising evenly from 1/m to 1 over its
    m points and angle t = 4 r + 2 pi k / n_classes + noise * N(0, 1): the noise is on the angle,
    so every point keeps its radius.

    Parameters
    ----------
    n_samples : int >= n_classes, default 300
        Total number of points; arms get ``n_samples // n_classes`` each (the first ones one
        more).
    n_classes : int >= 2, default 3
    noise : float >= 0, default 0.2
        Standard deviation of the noise on the angle, in radians.
    seed : int, numpy.random.Generator or None, default 0
    shuffle : bool, default True

    Returns
    -------
    X : ndarray of float64, shape (n_samples, 2), inside the unit disc
    y : ndarray of int64, shape (n_samples,), in 0..n_classes-1
    """
    k = check_positive_int(n_classes, "n_classes")
    if k < 2:
        raise ValueError(f"n_classes must be >= 2, got {n_classes!r}")
    n, noise = _toy_args(n_samples, noise, k)
    rng = np.random.default_rng(seed)
    parts, labels = [], []
    for cls, m in enumerate(_counts(n, k)):
        r = np.arange(1, m + 1) / m
        t = 4.0 * r + 2 * np.pi * cls / k + noise * rng.standard_normal(m)
        parts.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        labels.append(np.full(m, cls, dtype=np.int64))
    X, y = np.concatenate(parts), np.concatenate(labels)
    return _finish(X, y, 0.0, rng, shuffle)

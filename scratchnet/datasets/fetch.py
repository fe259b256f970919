"""Locating and fetching the IDX data sets: their files, checksums, folders and downloads.

``_DATASETS`` describes MNIST and Fashion-MNIST (file names, the MD5 of each uncompressed file,
download mirrors, environment variable, system folders). :func:`dataset_search_paths` lists the
folders searched, in order, :func:`cache_dir` the user cache that downloads go to; ``_download``
fetches each missing file into a temporary file that is renamed into place only after its MD5
checks out. :class:`DatasetNotFoundError` is raised where no folder holds the files and none could
be downloaded. The search order is described in :mod:`scratchnet.datasets.mnist`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .idx import PathLike, _decompress, _parse_idx

# the package's logger, named as before the package was split into modules
_log = logging.getLogger("scratchnet.datasets")

#: environment variable naming a folder with one subfolder per data set (``mnist/``, ...)
DATA_ENV = "SCRATCHNET_DATA"
#: environment variable that, set to 1/true/yes, turns every download off
OFFLINE_ENV = "SCRATCHNET_OFFLINE"


# ----------------------------------------------------------------------------------------------
# errors


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
# checksums


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

    from ..version import __version__

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
# the error that lists where nothing was found


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

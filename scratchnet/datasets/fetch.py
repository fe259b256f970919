"""Locating and fetching the IDX data sets: their files, checksums, folders and downloads.

``_DATASETS`` describes MNIST and Fashion-MNIST (each file's name, shape, the MD5 of its
uncompressed bytes and the size of its ``.gz`` on the mirrors; download mirrors, environment
variable, system folders). :func:`dataset_search_paths` lists the folders searched, in order,
:func:`cache_dir` the user cache that downloads go to; ``_download`` fetches each missing file
into a temporary file that is renamed into place only after its size, IDX header and MD5 check
out. :class:`DatasetNotFoundError` is raised where no folder holds the files and none could be
downloaded. The search order is described in :mod:`scratchnet.datasets.mnist`.

Downloads are bounded: a transfer (one file from one mirror) has one wall-clock deadline, the
``timeout`` argument, for connecting, the response and the whole body (a watchdog shuts the
socket at the deadline, so a mirror that trickles cannot stretch it); a connection idle for
``_IDLE_TIMEOUT`` seconds fails sooner. A response announcing more than the file's known size
is refused, and reading stops once more than that size has arrived. A failed or interrupted
transfer (KeyboardInterrupt included) leaves no temporary file, and a folder the download
created is removed again when it ends up empty.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .idx import PathLike, _read_idx

# the package's logger, named as before the package was split into modules
_log = logging.getLogger("scratchnet.datasets")

#: environment variable naming a folder with one subfolder per data set (``mnist/``, ...)
DATA_ENV = "SCRATCHNET_DATA"
#: environment variable that, set to 1/true/yes, turns every download off
OFFLINE_ENV = "SCRATCHNET_OFFLINE"

# a connection (or TLS handshake, or read) that stays silent this long fails before the deadline
_IDLE_TIMEOUT = 30.0
_DOWNLOAD_CHUNK = 1 << 16  # bytes read from the network per step


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


class _IdxFile(NamedTuple):
    """One file of an IDX data set, as published."""

    stem: str  # "train-images-idx3-ubyte"; the mirrors serve stem + ".gz"
    md5: str  # MD5 of the uncompressed file (header and data)
    shape: tuple[int, ...]  # of its uint8 array, as its IDX header must declare
    size: int  # bytes of the mirrors' .gz: a download may not exceed it


@dataclass(frozen=True)
class _IdxDataset:
    """What the loader needs to know about one IDX data set."""

    name: str  # folder and key: "mnist"
    title: str  # for people: "MNIST"
    description: str  # "handwritten digits"
    env: str  # "SCRATCHNET_MNIST"
    files: tuple[_IdxFile, ...]  # train images, train labels, test images, test labels
    mirrors: tuple[str, ...]  # base URLs; a file's URL is base + stem + ".gz"
    system_dirs: tuple[str, ...] = ()
    n_classes: int = 10


_STEMS = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
_SHAPES = ((60000, 28, 28), (60000,), (10000, 28, 28), (10000,))  # both sets, uint8


def _files(md5s: tuple[str, ...], sizes: tuple[int, ...]) -> tuple[_IdxFile, ...]:
    return tuple(
        _IdxFile(stem, md5, shape, size)
        for stem, md5, shape, size in zip(_STEMS, md5s, _SHAPES, sizes, strict=True)
    )


# MD5 of the uncompressed files: MNIST's are the published values, checked against the files;
# Fashion-MNIST's were computed from Debian's dataset-fashion-mnist files and agree with the
# values torchvision published for the uncompressed files (its gzip checksums differ because
# Debian re-compressed the files). Checking the uncompressed bytes accepts any re-compression.
#
# Sizes of the .gz files the mirrors serve, the cap on each download:
# - MNIST: the sizes LeCun's page published (9912422, 28881, 1648877, 4542 bytes), which the
#   ossci-datasets and cvdf mirrors serve unchanged. Measured on a local copy: its three smaller
#   files are byte-identical to them (same sizes, and the gzip MD5s torchvision publishes); its
#   train-images-idx3-ubyte.gz was re-compressed (9630610 bytes, same contents), so a local size
#   is not the mirrors' and the published one is kept.
# - Fashion-MNIST: the Content-Length of the official mirrors' files (26421880, 29515, 4422102,
#   5148 bytes), as download logs of keras.datasets.fashion_mnist and torchvision show them and
#   matching the 26 MB / 29 KB / 4.3 MB / 5.1 KB of zalandoresearch/fashion-mnist's README (the
#   Debian package was not installed where these were recorded).
_DATASETS: dict[str, _IdxDataset] = {
    "mnist": _IdxDataset(
        name="mnist",
        title="MNIST",
        description="handwritten digits",
        env="SCRATCHNET_MNIST",
        files=_files(
            (
                "6bbc9ace898e44ae57da46a324031adb",
                "a25bea736e30d166cdddb491f175f624",
                "2646ac647ad5339dbf082846283269ea",
                "27ae3e4e09519cfbb04c329615203637",
            ),
            (9912422, 28881, 1648877, 4542),
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
        files=_files(
            (
                "f4a8712d7a061bf5bd6d2ca38dc4d50a",
                "9018921c3c673c538a1fc5bad174d6f9",
                "8181f5470baa50b63fa0f6fddb340f0a",
                "15d484375f8d13e6eb1aabb0c3f46965",
            ),
            (26421880, 29515, 4422102, 5148),
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


def _read_checked(file: Path, expected: _IdxFile | None, title: str) -> np.ndarray:
    """The IDX array of ``file``; where ``expected`` is given, it must be that file.

    Its header must declare ``expected.shape`` (uint8), checked before any data is read, and its
    uncompressed bytes must hash to ``expected.md5``, hashed while they are decompressed and
    checked before the array is returned. Without ``expected`` only the general cap of
    :func:`~scratchnet.datasets.read_idx` applies.
    """
    if expected is None:
        return _read_idx(file)
    hint = (
        "Delete it (it is downloaded again where download=True), or pass verify=False to load "
        "it anyway"
    )

    def check_header(dtype: np.dtype, shape: tuple[int, ...]) -> None:
        if dtype != np.uint8 or tuple(shape) != tuple(expected.shape):
            raise ValueError(
                f"{file}: not the {title} {expected.stem} file: its IDX header declares a "
                f"{dtype.name} array of shape {shape}, where {title}'s holds a uint8 array of "
                f"shape {expected.shape}; refused before reading its data. {hint}"
            )

    hasher = hashlib.md5(usedforsecurity=False)
    arr = _read_idx(file, check_header=check_header, hasher=hasher)
    got = hasher.hexdigest()
    if got != expected.md5:
        raise ValueError(
            f"{file}: checksum mismatch: the MD5 of its uncompressed contents is {got}, "
            f"expected {expected.md5}; it is corrupted or not the {title} file it is named "
            f"after. {hint}"
        )
    return arr


# ----------------------------------------------------------------------------------------------
# downloading


class _Watchdog:
    """Shuts every socket a transfer opens once its deadline passes.

    A socket timeout bounds each read, not a transfer: a mirror sending a byte now and then
    never trips it. Shutting the socket down from a timer thread ends a blocked read at once.
    """

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._dups: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def over(self) -> bool:
        return self.expired or self.remaining() <= 0

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                self._shut(sock)

    def watch(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                self._shut(sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Stop the timer and close the handles :meth:`connection_class` duplicated."""
        self._timer.cancel()
        with self._lock:
            for sock in self._dups:
                sock.close()
            self._dups.clear()

    def connection_class(self, base: type) -> type:
        """``base`` (an http.client connection class) whose sockets this watchdog watches.

        The socket is watched from its creation: through a duplicate handle, which wrapping it
        in TLS leaves open, so the TLS handshake is bounded too; and again once connected.
        """
        watchdog = self

        class Watched(base):
            def __init__(self, *args, **kwargs) -> None:
                super().__init__(*args, **kwargs)
                create = getattr(self, "_create_connection", None)
                if create is not None:

                    def create_watched(*args, **kwargs):
                        sock = create(*args, **kwargs)
                        dup = sock.dup()
                        with watchdog._lock:
                            watchdog._dups.append(dup)
                        watchdog.watch(dup)
                        return sock

                    self._create_connection = create_watched

            def connect(self) -> None:
                super().connect()
                watchdog.watch(self.sock)

        return Watched


def _opener(watchdog: _Watchdog):
    """A urllib opener whose HTTP(S) connections ``watchdog`` watches."""
    import urllib.request

    class Watched:
        def do_open(self, http_class, req, **kwargs):
            return super().do_open(watchdog.connection_class(http_class), req, **kwargs)

    handlers: list = [type("HTTP", (Watched, urllib.request.HTTPHandler), {})()]
    if hasattr(urllib.request, "HTTPSHandler"):  # Python built with ssl
        handlers.append(type("HTTPS", (Watched, urllib.request.HTTPSHandler), {})())
    return urllib.request.build_opener(*handlers)


def _fetch(url: str, dest: Path, timeout: float, *, max_bytes: int | None = None) -> int:
    """Copy the resource at ``url`` into the file ``dest`` (``file://`` URLs work too).

    ``timeout`` bounds the whole transfer in wall-clock seconds (connecting, the response and
    the body); ``max_bytes``, where given, the size of the body: a response announcing more is
    refused, and reading stops once more has arrived. Returns the bytes written. Raises
    TimeoutError past the deadline, ValueError for a body too large, OSError otherwise.
    """
    import http.client
    import urllib.request

    from ..version import __version__

    request = urllib.request.Request(
        url, headers={"User-Agent": f"scratchnet/{__version__}", "Accept-Encoding": "identity"}
    )
    received = 0

    def too_long(what: str) -> ValueError:
        return ValueError(
            f"the mirror sent {what} than the {max_bytes} bytes this file has; refused "
            "(a damaged or hostile mirror)"
        )

    announced: int | None = None
    complete = False
    with _Watchdog(timeout) as watchdog:
        try:
            with (
                _opener(watchdog).open(request, timeout=min(timeout, _IDLE_TIMEOUT)) as response,
                dest.open("wb") as out,
            ):
                length = (response.headers.get("Content-Length") or "").strip()
                announced = int(length) if length.isdigit() else None
                if max_bytes is not None and announced is not None and announced > max_bytes:
                    raise too_long(f"a Content-Length of {announced} bytes, more")
                read = getattr(response, "read1", response.read)  # read1: what has arrived
                while not watchdog.over():
                    want = _DOWNLOAD_CHUNK
                    if max_bytes is not None:
                        want = min(want, max_bytes - received + 1)
                    chunk = read(want)
                    if not chunk:  # the end, or the watchdog shut the socket
                        complete = not watchdog.over()
                        break
                    received += len(chunk)
                    if max_bytes is not None and received > max_bytes:
                        raise too_long("more")
                    out.write(chunk)
        except (OSError, http.client.HTTPException) as err:
            if not watchdog.over():
                if isinstance(err, OSError):
                    raise
                raise ConnectionError(
                    f"malformed or incomplete HTTP response ({type(err).__name__}: {err})"
                ) from None
    if not complete:
        raise TimeoutError(
            errno.ETIMEDOUT,
            f"download not finished within its {timeout:g} s deadline ({received} bytes "
            "received); pass a larger timeout for a slow connection",
        )
    if announced is not None and received < announced:
        raise ConnectionError(
            f"the connection closed after {received} of the {announced} bytes announced"
        )
    return received


def _unreachable(err: BaseException) -> bool:
    """Whether ``err`` says the host cannot be reached at all (so its other files can't either)."""
    import urllib.error

    if isinstance(err, urllib.error.HTTPError):
        return False
    return isinstance(err, (urllib.error.URLError, TimeoutError, ConnectionError))


def _make_folder(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; returns those it created, deepest first."""
    missing: list[Path] = []
    for level in (folder, *folder.parents):
        if level.exists():
            break
        missing.append(level)
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def _remove_if_empty(created: list[Path]) -> None:
    """Remove the folders a download created (deepest first) that it left empty."""
    for level in created:
        try:
            level.rmdir()  # fails, and stops here, on a folder that is not empty
        except OSError:
            break


def _download(spec: _IdxDataset, folder: Path, timeout: float) -> list[str]:
    """Fetch the files ``folder`` lacks; returns the failures (empty when all four are there).

    Each file goes to a hidden temporary file in ``folder`` (at most its known size, within
    ``timeout`` seconds per mirror), is checked (IDX header, shape and MD5 of the uncompressed
    bytes), and only then renamed to its final name, so the folder never holds a partial or
    unverified file under a data file's name. The temporary file is removed on every failure,
    KeyboardInterrupt included, and so are the folders the download created where it leaves
    them empty.
    """
    try:
        created = _make_folder(folder)
    except OSError as err:
        return [f"cannot create {folder}: {err}"]
    failures: list[str] = []
    dead: set[str] = set()
    try:
        for entry in spec.files:
            stem = entry.stem
            if _idx_file(folder, stem) is not None:
                continue
            for mirror in spec.mirrors:
                if mirror in dead:
                    continue
                url = f"{mirror}{stem}.gz"
                tmp: Path | None = None
                try:
                    try:
                        fd, name = tempfile.mkstemp(dir=folder, prefix=f".{stem}.", suffix=".part")
                    except OSError as err:  # the folder is not writable: no mirror can help
                        return [*failures, f"cannot write into {folder}: {err}"]
                    tmp = Path(name)
                    os.close(fd)
                    _log.info("downloading %s to %s", url, folder)
                    _fetch(url, tmp, timeout, max_bytes=entry.size)
                    _read_checked(tmp, entry, spec.title)
                    with tmp.open("rb") as f:
                        gzipped = f.read(2) == b"\x1f\x8b"
                    final = folder / (f"{stem}.gz" if gzipped else stem)
                    tmp.chmod(0o644)  # mkstemp makes it private; a data file is not
                    os.replace(tmp, final)
                    break
                except (OSError, ValueError) as err:  # URLError, HTTPError, timeouts: OSErrors
                    failures.append(f"{url}: {err}")
                    if _unreachable(err):
                        dead.add(mirror)
                finally:
                    if tmp is not None:
                        tmp.unlink(missing_ok=True)
            else:
                if len(dead) == len(spec.mirrors):
                    break  # no mirror can be reached: don't try the remaining files
        if all(_idx_file(folder, f.stem) is not None for f in spec.files):
            return []
        return failures
    finally:
        _remove_if_empty(created)  # leave no empty folder behind a download that fetched nothing


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
    names = ", ".join(f"{f.stem}.gz" for f in spec.files)
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

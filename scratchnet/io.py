"""The model archive: one file, JSON configuration plus arrays, never unpickled.

This module reads and writes archives as ``(config, arrays)`` and knows nothing of models:
`Model.save` and `scratchnet.load` turn a model into that pair and back (`scratchnet.saving`).

The file is a NumPy ``.npz`` archive. Its member ``__config__`` holds UTF-8 JSON: the format name
and version, the constructor arguments, the layer stack by registered names, and for every array
its shape, dtype and SHA-256. The other members are plain numeric arrays (``param/...``,
``state/...``, ``optimizer/...``). Loading reads them with ``allow_pickle=False``, rebuilds layers
only from registered names, and checks every header, checksum and shape, so a truncated, edited or
foreign file raises `ValueError` and nothing in it is executed. (The checksums live in the same
file: they catch corruption and edits that forget the manifest, not a determined forger. Loading
never runs code, so the worst a forged file can do is hold wrong numbers.)

Writes are atomic: the archive goes to a temporary file in the target folder, is flushed to disk,
and then replaces the target in one rename, so a crash mid-save leaves the previous file intact.

>>> import numpy as np, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
>>> write_archive(path, {"model": {"hidden": [8]}}, {"param/dense1.B": np.ones((4, 8))})
>>> config, arrays = read_archive(path)
>>> config["model"], arrays["param/dense1.B"].shape
({'hidden': [8]}, (4, 8))
"""

from __future__ import annotations

import contextlib
import hashlib
import io as _io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_NAME = "scratchnet-model"
FORMAT_VERSION = 1
CONFIG_KEY = "__config__"
_ALLOWED_DTYPES = ("float32", "float64", "int64", "uint8")


def _checksum(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def write_archive(path: str | os.PathLike, config: dict, arrays: dict[str, np.ndarray]) -> None:
    """Write ``config`` (JSON-able) and ``arrays`` (host, numeric) to ``path`` atomically.

    The format name and version and a manifest (shape, dtype, SHA-256 of every array) are added to
    the configuration under ``"format"``, ``"format_version"`` and ``"arrays"``.
    """
    config = dict(config)
    config["format"] = FORMAT_NAME
    config["format_version"] = FORMAT_VERSION
    config["arrays"] = {
        key: {"shape": list(a.shape), "dtype": str(a.dtype), "sha256": _checksum(a)}
        for key, a in arrays.items()
    }
    buffer = _io.BytesIO()
    members = {CONFIG_KEY: np.frombuffer(json.dumps(config).encode("utf-8"), dtype=np.uint8)}
    members.update(arrays)
    np.savez(buffer, **members)
    write_atomic(path, buffer.getvalue())


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write bytes to ``path`` through a temporary file and one rename."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise ValueError(f"cannot save to {str(target)!r}: folder {str(folder)!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the model from other users
        os.replace(tmp, target)
        _fsync_folder(folder)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _fsync_folder(folder: Path) -> None:
    """Flush the rename itself to disk where the platform allows opening folders."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):  # some filesystems refuse to sync a folder
            os.fsync(fd)
    finally:
        os.close(fd)


def read_archive(path: str | os.PathLike) -> tuple[dict, dict[str, np.ndarray]]:
    """Read and verify a model file; returns (config, arrays) or raises `ValueError`."""
    name = str(path)
    if not os.path.isfile(name):
        raise FileNotFoundError(f"no model file at {name!r}")
    if not zipfile.is_zipfile(name):
        raise ValueError(
            f"{name!r} is not a scratchnet model file, or it is truncated or corrupted "
            "(no archive directory could be read)"
        )
    _check_member_headers(name)
    try:
        with np.load(name, allow_pickle=False) as archive:
            keys = list(archive.keys())
            if CONFIG_KEY not in keys:
                raise ValueError(f"{name!r} is not a scratchnet model file (no {CONFIG_KEY} entry)")
            raw = archive[CONFIG_KEY]
            arrays = {k: archive[k] for k in keys if k != CONFIG_KEY}
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "object arrays" in str(exc).lower():
            raise ValueError(
                f"{name!r} holds a pickled object; scratchnet model files never do, so it was refused"
            ) from exc
        if "scratchnet" in str(exc):
            raise
        raise ValueError(f"{name!r} is not a readable scratchnet model file ({exc})") from exc
    except (zipfile.BadZipFile, EOFError, OSError, KeyError) as exc:
        raise ValueError(
            f"{name!r} is truncated or corrupted ({type(exc).__name__}: {exc})"
        ) from exc
    try:
        config = json.loads(bytes(raw.astype(np.uint8)).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{name!r} has an unreadable configuration ({exc})") from exc
    _verify(name, config, arrays)
    return config, arrays


def _check_member_headers(name: str) -> None:
    """Refuse, before reading any data, members that are not plain numeric ``.npy`` arrays or
    whose header promises more bytes than the member holds (a few bytes of header could
    otherwise make the loader allocate terabytes)."""
    try:
        with zipfile.ZipFile(name) as zf:
            for info in zf.infolist():
                with zf.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                                   else np.lib.format.read_array_header_2_0)  # fmt: skip
                    shape, _, dtype = read_header(member)
                    header = member.tell()
                if dtype.hasobject:
                    raise ValueError(
                        f"{name!r} holds a pickled object ({info.filename}); scratchnet model "
                        "files never do, so it was refused"
                    )
                expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
                if expected != info.file_size - header:
                    raise ValueError(
                        f"{name!r}: member {info.filename} declares shape {shape} "
                        f"({expected} bytes) but holds {info.file_size - header}: corrupted"
                    )
    except ValueError as exc:
        if name in str(exc):
            raise
        raise ValueError(f"{name!r} is not a readable scratchnet model file ({exc})") from exc
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise ValueError(
            f"{name!r} is truncated or corrupted ({type(exc).__name__}: {exc})"
        ) from exc


def _verify(name: str, config: Any, arrays: dict[str, np.ndarray]) -> None:
    if not isinstance(config, dict) or config.get("format") != FORMAT_NAME:
        raise ValueError(f"{name!r} is not a scratchnet model file")
    version = config.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{name!r} uses format version {version}; this scratchnet reads version {FORMAT_VERSION}"
        )
    manifest = config.get("arrays")
    if not isinstance(manifest, dict) or set(manifest) != set(arrays):
        raise ValueError(
            f"{name!r} has arrays that do not match its manifest (tampered or corrupted)"
        )
    for key, a in arrays.items():
        meta = manifest[key]
        if str(a.dtype) not in _ALLOWED_DTYPES or str(a.dtype) != meta.get("dtype"):
            raise ValueError(
                f"{name!r}: array {key!r} has dtype {a.dtype}, expected {meta.get('dtype')}"
            )
        if list(a.shape) != meta.get("shape"):
            raise ValueError(
                f"{name!r}: array {key!r} has shape {list(a.shape)}, expected {meta.get('shape')}"
            )
        if _checksum(a) != meta.get("sha256"):
            raise ValueError(f"{name!r}: array {key!r} fails its checksum (tampered or corrupted)")

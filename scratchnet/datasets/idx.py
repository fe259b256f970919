"""Reading IDX files, the format of MNIST and Fashion-MNIST.

An IDX file starts with two zero bytes, a type code (0x08 ubyte, 0x09 byte, 0x0B short, 0x0C int,
0x0D float, 0x0E double) and the number of dimensions, then holds each dimension's size as a
big-endian 32-bit integer and the data in big-endian order. :func:`read_idx` reads one, gzipped
or not, and checks its header against its size.

Files are read as a stream, bounded by what the header declares: the header is read first, a
header declaring more than ``max_bytes`` (:data:`MAX_IDX_BYTES`, 2 GiB, by default) is refused
before anything is allocated, and at most the declared payload plus one byte is decompressed, so
a small ``.gz`` that expands past its header (a "gzip bomb") is refused after the declared size,
not expanded. Memory stays within the declared array plus one read chunk (1 MiB), and within
twice what the stream really holds where the header claims more than it has.
"""

from __future__ import annotations

import errno
import gzip
import math
import os
import stat
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

PathLike = str | os.PathLike

#: the largest IDX file (header and data, uncompressed) :func:`read_idx` accepts by default
MAX_IDX_BYTES = 2 << 30  # 2 GiB: 45 times MNIST's largest file

_CHUNK = 1 << 20  # bytes decompressed (or read) per step
_FIRST = 8 << 20  # the payload buffer starts this large (or at the declared size) and doubles

_IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

# errors the gzip module raises for a damaged stream (BadGzipFile is an OSError: it is named, so
# that an OSError from reading the disk is not reported as damage)
_GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)

#: called with the header's dtype and shape before any data is read; raises to refuse the file
HeaderCheck = Callable[[np.dtype, tuple[int, ...]], None]


def _open(source: Path) -> IO[bytes]:
    """``source`` opened for reading; a permission error says so, naming the file."""
    try:
        return open(source, "rb")  # the caller closes it
    except PermissionError as err:
        raise PermissionError(
            err.errno or errno.EACCES,
            "Permission denied: the file exists but this user may not read it (the file is not "
            "necessarily damaged); fix its permissions, e.g. chmod a+r",
            str(source),
        ) from None


def _read_exact(stream: IO[bytes], n: int) -> bytes:
    """Up to ``n`` bytes of ``stream``, fewer only at its end."""
    parts: list[bytes] = []
    while n > 0:
        part = stream.read(n)
        if not part:
            break
        parts.append(part)
        n -= len(part)
    return b"".join(parts)


def _damaged(source: Path, err: BaseException) -> ValueError:
    return ValueError(
        f"{source}: the gzip stream is damaged or truncated ({err or type(err).__name__}); "
        "delete the file and fetch it again"
    )


def _read_header(
    stream: IO[bytes], source: Path, max_bytes: int | None
) -> tuple[np.dtype, tuple[int, ...], int, bytes]:
    """(dtype, shape, payload bytes, header bytes) of the IDX stream, checked against the cap."""
    magic = _read_exact(stream, 4)
    if len(magic) < 4 or magic[:2] != b"\x00\x00" or magic[2] not in _IDX_TYPES or magic[3] == 0:
        raise ValueError(
            f"{source}: not an IDX file: it starts with 0x{magic.hex() or '(empty)'}, where "
            "IDX files start with two zero bytes, a type code (0x08 ubyte, 0x09 byte, 0x0B short, "
            "0x0C int, 0x0D float, 0x0E double) and the number of dimensions"
        )
    ndim = magic[3]
    dims = _read_exact(stream, 4 * ndim)
    if len(dims) < 4 * ndim:
        raise ValueError(
            f"{source}: IDX file truncated inside its header ({4 + len(dims)} bytes, the header "
            f"of a {ndim}-D array takes {4 + 4 * ndim}); delete it and fetch it again"
        )
    shape = struct.unpack(f">{ndim}I", dims)
    dtype = _IDX_TYPES[magic[2]]
    payload = math.prod(shape) * dtype.itemsize  # Python ints: no overflow, compared below
    total = 4 + 4 * ndim + payload
    if max_bytes is not None and total > max_bytes:
        raise ValueError(
            f"{source}: its IDX header declares a {dtype.name} array of shape {shape} "
            f"({total} bytes with the header), more than the {max_bytes} bytes allowed "
            "(max_bytes); refused before reading it. Pass a larger max_bytes if the file is "
            "genuine"
        )
    return dtype, shape, payload, magic + dims


def _read_payload(stream: IO[bytes], payload: int, hasher: Any | None) -> np.ndarray:
    """Up to ``payload`` bytes of ``stream`` as a uint8 array, read in chunks into a buffer that
    grows (by doubling, capped at ``payload``) only as data arrives; shorter at the stream's end."""
    buf = np.empty(min(payload, _FIRST), dtype=np.uint8)
    pos = 0
    while pos < payload:
        if pos == buf.size:
            buf.resize(min(payload, 2 * buf.size), refcheck=False)  # realloc, no copy kept
        stop = min(buf.size, pos + _CHUNK)
        with memoryview(buf) as whole, whole[pos:stop] as view:
            n = stream.readinto(view)
            if n and hasher is not None:
                hasher.update(view[:n])
        if not n:
            break
        pos += n
    if pos < buf.size:
        buf.resize(pos, refcheck=False)
    return buf


def _read_idx(
    path: PathLike,
    *,
    max_bytes: int | None = MAX_IDX_BYTES,
    check_header: HeaderCheck | None = None,
    hasher: Any | None = None,
) -> np.ndarray:
    """The array of the IDX file ``path`` (gzipped or not), read as a bounded stream.

    ``check_header(dtype, shape)`` may refuse the file from its header, before the data is read;
    ``hasher`` (a :mod:`hashlib` object) is fed every uncompressed byte, header included, so the
    caller can check a digest before using the array.
    """
    source = Path(path)
    with _open(source) as raw:
        gzipped = raw.peek(2)[:2] == b"\x1f\x8b"  # peek: works on pipes too
        info = os.fstat(raw.fileno())
        stream: IO[bytes] = gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw
        try:
            dtype, shape, payload, header = _read_header(stream, source, max_bytes)
            declared = f"its header declares a {dtype.name} array of shape {shape}"
            expected = len(header) + payload
            if check_header is not None:
                check_header(dtype, shape)
            if not gzipped and stat.S_ISREG(info.st_mode) and info.st_size != expected:
                what = "truncated" if info.st_size < expected else "longer than its header says"
                raise ValueError(
                    f"{source}: IDX file {what}: {declared} ({expected} bytes with the header) "
                    f"but it holds {info.st_size} bytes; delete it and fetch it again"
                )
            if hasher is not None:
                hasher.update(header)
            data = _read_payload(stream, payload, hasher)
            if data.size < payload:
                raise ValueError(
                    f"{source}: IDX file truncated: {declared} ({expected} bytes with the "
                    f"header) but its data ends after {len(header) + data.size} bytes; delete "
                    "it and fetch it again"
                )
            try:
                more = stream.read(1)
                after = ""
            except gzip.BadGzipFile as err:
                if not str(err).startswith("Not a gzipped file"):
                    raise  # a CRC or length error: damage, reported below
                more, after = b"?", f" after its gzip stream ({err})"  # trailing non-gzip bytes
            if more:
                raise ValueError(
                    f"{source}: IDX file longer than its header says: {declared} ({expected} "
                    f"bytes with the header) but more data follows{after}; refused without "
                    "reading the rest (a damaged or hostile file: delete it and fetch it again)"
                )
        except _GZIP_ERRORS as err:
            raise _damaged(source, err) from None
        finally:
            if gzipped:
                stream.close()
    arr = data.view(dtype).reshape(shape)
    if not dtype.isnative:
        arr.byteswap(inplace=True)
        arr = arr.view(dtype.newbyteorder("="))
    return arr


def read_idx(path: PathLike, *, max_bytes: int | None = MAX_IDX_BYTES) -> np.ndarray:
    """Read one IDX file (gzip-compressed or not) into a NumPy array.

    Parameters
    ----------
    path : str or os.PathLike
        The file; gzip compression is recognised by content, not by name.
    max_bytes : int or None, default :data:`MAX_IDX_BYTES` (2 GiB)
        The largest uncompressed size (header and data) accepted. A header declaring more is
        refused before anything is allocated or decompressed; None lifts the cap.

    Returns
    -------
    ndarray
        Of the shape the header declares (e.g. (60000, 28, 28) for MNIST's training images)
        and its type (uint8, int8, int16, int32, float32 or float64), in native byte order.

    Raises
    ------
    ValueError
        Naming the file, where it is not IDX, declares more than ``max_bytes``, holds less
        (truncated) or more (trailing data, such as a gzip bomb) than its header declares, or
        its gzip stream is damaged. At most the declared size plus one byte is decompressed.
    PermissionError
        Where the file may not be read (the message says "Permission denied" and names it).
    """
    if max_bytes is not None and (
        isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0
    ):
        raise ValueError(f"max_bytes must be an int >= 0 or None, got {max_bytes!r}")
    return _read_idx(path, max_bytes=max_bytes)

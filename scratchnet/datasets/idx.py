"""Reading IDX files, the format of MNIST and Fashion-MNIST.

An IDX file starts with two zero bytes, a type code (0x08 ubyte, 0x09 byte, 0x0B short, 0x0C int,
0x0D float, 0x0E double) and the number of dimensions, then holds each dimension's size as a
big-endian 32-bit integer and the data in big-endian order. :func:`read_idx` reads one, gzipped
or not, and checks its header against its size.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

PathLike = str | os.PathLike


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

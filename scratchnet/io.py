"""The model archive: one file, JSON configuration plus arrays, never unpickled.

This module reads and writes archives as ``(config, arrays)`` and knows nothing of models:
`Model.save` and `scratchnet.load` turn a model into that pair and back (`scratchnet.saving`).

The file is a NumPy ``.npz`` archive (a zip file whose members are stored, not compressed). Its
member ``__config__`` holds UTF-8 JSON: the format name and version, the constructor arguments,
the layer stack by registered names, and for every array its shape, dtype and SHA-256. The other
members are plain numeric arrays (``param/...``, ``state/...``, ``optimizer/...``).

Reading verifies before it allocates. The zip directory, every member's ``.npy`` header, the size
of the JSON configuration (and its nesting depth and the memory its parse may take) and the
manifest are checked against each other and against the file's own size before any array is read,
so a truncated, edited, foreign or hostile file raises `ValueError` naming the file, and a file
can never make the reader allocate much more than its own size: members must be stored, so no
member holds more bytes than the file (no zip bomb), and a header must promise exactly the bytes
its member holds. Nothing in a file is executed. (The checksums live in the same file: they catch
corruption and edits that forget the manifest, not a determined forger, whose worst is a file
holding wrong numbers.) Problems of the operating system keep their class: a missing file raises
`FileNotFoundError`, an unreadable one `PermissionError`, a folder `IsADirectoryError`. The bounds
are below (``MAX_...``) and in ``docs/security.md``.

Writes are atomic: the archive goes to a hidden temporary file in the target folder, is flushed to
disk, and then replaces the target in one rename, so a crash mid-save leaves the previous file
intact. A new file gets the permissions the umask gives (``0o666 & ~umask``); a replaced file
keeps its mode.

>>> import numpy as np, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
>>> write_archive(path, {"model": {"hidden": [8]}}, {"param/dense1.B": np.ones((4, 8))})
>>> config, arrays = read_archive(path)
>>> config["model"], arrays["param/dense1.B"].shape
({'hidden': [8]}, (4, 8))
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import secrets
import stat
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import numpy as np

FORMAT_NAME = "scratchnet-model"
FORMAT_VERSION = 1
CONFIG_KEY = "__config__"
_ALLOWED_DTYPES = ("float32", "float64", "int64", "uint8")

#: most members (arrays plus the configuration) one file may hold
MAX_MEMBERS = 10_000
#: longest JSON configuration, in bytes (about 30,000 epochs of training history)
MAX_CONFIG_BYTES = 4 * 2**20
#: deepest nesting of JSON arrays and objects in the configuration (saved files use 6)
MAX_JSON_DEPTH = 64
#: longest member name, in bytes
MAX_NAME_BYTES = 1024
#: longest ``.npy`` header, in bytes (NumPy writes 128 for the arrays of a model)
MAX_NPY_HEADER = 4096
#: reading a file that is then refused allocates at most this many bytes per byte of file ...
READ_MEMORY_PER_FILE_BYTE = 4
#: ... plus this many (the JSON parse gets what the directory and headers leave of the two)
READ_MEMORY_FLOOR = 4 * 2**20

_PREFIXES = ("param/", "state/", "optimizer/")
_DESCRS = {  # the .npy type strings of `_ALLOWED_DTYPES`, either byte order
    f"{order}{code}": np.dtype(f"{order}{code}") for order in "<>" for code in ("f4", "f8", "i8")
} | {"|u1": np.dtype("u1")}
_EOCD = struct.Struct("<4s4H2LH")  # end of central directory
_EOCD64_LOCATOR = struct.Struct("<4sLQL")
_EOCD64 = struct.Struct("<4sQ2H2L4Q")
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")  # central directory entry
_LOCAL = struct.Struct("<4s2B4HL2L2H")  # local file header
_NPY_HEADER = re.compile(  # NumPy writes {'descr': '<f4', 'fortran_order': False, 'shape': (4, 8), }
    rb"\{\s*'descr'\s*:\s*'(?P<descr>[^']{1,16})'\s*,\s*'fortran_order'\s*:\s*(?P<fortran>True|False)"
    rb"\s*,\s*'shape'\s*:\s*\(\s*(?P<shape>(?:\d{1,20}\s*,\s*)*(?:\d{1,20})?)\s*\)\s*,?\s*\}\s*"
)
_CHUNK = 1 << 16  # bytes of JSON per step of the scan
_PEEK = 256  # bytes read after a local header: its extra field and a NumPy .npy header
_BOOKKEEPING = 600  # bytes of memory per member while reading (directory entry and header)


def _checksum(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a)).hexdigest()


# ----------------------------------------------------------------------------------------------
# writing
def write_archive(path: str | os.PathLike, config: dict, arrays: dict[str, np.ndarray]) -> None:
    """Write ``config`` (JSON-able) and ``arrays`` (host, numeric) to ``path`` atomically.

    The format name and version and a manifest (shape, dtype, SHA-256 of every array) are added to
    the configuration under ``"format"``, ``"format_version"`` and ``"arrays"``. A configuration
    that `read_archive` would refuse (too long, too deep, too many arrays) raises `ValueError`,
    and the target is left as it was.
    """
    config = dict(config)
    config["format"] = FORMAT_NAME
    config["format_version"] = FORMAT_VERSION
    config["arrays"] = {
        key: {"shape": list(a.shape), "dtype": str(a.dtype), "sha256": _checksum(a)}
        for key, a in arrays.items()
    }
    raw = json.dumps(config).encode("utf-8")
    name = str(path)
    if len(arrays) + 1 > MAX_MEMBERS:
        raise ValueError(
            f"cannot save {name!r}: {len(arrays)} arrays; files hold {MAX_MEMBERS - 1}"
        )
    members = {CONFIG_KEY: np.frombuffer(raw, dtype=np.uint8)}
    members.update(arrays)
    with atomic_file(path) as fh:
        np.savez(fh, **members)
        problem = _json_problem(raw, _json_allowance(fh.seek(0, os.SEEK_END), len(members)))
        if problem:  # leaving the block by an exception removes the temporary file
            raise ValueError(
                f"cannot save {name!r}: its configuration {problem}, so load would refuse it"
            )


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write bytes to ``path`` through a temporary file and one rename."""
    with atomic_file(path) as fh:
        fh.write(data)


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """A binary file whose content replaces ``path`` in one rename when the block ends.

    The temporary file is hidden (``.<name>.<random>.tmp``) in the target's folder and removed if
    the block raises. A new file gets ``0o666 & ~umask``; a replaced file keeps its mode.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    where = str(target)
    if not folder.is_dir():
        raise ValueError(f"cannot save to {where!r}: folder {str(folder)!r} does not exist")
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = None  # the umask decides, through os.open's 0o666 below
    except OSError as exc:
        raise _os_error(exc, f"cannot save to {where!r}") from exc
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, f"cannot save to {where!r}: it is a folder")
    fd, tmp = _temporary(folder, target.name, where)
    try:
        if mode is not None:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, mode)
            else:  # pragma: no cover - Windows before Python 3.13
                os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as fh:
            fd = -1
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        _fsync_folder(folder)
    except BaseException as exc:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and where not in str(exc):  # disk full, I/O error, ...
            raise _os_error(exc, f"cannot save to {where!r}") from exc
        raise


def _temporary(folder: Path, name: str, where: str) -> tuple[int, str]:
    """Create ``.<name>.<random>.tmp`` exclusively; the kernel applies the umask to 0o666."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = str(folder / f".{name[:200]}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
        except OSError as exc:
            raise _os_error(exc, f"cannot save to {where!r}") from exc
    raise FileExistsError(errno.EEXIST, f"cannot save to {where!r}: no free temporary name")


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


def _os_error(exc: OSError, what: str) -> OSError:
    """``exc`` again (same class and errno) with a message naming the file and the cause."""
    cause = "permission denied" if isinstance(exc, PermissionError) else exc.strerror or str(exc)
    text = f"{what}: {cause}"
    return type(exc)(exc.errno, text) if exc.errno is not None else type(exc)(text)


# ----------------------------------------------------------------------------------------------
# reading
class _Member(NamedTuple):
    start: int  # where its .npy bytes start in the file
    size: int
    crc: int


class _Header(NamedTuple):
    dtype: np.dtype
    shape: tuple[int, ...]
    fortran_order: bool
    length: int  # bytes before the data: magic, version, length field and the header text


def read_archive(path: str | os.PathLike) -> tuple[dict, dict[str, np.ndarray]]:
    """Read and verify a model file; returns (config, arrays).

    Raises
    ------
    FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError
        (`OSError`) The file cannot be opened; the message names it and the cause.
    ValueError
        The file is not a well-formed model file: truncated, corrupted, tampered, foreign, or
        beyond the bounds (``MAX_...``) of this module. Until it is refused, reading allocates at
        most ``READ_MEMORY_PER_FILE_BYTE`` x the file's size + ``READ_MEMORY_FLOOR``.
    """
    name = str(path)
    fh, size = _open(name)
    try:
        config, arrays = _read(name, fh, size)
    except OSError as exc:  # an I/O error while reading
        raise _os_error(exc, f"cannot read model file {name!r}") from exc
    finally:
        fh.close()
    for key, a in arrays.items():
        if _checksum(a) != config["arrays"][key]["sha256"]:
            raise ValueError(f"{name!r}: array {key!r} fails its checksum (tampered or corrupted)")
    return config, arrays


def _read(name: str, fh: BinaryIO, size: int) -> tuple[dict, dict[str, np.ndarray]]:
    """The verified configuration and the arrays, read only once everything else checks out."""
    members, headers = _directory(name, fh, size)
    if CONFIG_KEY not in members:
        raise ValueError(f"{name!r} is not a scratchnet model file (no {CONFIG_KEY} entry)")
    head = headers[CONFIG_KEY]
    if head.dtype != np.uint8 or len(head.shape) != 1:
        raise ValueError(f"{name!r} is not a scratchnet model file (malformed {CONFIG_KEY})")
    if head.shape[0] > MAX_CONFIG_BYTES:
        raise ValueError(
            f"{name!r} has a configuration of {head.shape[0]} bytes; model files hold at most "
            f"{MAX_CONFIG_BYTES} (a longer one is refused unread)"
        )
    raw = _read_member(name, fh, CONFIG_KEY, members[CONFIG_KEY], head)
    config = _parse_config(name, raw, _json_allowance(size, len(members)))
    _check_manifest(name, config, headers)
    arrays = {
        key: _as_array(_read_member(name, fh, key, members[key], h), h)
        for key, h in headers.items()
        if key != CONFIG_KEY
    }
    return config, arrays


def _json_allowance(size: int, members: int) -> int:
    """Bytes the JSON parse may take: the read's allowance less the directory's bookkeeping."""
    allowance = READ_MEMORY_PER_FILE_BYTE * size + READ_MEMORY_FLOOR
    return allowance - _BOOKKEEPING * members


def _open(name: str) -> tuple[BinaryIO, int]:
    """The file, opened without blocking (a FIFO would hang) and checked to be a regular file."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(name, flags)
    except FileNotFoundError as exc:
        raise FileNotFoundError(errno.ENOENT, f"no model file at {name!r}") from exc
    except OSError as exc:
        raise _os_error(exc, f"cannot read model file {name!r}") from exc
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(errno.EISDIR, f"{name!r} is a folder, not a model file")
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{name!r} is not a regular file, so not a scratchnet model file")
        return os.fdopen(fd, "rb", buffering=0), info.st_size
    except BaseException:
        os.close(fd)
        raise


def _corrupt(name: str, why: str) -> ValueError:
    return ValueError(
        f"{name!r} is not a scratchnet model file, or it is truncated or corrupted ({why})"
    )


def _pread(name: str, fh: BinaryIO, offset: int, n: int) -> bytes:
    fh.seek(offset)
    data = fh.read(n)
    if len(data) != n:
        raise _corrupt(name, f"it ends before byte {offset + n}")
    return data


def _directory(name: str, fh: BinaryIO, size: int) -> tuple[dict[str, _Member], dict]:
    """The members and their ``.npy`` headers, from the zip's own directory, checked against
    each other and against the file's size.

    Members must be stored (not compressed), unencrypted, named ``__config__.npy``,
    ``param/...npy``, ``state/...npy`` or ``optimizer/...npy`` once each, and lie one after the
    other without overlapping, so that together they hold no more bytes than the file.
    """
    if size < _EOCD.size:
        raise _corrupt(name, f"{size} bytes is too short for an archive")
    end = size - _EOCD.size
    sig, disk, cd_disk, n_disk, count, cd_size, cd_offset, comment = _EOCD.unpack(
        _pread(name, fh, end, _EOCD.size)
    )
    if sig != b"PK\x05\x06" or comment:
        raise _corrupt(name, "no archive directory at its end")
    if count == 0xFFFF or 0xFFFFFFFF in (cd_size, cd_offset):  # zip64: sizes over 4 GiB
        if end < _EOCD64_LOCATOR.size + _EOCD64.size:
            raise _corrupt(name, "a zip64 directory is cut short")
        end -= _EOCD64_LOCATOR.size
        sig, _, where, _ = _EOCD64_LOCATOR.unpack(_pread(name, fh, end, _EOCD64_LOCATOR.size))
        end -= _EOCD64.size
        if sig != b"PK\x06\x07" or where != end:
            raise _corrupt(name, "the zip64 directory is not where it should be")
        rec = _EOCD64.unpack(_pread(name, fh, end, _EOCD64.size))
        if rec[0] != b"PK\x06\x06":
            raise _corrupt(name, "no zip64 directory record")
        disk, cd_disk, n_disk, count, cd_size, cd_offset = rec[4:]
    if disk or cd_disk or n_disk != count:
        raise _corrupt(name, "a multi-part archive")
    if count > MAX_MEMBERS:
        raise ValueError(f"{name!r} has {count} members; model files hold at most {MAX_MEMBERS}")
    if cd_offset + cd_size != end:
        raise _corrupt(name, "the archive directory does not end where the file does")
    entries = _central_directory(name, _pread(name, fh, cd_offset, cd_size), count)
    members: dict[str, _Member] = {}
    headers: dict[str, _Header] = {}
    previous = 0
    for offset, key, raw_name, usize, crc in sorted(entries):
        if offset < previous:
            raise _corrupt(name, f"member {key!r} overlaps another")
        n = len(raw_name)
        if offset + _LOCAL.size + n > cd_offset:
            raise _corrupt(name, f"member {key!r} lies outside the archive")
        chunk = _pread(name, fh, offset, min(_LOCAL.size + n + _PEEK, cd_offset - offset))
        sig, _, _, _, method, _, _, _, _, _, local_n, e = _LOCAL.unpack_from(chunk)
        start = offset + _LOCAL.size + n + e
        if (
            sig != b"PK\x03\x04"
            or method != 0
            or local_n != n
            or chunk[_LOCAL.size : _LOCAL.size + n] != raw_name
            or start + usize > cd_offset
        ):
            raise _corrupt(name, f"member {key!r} does not match its directory entry")
        members[key] = _Member(start, usize, crc)
        headers[key] = _npy_header(name, fh, key, members[key], chunk[start - offset :])
        previous = start + usize
    return members, headers


def _central_directory(name: str, directory: bytes, count: int) -> list[tuple]:
    """(local header offset, key, raw name, size, CRC) of each entry, checked one by one."""
    entries, keys, pos = [], set(), 0
    for _ in range(count):
        if pos + _CENTRAL.size > len(directory):
            raise _corrupt(name, "the archive directory is cut short")
        entry = _CENTRAL.unpack_from(directory, pos)
        sig, flags, method, crc, csize, usize, n, m, k, offset = (
            entry[0], entry[5], entry[6], entry[9], entry[10], entry[11], *entry[12:15], entry[18]
        )  # fmt: skip
        raw_name = directory[pos + _CENTRAL.size : pos + _CENTRAL.size + n]
        extra = directory[pos + _CENTRAL.size + n : pos + _CENTRAL.size + n + m]
        pos += _CENTRAL.size + n + m + k
        if sig != b"PK\x01\x02" or pos > len(directory):
            raise _corrupt(name, "a damaged archive directory")
        usize, csize, offset = _zip64_fields(name, extra, [usize, csize, offset])
        key = _member_key(name, raw_name, flags)
        if flags & 0x1:
            raise ValueError(f"{name!r}: member {key!r} is encrypted; model files never are")
        if method != 0:
            raise ValueError(
                f"{name!r}: member {key!r} is compressed; model files store their members "
                "uncompressed, so a compressed one is refused unread (no zip bombs)"
            )
        if flags & 0x8 or csize != usize:
            raise _corrupt(name, f"member {key!r} has inconsistent sizes")
        if key in keys:
            raise ValueError(f"{name!r} holds member {key!r} twice (tampered or corrupted)")
        keys.add(key)
        entries.append((offset, key, raw_name, usize, crc))
    if pos != len(directory):
        raise _corrupt(name, "the archive directory has trailing bytes")
    return entries


def _zip64_fields(name: str, extra: bytes, fields: list[int]) -> list[int]:
    """Sizes and offset too large for 32 bits, read from the zip64 extra field (id 1)."""
    if 0xFFFFFFFF not in fields:
        return fields
    wanted = [i for i, v in enumerate(fields) if v == 0xFFFFFFFF]
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, pos)
        if tag == 1:
            if length < 8 * len(wanted) or pos + 4 + length > len(extra):
                break
            values = struct.unpack_from(f"<{len(wanted)}Q", extra, pos + 4)
            for i, v in zip(wanted, values, strict=True):
                fields[i] = v
            return fields
        pos += 4 + length
    raise _corrupt(name, "a zip64 size is missing")


def _member_key(name: str, raw_name: bytes, flags: int) -> str:
    if len(raw_name) > MAX_NAME_BYTES:
        raise ValueError(
            f"{name!r} has a member name of {len(raw_name)} bytes; at most {MAX_NAME_BYTES}"
        )
    try:
        text = raw_name.decode("utf-8" if flags & 0x800 else "cp437")
    except UnicodeDecodeError as exc:
        raise _corrupt(name, "a member name is not UTF-8") from exc
    key = text[:-4]
    if not text.endswith(".npy") or not (key == CONFIG_KEY or key.startswith(_PREFIXES)):
        raise ValueError(
            f"{name!r} is not a scratchnet model file (unexpected member {text!r}; model files "
            f"hold only {CONFIG_KEY}.npy and param/..., state/... and optimizer/... arrays)"
        )
    return key


def _npy_header(name: str, fh: BinaryIO, key: str, m: _Member, peek: bytes) -> _Header:
    """The member's ``.npy`` header (``peek``: its first bytes, already read), parsed without
    NumPy's reader and checked: allowed dtype, boolean order, non-negative int shape, and exactly
    as many data bytes as the shape needs."""
    if m.size < 10:
        raise _bad(name, key, "too short for a .npy header")
    prefix = (
        peek[:12] if len(peek) >= min(m.size, 12) else _pread(name, fh, m.start, min(m.size, 12))
    )
    if prefix[:6] != b"\x93NUMPY" or prefix[6:8] not in (b"\x01\x00", b"\x02\x00", b"\x03\x00"):
        raise _bad(name, key, "not a .npy array")
    wide = prefix[6] > 1
    start = 12 if wide else 10
    if len(prefix) < start:
        raise _bad(name, key, "too short for a .npy header")
    length = struct.unpack_from("<I" if wide else "<H", prefix, 8)[0]
    if length > MAX_NPY_HEADER or start + length > m.size:
        raise _bad(name, key, f"a header of {length} bytes")
    if len(peek) >= start + length:
        text = peek[start : start + length]
    else:
        text = _pread(name, fh, m.start + start, length)
    match = _NPY_HEADER.fullmatch(text)
    if match is None:
        raise _bad(name, key, "a header not in NumPy's format")
    descr = match["descr"].decode("latin1")
    fortran = match["fortran"] == b"True"
    dims = match["shape"]
    shape = tuple(map(int, b"".join(dims.split()).rstrip(b",").split(b","))) if dims else ()
    if descr not in _DESCRS:
        if "O" in descr:
            raise ValueError(
                f"{name!r} holds a pickled object ({key}); scratchnet model files never do, "
                "so it was refused"
            )
        raise _bad(name, key, f"dtype {descr!r}; model files hold {', '.join(_ALLOWED_DTYPES)}")
    if len(shape) > 32:
        raise _bad(name, key, f"{len(shape)} dimensions")
    dtype = _DESCRS[descr]
    expected = dtype.itemsize
    for s in shape:
        expected *= s
    if expected != m.size - start - length:
        raise ValueError(
            f"{name!r}: member {key} declares shape {shape} ({expected} bytes) but holds "
            f"{m.size - start - length} (truncated or corrupted)"
        )
    return _Header(dtype, shape, fortran, start + length)


def _bad(name: str, key: str, why: str) -> ValueError:
    return ValueError(f"{name!r} is truncated or corrupted (member {key!r}: {why})")


def _read_member(name: str, fh: BinaryIO, key: str, m: _Member, h: _Header) -> bytearray:
    """The member's data bytes (after its header), read into one buffer and CRC-checked."""
    crc = zlib.crc32(_pread(name, fh, m.start, h.length))
    data = bytearray(m.size - h.length)
    view = memoryview(data)
    fh.seek(m.start + h.length)
    done = 0
    while done < len(data):
        got = fh.readinto(view[done:])
        if not got:
            raise _corrupt(name, f"member {key!r} is cut short")
        done += got
    if zlib.crc32(view, crc) != m.crc:
        raise ValueError(f"{name!r} is truncated or corrupted (member {key!r} fails its CRC-32)")
    return data


def _as_array(data: bytearray, h: _Header) -> np.ndarray:
    flat = np.frombuffer(data, dtype=h.dtype)
    return flat.reshape(h.shape[::-1]).T if h.fortran_order else flat.reshape(h.shape)


def _json_problem(raw: bytes | bytearray, allowance: int) -> str | None:
    """Why the JSON text ``raw`` must not be parsed within ``allowance`` bytes, or None.

    One linear pass in small NumPy chunks, outside strings (escapes removed, then quotes paired):
    the nesting depth from the brackets, and a bound on the memory of the parse from the counts of
    objects, arrays, separators and strings (CPython: an object costs up to about 120 bytes plus
    64 per key, an array 90 plus 10 per item, a string 64 plus its text, a number 36).
    """
    if len(raw) > MAX_CONFIG_BYTES:
        return f"is {len(raw)} bytes long (at most {MAX_CONFIG_BYTES})"
    text = raw
    if b"\\" in raw:  # drop escaped backslashes, then escaped quotes: what is left delimits
        text = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    view = np.frombuffer(text, dtype=np.uint8)
    counts = dict.fromkeys(b"{[:,", 0)
    depth = deepest = quotes = inside = 0
    for start in range(0, view.shape[0], _CHUNK):
        chunk = view[start : start + _CHUNK]
        quote = chunk == 34
        outside = ((np.cumsum(quote, dtype=np.int32) + inside) & 1) == 0
        inside = 1 - int(outside[-1])
        quotes += int(np.count_nonzero(quote))
        for byte in counts:
            counts[byte] += int(np.count_nonzero(outside & (chunk == byte)))
        opens = outside & ((chunk == 91) | (chunk == 123))
        closes = outside & ((chunk == 93) | (chunk == 125))
        run = depth + np.cumsum(opens.astype(np.int32) - closes, dtype=np.int64)
        if run.shape[0]:
            deepest = max(deepest, int(run.max()))
            if int(run.min()) < 0:
                return "has unbalanced brackets"
            depth = int(run[-1])
    if deepest > MAX_JSON_DEPTH:
        return f"nests {deepest} levels deep (at most {MAX_JSON_DEPTH})"
    objects, lists, colons, commas = (counts[b] for b in b"{[:,")
    strings = quotes // 2
    scalars = max(0, commas + colons + 1 - strings)  # numbers, true, false, null
    estimate = 120 * objects + 90 * lists + 64 * colons + 10 * commas + 64 * strings
    estimate += 36 * scalars + 2 * len(raw)  # and the bytes, decoded
    if not raw.isascii():
        estimate += 8 * len(raw)  # the text and its strings in wide characters
    if estimate > allowance:
        return (
            f"would take about {estimate} bytes to parse, more than the {max(allowance, 0)} a file "
            f"of this size is allowed ({READ_MEMORY_PER_FILE_BYTE} x its size + "
            f"{READ_MEMORY_FLOOR}, less {_BOOKKEEPING} per member)"
        )
    return None


def _parse_config(name: str, raw: bytearray, allowance: int) -> Any:
    """The configuration, parsed if `_json_problem` finds nothing; ``raw`` is emptied."""
    problem = _json_problem(raw, allowance)
    if problem:
        raise ValueError(f"{name!r} has a configuration that {problem}; refused unparsed")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{name!r} has an unreadable configuration ({exc})") from None
    raw.clear()  # the text replaces the bytes before the parse
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, big ints, deep nesting
        raise ValueError(f"{name!r} has an unreadable configuration ({exc})") from None


def _check_manifest(name: str, config: Any, headers: dict[str, _Header]) -> None:
    """Format, version, and the manifest against the members' headers, before reading data."""
    if not isinstance(config, dict) or config.get("format") != FORMAT_NAME:
        raise ValueError(f"{name!r} is not a scratchnet model file")
    version = config.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:
        raise ValueError(
            f"{name!r} uses format version {version}; this scratchnet reads version {FORMAT_VERSION}"
        )
    manifest = config.get("arrays")
    keys = set(headers) - {CONFIG_KEY}
    if not isinstance(manifest, dict) or set(manifest) != keys:
        listed = set(manifest) if isinstance(manifest, dict) else set()
        odd = sorted(listed ^ keys)[:3]
        raise ValueError(
            f"{name!r} has arrays that do not match its manifest (tampered or corrupted; "
            f"e.g. {odd})"
        )
    for key in sorted(keys):
        h, meta = headers[key], manifest[key]
        if not isinstance(meta, dict):
            raise ValueError(f"{name!r}: the manifest entry of {key!r} is malformed")
        if h.dtype.name not in _ALLOWED_DTYPES or h.dtype.name != meta.get("dtype"):
            raise ValueError(
                f"{name!r}: array {key!r} has dtype {h.dtype.name}, expected {meta.get('dtype')}"
            )
        if list(h.shape) != meta.get("shape"):
            raise ValueError(
                f"{name!r}: array {key!r} has shape {list(h.shape)}, expected {meta.get('shape')}"
            )
        digest = meta.get("sha256")
        if not isinstance(digest, str) or not re.fullmatch("[0-9a-f]{64}", digest):
            raise ValueError(f"{name!r}: array {key!r} has no valid checksum in the manifest")

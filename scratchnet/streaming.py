"""Features read a batch at a time: memory maps and other sources larger than memory.

A `RowStream` stands for the rows of a 2-D host source that `fit`, `predict`, `predict_proba`,
`decision_function` and `evaluate` read one mini-batch or one inference chunk at a time: each
read gathers the rows it needs, casts them to the model's dtype (a float64 file feeding a
float32 model is cast batch by batch, never whole) and moves them to the model's device. Nothing
the size of the data set is allocated: selecting rows (a validation split, the training rows) only
records their indices.

Which inputs stream (`is_streamed`):

- ``numpy.memmap`` instances (``np.load(path, mmap_mode="r")`` returns one) and NumPy arrays that
  view a memory-mapped file (their ``base`` chain holds a ``memmap`` or an ``mmap.mmap``);
- array-likes of no array library that have ``shape``, ``dtype`` and ``__getitem__`` (an h5py
  dataset, a zarr array): they are read with row slices ``X[a:b]`` and with sorted, unique integer
  index arrays ``X[idx]``, the two forms such stores support.

In-memory NumPy arrays and arrays of the model's backend keep the one-copy path of contract 6.
On CuPy, `CupyPrefetcher` copies the next batch to the GPU on a second stream while the current
step runs; elsewhere the reads are synchronous.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .backends import library_of

Array = Any

#: bytes of source rows one checking scan reads at a time (the finiteness checks of a stream)
CHUNK_BYTES = 32 * 2**20
#: libraries whose objects have ``shape`` and ``__getitem__`` but other meanings (columns first)
_NOT_STREAMED = ("pandas", "scipy", "builtins", "numpy", "polars", "xarray")


def is_streamed(x: Any) -> bool:
    """True when ``x`` is read by rows instead of being moved to the device whole.

    >>> import numpy as np
    >>> is_streamed(np.zeros((3, 2)))
    False
    """
    if isinstance(x, np.ndarray):  # memory maps, and arrays viewing one, but not their copies
        node: Any = x
        while node is not None:
            if isinstance(node, mmap.mmap):
                return True
            if isinstance(node, np.memmap) and getattr(node, "_mmap", None) is not None:
                return True  # (a memmap's copy or astype is an np.memmap in memory: _mmap None)
            node = getattr(node, "base", None)
        return False
    if library_of(x) is not None or hasattr(x, "__array_namespace__"):
        return False
    if type(x).__module__.split(".")[0] in _NOT_STREAMED:
        return False
    return all(hasattr(x, a) for a in ("shape", "dtype", "__getitem__"))


class RowStream:
    """Rows of a 2-D host source, read on demand in the model's dtype on its device.

    Parameters
    ----------
    source : numpy.memmap or array-like of shape (n_rows, n_features)
        Read with ``source[a:b]`` and ``source[idx]`` (sorted unique int64 indices).
    backend : Backend
        Where the rows go.
    dtype : dtype object of the backend
        The model's dtype; rows are cast on the host, one read at a time.
    rows : ndarray of int64, or (start, stop), optional
        The rows of ``source`` this stream stands for, in order (default all): index arrays for
        selections (a validation split), a range for slices.
    check : callable, optional
        ``check(block, first_row)`` run on every block a range of rows reads, before the cast
        (the finiteness checks of inference, made as the rows pass instead of in a scan of their
        own); slices keep it, selections by index do not.

    Notes
    -----
    Slicing a stream, ``stream[a:b, ...]``, and `select` return streams (indices only); `take`
    and `read` return device arrays of the rows asked for.
    """

    def __init__(
        self,
        source: Any,
        backend: Any,
        dtype: Any,
        rows: np.ndarray | tuple | None = None,
        check: Callable[[np.ndarray, int], None] | None = None,
    ) -> None:
        self.source = source
        self.check = check
        self.backend = backend
        self.dtype = dtype
        n = int(source.shape[0])
        self._rows: np.ndarray | tuple[int, int] = (0, n) if rows is None else rows
        self.n_features = int(source.shape[1])
        self.host_dtype = np.dtype(f"float{backend.xp.finfo(dtype).bits}")

    @property
    def shape(self) -> tuple[int, int]:
        """(rows of this stream, features)."""
        rows = self._rows
        n = rows[1] - rows[0] if isinstance(rows, tuple) else int(rows.shape[0])
        return (n, self.n_features)

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"RowStream({type(self.source).__name__}, shape={self.shape})"

    def __getitem__(self, key: Any) -> RowStream:
        """``stream[a:b]`` or ``stream[a:b, ...]``: a stream of those rows (nothing is read)."""
        if isinstance(key, tuple):
            if len(key) != 2 or key[1] is not Ellipsis:
                raise TypeError("a RowStream takes row slices only: stream[a:b, ...]")
            key = key[0]
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("a RowStream takes row slices only: stream[a:b, ...]")
        a, b, _ = key.indices(self.shape[0])
        b = max(a, b)
        rows = self._rows
        if isinstance(rows, tuple):
            span = (rows[0] + a, rows[0] + b)
            return RowStream(self.source, self.backend, self.dtype, span, self.check)
        return RowStream(self.source, self.backend, self.dtype, rows[a:b])

    def select(self, idx: np.ndarray) -> RowStream:
        """A stream of rows ``idx`` (positions in this stream); only the indices are kept."""
        return RowStream(self.source, self.backend, self.dtype, self.source_rows(idx))

    def source_rows(self, idx: np.ndarray) -> np.ndarray:
        """Rows of the source at positions ``idx`` of this stream (int64)."""
        idx = np.asarray(idx, dtype=np.int64)
        rows = self._rows
        return idx + rows[0] if isinstance(rows, tuple) else rows[idx]

    def host(self, idx: np.ndarray | None = None, out: np.ndarray | None = None) -> np.ndarray:
        """Rows at positions ``idx`` (default all) as a host array in the model's float width,
        of shape (len(idx), n_features); written into ``out`` when given."""
        if idx is None:
            rows = self._rows
            if isinstance(rows, tuple):
                block = _read_range(self.source, *rows)
                if self.check is not None:
                    self.check(np.asarray(block), rows[0])
            else:
                block = read_source_rows(self.source, rows)
        else:
            block = read_source_rows(self.source, self.source_rows(idx))
        if out is None:
            return np.asarray(block, dtype=self.host_dtype)
        out[...] = block  # the cast into the caller's buffer (pinned memory, say)
        return out

    def take(self, idx: np.ndarray) -> Array:
        """Rows at positions ``idx`` (host int64) on the device, shape (len(idx), n_features)."""
        return self.backend.asarray(self.host(idx), dtype=self.dtype)

    def read(self) -> Array:
        """All rows of this stream on the device (call it on a batch- or chunk-sized slice)."""
        return self.backend.asarray(self.host(), dtype=self.dtype)

    def chunks(self, rows: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """(first row, host block in the source's dtype) of consecutive blocks of ``rows`` rows
        (default: about `CHUNK_BYTES` each), for checks that scan every row once."""
        n = self.shape[0]
        if rows is None:
            row_bytes = max(1, self.n_features * np.dtype(self.source.dtype).itemsize)
            rows = max(1, CHUNK_BYTES // row_bytes)
        for start in range(0, n, rows):
            stop = min(start + rows, n)
            part = self[start:stop]
            source_rows = part._rows
            if isinstance(source_rows, tuple):
                block = _read_range(self.source, *source_rows)
            else:
                block = read_source_rows(self.source, source_rows)
            yield start, np.asarray(block)


def _read_range(source: Any, start: int, stop: int) -> np.ndarray:
    if stop <= start:
        return np.empty((0, int(source.shape[1])), dtype=source.dtype)
    return np.asarray(source[start:stop])


def read_source_rows(source: Any, rows: np.ndarray) -> np.ndarray:
    """Rows ``rows`` (int64, any order) of a source as a host array in the source's dtype.

    NumPy arrays and memory maps gather with ``numpy.take`` (only those rows are read). Other
    array-likes are read with one slice when the rows are consecutive, else with their sorted
    unique indices (what h5py and zarr accept), put back in the order asked for.
    """
    n = int(rows.shape[0])
    if n == 0:
        return np.empty((0, int(source.shape[1])), dtype=source.dtype)
    if isinstance(source, np.ndarray):
        return np.take(source, rows, axis=0)
    first, last = int(rows[0]), int(rows[-1])
    if last - first == n - 1 and (n == 1 or bool(np.all(np.diff(rows) == 1))):
        return np.asarray(source[first : last + 1])
    unique, inverse = np.unique(rows, return_inverse=True)
    block = np.asarray(source[unique])
    in_order = unique.shape[0] == n and bool(np.all(unique == rows))
    return block if in_order else block[inverse]


def select_rows(X: Any, idx: np.ndarray, backend: Any) -> Any:
    """Rows ``idx`` of X kept for later: a `RowStream` selection, or gathered on the device."""
    if isinstance(X, RowStream):
        return X.select(idx)
    return backend.xp.take(X, backend.asarray(idx), axis=0)


def take_rows(X: Any, idx: np.ndarray, backend: Any) -> Array:
    """Rows ``idx`` (host int64) of a device array or a `RowStream`, on the device."""
    if isinstance(X, RowStream):
        return X.take(idx)
    return backend.xp.take(X, backend.asarray(idx), axis=0)


def on_device(X: Any) -> Array:
    """A device array as it is; a (batch- or chunk-sized) `RowStream` read onto its device."""
    return X.read() if isinstance(X, RowStream) else X


def check_out(out: Any, shape: tuple[int, ...], dtype: np.dtype, name: str = "out") -> np.ndarray:
    """Check a caller's output buffer: a writable NumPy array (a memory map is one) of exactly
    ``shape`` and ``dtype``, else `TypeError`/`ValueError` saying what is expected."""
    want = f"a writable NumPy array of shape {shape} and dtype {np.dtype(dtype)}"
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be {want} (np.empty or np.lib.format.open_memmap), got "
                        f"{type(out).__name__}")  # fmt: skip
    if tuple(out.shape) != tuple(shape) or out.dtype != dtype:
        raise ValueError(
            f"{name} must be {want}, got shape {tuple(out.shape)} and dtype {out.dtype}"
        )
    if not out.flags.writeable:
        raise ValueError(f"{name} is read-only; pass {want}")
    return out


class CupyPrefetcher:
    """Copy the next batch to the GPU while the current step runs (the CuPy backend only).

    Iterating yields one device array per batch of ``batches`` (host row positions of
    ``stream``). Batch k+1 is read from the source, cast into one of two pinned host buffers and
    copied on a second CUDA stream before batch k is handed out, so the copy overlaps step k on
    the current stream. The current stream waits for a batch's copy (an event) before using it,
    and each copy waits for the work queued before it on the current stream, so that a device
    block freed by an earlier batch is never overwritten while a step still reads it.

    Needs a usable CUDA device: constructing one without raises CuPy's error; the training loop
    uses it only on the CuPy backend.
    """

    def __init__(self, stream: RowStream, batches: list[np.ndarray]) -> None:
        import cupy

        self._cp = cupy
        self.stream = stream
        self.batches = batches
        self._copy_stream = cupy.cuda.Stream(non_blocking=True)
        self._slots: list[np.ndarray | None] = [None, None]
        self._done: list[Any] = [None, None]

    def _pinned(self, slot: int, shape: tuple[int, int]) -> np.ndarray:
        dtype = self.stream.host_dtype
        count = shape[0] * shape[1]
        buf = self._slots[slot]
        if buf is None or buf.size < count:
            memory = self._cp.cuda.alloc_pinned_memory(max(1, count) * dtype.itemsize)
            buf = np.frombuffer(memory, dtype=dtype, count=max(1, count))
            self._slots[slot] = buf
        return buf[:count].reshape(shape)

    def _launch(self, k: int) -> tuple[Array, Any]:
        cp, copy_stream = self._cp, self._copy_stream
        slot = k % 2
        if self._done[slot] is not None:
            self._done[slot].synchronize()  # the copy out of this pinned buffer has finished
        idx = self.batches[k]
        host = self._pinned(slot, (int(idx.shape[0]), self.stream.n_features))
        self.stream.host(idx, out=host)
        copy_stream.wait_event(cp.cuda.get_current_stream().record())
        dst = cp.empty(host.shape, dtype=self.stream.dtype)
        dst.set(host, stream=copy_stream)
        done = copy_stream.record()
        self._done[slot] = done
        return dst, done

    def __iter__(self) -> Iterator[Array]:
        if not self.batches:
            return
        current = self._cp.cuda.get_current_stream()
        pending = self._launch(0)
        for k in range(len(self.batches)):
            dst, done = pending
            if k + 1 < len(self.batches):
                pending = self._launch(k + 1)  # overlaps step k, queued below by the caller
            current.wait_event(done)
            yield dst


def predict_into(model: Any, Xd: Any, out: Any, transform: Any) -> np.ndarray:
    """Write ``transform(logits)`` of Xd's rows into ``out``, one inference chunk at a time.

    Parameters
    ----------
    model : Model
        Built.
    Xd : array or RowStream of shape (n, n_features)
        Checked features.
    out : numpy.ndarray
        Of shape (n, *trailing) and the dtype ``transform`` gives (`check_out` says which when
        they differ); checked before anything is computed.
    transform : callable
        Logits (m, n_outputs) -> device array of m rows (probabilities, labels, ...).

    Returns
    -------
    out
    """
    be = model.backend
    n = int(Xd.shape[0])
    probe = be.to_numpy(transform(be.xp.zeros((1, model.n_outputs), dtype=model.dtype)))
    check_out(out, (n, *probe.shape[1:]), probe.dtype)
    step = model.inference_chunk
    for start in range(0, n, step):
        stop = min(start + step, n)
        out[start:stop, ...] = be.to_numpy(transform(model.infer(Xd[start:stop, ...])))
    return out

"""Data sets: IDX parsing, the search order, checksums, safe downloads, digits and the toy sets.

The real MNIST files live outside the repository, in ../shared/data/mnist; the tests that need them
skip where that folder is missing. Everything else runs on small IDX files written here (gzip bombs
and hostile headers included, generated at test time), and no test touches the network: downloads
come from ``file://`` mirrors, a replaced fetch function, or HTTP servers on 127.0.0.1 that
trickle, stall, flood or lie about their length.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import struct
import sys
import threading
import time
import tracemalloc
import urllib.error
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from scratchnet.datasets import (
    DatasetNotFoundError,
    cache_dir,
    dataset_search_paths,
    fetch,
    load_digits,
    load_fashion_mnist,
    load_mnist,
    load_real_dataset,
    make_circles,
    make_moons,
    make_spirals,
    make_xor,
    read_idx,
)
from scratchnet.datasets import idx as idx_module

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MNIST_DIR = SHARED_DATA / "mnist"
needs_mnist = pytest.mark.skipif(
    not (MNIST_DIR / "train-images-idx3-ubyte.gz").is_file(),
    reason=f"the real MNIST files are not in {MNIST_DIR} (../shared/data/mnist of the repository)",
)
FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")

STEMS = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
ENV_VARS = ("SCRATCHNET_MNIST", "SCRATCHNET_FASHION_MNIST", "SCRATCHNET_DATA", "SCRATCHNET_OFFLINE")
REAL_FETCH = fetch._fetch


# ----------------------------------------------------------------------------------------------
# helpers: IDX files written independently of the library

IDX_CODES = {
    "uint8": 0x08,
    "int8": 0x09,
    "int16": 0x0B,
    "int32": 0x0C,
    "float32": 0x0D,
    "float64": 0x0E,
}


def idx_bytes(arr: np.ndarray) -> bytes:
    """The IDX encoding of ``arr``: magic (0, 0, type, ndim), big-endian sizes, big-endian data."""
    header = bytes([0, 0, IDX_CODES[arr.dtype.name], arr.ndim])
    header += struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def write_idx(path: Path, arr: np.ndarray, compress: bool = True) -> bytes:
    data = idx_bytes(arr)
    path.write_bytes(gzip.compress(data) if compress else data)
    return data


def make_fake(folder: Path, n_train: int = 6, n_test: int = 4, seed: int = 0, compress=True):
    """A small MNIST-like set in ``folder``; returns its arrays and the MD5s of its files."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    arrays = {
        STEMS[0]: rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
        STEMS[1]: rng.integers(0, 10, size=n_train, dtype=np.uint8),
        STEMS[2]: rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8),
        STEMS[3]: rng.integers(0, 10, size=n_test, dtype=np.uint8),
    }
    arrays[STEMS[0]][0, 0, 0], arrays[STEMS[0]][0, 0, 1] = 0, 255  # full pixel range
    md5 = {}
    for stem, arr in arrays.items():
        name = f"{stem}.gz" if compress else stem
        md5[stem] = hashlib.md5(write_idx(folder / name, arr, compress)).hexdigest()
    return arrays, md5


def use_checksums(monkeypatch, name: str, folder: Path, mirrors=(), **md5) -> None:
    """Make the loader expect the fake set in ``folder`` (and fetch from ``mirrors``).

    Each file's MD5, shape and download size are measured from the file; ``md5`` overrides
    some MD5s, by stem with ``-`` written ``_`` (``train_images_idx3_ubyte="0" * 32``).
    """
    spec = fetch._DATASETS[name]
    files = []
    for entry in spec.files:
        file = folder / f"{entry.stem}.gz"
        file = file if file.is_file() else folder / entry.stem
        raw = file.read_bytes()
        data = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
        shape = struct.unpack(f">{data[3]}I", data[4 : 4 + 4 * data[3]])
        digest = md5.get(entry.stem.replace("-", "_"), hashlib.md5(data).hexdigest())
        files.append(entry._replace(md5=digest, shape=shape, size=len(raw)))
    new = replace(spec, files=tuple(files), mirrors=tuple(mirrors) or spec.mirrors)
    monkeypatch.setitem(fetch._DATASETS, name, new)


def files_under(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.fixture
def env(tmp_path, monkeypatch):
    """No data-set environment variables, a private cache, and no network."""
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))

    def no_network(url, dest, timeout, **kw):
        raise AssertionError(f"a test tried to download {url}")

    monkeypatch.setattr(fetch, "_fetch", no_network)
    return tmp_path


# ----------------------------------------------------------------------------------------------
# the real files


@pytest.fixture(scope="module")
def mnist_raw():
    return load_mnist(MNIST_DIR, download=False, normalize=False, flatten=False, dtype="uint8")


@needs_mnist
def test_real_mnist_shapes_dtypes_and_known_facts(mnist_raw):
    X_train, y_train, X_test, y_test = load_mnist(MNIST_DIR, download=False)
    assert X_train.shape == (60000, 784) and X_test.shape == (10000, 784)
    assert X_train.dtype == np.float32 and X_test.dtype == np.float32
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64
    assert X_train.min() == 0.0 and X_train.max() == 1.0
    assert X_test.min() == 0.0 and X_test.max() == 1.0
    assert y_train[:5].tolist() == [5, 0, 4, 1, 9]
    assert y_test[:5].tolist() == [7, 2, 1, 0, 4]
    assert np.bincount(y_train).tolist() == [
        5923,
        6742,
        5958,
        6131,
        5842,
        5421,
        5918,
        6265,
        5851,
        5949,
    ]
    assert np.bincount(y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    # normalisation is exactly raw / 255, and flattening is row-major
    raw_train = mnist_raw.X_train
    assert raw_train.shape == (60000, 28, 28) and raw_train.dtype == np.uint8
    assert raw_train.max() == 255
    np.testing.assert_array_equal(
        X_train[:100], raw_train[:100].reshape(100, 784) / np.float32(255)
    )
    np.testing.assert_array_equal(mnist_raw.y_test, y_test)
    assert X_train.flags.writeable and mnist_raw.X_train.flags.writeable


@pytest.mark.skipif(
    not (FASHION_SYSTEM_DIR / "train-images-idx3-ubyte.gz").is_file(),
    reason="Fashion-MNIST is not installed here (apt-get install dataset-fashion-mnist)",
)
def test_real_fashion_mnist_from_the_debian_folder(env):
    X_train, y_train, X_test, y_test = load_fashion_mnist(download=False, flatten=False)
    assert X_train.shape == (60000, 28, 28) and X_test.shape == (10000, 28, 28)
    assert 0.0 <= X_train.min() and X_train.max() == 1.0
    assert np.bincount(y_train).tolist() == [6000] * 10  # Fashion-MNIST is balanced
    assert np.bincount(y_test).tolist() == [1000] * 10


@needs_mnist
def test_auto_uses_mnist_from_scratchnet_data(env, monkeypatch):
    monkeypatch.setenv("SCRATCHNET_DATA", str(SHARED_DATA))  # holds mnist/
    X_train, y_train, X_test, y_test, info = load_real_dataset("auto", download=False)
    assert info.name == "mnist" and info.n_classes == 10
    assert y_test.shape == (10000,) and y_train[:3].tolist() == [5, 0, 4]
    assert Path(info.source) == MNIST_DIR
    assert str(info).startswith("MNIST handwritten digits: 60000 training and 10000 test")
    assert X_train.shape == (60000, 784) and X_test.shape == (10000, 784)
    assert y_train.dtype == np.int64 and X_train.dtype == np.float32


# ----------------------------------------------------------------------------------------------
# IDX parsing


@pytest.mark.parametrize("dtype", sorted(IDX_CODES))
@pytest.mark.parametrize("compress", [True, False])
def test_read_idx_round_trips_every_type(tmp_path, dtype, compress):
    arr = (np.arange(2 * 3 * 5) - 7).reshape(2, 3, 5).astype(dtype)
    if dtype.startswith("uint"):
        arr = np.arange(30, dtype=dtype).reshape(2, 3, 5)
    path = tmp_path / "a.idx"
    write_idx(path, arr, compress)
    got = read_idx(path)
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    assert got.flags.writeable
    np.testing.assert_array_equal(got, arr)


def test_read_idx_rejects_a_file_that_is_not_idx(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello world")
    with pytest.raises(ValueError, match=r"notes\.txt: not an IDX file"):
        read_idx(path)


def test_read_idx_rejects_trailing_bytes(tmp_path):
    path = tmp_path / "long"
    path.write_bytes(idx_bytes(np.zeros(4, np.uint8)) + b"\x00")
    with pytest.raises(ValueError, match="longer than its header says"):
        read_idx(path)


def gzip_bomb(path: Path, shape=(10, 10), zeros: int = 100 << 20) -> Path:
    """A valid IDX header declaring ``shape`` (uint8), then ``zeros`` zero bytes, gzipped.

    Written in 1 MiB steps, so making it takes no more memory than reading it should.
    """
    header = bytes([0, 0, 0x08, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)
    block = bytes(1 << 20)
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write(header)
        for _ in range(zeros >> 20):
            out.write(block)
    return path


def measured(call):
    """(the exception ``call()`` raised, seconds taken, tracemalloc peak in bytes)."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        call()
    except Exception as err:  # returned to the test
        raised = err
    else:
        raised = None
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return raised, seconds, peak


MiB = 1 << 20


@pytest.fixture(scope="module")
def bomb(tmp_path_factory):
    """10x10 bytes declared, 100 MiB of zeros behind them: about 100 KiB of gzip."""
    return gzip_bomb(tmp_path_factory.mktemp("bomb") / "train-images-idx3-ubyte.gz")


def test_a_gzip_bomb_is_refused_quickly_in_bounded_memory(bomb):
    assert bomb.stat().st_size < 200_000  # ~1000:1
    err, seconds, peak = measured(lambda: read_idx(bomb))
    assert isinstance(err, ValueError), err
    assert str(err).startswith(f"{bomb}: IDX file longer than its header says")
    assert "shape (10, 10)" in str(err)
    assert seconds < 2.0 and peak < 16 * MiB, (seconds, peak)


def test_a_gzip_bomb_under_a_data_set_name_is_refused(env, bomb):
    make_fake(env / "d")
    (env / "d" / f"{STEMS[0]}.gz").write_bytes(bomb.read_bytes())
    # verify=True: the header is not MNIST's, refused before any data is decompressed
    err, seconds, peak = measured(lambda: load_mnist(env / "d", download=False))
    assert isinstance(err, ValueError) and "not the MNIST train-images-idx3-ubyte" in str(err)
    assert seconds < 2.0 and peak < 16 * MiB, (seconds, peak)
    # verify=False: read up to the declared size, refused at the first byte past it
    bomb3d = gzip_bomb(env / "d" / f"{STEMS[0]}.gz", shape=(6, 28, 28), zeros=50 << 20)
    err, seconds, peak = measured(lambda: load_mnist(env / "d", download=False, verify=False))
    assert isinstance(err, ValueError) and "longer than its header says" in str(err), err
    assert str(err).startswith(str(bomb3d))
    assert seconds < 2.0 and peak < 16 * MiB, (seconds, peak)


@pytest.mark.parametrize(
    ("shape", "max_bytes"),
    [
        ((1 << 31, 1 << 31), None),  # 4 EiB: more than the default cap
        ((0xFFFFFFFF,) * 255, None),  # the largest header IDX can hold
        ((3 << 30,), None),  # 3 GiB, just over the default 2 GiB
        ((100, 100), 10_000),  # 10,008 bytes over a cap of 10,000
    ],
)
def test_a_header_declaring_too_much_is_refused_before_allocating(tmp_path, shape, max_bytes):
    path = tmp_path / "huge.gz"
    header = bytes([0, 0, 0x08, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)
    path.write_bytes(gzip.compress(header + bytes(100)))
    kwargs = {} if max_bytes is None else {"max_bytes": max_bytes}
    err, seconds, peak = measured(lambda: read_idx(path, **kwargs))
    assert isinstance(err, ValueError), err
    assert "more than the" in str(err) and "refused before reading it" in str(err)
    assert str(err).startswith(f"{path}: its IDX header declares")
    assert peak < MiB and seconds < 1.0, (seconds, peak)


def test_max_bytes_is_checked_and_a_file_at_the_cap_is_read(tmp_path):
    path = tmp_path / "a.gz"
    write_idx(path, np.arange(100, dtype=np.uint8).reshape(10, 10))
    assert read_idx(path, max_bytes=4 + 8 + 100).shape == (10, 10)
    assert read_idx(path, max_bytes=None).shape == (10, 10)
    with pytest.raises(ValueError, match="max_bytes must be an int >= 0 or None"):
        read_idx(path, max_bytes=-1)


def test_a_header_claiming_more_than_the_stream_holds_costs_no_more_memory(tmp_path):
    path = tmp_path / "liar.gz"  # declares 1 GiB (under the cap), holds 1 KiB
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 1]) + struct.pack(">I", 1 << 30) + bytes(1024)))
    err, seconds, peak = measured(lambda: read_idx(path))
    assert isinstance(err, ValueError) and "IDX file truncated" in str(err)
    assert "its data ends after 1032 bytes" in str(err)
    assert peak < 16 * MiB and seconds < 1.0, (seconds, peak)


@pytest.mark.parametrize("compress", [True, False])
def test_truncated_and_trailing_payloads_are_refused(tmp_path, compress):
    data = idx_bytes(np.arange(60, dtype=np.int32).reshape(3, 20))
    path = tmp_path / "x.idx"
    path.write_bytes(gzip.compress(data[:-7]) if compress else data[:-7])
    with pytest.raises(ValueError, match=r"x\.idx: IDX file truncated: its header declares an? "):
        read_idx(path)
    path.write_bytes(gzip.compress(data + b"trailing") if compress else data + b"trailing")
    with pytest.raises(ValueError, match=r"x\.idx: IDX file longer than its header says"):
        read_idx(path)


def test_garbage_after_the_gzip_stream_is_refused(tmp_path):
    path = tmp_path / "g.gz"
    data = idx_bytes(np.arange(6, dtype=np.uint8))
    path.write_bytes(gzip.compress(data) + b"garbage after the stream")
    with pytest.raises(ValueError, match=r"g\.gz: IDX file longer .* after its gzip stream"):
        read_idx(path)
    path.write_bytes(gzip.compress(data) + gzip.compress(b"a second member"))
    with pytest.raises(ValueError, match=r"g\.gz: IDX file longer than its header says"):
        read_idx(path)
    damaged = bytearray(gzip.compress(data))
    damaged[-8] ^= 0xFF  # the CRC
    path.write_bytes(bytes(damaged))
    with pytest.raises(ValueError, match=r"g\.gz: the gzip stream is damaged"):
        read_idx(path)


@pytest.mark.parametrize(
    "start",
    [
        b"\x00\x01\x08\x01",  # wrong magic
        b"\x00\x00\x07\x01",  # unknown type code
        b"\x00\x00\x08\x00",  # no dimensions
        b"\x00\x00",  # shorter than the magic
    ],
)
@pytest.mark.parametrize("compress", [True, False])
def test_wrong_magic_and_type_codes_are_refused(tmp_path, start, compress):
    path = tmp_path / "bad.idx"
    body = start + struct.pack(">I", 4) + bytes(4)
    path.write_bytes(gzip.compress(body) if compress else body)
    with pytest.raises(ValueError, match=r"bad\.idx: not an IDX file: it starts with 0x"):
        read_idx(path)


def test_a_header_cut_short_is_refused(tmp_path):
    path = tmp_path / "cut"
    path.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">I", 5))
    with pytest.raises(ValueError, match="truncated inside its header"):
        read_idx(path)


def test_permission_denied_is_reported_as_such(env, monkeypatch):
    make_fake(env / "d")
    locked = env / "d" / f"{STEMS[2]}.gz"
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):  # root reads it anyway: make open() fail as it would
            real_open = open

            def denied(file, *args, **kwargs):
                if Path(file) == locked:
                    raise PermissionError(13, "Permission denied", str(file))
                return real_open(file, *args, **kwargs)

            monkeypatch.setattr(idx_module, "open", denied, raising=False)
        for call in (
            partial(read_idx, locked),
            partial(load_mnist, env / "d", download=False, verify=False),
        ):
            with pytest.raises(PermissionError) as info:
                call()
            message = str(info.value)
            assert "Permission denied" in message and str(locked) in message
            assert "damaged or truncated" not in message and "checksum" not in message
    finally:
        locked.chmod(0o644)


# ----------------------------------------------------------------------------------------------
# where the loader looks


def test_search_paths_follow_the_documented_order(env, monkeypatch):
    cache = env / "xdg" / "scratchnet" / "mnist"
    assert dataset_search_paths("mnist") == [cache]
    monkeypatch.setenv("SCRATCHNET_MNIST", str(env / "own"))
    monkeypatch.setenv("SCRATCHNET_DATA", str(env / "data"))
    assert dataset_search_paths("mnist") == [env / "own", env / "data" / "mnist", cache]
    assert dataset_search_paths("mnist", path=env / "x") == [env / "x"]
    fashion = dataset_search_paths("fashion_mnist")
    assert fashion == [
        env / "data" / "fashion-mnist",
        env / "xdg" / "scratchnet" / "fashion-mnist",
        FASHION_SYSTEM_DIR,
    ]
    with pytest.raises(ValueError, match="unknown data set 'cifar'"):
        dataset_search_paths("cifar")


def test_cache_dir_honours_xdg_cache_home_and_falls_back_to_home(env, monkeypatch):
    assert cache_dir("mnist") == env / "xdg" / "scratchnet" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == env / "home" / ".cache" / "scratchnet"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")  # the XDG spec says: ignore it
    assert cache_dir("fashion-mnist") == env / "home" / ".cache" / "scratchnet" / "fashion-mnist"


def test_precedence_path_then_env_then_data_folder_then_cache(env, monkeypatch):
    # one fake set per place, told apart by their number of training images
    make_fake(env / "own", n_train=6)
    make_fake(env / "data" / "mnist", n_train=7)
    make_fake(cache_dir("mnist"), n_train=8)
    make_fake(env / "explicit", n_train=9)
    monkeypatch.setenv("SCRATCHNET_MNIST", str(env / "own"))
    monkeypatch.setenv("SCRATCHNET_DATA", str(env / "data"))

    def n_train(**kw):
        return load_mnist(download=False, verify=False, **kw).X_train.shape[0]

    assert n_train(path=env / "explicit") == 9
    assert n_train() == 6
    monkeypatch.delenv("SCRATCHNET_MNIST")
    assert n_train() == 7
    monkeypatch.delenv("SCRATCHNET_DATA")
    assert n_train() == 8


def test_an_incomplete_folder_is_skipped(env, monkeypatch):
    make_fake(env / "own", n_train=6)
    (env / "own" / "t10k-labels-idx1-ubyte.gz").unlink()
    make_fake(cache_dir("mnist"), n_train=8)
    monkeypatch.setenv("SCRATCHNET_MNIST", str(env / "own"))
    assert load_mnist(download=False, verify=False).X_train.shape[0] == 8


def test_an_explicit_path_is_the_only_place_searched(env):
    make_fake(cache_dir("mnist"), n_train=8)
    (env / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist(env / "empty", download=False, verify=False)
    assert info.value.searched == [env / "empty"]


def test_not_found_message_says_where_to_put_the_files(env, monkeypatch):
    monkeypatch.setenv("SCRATCHNET_MNIST", str(env / "nowhere"))
    monkeypatch.setenv("SCRATCHNET_DATA", str(env / "data"))
    make_fake(env / "data" / "mnist")
    (env / "data" / "mnist" / "train-images-idx3-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(download=False)
    err = info.value
    assert isinstance(err, DatasetNotFoundError) and err.name == "mnist"
    message = str(err)
    assert err.searched == dataset_search_paths("mnist")
    positions = [message.index(str(folder)) for folder in err.searched]
    assert positions == sorted(positions)  # listed in search order
    assert f"{env / 'nowhere'}  ($SCRATCHNET_MNIST: no such folder)" in message
    assert "missing train-images-idx3-ubyte" in message
    for stem in STEMS:
        assert f"{stem}.gz" in message
    for var in ("SCRATCHNET_MNIST", "SCRATCHNET_DATA", "XDG_CACHE_HOME", "load_mnist(path=...)"):
        assert var in message
    assert "download=False" in message


def test_fashion_not_found_mentions_the_debian_package(env, monkeypatch):
    spec = replace(fetch._DATASETS["fashion-mnist"], system_dirs=(str(env / "no-system"),))
    monkeypatch.setitem(fetch._DATASETS, "fashion-mnist", spec)
    with pytest.raises(DatasetNotFoundError) as info:
        load_fashion_mnist(download=False)
    message = str(info.value)
    assert "SCRATCHNET_FASHION_MNIST" in message and "fashion-mnist/" in message
    assert str(env / "no-system") in message
    assert "apt-get install dataset-fashion-mnist" in message


# ----------------------------------------------------------------------------------------------
# file formats and options


def test_uncompressed_files_and_all_options(env):
    arrays, _ = make_fake(env / "raw", n_train=5, n_test=3, compress=False)
    X_train, y_train, X_test, y_test = load_mnist(
        env / "raw", download=False, verify=False, flatten=False, normalize=False, dtype="uint8"
    )
    np.testing.assert_array_equal(X_train, arrays[STEMS[0]])
    np.testing.assert_array_equal(y_test, arrays[STEMS[3]])
    assert X_test.shape == (3, 28, 28) and X_test.dtype == np.uint8
    assert y_train.dtype == np.int64
    split = load_mnist(env / "raw", download=False, verify=False, dtype="float64")
    assert split.X_test.shape == (3, 784) and split.X_test.dtype == np.float64
    np.testing.assert_array_equal(split.X_train, arrays[STEMS[0]].reshape(5, 784) / 255.0)
    assert split.X_train.min() == 0.0 and split.X_train.max() == 1.0
    with pytest.raises(ValueError, match="needs a floating dtype, got int32"):
        load_mnist(env / "raw", download=False, verify=False, dtype="int32")


def test_gzip_is_recognised_by_content_not_by_name(env):
    arrays, _ = make_fake(env / "d", compress=False)
    for stem in STEMS:  # uncompressed bytes under .gz names (as some browsers save them)
        (env / "d" / stem).rename(env / "d" / f"{stem}.gz")
    got = load_mnist(env / "d", download=False, verify=False, normalize=False, dtype="uint8")
    np.testing.assert_array_equal(got.X_train.reshape(-1, 28, 28), arrays[STEMS[0]])


def test_a_foreign_file_is_rejected_by_its_header_naming_the_file(env):
    make_fake(env / "d")  # valid IDX files, but not the real MNIST: refused from the header
    with pytest.raises(
        ValueError, match=r"train-images-idx3-ubyte\.gz: not the MNIST train-images-idx3-ubyte"
    ) as info:
        load_mnist(env / "d", download=False)
    assert "shape (6, 28, 28), where MNIST's holds a uint8 array of shape (60000, 28, 28)" in str(
        info.value
    )
    assert load_mnist(env / "d", download=False, verify=False).X_train.shape == (6, 784)


def test_checksum_mismatch_is_rejected_naming_the_file(env, monkeypatch):
    make_fake(env / "d")
    use_checksums(monkeypatch, "mnist", env / "d", t10k_labels_idx1_ubyte="0" * 32)
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte\.gz: checksum mismatch") as info:
        load_mnist(env / "d", download=False)
    assert "expected 00000000000000000000000000000000" in str(info.value)
    use_checksums(monkeypatch, "mnist", env / "d")
    assert load_mnist(env / "d", download=False).X_train.shape == (6, 784)


def test_truncated_files_are_rejected_naming_the_file(env):
    make_fake(env / "d", compress=False)
    images = env / "d" / "t10k-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-100])
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte: IDX file truncated"):
        load_mnist(env / "d", download=False, verify=False)

    make_fake(env / "g")
    labels = env / "g" / "train-labels-idx1-ubyte.gz"
    labels.write_bytes(labels.read_bytes()[:-12])  # cut inside the gzip stream
    with pytest.raises(
        ValueError, match=r"train-labels-idx1-ubyte\.gz: the gzip stream is damaged"
    ):
        load_mnist(env / "g", download=False, verify=False)


def test_inconsistent_labels_are_rejected(env):
    make_fake(env / "d", n_train=6)
    write_idx(env / "d" / "train-labels-idx1-ubyte.gz", np.zeros(5, np.uint8))
    with pytest.raises(ValueError, match=r"holds 6 images but .* holds 5 labels"):
        load_mnist(env / "d", download=False, verify=False)
    write_idx(env / "d" / "train-labels-idx1-ubyte.gz", np.full(6, 12, np.uint8))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 10\), found 12"):
        load_mnist(env / "d", download=False, verify=False)
    write_idx(env / "d" / "train-labels-idx1-ubyte.gz", np.zeros((6, 1), np.uint8))
    with pytest.raises(ValueError, match=r"expected uint8 labels of shape \(n,\)"):
        load_mnist(env / "d", download=False, verify=False)


# ----------------------------------------------------------------------------------------------
# downloads (from file:// mirrors or a replaced fetch; never the network)


@pytest.fixture
def mirror(env, monkeypatch):
    """A fake MNIST served from a file:// mirror behind an unreachable one; checksums match it."""
    arrays, md5 = make_fake(env / "mirror", n_train=9, n_test=3)
    gone = (env / "gone").as_uri() + "/"
    mirrors = [gone, (env / "mirror").as_uri() + "/"]
    use_checksums(monkeypatch, "mnist", env / "mirror", mirrors=mirrors)
    monkeypatch.setattr(fetch, "_fetch", REAL_FETCH)
    return arrays, md5


def test_download_fills_the_cache_then_loads_from_it(env, mirror, monkeypatch):
    arrays, _ = mirror
    split = load_mnist(normalize=False, flatten=False, dtype="uint8")
    np.testing.assert_array_equal(split.X_train, arrays[STEMS[0]])
    np.testing.assert_array_equal(split.y_test, arrays[STEMS[3]])
    assert files_under(env / "xdg") == sorted(f"{stem}.gz" for stem in STEMS)
    assert (cache_dir("mnist") / f"{STEMS[0]}.gz").stat().st_mode & 0o777 == 0o644

    def no_fetch(url, dest, timeout, **kw):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(fetch, "_fetch", no_fetch)
    np.testing.assert_array_equal(load_mnist(normalize=False, dtype="uint8").y_train, split.y_train)


def test_download_goes_to_an_explicit_path(env, mirror):
    split = load_mnist(env / "mine")
    assert split.X_train.shape == (9, 784)
    assert files_under(env / "mine") == sorted(f"{stem}.gz" for stem in STEMS)
    assert files_under(env / "xdg") == []


def test_a_download_failing_its_checksum_never_enters_the_cache(env, mirror, monkeypatch):
    spec = fetch._DATASETS["mnist"]
    use_checksums(
        monkeypatch, "mnist", env / "mirror", spec.mirrors, train_images_idx3_ubyte="0" * 32
    )
    with pytest.raises(DatasetNotFoundError, match="checksum mismatch"):
        load_mnist()
    kept = files_under(env / "xdg")
    assert kept == sorted(f"{stem}.gz" for stem in STEMS[1:])  # the three good files, no temp file


def test_an_interrupted_download_leaves_nothing_behind(env, mirror, monkeypatch):
    calls = []

    def broken(url, dest, timeout, **kw):
        calls.append(url)
        dest.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + bytes(1000))[:50])  # a partial body
        raise ConnectionResetError("connection reset by peer")

    monkeypatch.setattr(fetch, "_fetch", broken)
    with pytest.raises(DatasetNotFoundError, match="connection reset by peer"):
        load_mnist()
    assert calls and files_under(env / "xdg") == []
    assert not cache_dir("mnist").exists()


def test_unreachable_mirrors_fail_fast(env, monkeypatch):
    calls = []

    def unreachable(url, dest, timeout, **kw):
        calls.append((url, timeout))
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(fetch, "_fetch", unreachable)
    with pytest.raises(DatasetNotFoundError, match="Name or service not known"):
        load_mnist(timeout=2.5)
    mirrors = fetch._DATASETS["mnist"].mirrors
    assert [url for url, _ in calls] == [f"{m}{STEMS[0]}.gz" for m in mirrors]  # once each
    assert all(timeout == 2.5 for _, timeout in calls)


def test_offline_switch_stops_downloads(env, mirror, monkeypatch):
    monkeypatch.setenv("SCRATCHNET_OFFLINE", "1")
    calls = []
    monkeypatch.setattr(fetch, "_fetch", lambda *a, **kw: calls.append(a))
    with pytest.raises(DatasetNotFoundError, match="SCRATCHNET_OFFLINE is set"):
        load_mnist()
    assert calls == []


# ----------------------------------------------------------------------------------------------
# hostile mirrors: local HTTP servers on 127.0.0.1 that trickle, stall, flood or lie


class HostileMirror(http.server.BaseHTTPRequestHandler):
    """Serves the files of ``folder`` the way ``mode`` says; each server gets a subclass."""

    mode = "honest"
    folder: Path = Path()
    stop = threading.Event()

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        try:
            self.serve()
        except OSError:  # the client hung up: that is the point
            pass

    def pause(self, seconds: float) -> bool:
        """Sleep; False once the test is over."""
        return not self.stop.wait(seconds)

    def serve(self) -> None:
        body = (self.folder / self.path.rsplit("/", 1)[-1]).read_bytes()
        if self.mode == "silent":  # accepts the connection, never answers
            while self.pause(0.05):
                pass
            return
        if self.mode == "trickle-headers":  # a header line, one byte every 0.2 s
            self.wfile.write(b"HTTP/1.0 200 OK\r\nX-Slow: ")
            while self.pause(0.2):
                self.wfile.write(b"a")
                self.wfile.flush()
            return
        self.send_response(200)
        lengths = {"honest": len(body), "trickle": len(body), "long": 10**12, "short": 10}
        if self.mode in lengths:
            self.send_header("Content-Length", str(lengths[self.mode]))
        self.end_headers()
        if self.mode == "honest":
            self.wfile.write(body)
        elif self.mode == "trickle":  # the right file, one byte every 0.2 s
            for i in range(len(body)):
                if not self.pause(0.2):
                    return
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
        else:  # flood (no length), long or short: endless data, up to 1 GiB
            block = b"\xab" * (1 << 16)
            for _ in range(1 << 14):
                if self.stop.is_set():
                    return
                self.wfile.write(block)


@pytest.fixture
def hostile(env, monkeypatch):
    """``serve(mode)``: a fake MNIST served over HTTP on 127.0.0.1 by a mirror in ``mode``.

    The loader expects the fake set (its MD5s and sizes) and fetches only from that mirror; the
    real fetch function runs, wrapped to record each call's time and the bytes it wrote.
    """
    make_fake(env / "mirror", n_train=40, n_test=10)
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    stop = threading.Event()
    servers = []
    calls = []

    def recording_fetch(url, dest, timeout, **kw):
        start = time.perf_counter()
        try:
            return REAL_FETCH(url, dest, timeout, **kw)
        finally:
            written = dest.stat().st_size if dest.exists() else 0
            calls.append((url, written, time.perf_counter() - start))

    monkeypatch.setattr(fetch, "_fetch", recording_fetch)

    def serve(mode):
        handler = type(mode, (HostileMirror,), {"mode": mode, "folder": env / "mirror"})
        handler.stop = stop
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        server.block_on_close = False
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        url = f"http://127.0.0.1:{server.server_port}/"
        use_checksums(monkeypatch, "mnist", env / "mirror", mirrors=[url])
        return calls

    yield serve
    stop.set()
    for server in servers:
        server.shutdown()
        server.server_close()


def test_an_http_mirror_serving_the_files_works(env, hostile):
    calls = hostile("honest")
    split = load_mnist(env / "target", timeout=5.0)
    assert split.X_train.shape == (40, 784) and len(calls) == 4
    assert files_under(env / "target") == sorted(f"{stem}.gz" for stem in STEMS)


DEADLINE = 1.0  # seconds, for the tests below
SLACK = 1.0  # seconds allowed past it (thread scheduling on a loaded machine)


@pytest.mark.parametrize("mode", ["trickle", "trickle-headers", "silent"])
def test_a_slow_mirror_is_abandoned_at_the_deadline(env, hostile, mode):
    calls = hostile(mode)
    start = time.perf_counter()
    with pytest.raises(DatasetNotFoundError, match=r"not finished within its 1 s deadline"):
        load_mnist(env / "cache" / "mnist", timeout=DEADLINE)
    elapsed = time.perf_counter() - start
    assert elapsed < DEADLINE + SLACK, elapsed
    assert len(calls) == 1  # a mirror past its deadline is not tried for the other files
    (_, written, seconds) = calls[0]
    assert DEADLINE - 0.1 < seconds < DEADLINE + SLACK
    assert written <= fetch._DATASETS["mnist"].files[0].size
    assert not (env / "cache").exists()  # no partial file, no empty folder


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("flood", "sent more than the"),  # no Content-Length, endless data
        ("long", r"sent a Content-Length of 1000000000000 bytes, more than the"),
        ("short", "not an IDX file"),  # claims 10 bytes and sends endless data: 10 are read
    ],
)
def test_a_flooding_or_lying_mirror_is_cut_off_at_the_known_size(env, hostile, mode, message):
    calls = hostile(mode)
    (env / "mine").mkdir()  # a folder the user made stays, empty or not
    start = time.perf_counter()
    with pytest.raises(DatasetNotFoundError, match=message):
        load_mnist(env / "mine" / "mnist" / "deep", timeout=10.0)
    assert time.perf_counter() - start < 5.0
    assert len(calls) == 4  # each file refused, none timed out
    sizes = {f"{f.stem}.gz": f.size for f in fetch._DATASETS["mnist"].files}
    for url, written, _ in calls:
        assert written <= sizes[url.rsplit("/", 1)[-1]]  # never past the known size
    assert (env / "mine").is_dir() and not any((env / "mine").iterdir())


def test_a_trickled_tls_handshake_is_bounded_by_the_deadline(tmp_path):
    pytest.importorskip("ssl", reason="Python without ssl")
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def trickle():  # the start of a TLS record announcing 16 KiB, one byte every 0.2 s
        conn, _ = listener.accept()
        with conn:
            conn.recv(4096)  # the client hello
            for byte in b"\x16\x03\x03\x40\x00\x02" + bytes(100):
                if stop.wait(0.2):
                    return
                try:
                    conn.send(bytes([byte]))
                except OSError:
                    return

    threading.Thread(target=trickle, daemon=True).start()
    url = f"https://127.0.0.1:{listener.getsockname()[1]}/x.gz"
    start = time.perf_counter()
    try:
        with pytest.raises(TimeoutError, match="not finished within its 1 s deadline"):
            REAL_FETCH(url, tmp_path / "x", DEADLINE, max_bytes=100)
    finally:
        stop.set()
        listener.close()
    assert time.perf_counter() - start < DEADLINE + SLACK


def test_a_response_announcing_too_much_is_refused_before_its_body(env, tmp_path):
    body = tmp_path / "big"
    body.write_bytes(bytes(5000))
    dest = tmp_path / "dest"
    with pytest.raises(ValueError, match="Content-Length of 5000 bytes, more than the 4999"):
        REAL_FETCH(body.as_uri(), dest, 5.0, max_bytes=4999)
    assert dest.stat().st_size == 0
    assert REAL_FETCH(body.as_uri(), dest, 5.0, max_bytes=5000) == 5000


def test_an_interrupt_leaves_no_partial_file_and_no_empty_folder(env, mirror, monkeypatch):
    def interrupted(url, dest, timeout, **kw):
        dest.write_bytes(b"\x1f\x8b partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(fetch, "_fetch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        load_mnist()
    assert files_under(env / "xdg") == [] and not (env / "xdg").exists()


# ----------------------------------------------------------------------------------------------
# digits and the real-data chooser


def test_digits_split(env):
    pytest.importorskip("sklearn", reason="scikit-learn is not installed")
    X_train, y_train, X_test, y_test = load_digits()
    assert X_train.shape == (1347, 64) and X_test.shape == (450, 64)
    assert X_train.dtype == np.float32 and y_train.dtype == np.int64
    assert X_train.min() == 0.0 and X_train.max() == 1.0
    assert set(y_test.tolist()) == set(range(10))  # stratified: every class is held out
    np.testing.assert_array_equal(load_digits().y_test, y_test)
    assert not np.array_equal(load_digits(seed=1).y_test, y_test)
    assert load_digits(test_size=0.5, dtype="float64").X_test.dtype == np.float64


def test_digits_without_sklearn_names_the_extra(env, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"pip install 'scratchnet\[examples\]'"):
        load_digits()
    with pytest.raises(ImportError, match="MNIST was not found") as info:
        load_real_dataset("auto", download=False)
    assert "scratchnet[examples]" in str(info.value)


def test_auto_falls_back_to_digits(env, monkeypatch):
    pytest.importorskip("sklearn", reason="scikit-learn is not installed")
    tried = []

    def unreachable(url, dest, timeout, **kw):
        tried.append(url)
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(fetch, "_fetch", unreachable)
    X_train, y_train, X_test, y_test, info = load_real_dataset()
    assert tried  # a download was attempted before falling back
    assert info.name == "digits" and info.source == "scikit-learn"
    assert "MNIST was not found locally and could not be downloaded" in str(info)
    assert X_train.shape == (1347, 64) and X_test.shape == (450, 64)
    assert y_train.shape == (1347,) and y_test.shape == (450,)


def test_named_real_sets(env, monkeypatch):
    make_fake(env / "fashion", n_train=5, n_test=2)
    use_checksums(monkeypatch, "fashion-mnist", env / "fashion")
    monkeypatch.setenv("SCRATCHNET_FASHION_MNIST", str(env / "fashion"))
    X_train, _, X_test, _, info = load_real_dataset("fashion_mnist", download=False)
    assert info.name == "fashion-mnist" and X_train.shape == (5, 784) and X_test.shape == (2, 784)
    assert str(info).startswith("Fashion-MNIST Zalando clothing images: 5 training and 2 test")
    with pytest.raises(DatasetNotFoundError):
        load_real_dataset("mnist", download=False)
    with pytest.raises(ValueError, match="name must be one of"):
        load_real_dataset("cifar10")
    with pytest.raises(ValueError, match="not to 'digits'"):
        load_real_dataset("digits", path=env)


# ----------------------------------------------------------------------------------------------
# toy sets

TOYS = {
    "xor": (make_xor, 2),
    "moons": (make_moons, 2),
    "circles": (make_circles, 2),
    "spirals": (make_spirals, 3),
}


@pytest.mark.parametrize("name", sorted(TOYS))
@pytest.mark.parametrize("n", [101, 200])
def test_toy_shapes_dtypes_and_balance(name, n):
    make, k = TOYS[name]
    X, y = make(n_samples=n, seed=3)
    assert X.shape == (n, 2) and X.dtype == np.float64
    assert y.shape == (n,) and y.dtype == np.int64
    counts = np.bincount(y, minlength=k)
    assert counts.size == k and counts.max() - counts.min() <= 1
    assert np.isfinite(X).all()
    assert len(set(y[:20].tolist())) > 1  # shuffled, not grouped by class


@pytest.mark.parametrize("name", sorted(TOYS))
def test_toys_are_deterministic_by_seed(name):
    make, _ = TOYS[name]
    X0, y0 = make(seed=7)
    X1, y1 = make(seed=7)
    np.testing.assert_array_equal(X0, X1)
    np.testing.assert_array_equal(y0, y1)
    X2, _ = make(seed=8)
    assert not np.array_equal(X0, X2)
    X3, _ = make(seed=np.random.default_rng(7))
    np.testing.assert_array_equal(X0, X3)


def test_xor_without_noise_is_the_truth_table():
    X, y = make_xor(400, noise=0.0, seed=0)
    assert set(map(tuple, X.tolist())) == {(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)}
    np.testing.assert_array_equal(y, np.logical_xor(X[:, 0], X[:, 1]).astype(np.int64))
    Xn, _ = make_xor(400, noise=0.1, seed=0)
    assert 0.05 < np.std(Xn - np.round(Xn)) < 0.15


def test_moons_and_circles_geometry_without_noise():
    X, y = make_moons(60, noise=0.0, shuffle=False)
    assert y.tolist() == [0] * 30 + [1] * 30
    np.testing.assert_allclose(np.hypot(X[y == 0, 0], X[y == 0, 1]), 1.0)
    assert (X[y == 0, 1] >= 0).all()
    np.testing.assert_allclose(np.hypot(X[y == 1, 0] - 1, X[y == 1, 1] - 0.5), 1.0)
    assert (X[y == 1, 1] <= 0.5 + 1e-12).all()
    X, y = make_circles(61, noise=0.0, factor=0.3)
    radius = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(radius[y == 0], 1.0)
    np.testing.assert_allclose(radius[y == 1], 0.3)
    assert np.bincount(y).tolist() == [30, 31]


def test_spirals_keep_their_radius_under_angle_noise():
    X, y = make_spirals(250, n_classes=5, noise=0.3, seed=1, shuffle=False)
    assert np.bincount(y).tolist() == [50] * 5
    radius = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(radius, np.tile(np.arange(1, 51) / 50, 5))
    X0, _ = make_spirals(250, n_classes=5, noise=0.0, shuffle=False)
    angle = np.arctan2(X0[:, 0], X0[:, 1])  # points are r (sin t, cos t)
    expected = 4 * radius + 2 * np.pi * np.repeat(np.arange(5), 50) / 5
    np.testing.assert_allclose(np.angle(np.exp(1j * (angle - expected))), 0.0, atol=1e-12)


@pytest.mark.parametrize(
    ("make", "kwargs", "message"),
    [
        (make_xor, {"n_samples": 0}, "n_samples must be an int >= 1"),
        (make_moons, {"n_samples": 1}, "n_samples must be >= 2"),
        (make_moons, {"n_samples": True}, "n_samples must be an int >= 1"),
        (make_circles, {"noise": -0.1}, "noise must be >= 0"),
        (make_circles, {"factor": 1.0}, "factor must be < 1"),
        (make_spirals, {"n_classes": 1}, "n_classes must be >= 2"),
        (make_spirals, {"n_samples": 4, "n_classes": 5}, "n_samples must be >= 5"),
    ],
)
def test_toy_arguments_are_checked(make, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make(**kwargs)

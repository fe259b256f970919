"""Hostile model files, built at test time: each is refused fast, cheaply, and by its true name.

Every file here is forged from a small trained model by the helpers below: configurations that
claim huge layers, JSON nested 10,000 deep or megabytes long, zip and gzip bombs, ``.npy`` headers
that lie, manifests and optimiser slots that lie, duplicate and unexpected members, damaged zip
directories, truncations and random byte flips. Each must raise the documented exception
(`ValueError` for bad content, an `OSError` subclass for problems of the file system) with a message
naming the file, allocating (``tracemalloc`` peak) less than `memory_limit` of the file's size;
``docs/security.md`` states this bound. The memory bound is what keeps a hostile file cheap (a
bomb that were decompressed or a lying header that were believed would allocate its claim); the
refusal times are measured and reported, not asserted, since wall-clock time on a shared machine
is noise.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scratchnet as sn
from scratchnet import io as sio

MiB = 2**20


def memory_limit(size: int) -> int:
    """The most a refused load may allocate: 4 x the file's size plus 4 MiB (docs/security.md)."""
    return 4 * size + 4 * MiB


# ----------------------------------------------------------------------------------------------
# the base model and forging helpers
@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A small trained model with every kind of array (BatchNorm state, Adam slots), saved."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(24, 4)), rng.integers(0, 3, size=24)
    model = sn.Model(hidden=(8,), batch_norm=True, dropout=0.1, seed=0)
    model.fit(X, y, epochs=2, batch_size=8, optimizer="adam")
    path = tmp_path_factory.mktemp("base") / "base.npz"
    model.save(path)
    config, arrays = sio.read_archive(path)
    sn.load(path)  # warm up: backends and imports are loaded once, outside the measurements
    return {"path": path, "bytes": path.read_bytes(), "config": config, "arrays": arrays}


def _sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def forge(path: Path, config: dict, arrays: dict, raw: bytes | None = None) -> Path:
    """A file whose manifest matches its arrays, so only the configuration's content lies."""
    config = dict(config)
    config["arrays"] = {
        k: {"shape": list(a.shape), "dtype": str(a.dtype), "sha256": _sha(a)}
        for k, a in arrays.items()
    }
    raw = json.dumps(config).encode() if raw is None else raw
    with open(path, "wb") as fh:
        np.savez(fh, __config__=np.frombuffer(raw, dtype=np.uint8), **arrays)
    return path


def with_json(config: dict, arrays: dict, tail: str) -> bytes:
    """The configuration's JSON (manifest included) with ``tail`` spliced in as one more key."""
    config = dict(config)
    config["arrays"] = {
        k: {"shape": list(a.shape), "dtype": str(a.dtype), "sha256": _sha(a)}
        for k, a in arrays.items()
    }
    return (json.dumps(config)[:-1] + ", " + tail + "}").encode()


def npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, a)
    return buf.getvalue()


def npy_raw(header: bytes, data: bytes = b"", version: bytes = b"\x01\x00") -> bytes:
    """A ``.npy`` member with a hand-written header (padded as NumPy pads it)."""
    text = header + b" " * (-(len(header) + 11) % 64) + b"\n"
    size = struct.pack("<H", len(text)) if version == b"\x01\x00" else struct.pack("<I", len(text))
    return b"\x93NUMPY" + version + size + text + data


def zip_of(path: Path, members: list[tuple[str, bytes]], method=zipfile.ZIP_STORED) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are the point of some files
        with zipfile.ZipFile(path, "w", compression=method) as zf:
            for name, data in members:
                zf.writestr(name, data)
    return path


def members_of(base) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(base["path"]) as zf:
        return [(i.filename, zf.read(i)) for i in zf.infolist()]


def replace_member(base, name: str, data: bytes) -> list[tuple[str, bytes]]:
    return [(n, data if n == name else d) for n, d in members_of(base)]


def central_entries(data: bytes) -> list[tuple[int, str]]:
    """(offset of each central directory entry, its name) of a zip in memory."""
    count, _, cd_offset = struct.unpack_from("<HLL", data, len(data) - 12)
    out, pos = [], cd_offset
    for _ in range(count):
        n, m, k = struct.unpack_from("<3H", data, pos + 28)
        out.append((pos, data[pos + 46 : pos + 46 + n].decode()))
        pos += 46 + n + m + k
    return out


def patched(base, edits) -> bytes:
    """The base file's bytes with ``edits(bytearray, central entries)`` applied."""
    data = bytearray(base["bytes"])
    edits(data, central_entries(bytes(data)))
    return bytes(data)


def config_edit(fn):
    """A builder: the base configuration and arrays, copied, edited by ``fn``, then forged."""

    def build(base, path):
        config, arrays = copy.deepcopy(base["config"]), dict(base["arrays"])
        fn(config, arrays)
        return forge(path, config, arrays)

    return build


def raw_json(fn):
    """A builder whose configuration bytes are ``fn(config, arrays)`` (JSON or not)."""

    def build(base, path):
        config, arrays = copy.deepcopy(base["config"]), dict(base["arrays"])
        return forge(path, config, arrays, raw=fn(config, arrays))

    return build


def bytes_of(fn):
    """A builder writing ``fn(base)`` (bytes) to the file."""

    def build(base, path):
        path.write_bytes(fn(base))
        return path

    return build


def zipped(fn, method=zipfile.ZIP_STORED):
    """A builder zipping the members ``fn(base)`` returns."""

    def build(base, path):
        return zip_of(path, fn(base), method)

    return build


# ----------------------------------------------------------------------------------------------
# the corpus: id -> (builder, expected exception, a phrase the message must hold)
def _units(n):
    def edit(c, a):
        c["layers"][0]["config"]["units"] = n
        c["model"]["hidden"] = [n]

    return edit


def _set(*keys, value):
    def edit(c, a):
        target = c
        for k in keys[:-1]:
            target = target[k]
        target[keys[-1]] = value

    return edit


def _drop(*keys):
    def edit(c, a):
        target = c
        for k in keys[:-1]:
            target = target[k]
        del target[keys[-1]]

    return edit


def _thousands_of_layers(c, a):
    c["layers"][-1:-1] = [{"kind": "activation", "config": {"activation": "relu"}}] * 5000


def _huge_output(c, a):
    c["layers"][-1]["config"]["units"] = 10**12
    c["n_outputs"] = 10**12


def _thousand_thin_dense(c, a):  # within the layer bound, but no arrays for them
    c["layers"][-1:-1] = [{"kind": "dense", "config": {"units": 10**6}}] * 900
    c["model"]["custom_layers"] = True


def _slot_shape_lies(c, a):
    a["optimizer/dense1.B/m"] = np.zeros((4, 9), dtype=np.float32)


def _slot_for_ghost(c, a):
    c["training"]["optimizer"]["slots"]["ghost.B"] = ["m", "v"]


def _slot_missing(c, a):
    del a["optimizer/dense1.B/m"]


def _slot_unlisted(c, a):
    a["optimizer/dense1.B/z"] = np.zeros((4, 8), dtype=np.float32)


def _slot_names_lie(c, a):
    c["training"]["optimizer"]["slots"]["dense1.B"] = ["m"]
    del a["optimizer/dense1.B/v"]


def _param_dtype_lies(c, a):
    for k in list(a):
        a[k] = a[k].astype(np.float64)


def _param_missing(c, a):
    del a["param/dense2.c"]


def _param_extra(c, a):
    a["param/ghost.B"] = np.zeros((2, 2), dtype=np.float32)


def _state_shape_lies(c, a):
    a["state/batchnorm1.running_var"] = np.ones(9, dtype=np.float32)


def _param_huge_claim(c, a):  # B as big as the claim would be, if the file held it: it does not
    a["param/dense1.B"] = np.zeros((4, 1), dtype=np.float32)


def _duplicate_names(c, a):
    c["layers"][2]["config"]["name"] = "batchnorm1"


def _manifest(fn):
    def build(base, path):
        config, arrays = copy.deepcopy(base["config"]), dict(base["arrays"])
        fn(config["arrays"])
        raw = json.dumps(config).encode()
        with open(path, "wb") as fh:
            np.savez(fh, __config__=np.frombuffer(raw, dtype=np.uint8), **arrays)
        return path

    return build


def _deep(n):
    return raw_json(lambda c, a: with_json(c, a, '"deep": ' + "[" * n + "]" * n))


def _dense_json(c, a):
    return with_json(c, a, '"pad": [' + ",".join(["{}"] * (3 * MiB // 3)) + "]")


def _bomb(base):
    """A deflated member of 1.3 GB of zeros in a 1.3 MB file, with a true CRC."""
    block, n = bytes(MiB), 1300
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(block) + c.flush(zlib.Z_SYNC_FLUSH)
    again = c.compress(block) + c.flush(zlib.Z_SYNC_FLUSH)  # decodes to 1 MiB after zeros
    stream = first + again * (n - 1) + c.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(n):
        crc = zlib.crc32(block, crc)
    name = b"param/dense1.B.npy"
    local = struct.pack("<4s2B4HL2L2H", b"PK\x03\x04", 20, 0, 0, 8, 0, 0, crc, len(stream),
                        n * MiB, len(name), 0)  # fmt: skip
    central = struct.pack("<4s4B4HL2L5H2L", b"PK\x01\x02", 20, 3, 20, 0, 0, 8, 0, 0, crc,
                          len(stream), n * MiB, len(name), 0, 0, 0, 0, 0, 0)  # fmt: skip
    body = local + name + stream
    cd = central + name
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(cd), len(body), 0)
    return body + cd + end


def _header_lie(header: bytes, data: bytes = b"", version: bytes = b"\x01\x00"):
    return zipped(lambda b: replace_member(b, "param/dense2.c.npy", npy_raw(header, data, version)))


def _central(field_offset: int, fmt: str, value, member="param/dense2.c.npy"):
    def edits(data, entries):
        for pos, name in entries:
            if name == member:
                struct.pack_into(fmt, data, pos + field_offset, *value)

    return bytes_of(lambda b: patched(b, edits))


def _eocd(field_offset: int, fmt: str, value):
    def fn(b):
        data = bytearray(b["bytes"])
        struct.pack_into(fmt, data, len(data) - 22 + field_offset, *value)
        return bytes(data)

    return bytes_of(fn)


def _overlap(b):
    def edits(data, entries):
        first = struct.unpack_from("<L", data, entries[0][0] + 42)[0]
        struct.pack_into("<L", data, entries[1][0] + 42, first + 40)

    return patched(b, edits)


def _flip_data(b):
    data = bytearray(b["bytes"])
    with zipfile.ZipFile(b["path"]) as zf:
        info = zf.getinfo("param/dense2.B.npy")
    data[info.header_offset + 30 + len(info.filename) + 20 + 128 + 3] ^= 0x40
    return bytes(data)


def _many_members(b):
    return [*members_of(b), *((f"param/x{i}.npy", b"") for i in range(sio.MAX_MEMBERS))]


def _deepest_legal(base, path):
    """The largest legitimate stack (1000 layers of width 1, Adam slots for each), whose training
    state fails at the very end, after the model was built: the costliest refusal there is."""
    rng = np.random.default_rng(0)
    model = sn.Model(hidden=(1,) * 499, seed=0)
    model.fit(rng.normal(size=(8, 3)), np.arange(8) % 2, epochs=1, optimizer="adam")
    config, arrays = model.serialize()
    config["training"]["history"] = {"history": {"loss": [{}]}}
    config.update(format=sio.FORMAT_NAME, format_version=sio.FORMAT_VERSION)
    return forge(path, config, arrays)


def _tiny_members(base):
    """As many members as allowed, each the smallest valid array, none in the manifest."""
    empty = npy_raw(b"{'descr':'|u1','fortran_order':False,'shape':(0,)}")
    extra = sio.MAX_MEMBERS - len(members_of(base))
    return [*members_of(base), *((f"param/{i}.npy", empty) for i in range(extra))]


def _at_the_allowance(item: str):
    """A configuration padded with ``item`` (formatted with its index) until its parse takes
    nearly all a file of its size may take, then refused after building (a bad history): the
    costliest JSON there is, for three shapes of JSON."""

    def build(base, path):
        config, arrays = copy.deepcopy(base["config"]), dict(base["arrays"])
        config["training"]["history"] = {"history": {"loss": [{}]}}
        members = len(arrays) + 1

        def raw(n):
            return with_json(
                config, arrays, '"pad": [' + ",".join(item % i for i in range(n)) + "]"
            )

        n = 1000
        while sio._json_problem(raw(2 * n), sio._json_allowance(len(raw(2 * n)), members)) is None:
            n *= 2
        low, high = n, 2 * n  # the file grows by about the raw text; bisect on that
        while high - low > max(1, low // 200):
            mid = (low + high) // 2
            ok = sio._json_problem(raw(mid), sio._json_allowance(len(raw(mid)), members))
            low, high = (mid, high) if ok is None else (low, mid)
        return forge(path, config, arrays, raw=raw(low))

    return build


def _c(builder, exc=ValueError, phrase=""):
    return builder, exc, phrase


HOSTILE = {
    # configurations that claim more than the file holds
    "units-25e6": _c(config_edit(_units(25_000_000)), phrase="do not fit the layer stack"),
    "units-1e12": _c(config_edit(_units(10**12)), phrase="do not fit the layer stack"),
    "output-units-1e12": _c(config_edit(_huge_output), phrase="do not fit the layer stack"),
    "n-features-1e12": _c(config_edit(_set("n_features", value=10**12)), phrase="expected (10"),
    "n-features-25e6": _c(config_edit(_set("n_features", value=25 * 10**6)), phrase="do not fit"),
    "b-smaller-than-claim": _c(config_edit(_param_huge_claim), phrase="expected (4, 8)"),
    "5000-layers": _c(config_edit(_thousands_of_layers), phrase="at most 1000"),
    "900-dense-of-1e6": _c(config_edit(_thousand_thin_dense), phrase="do not fit"),
    "1000-layers-failing-last": _c(_deepest_legal, phrase="training state"),
    "hidden-million": _c(config_edit(_set("model", "hidden", value=[1] * 10**6))),
    "hidden-lies": _c(config_edit(_set("model", "hidden", value=[25_000_000])), phrase="hidden="),
    "units-zero": _c(config_edit(_set("layers", 0, "config", "units", value=0)), phrase="units"),
    "units-float": _c(
        config_edit(_set("layers", 0, "config", "units", value=1e12)), phrase="units"
    ),
    "units-str": _c(config_edit(_set("layers", 0, "config", "units", value="8"))),
    "n-features-bool": _c(config_edit(_set("n_features", value=True)), phrase="n_features"),
    "n-features-negative": _c(config_edit(_set("n_features", value=-4)), phrase="n_features"),
    "layers-not-a-list": _c(config_edit(_set("layers", value={"kind": "dense"}))),
    "layers-empty": _c(config_edit(_set("layers", value=[]))),
    "layer-not-a-dict": _c(config_edit(_set("layers", 0, value="dense"))),
    "layer-unknown-kind": _c(
        config_edit(_set("layers", 0, "kind", value="os.system")), phrase="unknown layer type"
    ),
    "layer-without-config": _c(config_edit(_drop("layers", 0, "config"))),
    "unknown-activation": _c(
        config_edit(_set("layers", 2, "config", "activation", value="eval")),
        phrase="unknown activation",
    ),
    "duplicate-layer-names": _c(config_edit(_duplicate_names), phrase="unique"),
    "no-model-section": _c(config_edit(_drop("model")), phrase="lacks"),
    "model-dtype-float16": _c(config_edit(_set("model", "dtype", value="float16")), phrase="dtype"),
    "backend-unknown": _c(
        config_edit(_set("backend", value="os.system")), phrase="unknown backend"
    ),
    "backend-not-a-name": _c(config_edit(_set("backend", value=5)), phrase="backend"),
    # arrays and optimiser slots that do not fit the stack
    "slot-shape-lies": _c(config_edit(_slot_shape_lies), phrase="optimizer state"),
    "slot-for-unknown-parameter": _c(config_edit(_slot_for_ghost), phrase="unknown parameter"),
    "slot-missing": _c(config_edit(_slot_missing), phrase="missing"),
    "slot-unlisted": _c(config_edit(_slot_unlisted), phrase="does not have"),
    "slot-names-lie": _c(config_edit(_slot_names_lie), phrase="per parameter"),
    "slots-not-a-dict": _c(config_edit(_set("training", "optimizer", "slots", value=[1]))),
    "optimizer-unknown": _c(
        config_edit(_set("training", "optimizer", "name", value="evil")), phrase="unknown optimizer"
    ),
    "parameters-float64-in-float32-model": _c(config_edit(_param_dtype_lies), phrase="dtype"),
    "parameter-missing": _c(config_edit(_param_missing), phrase="missing"),
    "parameter-extra": _c(config_edit(_param_extra), phrase="does not have"),
    "state-shape-lies": _c(config_edit(_state_shape_lies), phrase="expected (8,)"),
    # training state
    "epochs-done-str": _c(
        config_edit(_set("training", "epochs_done", value="x")), phrase="training state"
    ),
    "shuffle-rng-garbage": _c(
        config_edit(_set("training", "shuffle_rng", value={"bit_generator": "MT19937"})),
        phrase="training state",
    ),
    "device-rng-garbage": _c(
        config_edit(_set("training", "device_rng", "state", value={"host": 5})),
        phrase="training state",
    ),
    "history-garbage": _c(
        config_edit(_set("training", "history", value={"history": {"loss": [{}]}})),
        phrase="training state",
    ),
    "training-a-list": _c(config_edit(_set("training", value=[1, 2])), phrase="does not have"),
    # format and manifest
    "format-foreign": _c(
        config_edit(_set("format", value="keras")), phrase="not a scratchnet model file"
    ),
    "format-version-2": _c(config_edit(_set("format_version", value=2)), phrase="format version 2"),
    "format-version-true": _c(
        config_edit(_set("format_version", value=True)), phrase="format version True"
    ),
    "manifest-shape-lies": _c(
        _manifest(lambda m: m["param/dense2.c"].update(shape=[4])), phrase="has shape"
    ),
    "manifest-dtype-lies": _c(
        _manifest(lambda m: m["param/dense2.c"].update(dtype="float64")), phrase="dtype"
    ),
    "manifest-checksum-lies": _c(
        _manifest(lambda m: m["param/dense2.c"].update(sha256="0" * 64)),
        phrase="fails its checksum",
    ),
    "manifest-checksum-not-hex": _c(
        _manifest(lambda m: m["param/dense2.c"].update(sha256="../x")), phrase="checksum"
    ),
    "manifest-entry-missing": _c(
        _manifest(lambda m: m.pop("param/dense2.c")), phrase="do not match its manifest"
    ),
    "manifest-entry-extra": _c(
        _manifest(lambda m: m.update({"param/x": m["param/dense2.c"]})),
        phrase="do not match its manifest",
    ),
    "manifest-entry-not-a-dict": _c(
        _manifest(lambda m: m.update({"param/dense2.c": 7})), phrase="malformed"
    ),
    "manifest-not-a-dict": _c(_manifest(lambda m: m.clear()), phrase="do not match its manifest"),
    # JSON
    "json-nested-10000": _c(_deep(10_000), phrase="levels deep"),
    "json-nested-65": _c(_deep(65), phrase="levels deep"),
    "json-5-mib-long": _c(
        raw_json(lambda c, a: with_json(c, a, '"pad": "' + "x" * (5 * MiB) + '"')), phrase="at most"
    ),
    "json-3-mib-of-objects": _c(raw_json(_dense_json), phrase="to parse"),
    "json-at-the-allowance-objects": _c(_at_the_allowance('{"a%d": 0}'), phrase="training state"),
    "json-at-the-allowance-strings": _c(_at_the_allowance('"s%d"'), phrase="training state"),
    "json-at-the-allowance-lists": _c(_at_the_allowance("[%d.5]"), phrase="training state"),
    "json-5000-digit-int": _c(
        raw_json(lambda c, a: with_json(c, a, '"n": ' + "9" * 5000)), phrase="unreadable"
    ),
    "json-invalid": _c(raw_json(lambda c, a: json.dumps(c).encode()[:-10]), phrase="unreadable"),
    "json-not-utf8": _c(raw_json(lambda c, a: b'{"a": "\xff\xfe"}'), phrase="unreadable"),
    "json-a-list": _c(raw_json(lambda c, a: b"[1, 2, 3]"), phrase="not a scratchnet model file"),
    "json-unbalanced": _c(raw_json(lambda c, a: b"]]]]{}"), phrase="unbalanced"),
    # bombs
    "zip-bomb-1.3-gb": _c(bytes_of(_bomb), phrase="compressed"),
    "deflated-members": _c(zipped(members_of, zipfile.ZIP_DEFLATED), phrase="compressed"),
    "gzip-bomb": _c(
        bytes_of(lambda b: gzip.compress(bytes(64 * MiB), 9)), phrase="not a scratchnet model file"
    ),
    "stored-size-lies-1.3-gb": _c(
        _central(20, "<2L", (1300 * MiB, 1300 * MiB)), phrase="outside|does not match"
    ),
    # .npy headers that lie
    "npy-shape-2**40": _c(
        _header_lie(
            b"{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776,), }", bytes(12)
        ),
        phrase="declares shape",
    ),
    "npy-shape-too-small": _c(
        _header_lie(b"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", bytes(12)),
        phrase="declares shape",
    ),
    "npy-shape-negative": _c(
        _header_lie(b"{'descr': '<f4', 'fortran_order': False, 'shape': (-3,), }", bytes(12)),
        phrase="format",
    ),
    "npy-shape-overflows-int64": _c(
        _header_lie(
            b"{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }"
        ),
        phrase="declares shape",
    ),
    "npy-shape-33-dims": _c(
        _header_lie(
            b"{'descr': '<f4', 'fortran_order': False, 'shape': (" + b"1, " * 33 + b"), }", bytes(4)
        ),
        phrase="dimensions",
    ),
    "npy-shape-zero-product": _c(
        _header_lie(
            b"{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 0), }"
        ),
        phrase="has shape",
    ),
    "npy-fortran-order-maybe": _c(
        _header_lie(b"{'descr': '<f4', 'fortran_order': 'maybe', 'shape': (3,), }", bytes(12)),
        phrase="format",
    ),
    "npy-descr-complex": _c(
        _header_lie(b"{'descr': '<c16', 'fortran_order': False, 'shape': (3,), }", bytes(48)),
        phrase="dtype",
    ),
    "npy-descr-object": _c(
        _header_lie(
            b"{'descr': '|O', 'fortran_order': False, 'shape': (3,), }", pickle.dumps([1, 2, 3])
        ),
        phrase="pickled object",
    ),
    "npy-descr-structured": _c(
        _header_lie(
            b"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), }", bytes(12)
        ),
        phrase="format",
    ),
    "npy-header-python": _c(
        _header_lie(b"__import__('os').system('true')", bytes(12)), phrase="format"
    ),
    "npy-header-deep": _c(
        _header_lie(b"{'descr': " + b"(" * 2000 + b")" * 2000 + b"}"), phrase="format"
    ),
    "npy-header-length-65535": _c(
        zipped(
            lambda b: replace_member(
                b, "param/dense2.c.npy", b"\x93NUMPY\x01\x00\xff\xff" + bytes(20)
            )
        ),
        phrase="header of 65535",
    ),
    "npy-header-length-4-gib": _c(
        zipped(
            lambda b: replace_member(
                b, "param/dense2.c.npy", b"\x93NUMPY\x02\x00\xff\xff\xff\xff" + bytes(20)
            )
        ),
        phrase="header of 4294967295",
    ),
    "npy-version-9": _c(
        zipped(
            lambda b: replace_member(b, "param/dense2.c.npy", b"\x93NUMPY\x09\x09" + bytes(120))
        ),
        phrase="not a .npy",
    ),
    "npy-magic-wrong": _c(
        zipped(lambda b: replace_member(b, "param/dense2.c.npy", b"PK\x03\x04" + bytes(140))),
        phrase="not a .npy",
    ),
    "npy-empty": _c(
        zipped(lambda b: replace_member(b, "param/dense2.c.npy", b"")), phrase="too short"
    ),
    "config-not-bytes": _c(
        zipped(lambda b: replace_member(b, "__config__.npy", npy(np.zeros(3)))),
        phrase="malformed __config__",
    ),
    # members
    "duplicate-member": _c(zipped(lambda b: [*members_of(b), members_of(b)[1]]), phrase="twice"),
    "member-evil-py": _c(
        zipped(lambda b: [*members_of(b), ("evil.py", b"import os")]), phrase="unexpected member"
    ),
    "member-path-traversal": _c(
        zipped(lambda b: [*members_of(b), ("../../etc/passwd.npy", npy(np.zeros(1)))]),
        phrase="unexpected member",
    ),
    "member-param-traversal": _c(
        zipped(lambda b: [*members_of(b), ("param/../../x.npy", npy(np.zeros(1)))]),
        phrase="manifest",
    ),
    "member-folder": _c(
        zipped(lambda b: [*members_of(b), ("param/", b"")]), phrase="unexpected member"
    ),
    "member-name-2000-bytes": _c(
        zipped(lambda b: [*members_of(b), ("param/" + "x" * 2000 + ".npy", b"")]),
        phrase="member name",
    ),
    "member-nested-zip": _c(
        zipped(lambda b: [*members_of(b), ("param/inner.npy", b["bytes"])]), phrase="not a .npy"
    ),
    "no-config": _c(zipped(lambda b: members_of(b)[1:]), phrase="no __config__"),
    "empty-zip": _c(zipped(lambda b: []), phrase="no __config__"),
    "10000-members": _c(zipped(_many_members), phrase="at most 10000"),
    "9999-tiny-members": _c(zipped(_tiny_members), phrase="do not match its manifest"),
    # damaged zip structure
    "crc-mismatch": _c(bytes_of(_flip_data), phrase="CRC-32"),
    "encrypted-flag": _c(_central(8, "<H", (1,)), phrase="encrypted"),
    "data-descriptor-flag": _c(_central(8, "<H", (8,)), phrase="inconsistent sizes"),
    "method-deflate-claimed": _c(_central(10, "<H", (8,)), phrase="compressed"),
    "member-offset-beyond-file": _c(_central(42, "<L", (2**31,)), phrase="outside the archive"),
    "members-overlap": _c(bytes_of(_overlap), phrase="overlaps|does not match"),
    "eocd-count-65535": _c(_eocd(8, "<2H", (0xFFFF, 0xFFFF)), phrase="zip64"),
    "eocd-count-too-small": _c(_eocd(8, "<2H", (3, 3)), phrase="trailing bytes"),
    "eocd-count-too-large": _c(_eocd(8, "<2H", (40, 40)), phrase="cut short|damaged"),
    "eocd-cd-size-4-gib": _c(_eocd(12, "<L", (0xFFFFFFFE,)), phrase="does not end where"),
    "eocd-multi-disk": _c(_eocd(4, "<H", (1,)), phrase="multi-part"),
    "eocd-comment": _c(
        bytes_of(lambda b: b["bytes"][:-2] + b"\x05\x00hello"), phrase="no archive directory"
    ),
    "trailing-garbage": _c(
        bytes_of(lambda b: b["bytes"] + b"\0" * 100), phrase="no archive directory"
    ),
    # not zips at all
    "empty-file": _c(bytes_of(lambda b: b""), phrase="too short"),
    "one-byte": _c(bytes_of(lambda b: b"P"), phrase="too short"),
    "text": _c(
        bytes_of(lambda b: b"hello, I am a model\n" * 100), phrase="not a scratchnet model file"
    ),
    "pickle": _c(
        bytes_of(lambda b: pickle.dumps({"weights": [1.0] * 100})),
        phrase="not a scratchnet model file",
    ),
    "single-npy": _c(
        bytes_of(lambda b: npy(np.zeros((10, 10)))), phrase="not a scratchnet model file"
    ),
    "random-64-kib": _c(
        bytes_of(lambda b: np.random.default_rng(1).bytes(64 * 1024)),
        phrase="not a scratchnet model file",
    ),
}


def assert_refused(path, exc=ValueError, phrase="", name=None):
    """``sn.load(path)`` raises ``exc`` naming the file (and ``phrase``), cheaply.

    Returns (seconds, peak bytes) of the refusal, measured in two runs (tracemalloc slows one).
    """
    name = str(path) if name is None else name
    size = os.path.getsize(path) if os.path.isfile(path) else 0
    start = time.perf_counter()
    with pytest.raises(exc) as info:
        sn.load(path)
    took = time.perf_counter() - start
    message = str(info.value)
    assert name in message, message
    if phrase:
        assert any(p in message for p in phrase.split("|")), message
    tracemalloc.start()
    try:
        with pytest.raises(exc):
            sn.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < memory_limit(size), f"{peak} bytes allocated to refuse a file of {size}"
    return took, peak


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_file_is_refused_cheaply(case, base, tmp_path):
    build, exc, phrase = HOSTILE[case]
    path = build(base, tmp_path / f"{case}.npz")
    assert_refused(path, exc, phrase)


def test_the_base_file_and_the_forger_are_sound(base, tmp_path):
    """The corpus is only meaningful if an unedited forgery loads."""
    model = sn.load(config_edit(lambda c, a: None)(base, tmp_path / "same.npz"))
    saved = sn.to_numpy(sn.load(base["path"]).parameters())
    for name, value in sn.to_numpy(model.parameters()).items():
        assert np.array_equal(value, saved[name])


# ----------------------------------------------------------------------------------------------
# truncations and byte flips
def test_truncation_at_many_offsets_is_refused(base, tmp_path):
    data = base["bytes"]
    n = len(data)
    offsets = sorted({*range(0, n, max(1, n // 48)), *range(n - 60, n)})
    path = tmp_path / "cut.npz"
    for offset in offsets:
        path.write_bytes(data[:offset])
        assert_refused(path)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)),
                      min_size=1, max_size=4))  # fmt: skip
def test_random_byte_flips_are_refused_or_harmless(base, tmp_path, flips):
    """A flipped byte either makes load refuse the file, or sits where nothing reads it (zip
    timestamps, padding) and the same model comes back: never different numbers."""
    data = bytearray(base["bytes"])
    for where, mask in flips:
        data[int(where * len(data))] ^= mask
    path = tmp_path / "flip.npz"
    path.write_bytes(bytes(data))
    try:
        model = sn.load(path)
    except ValueError:
        assert_refused(path)
        return
    want = sn.load(base["path"])
    for got, ref in ((model.parameters(), want.parameters()), (model.state(), want.state())):
        for name, value in sn.to_numpy(ref).items():
            assert np.array_equal(sn.to_numpy(got)[name], value)
    assert model.get_config() == want.get_config()


# ----------------------------------------------------------------------------------------------
# the file system's problems keep their class
def test_missing_file_and_missing_folder(tmp_path):
    for path in (tmp_path / "missing.npz", tmp_path / "no" / "such" / "folder.npz"):
        assert_refused(path, FileNotFoundError, "no model file at")


def test_a_folder_is_not_a_model_file(tmp_path):
    assert_refused(tmp_path, IsADirectoryError, "is a folder")


def test_a_file_as_a_folder(base, tmp_path):
    assert_refused(base["path"] / "inner.npz", NotADirectoryError, "Not a directory")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_special_files_are_refused_without_reading(tmp_path):
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(_error_of(fifo)), daemon=True)
    worker.start()
    worker.join(10)  # a reader that opens FIFOs blocking would hang here
    assert not worker.is_alive() and "not a regular file" in outcome[0]
    if os.path.exists("/dev/zero"):
        assert_refused("/dev/zero", ValueError, "not a regular file")


def _error_of(path) -> str:
    try:
        sn.load(path)
    except ValueError as exc:
        return str(exc)
    return "loaded"


def test_symlinks_to_model_files_load(base, tmp_path):
    link = tmp_path / "link.npz"
    link.symlink_to(base["path"])
    assert sn.load(link).built


def test_permission_denied_is_reported_as_such(base, tmp_path):
    path = tmp_path / "secret.npz"
    path.write_bytes(base["bytes"])
    path.chmod(0o000)
    if getattr(os, "geteuid", lambda: 1)() != 0:
        assert_refused(path, PermissionError, "permission denied")
        return
    # root reads anything: a child loads once as root (importing all it needs), then as nobody
    code = (
        "import os, sys\n"
        "import scratchnet as sn\n"
        "sn.load(sys.argv[1])\n"
        "os.setgid(65534); os.setuid(65534)\n"
        "try:\n    sn.load(sys.argv[1])\n"
        "except PermissionError as e:\n    print('PermissionError:', e)\n"
    )
    run = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    if "PermissionError:" not in run.stdout and "Operation not permitted" in run.stderr:
        pytest.skip("cannot drop privileges here")
    want = f"PermissionError: [Errno 13] cannot read model file {str(path)!r}: permission denied"
    assert want in run.stdout, run.stderr


def test_permission_denied_keeps_its_class_when_simulated(base, tmp_path, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(sio.os, "open", denied)
    with pytest.raises(PermissionError, match="cannot read model file .*: permission denied"):
        sn.load(base["path"])


# ----------------------------------------------------------------------------------------------
# what is accepted, on purpose
def test_non_finite_parameters_load_as_saved(base, tmp_path):
    """NaN and inf are numbers a model can hold (a diverged run's checkpoint): they load, bit for
    bit, and predictions show them. Loading guarantees integrity, not sensible values."""

    def poison(c, a):
        B = a["param/dense2.B"].copy()
        B[0, 0], B[1, 1], B[2, 2] = np.nan, np.inf, -np.inf
        a["param/dense2.B"] = B

    model = sn.load(config_edit(poison)(base, tmp_path / "nan.npz"))
    B = sn.to_numpy(model.parameters()["dense2.B"])
    assert np.isnan(B[0, 0]) and B[1, 1] == np.inf and B[2, 2] == -np.inf


def test_brackets_and_wide_characters_inside_strings_are_not_structure(base, tmp_path):
    """The depth check ignores brackets inside JSON strings; non-ASCII names load."""

    def rename(c, a):
        c["layers"][2]["config"]["name"] = "[" * 10_000 + "😀{"

    model = sn.load(config_edit(rename)(base, tmp_path / "names.npz"))
    assert model.layers[2].name.endswith("😀{")


def test_fortran_ordered_arrays_round_trip(tmp_path):
    a = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    sio.write_archive(tmp_path / "f.npz", {"x": 1}, {"param/a": a, "state/s": a[:, :1]})
    _, arrays = sio.read_archive(tmp_path / "f.npz")
    assert np.array_equal(arrays["param/a"], a) and arrays["param/a"].flags.writeable
    assert np.array_equal(arrays["state/s"], a[:, :1])


def test_an_archive_over_4_gib_is_read_through_zip64(tmp_path):
    """Offsets over 32 bits live in zip64 records; the reader follows them without reading what
    lies between (a sparse hole of 4 GiB stands in for parameters; only the directory moves)."""
    a = np.arange(3, dtype=np.float32)
    path = tmp_path / "z.npz"
    sio.write_archive(path, {"x": 1}, {"param/a": a})
    data = path.read_bytes()
    count, cd_size, cd_offset = struct.unpack_from("<H2L", data, len(data) - 12)
    at = cd_offset + 2**32
    end64 = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, cd_size, at)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, at + cd_size, 1)
    eocd = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, cd_size, 0xFFFFFFFF, 0)
    try:
        with open(path, "r+b") as fh:
            fh.truncate(cd_offset)
            fh.seek(at)
            fh.write(data[cd_offset : cd_offset + cd_size] + end64 + locator + eocd)
    except OSError as exc:
        pytest.skip(f"no sparse 4 GiB file here: {exc}")
    tracemalloc.start()
    try:
        config, arrays = sio.read_archive(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        os.unlink(path)
    assert config["x"] == 1 and np.array_equal(arrays["param/a"], a)
    assert peak < MiB

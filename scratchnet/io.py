"""Saving and loading models: one file, JSON configuration plus arrays, never unpickled.

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

>>> import numpy as np, tempfile, os, scratchnet as sn
>>> m = sn.Model(hidden=(8,), seed=0).build(4, 3)
>>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
>>> m.save(path)
>>> m2 = sn.load(path)
>>> bool(np.array_equal(sn.to_numpy(m2.parameters()["dense1.B"]), sn.to_numpy(m.parameters()["dense1.B"])))
True
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


def model_payload(model: Any, include_optimizer: bool = True) -> tuple[dict, dict[str, np.ndarray]]:
    """(JSON-able config, host arrays) describing ``model`` completely."""
    from .backends import to_numpy

    model._require_built()
    arrays: dict[str, np.ndarray] = {}
    for name, value in model.parameters().items():
        arrays[f"param/{name}"] = to_numpy(value)
    for name, value in model.state().items():
        arrays[f"state/{name}"] = to_numpy(value)
    config: dict[str, Any] = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "model": model.get_config(),
        "layers": [{"kind": ly.kind, "config": ly.get_config()} for ly in model.layers],
        "n_features": model.n_features,
        "n_outputs": model.n_outputs,
        "backend": model.backend.name,
        "training": None,
    }
    if include_optimizer:
        opt = model.optimizer
        training: dict[str, Any] = {
            "epochs_done": model.epochs_done,
            "steps_done": model.steps_done,
            "samples_seen": model.samples_seen,
            "shuffle_rng": _json_state(model.shuffle_rng.bit_generator.state),
            "device_rng": {
                "backend": model.backend.name,
                "device": model.backend.device_spec(),
                "state": _json_state(model.rng.get_state()),
            },
            "history": None if model.history is None else model.history.to_dict(),
            "optimizer": None,
        }
        if opt is not None:
            training["optimizer"] = {
                "name": opt.name,
                "config": opt.get_config(),
                "iterations": opt.iterations,
                "slots": {name: sorted(slots) for name, slots in opt.state.items()},
            }
            for name, slots in opt.state.items():
                for slot, value in slots.items():
                    arrays[f"optimizer/{name}/{slot}"] = to_numpy(value)
        config["training"] = training
    config["arrays"] = {
        key: {"shape": list(a.shape), "dtype": str(a.dtype), "sha256": _checksum(a)}
        for key, a in arrays.items()
    }
    return config, arrays


def _json_state(state: Any) -> Any:
    """Bit-generator states hold Python ints (possibly > 2^64); JSON keeps them exactly."""
    return json.loads(json.dumps(state))


def save(model: Any, path: str | os.PathLike, include_optimizer: bool = True) -> None:
    """Write ``model`` to ``path`` atomically (see module docstring for the format).

    Parameters
    ----------
    model : Model
        A built model.
    path : str or path-like
        Target file; its folder must exist. ``.npz`` is the customary suffix.
    include_optimizer : bool
        Also store the optimiser state, counters, random-generator states and history, so that a
        loaded model resumes training exactly (bit for bit on NumPy).
    """
    config, arrays = model_payload(model, include_optimizer)
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


def read_payload(path: str | os.PathLike) -> tuple[dict, dict[str, np.ndarray]]:
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


def model_from_payload(
    config: dict, arrays: dict[str, np.ndarray], backend: Any = None, device: Any = None,
    dtype: str | None = None, source: str = "model file",
) -> Any:  # fmt: skip
    """Rebuild a model from `model_payload` output on any backend."""
    from .layers import Dense, layer_from_config
    from .model import Model

    try:
        mc = dict(config["model"])
        layers = [
            layer_from_config(entry["kind"], dict(entry["config"])) for entry in config["layers"]
        ]
        n_features, n_outputs = int(config["n_features"]), int(config["n_outputs"])
    except (KeyError, TypeError) as exc:
        raise ValueError(
            f"{source}: malformed configuration ({type(exc).__name__}: {exc})"
        ) from exc
    if not layers or not isinstance(layers[-1], Dense) or layers[-1].units != n_outputs:
        raise ValueError(
            f"{source}: the layer stack does not end in a Dense layer of {n_outputs} units"
        )
    try:
        model = Model(
            hidden=mc["hidden"],
            activation=mc["activation"],
            output=mc["output"],
            layers=layers[:-1] if mc.get("custom_layers", True) else None,
            init=mc.get("init"),
            l2=mc["l2"],
            dropout=mc["dropout"],
            batch_norm=mc["batch_norm"],
            reduction=mc["reduction"],
            backend=backend or config.get("backend", "numpy"),
            device=device,
            dtype=dtype or mc["dtype"],
            seed=mc["seed"],
        )
    except KeyError as exc:
        raise ValueError(f"{source}: configuration lacks {exc}") from exc
    except TypeError as exc:
        raise ValueError(f"{source}: malformed configuration ({exc})") from exc
    model._custom_layers = layers[:-1]
    model._output_layer = layers[-1]
    model.build(n_features, n_outputs)
    params = {k[len("param/") :]: v for k, v in arrays.items() if k.startswith("param/")}
    state = {k[len("state/") :]: v for k, v in arrays.items() if k.startswith("state/")}
    try:
        model.set_parameters(params)
        model.set_state(state)
    except ValueError as exc:
        raise ValueError(f"{source}: arrays do not fit the layer stack ({exc})") from exc
    try:
        _restore_training(model, config.get("training"), arrays, source)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(
            f"{source}: malformed training state ({type(exc).__name__}: {exc})"
        ) from exc
    return model


def _restore_training(model: Any, training: dict | None, arrays: dict, source: str) -> None:
    if not training:
        return
    from .callbacks import History
    from .optimizers import optimizer_from_config

    model.epochs_done = int(training["epochs_done"])
    model.steps_done = int(training["steps_done"])
    model.samples_seen = int(training["samples_seen"])
    model.shuffle_rng.bit_generator.state = training["shuffle_rng"]
    rng_info = training.get("device_rng") or {}
    same_device = (rng_info.get("backend"), rng_info.get("device")) == (
        model.backend.name, model.backend.device_spec(),
    )  # fmt: skip
    if same_device:  # another device's generator state does not fit: keep the fresh seeding
        model.rng.set_state(rng_info["state"])
    if training.get("history") is not None:
        model.history = History.from_dict(training["history"])
    opt_info = training.get("optimizer")
    if opt_info is not None:
        try:
            opt = optimizer_from_config(opt_info["name"], opt_info["config"])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{source}: bad optimizer configuration ({exc})") from exc
        opt.iterations = int(opt_info["iterations"])
        params = model.parameters()
        for name, slots in opt_info["slots"].items():
            if name not in params:
                raise ValueError(f"{source}: optimizer state for unknown parameter {name!r}")
            if sorted(slots) != sorted(opt.slots):
                raise ValueError(
                    f"{source}: {opt.name} keeps {sorted(opt.slots)} per parameter, the file has "
                    f"{sorted(slots)} for {name!r}"
                )
            for slot in slots:
                shape = arrays[f"optimizer/{name}/{slot}"].shape
                if tuple(shape) != tuple(params[name].shape):
                    raise ValueError(
                        f"{source}: optimizer state {name}/{slot} has shape {tuple(shape)}, "
                        f"expected {tuple(params[name].shape)}"
                    )
            opt.state[name] = {
                slot: model.backend.asarray(
                    arrays[f"optimizer/{name}/{slot}"], dtype=model.dtype, copy=True
                )
                for slot in slots
            }
        model.optimizer = opt


def load(
    path: str | os.PathLike, backend: Any = None, device: Any = None, dtype: str | None = None
) -> Any:
    """Load a model saved by `Model.save` onto any backend and device.

    Parameters
    ----------
    path : str or path-like
    backend : str or Backend, optional
        Target backend; default: the one it was saved from.
    device : optional
        Target device of that backend.
    dtype : {"float32", "float64"}, optional
        Cast on load; default: the saved dtype.

    Returns
    -------
    Model

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        Truncated, tampered, foreign or incompatible files.
    """
    config, arrays = read_payload(path)
    return model_from_payload(config, arrays, backend, device, dtype, source=repr(str(path)))

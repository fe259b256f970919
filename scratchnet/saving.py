"""A built model as plain data, and back: ``(config, arrays)`` for files, copies and pickles.

`model_arrays` describes a model's numbers with the file format's names: ``param/<name>``,
``state/<name>`` and ``optimizer/<name>/<slot>`` (per parameter, in the shapes users see, whatever
the flat layout in memory), plus a JSON-able ``training`` section (counters, generator states,
history, optimiser configuration). `restore_arrays` puts them into a freshly built model of the
same architecture. The archive itself (header, checksums, bounds) is `scratchnet.io`'s business;
constructing the model is `Model.from_config`'s (`deserialize_model` receives the class, so this
module never imports `scratchnet.model`).

Before a model is built, `deserialize_model` checks the configuration against the arrays it came
with: every parameter and state shape the layer stack implies (from ``n_features`` and each Dense
layer's ``units``) must be present with exactly that shape, and every optimiser slot must match its
parameter. A configuration therefore cannot make ``build`` allocate more than the arrays that came
with it; a file claiming a layer of 10^12 units is refused before anything is allocated.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np

from . import io
from .architecture import name_layers
from .backends import to_numpy
from .callbacks import History
from .layers import Activation, BatchNorm, Dense, Dropout, layer_from_config
from .optimizers import optimizer_from_config

#: most layers a saved model may have (`load` refuses more before building anything)
MAX_LAYERS = 1000
#: what restoring malformed configurations or training states raises, turned into ValueError
_MALFORMED = (KeyError, TypeError, AttributeError, ValueError, IndexError, OverflowError)


def serialize_model(model: Any, include_optimizer: bool = True) -> tuple[dict, dict]:
    """(config, host arrays) of a built model: what `Model.serialize` returns.

    The config holds the constructor arguments (``"model"``), the whole layer stack by registered
    names (``"layers"``), the built sizes, the backend's name, and with ``include_optimizer`` the
    training section; the arrays are those of `model_arrays`.
    """
    training, arrays = model_arrays(model, include_optimizer)
    config = {
        "model": model.get_config(),
        "layers": [{"kind": ly.kind, "config": ly.get_config()} for ly in model.layers],
        "n_features": model.n_features,
        "n_outputs": model.n_outputs,
        "backend": model.backend.name,
        "training": training,
    }
    return config, arrays


def deserialize_model(
    cls: type, config: dict, arrays: dict[str, np.ndarray], backend: Any = None,
    device: Any = None, dtype: str | None = None, source: str = "model file",
    *, max_layers: int | None = MAX_LAYERS,
) -> Any:  # fmt: skip
    """A ``cls`` (a `Model`) rebuilt from `serialize_model` output: `Model.deserialize`.

    The configuration is checked against ``arrays`` before anything is built (see the module
    docstring); ``max_layers`` bounds the layer stack (None: no bound, for copies in memory).
    Raises `ValueError` naming ``source`` for any inconsistency.
    """
    try:
        mc, layers, n_features, n_outputs = _read_stack(config, source, max_layers)
        _check_arrays(config, layers, n_features, n_outputs, arrays, source)
        model = cls.from_config(mc, layers[:-1], backend or config.get("backend"), device, dtype)
    except KeyError as exc:
        raise ValueError(f"{source}: configuration lacks {exc}") from exc
    except _MALFORMED as exc:
        raise _named(exc, source, "malformed configuration") from exc
    model._saved_stack = layers  # names and initialisers as saved
    model.build(n_features, n_outputs)
    restore_arrays(model, arrays, config.get("training"), source)
    return model


def _named(exc: Exception, source: str, what: str) -> ValueError:
    """A ValueError whose message names ``source`` (kept as it is when it already does)."""
    if isinstance(exc, ValueError) and source in str(exc):
        return exc
    if isinstance(exc, ValueError):
        return ValueError(f"{source}: {what} ({exc})")
    return ValueError(f"{source}: {what} ({type(exc).__name__}: {exc})")


def _read_stack(config: Any, source: str, max_layers: int | None) -> tuple:
    """(model config, unbuilt layers, n_features, n_outputs), with types and bounds checked."""
    if not isinstance(config, dict):
        raise ValueError(f"{source}: the configuration is not a JSON object")
    mc, entries = config["model"], config["layers"]
    if not isinstance(mc, dict) or not isinstance(entries, list) or not entries:
        raise ValueError(f"{source}: malformed configuration (model or layers)")
    cap = max_layers if max_layers is not None else len(entries)
    hidden = mc.get("hidden")
    n_hidden = len(hidden) if isinstance(hidden, list) else 0
    if len(entries) > cap or n_hidden > cap:
        raise ValueError(
            f"{source}: {len(entries)} layers ({n_hidden} hidden widths); model files hold at "
            f"most {max_layers}"
        )
    for e in entries:
        if not isinstance(e, dict) or not isinstance(e.get("kind"), str):
            raise ValueError(f"{source}: malformed layer entry {str(e)[:80]}")
        if not isinstance(e.get("config"), dict):
            raise ValueError(f"{source}: layer {e['kind']!r} has no configuration")
    n_features, n_outputs = config["n_features"], config["n_outputs"]
    for what, n in (("n_features", n_features), ("n_outputs", n_outputs)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"{source}: {what} must be a positive int, got {str(n)[:40]}")
    layers = [layer_from_config(e["kind"], dict(e["config"])) for e in entries]
    if not isinstance(layers[-1], Dense) or layers[-1].units != n_outputs:
        raise ValueError(
            f"{source}: the layer stack does not end in a Dense layer of {n_outputs} units"
        )
    if not mc.get("custom_layers"):
        widths = [ly.units for ly in layers[:-1] if isinstance(ly, Dense)]
        if widths != hidden:
            raise ValueError(
                f"{source}: hidden={str(hidden)[:80]} does not match the Dense layers of the "
                f"stack {str(widths)[:80]}"
            )
    return mc, layers, n_features, n_outputs


def expected_shapes(layers: list, n_features: int, n_outputs: int) -> dict[str, tuple]:
    """``param/...`` and ``state/...`` names and shapes that building ``layers`` would create.

    Computed without building: Dense makes ``B`` (fan_in, units) and ``c`` (units,), BatchNorm
    ``gamma``, ``beta`` and the running statistics (width,); Activation and Dropout hold none.
    Names are those `Model.build` gives (`name_layers`). Other layer types have no such rule and
    raise `ValueError`.
    """
    shapes: dict[str, tuple] = {}
    width = n_features
    named = [copy.copy(layer) for layer in layers]  # unbuilt: copies only to take names
    name_layers(named)
    for layer in named:
        kind = type(layer)
        if kind is Dense:
            shapes[f"param/{layer.name}.B"] = (width, layer.units)
            if layer.use_bias:
                shapes[f"param/{layer.name}.c"] = (layer.units,)
            width = layer.units
        elif kind is BatchNorm:
            for key in ("gamma", "beta"):
                shapes[f"param/{layer.name}.{key}"] = (width,)
            for key in ("running_mean", "running_var"):
                shapes[f"state/{layer.name}.{key}"] = (width,)
        elif kind not in (Activation, Dropout):
            raise ValueError(
                f"layer type {layer.kind!r} ({kind.__name__}) has no size rule, so a file using "
                "it cannot be checked before building"
            )
    return shapes


def _check_arrays(
    config: dict, layers: list, n_features: int, n_outputs: int, arrays: dict, source: str
) -> None:
    """Every array the stack implies, with its exact shape and the saved dtype, and nothing else,
    so that building allocates no more than the arrays that came with the configuration."""
    expected = expected_shapes(layers, n_features, n_outputs)
    training = config.get("training")
    opt_info = training.get("optimizer") if isinstance(training, dict) else None
    if opt_info is not None:
        slots = opt_info["slots"]
        if not isinstance(slots, dict):
            raise ValueError(f"{source}: malformed optimizer slots")
        for name, names in slots.items():
            shape = expected.get(f"param/{name}")
            if shape is None:
                raise ValueError(f"{source}: optimizer state for unknown parameter {name!r}")
            if not isinstance(names, list) or not all(isinstance(s, str) for s in names):
                raise ValueError(f"{source}: malformed optimizer slots for {name!r}")
            for slot in names:
                expected[f"optimizer/{name}/{slot}"] = shape
    unexpected = sorted(set(arrays) - set(expected))
    if unexpected:
        raise ValueError(f"{source}: arrays the layer stack does not have: {unexpected[:5]}")
    dtype = config["model"].get("dtype")
    for key, shape in expected.items():
        if key not in arrays:
            raise ValueError(f"{source}: arrays do not fit the layer stack ({key!r} is missing)")
        got = tuple(arrays[key].shape)
        if got != shape:
            kind, _, name = key.partition("/")
            what = {"param": "parameters", "state": "state"}.get(kind, "optimizer state")
            raise ValueError(
                f"{source}: arrays do not fit the layer stack ({what}[{name!r}] has shape "
                f"{got}, expected {shape})"
            )
        if str(arrays[key].dtype) != dtype:
            raise ValueError(
                f"{source}: array {key!r} has dtype {arrays[key].dtype}, the model {dtype}"
            )


def model_arrays(model: Any, include_optimizer: bool = True) -> tuple[dict, dict[str, np.ndarray]]:
    """(training section or None, host arrays) of a built model.

    Returns
    -------
    training : dict or None
        Counters, generator states, history and optimiser configuration (None without
        ``include_optimizer``).
    arrays : dict
        ``param/...``, ``state/...`` and, with the optimiser, ``optimizer/<name>/<slot>``.
    """
    arrays: dict[str, np.ndarray] = {}
    for name, value in model.parameters().items():
        arrays[f"param/{name}"] = to_numpy(value)
    for name, value in model.state().items():
        arrays[f"state/{name}"] = to_numpy(value)
    if not include_optimizer:
        return None, arrays
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
        per_parameter = opt.state_arrays(model.parameter_layout, model.backend.xp)
        training["optimizer"] = {
            "name": opt.name,
            "config": opt.get_config(),
            "iterations": opt.iterations,
            "slots": {name: sorted(slots) for name, slots in per_parameter.items()},
        }
        for name, slots in per_parameter.items():
            for slot, value in slots.items():
                arrays[f"optimizer/{name}/{slot}"] = to_numpy(value)
    return training, arrays


def _json_state(state: Any) -> Any:
    """Bit-generator states hold Python ints (possibly > 2^64); JSON keeps them exactly."""
    return json.loads(json.dumps(state))


def restore_arrays(
    model: Any, arrays: dict[str, np.ndarray], training: dict | None, source: str
) -> None:
    """Put `model_arrays` output into a built model of the same architecture.

    Raises `ValueError` naming ``source`` when names, shapes or the training section do not fit.
    """
    params = {k[len("param/") :]: v for k, v in arrays.items() if k.startswith("param/")}
    state = {k[len("state/") :]: v for k, v in arrays.items() if k.startswith("state/")}
    try:
        model.set_parameters(params)
        model.set_state(state)
    except ValueError as exc:
        raise ValueError(f"{source}: arrays do not fit the layer stack ({exc})") from exc
    try:
        _restore_training(model, training, arrays, source)
    except _MALFORMED as exc:
        raise _named(exc, source, "malformed training state") from exc


def _restore_training(model: Any, training: dict | None, arrays: dict, source: str) -> None:
    if not training:
        return
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
    if opt_info is None:
        return
    try:
        opt = optimizer_from_config(opt_info["name"], opt_info["config"])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{source}: bad optimizer configuration ({exc})") from exc
    opt.iterations = int(opt_info["iterations"])
    layout = model.parameter_layout
    per_parameter = {}
    for name, slots in opt_info["slots"].items():
        if name not in layout.names:
            raise ValueError(f"{source}: optimizer state for unknown parameter {name!r}")
        if sorted(slots) != sorted(opt.slots):
            raise ValueError(
                f"{source}: {opt.name} keeps {sorted(opt.slots)} per parameter, the file has "
                f"{sorted(slots)} for {name!r}"
            )
        for slot in slots:
            shape = arrays[f"optimizer/{name}/{slot}"].shape
            if tuple(shape) != layout[name].shape:
                raise ValueError(
                    f"{source}: optimizer state {name}/{slot} has shape {tuple(shape)}, "
                    f"expected {layout[name].shape}"
                )
        per_parameter[name] = {slot: arrays[f"optimizer/{name}/{slot}"] for slot in slots}
    opt.set_state_arrays(per_parameter, layout, model.backend, model.dtype)
    model.optimizer = opt


class SavingMixin:
    """Files, copies and pickles of a `Model` (its persistence, kept apart from its math).

    Everything goes through one pair: `serialize` gives ``(config, host arrays)`` and
    `deserialize` rebuilds from it on any backend, device and dtype; `save` and `load` put the
    pair in an archive (`scratchnet.io`), `copy` and pickling hand it over in memory.
    """

    def serialize(self, include_optimizer: bool = True) -> tuple[dict, dict[str, np.ndarray]]:
        """(JSON-able config, host arrays) describing a built model completely."""
        self._require_built()
        return serialize_model(self, include_optimizer)

    @classmethod
    def deserialize(
        cls, config: dict, arrays: dict[str, np.ndarray], backend: Any = None,
        device: Any = None, dtype: str | None = None, source: str = "model file",
    ) -> Any:  # fmt: skip
        """Rebuild a model from `serialize` output on any backend, device and dtype."""
        return deserialize_model(cls, config, arrays, backend, device, dtype, source)

    def copy(self, backend: Any = None, device: Any = None, dtype: str | None = None) -> Any:
        """An independent copy (parameters, state, optimiser, counters), optionally elsewhere."""
        config, arrays = self.serialize(include_optimizer=True)
        where = backend or self.backend
        return deserialize_model(
            type(self), config, arrays, where, device, dtype or self.dtype_name, "copy",
            max_layers=None,
        )  # fmt: skip

    def save(self, path: Any, include_optimizer: bool = True) -> None:
        """Write the model to one file, atomically (see `scratchnet.io`).

        Parameters
        ----------
        path : str or path-like
            Target file; its folder must exist. ``.npz`` is the customary suffix.
        include_optimizer : bool
            Also store the optimiser state, counters, random-generator states and history, so
            that a loaded model resumes training exactly (bit for bit on NumPy).

        Raises
        ------
        ValueError
            The folder does not exist, or the model is beyond what `load` accepts (more than
            `MAX_LAYERS` layers, a configuration over ``scratchnet.io.MAX_CONFIG_BYTES``): nothing
            is written then.
        OSError
            The file cannot be written (permission denied, a folder at ``path``, disk full); the
            previous file, if any, is left as it was.
        """
        self._require_built()
        if len(self.layers) > MAX_LAYERS:
            raise ValueError(
                f"cannot save {str(path)!r}: {len(self.layers)} layers; model files hold at most "
                f"{MAX_LAYERS}, so load would refuse it"
            )
        io.write_archive(path, *self.serialize(include_optimizer))

    @classmethod
    def load(
        cls, path: Any, backend: Any = None, device: Any = None, dtype: str | None = None
    ) -> Any:
        """Load a model saved by `save` onto any backend and device (also ``sn.load``).

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
        FileNotFoundError, PermissionError, IsADirectoryError
            (`OSError`) No file at ``path``, no permission to read it, or a folder there.
        ValueError
            Truncated, tampered, foreign, hostile or incompatible files: anything whose bytes are
            not a model file this version writes. The file is verified before anything is
            allocated (``docs/security.md`` has the bounds); the message names the file.

        Examples
        --------
        >>> import numpy as np, tempfile, os, scratchnet as sn
        >>> m = sn.Model(hidden=(8,), seed=0).build(4, 3)
        >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
        >>> m.save(path)
        >>> m2 = sn.load(path)
        >>> bool(np.array_equal(sn.to_numpy(m2.parameters()["dense1.B"]),
        ...                     sn.to_numpy(m.parameters()["dense1.B"])))
        True
        """
        config, arrays = io.read_archive(path)
        return cls.deserialize(config, arrays, backend, device, dtype, source=repr(str(path)))

    def __reduce__(self):
        """Pickling (and ``copy.deepcopy``) go through `serialize`: configuration plus host
        arrays, so models of any backend pickle, and unpickle onto the same backend and device."""
        where = (self.backend.name, self.backend.device_spec())
        if not self.built:
            return (type(self).from_config, (self.get_config(), self.custom_layers, *where))
        return (unpickle_model, (type(self), *self.serialize(include_optimizer=True), *where))


def unpickle_model(cls: type, config: dict, arrays: dict, backend: str, device: Any) -> Any:
    """Rebuild a pickled model (see `SavingMixin.__reduce__`)."""
    return deserialize_model(cls, config, arrays, backend, device, source="pickle", max_layers=None)

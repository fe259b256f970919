"""Input checks at the public boundary: errors that say what was expected and what came (contract 7).

Arrays are checked once, at the call that receives them (fit, predict, loss_and_gradients, ...),
before anything is computed; the math never sees bad input. Besides shapes and dtypes:

- NaN and inf are refused, naming the first offending row and column;
- a value that is finite in the input's dtype but overflows the model's (float64 data for a
  float32 model) is refused, naming its row, column and value: the cast would make it inf;
- a SciPy sparse matrix is refused with the ``.toarray()`` advice (SciPy is never imported);
- a masked array with masked entries is refused: its mask would otherwise be dropped silently.
"""

from __future__ import annotations

import numbers
import os
import sys
import warnings
from typing import Any

import numpy as np

from .backends import Backend, describe_array, library_of, to_device, to_numpy
from .streaming import RowStream, is_streamed

#: rows per chunk when scanning large host arrays for NaN/inf (keeps the scan's memory small)
_SCAN_ROWS = 8192
#: the package's folder: `warn_user` points its warnings at the first frame outside it
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn_user(message: str, category: type[Warning] = UserWarning) -> None:
    """Warn at the caller's line: the first frame outside scratchnet, however deep the call."""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def refuse_unsupported(x: Any, name: str) -> None:
    """Refuse containers whose meaning ``np.asarray`` would silently change.

    A SciPy sparse matrix becomes a 0-d object array, and a masked array loses its mask (the
    masked entries' placeholder values would be trained on). SciPy is never imported here: a
    sparse matrix is recognised by its module, or by ``toarray`` and ``nnz``.
    """
    kind = type(x)
    if kind.__module__.startswith("scipy.sparse") or (hasattr(x, "toarray") and hasattr(x, "nnz")):
        shape = tuple(getattr(x, "shape", ()))
        dense = f"{name}.toarray()" + (".ravel()" if shape[1:] == (1,) else "")
        raise TypeError(
            f"{name} is a SciPy sparse matrix ({kind.__name__} of shape {shape} with "
            f"{getattr(x, 'nnz', '?')} stored values); scratchnet trains on dense arrays: pass "
            f"{dense} (it takes the memory of every entry, zeros included)"
        )
    if isinstance(x, np.ma.MaskedArray):
        mask = np.ma.getmaskarray(x)
        if mask.any():
            first = tuple(int(i) for i in np.argwhere(mask)[0])
            raise ValueError(
                f"{name} is a masked array with {int(mask.sum())} masked entries (the first at "
                f"index {first}); scratchnet does not honour masks: fill them "
                f"({name}.filled(value)), drop the rows that hold them, or pass "
                f"np.ma.getdata({name}) if the values under the mask are meant"
            )


def _host_numeric(x: Any, name: str) -> np.ndarray:
    """``np.asarray(x)`` with a numeric dtype, or `TypeError`."""
    refuse_unsupported(x, name)
    try:
        arr = np.asarray(np.ma.getdata(x) if isinstance(x, np.ma.MaskedArray) else x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array, got {type(x).__name__} ({exc})") from exc
    if arr.dtype.kind == "O":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"{name} must hold numbers; got an object array that does not convert to float "
                f"({exc})"
            ) from exc
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must be a numeric array (bool, int or float), got dtype {arr.dtype}"
        )
    return arr


def check_library(x: Any, backend: Backend, name: str) -> None:
    """Refuse arrays of another library, or of this library on another device."""
    library = library_of(x)
    if library is None or library == "numpy":
        return  # host data is always welcome; it crosses to the device once
    if library != backend.name:
        raise TypeError(
            f"{name} is {describe_array(x)}, but the model runs on {backend.describe()}; pass a "
            f"NumPy array or an array of the model's backend (scratchnet.to_device({name}, "
            f"{backend.name!r}) moves it)"
        )
    dev = backend.array_device(x)
    if dev != backend.device and str(dev) != str(backend.device):
        raise ValueError(
            f"{name} lives on device {dev}, but the model runs on {backend.describe()}; arrays "
            f"of two devices cannot be mixed (scratchnet.to_device({name}, {backend.name!r}, "
            "device=...) moves it)"
        )


def check_features(
    X: Any,
    backend: Backend,
    dtype: Any,
    n_features: int | None = None,
    name: str = "X",
    expected: str | None = None,
) -> Any:
    """Validate a feature matrix and return it on the backend's device in ``dtype``.

    Parameters
    ----------
    X : array_like of shape (n_samples, n_features)
        NumPy array, nested list, or an array of the model's backend and device.
    backend : Backend
    dtype : dtype object of the backend
    n_features : int, optional
        Expected number of columns (the built model's input width).
    name : str
        Argument name used in messages.
    expected : str, optional
        Where ``n_features`` comes from, for the message (default "the model was built for").

    Returns
    -------
    Array of shape (n_samples, n_features) on the backend's device.

    Raises
    ------
    TypeError
        Non-numeric dtype; an array of another library; a SciPy sparse matrix.
    ValueError
        Not 2-D, empty, NaN/inf, a finite value that overflows ``dtype`` (float64 data for a
        float32 model), wrong feature count, another device, a masked array with masked entries.
    """
    if isinstance(X, RowStream):  # checked by `stream_features`; its shape against the model
        if X.backend is backend and X.dtype == dtype:
            _check_shape(X.shape, n_features, name, expected)
            return X
        X = X.source
    check_library(X, backend, name)
    if backend.is_native(X) and backend.name != "numpy":
        xp = backend.xp
        if not xp.isdtype(X.dtype, ("real floating", "integral", "bool")):
            raise TypeError(f"{name} must be a numeric array, got dtype {X.dtype}")
        _check_shape(tuple(X.shape), n_features, name, expected)
        with backend.quiet_floating_point():  # an overflowing cast is reported just below
            Xd = backend.asarray(X, dtype=dtype)
        if not bool(xp.all(xp.isfinite(Xd))):
            _explain_nonfinite_native(X, Xd, backend, name)
        return Xd
    arr = _host_numeric(X, name)
    _check_shape(arr.shape, n_features, name, expected)
    check_finite_host(arr, name, numpy_float(backend, dtype))
    return backend.asarray(arr, dtype=dtype)


def stream_features(
    X: Any,
    backend: Backend,
    dtype: Any,
    n_features: int | None = None,
    name: str = "X",
    expected: str | None = None,
    scan: bool = True,
) -> Any:
    """A checked `RowStream` of X when X is read by rows (`scratchnet.streaming.is_streamed`:
    memory maps, h5py/zarr-like array-likes), else X unchanged for `check_features`.

    The checks are those of `check_features` (numeric dtype, 2-D, not empty, the feature count,
    no NaN/inf, no value that overflows ``dtype``), made by reading the rows in chunks of about
    `scratchnet.streaming.CHUNK_BYTES`; nothing the size of X is allocated. With ``scan=False``
    the rows are not scanned here: the stream checks each block as it is read (inference reads
    every row once, so a scan first would read the source twice).

    Returns
    -------
    RowStream of shape (n_samples, n_features), or X itself
    """
    if isinstance(X, RowStream) or not is_streamed(X):
        return X
    refuse_unsupported(X, name)
    try:
        kind = np.dtype(X.dtype).kind
    except TypeError as exc:
        raise TypeError(f"{name} must be a numeric array, got dtype {X.dtype!r} ({exc})") from exc
    if kind not in "biuf":
        raise TypeError(
            f"{name} must be a numeric array (bool, int or float), got dtype {np.dtype(X.dtype)}"
        )
    _check_shape(tuple(int(d) for d in X.shape), n_features, name, expected)
    target = numpy_float(backend, dtype)

    def check_block(block: np.ndarray, start: int) -> None:
        check_finite_host(block, name, target, offset=start)

    if not scan:  # inference: each chunk is checked as it is read, so the source is read once
        return RowStream(X, backend, dtype, check=check_block)
    stream = RowStream(X, backend, dtype)
    for start, block in stream.chunks():
        check_block(block, start)
    return stream


def inference_features(
    X: Any, backend: Backend, dtype: Any, n_features: int | None, name: str = "X"
) -> Any:
    """X checked for inference: a `RowStream` read chunk by chunk where X is read by rows (a
    memory map), each chunk checked as it is read, else the device array of `check_features`."""
    Xs = stream_features(X, backend, dtype, n_features, name, scan=False)
    return check_features(Xs, backend, dtype, n_features, name)


def numpy_float(backend: Backend, dtype: Any) -> np.dtype:
    """The NumPy float dtype of the same width as a backend's float ``dtype``."""
    return np.dtype(f"float{backend.xp.finfo(dtype).bits}")


def _explain_nonfinite_native(X: Any, Xd: Any, backend: Backend, name: str) -> None:
    """Raise for a backend array whose cast to the model's dtype is not finite (error path)."""
    xp = backend.xp
    bad = np.asarray(backend.to_numpy(~xp.all(xp.isfinite(Xd), axis=0)))
    col = int(np.flatnonzero(bad)[0])
    source = X[:, col]
    floating = xp.isdtype(X.dtype, "real floating")
    if floating and not bool(xp.all(xp.isfinite(source))):
        raise ValueError(
            f"{name} contains NaN or infinite values (the first in column {col}); clean or impute "
            "them first"
        )
    value = float(backend.to_numpy(xp.max(xp.abs(source))))
    target = numpy_float(backend, Xd.dtype)
    raise ValueError(_overflow_message(name, value, f"column {col}", target))


def _overflow_message(name: str, value: float, where: str, target: np.dtype) -> str:
    return (
        f"{name} has a value too large for the model's {target}: {value:.6g} (at {where}) is "
        f"finite in {name}'s own dtype but overflows to inf in {target}, whose largest value is "
        f"{float(np.finfo(target).max):.4g}; rescale it (e.g. standardise the columns) or build "
        "the model with dtype='float64'"
    )


def _check_shape(
    shape: tuple[int, ...], n_features: int | None, name: str, expected: str | None = None
) -> None:
    if len(shape) != 2:
        hint = (
            f" (for a single feature use {name}.reshape(-1, 1); for a single sample "
            f"{name}.reshape(1, -1))"
            if len(shape) == 1
            else ""
        )
        raise ValueError(
            f"{name} must be 2-D of shape (n_samples, n_features), got shape {shape}{hint}"
        )
    if shape[0] == 0:
        raise ValueError(f"{name} is empty: it has 0 samples (shape {shape})")
    if shape[1] == 0:
        raise ValueError(f"{name} has 0 features (shape {shape})")
    if n_features is not None and shape[1] != n_features:
        raise ValueError(
            f"{name} has {shape[1]} features, but {expected or 'the model was built for'} "
            f"{n_features}"
        )


def check_finite_host(arr: np.ndarray, name: str, target: Any = None, offset: int = 0) -> None:
    """Raise `ValueError` if a host array holds NaN or inf, or, when ``target`` (a NumPy float
    dtype) is narrower than the array's, a finite value that overflows to inf in ``target``.

    Scanned in chunks of rows to keep the memory small. Without a narrowing cast it is one
    ``isfinite`` pass; with one, a per-column max and min (NaN propagates through both), so the
    overflow check costs no extra pass. Errors name the row and column of the first offender;
    ``offset`` is the row number of ``arr``'s first row (a chunk of a larger array).
    """
    if arr.dtype.kind != "f":
        return  # integers and bools are finite and fit every float dtype we train in
    narrowing = target is not None and arr.dtype.itemsize > np.dtype(target).itemsize
    flat = arr.reshape(arr.shape[0], -1) if arr.ndim > 1 else arr.reshape(-1, 1)
    for begin in range(0, flat.shape[0], _SCAN_ROWS):
        chunk = flat[begin : begin + _SCAN_ROWS]
        start = begin + offset
        if not narrowing:
            if not np.isfinite(chunk).all():
                _raise_nonfinite(chunk, start, arr.ndim, name)
            continue
        big = np.maximum(chunk.max(axis=0), -chunk.min(axis=0))
        if not np.isfinite(big).all():
            _raise_nonfinite(chunk, start, arr.ndim, name)
        with np.errstate(over="ignore"):
            if np.isinf(big.astype(target)).any():
                row, col = np.argwhere(np.isinf(chunk.astype(target)))[0]
                where = _where(start + int(row), int(col), arr.ndim)
                value = float(chunk[row, col])
                raise ValueError(_overflow_message(name, value, where, np.dtype(target)))


def _where(row: int, col: int, ndim: int) -> str:
    return f"row {row}, column {col}" if ndim > 1 else f"index {row}"


def _raise_nonfinite(chunk: np.ndarray, start: int, ndim: int, name: str) -> None:
    row, col = np.argwhere(~np.isfinite(chunk))[0]
    where = _where(start + int(row), int(col), ndim)
    raise ValueError(
        f"{name} contains NaN or infinite values (the first, {chunk[row, col]}, at {where}); "
        "clean or impute them first"
    )


def host_labels(y: Any, n_samples: int, name: str = "y", target: Any = None) -> np.ndarray:
    """Labels or targets as a host NumPy array with ``n_samples`` rows; numeric and finite.

    ``target`` (a NumPy float dtype, for regression targets): also refuse finite values that
    overflow it.
    """
    if y is None:
        raise ValueError(f"{name} is required")
    library = library_of(y)
    if library not in (None, "numpy"):
        y = to_numpy(y)
    try:
        arr = _host_numeric(y, name)
    except TypeError as exc:
        advice = _text_label_advice(y, name, regression=target is not None)
        if advice is None:
            raise
        raise TypeError(f"{exc}. {advice}") from None
    if arr.ndim == 0 or arr.ndim > 2:
        raise ValueError(f"{name} must have shape (n,) or (n, k), got shape {arr.shape}")
    if arr.shape[0] != n_samples:
        raise ValueError(f"{name} has {arr.shape[0]} rows but X has {n_samples} samples")
    check_finite_host(arr, name, target)
    return arr


def _text_label_advice(y: Any, name: str, regression: bool) -> str | None:
    """What to do with labels that are text (strings, or objects holding strings), else None."""
    try:
        arr = np.asarray(y)
    except (TypeError, ValueError):
        return None
    if arr.dtype.kind == "O":
        flat = arr.ravel()
        if not any(isinstance(v, str | bytes) for v in flat[:1000]):
            return None
    elif arr.dtype.kind not in "US":
        return None
    examples = ", ".join(repr(str(v)) for v in np.unique(arr.astype(str).ravel())[:3])
    if regression:
        return (
            f"{name} holds text ({examples}, ...): a regression model needs numbers; convert "
            f"them ({name}.astype(float)) or use output='softmax' for class labels"
        )
    return (
        f"{name} holds text labels ({examples}, ...): Model takes class indices 0..K-1 (or "
        f"one-hot rows); encode them with `idx, classes = scratchnet.data.encode_labels({name})` "
        "and fit on idx (classes[model.predict(X)] gives labels back), or use "
        "scratchnet.sklearn.MLPClassifier, which encodes labels itself"
    )


def refuse_unexpected(
    call: str, unexpected: dict[str, Any], valid: list[str], advice: dict[str, str]
) -> None:
    """Raise `TypeError` for keyword arguments ``call`` does not take, with pointed advice for
    the names other libraries use (``advice``: name -> what to write instead) and the closest
    valid names otherwise. Does nothing when ``unexpected`` is empty."""
    if not unexpected:
        return
    import difflib

    lines = []
    for key in unexpected:
        if key in advice:
            lines.append(f"{key}=: {advice[key]}")
            continue
        close = difflib.get_close_matches(key, valid, n=2, cutoff=0.6)
        hint = f"did you mean {' or '.join(f'{c}=' for c in close)}? " if close else ""
        lines.append(f"{key}=: {hint}{call} takes {', '.join(valid)}")
    kind = "arguments" if len(unexpected) > 1 else "argument"
    names = ", ".join(repr(k) for k in unexpected)
    raise TypeError(f"{call} got unexpected keyword {kind} {names}; " + "; ".join(lines))


def compile_advice(optimizer: Any = None) -> str:
    """The answer to Keras' ``model.compile(...)``: where each of its arguments goes."""
    opt = optimizer if isinstance(optimizer, str) else "adam"
    return (
        "scratchnet has no compile step: the optimiser and learning rate are arguments of fit "
        f"(model.fit(X, y, optimizer={opt!r}, lr=1e-3, epochs=10)), the loss comes with the "
        "output head chosen at construction (Model(output='softmax') trains cross-entropy, "
        "'sigmoid' binary cross-entropy, 'identity' squared error), and the metrics are fixed: "
        "fit's History and evaluate(X, y) report loss and accuracy (mse and r2 for regression)"
    )


#: other libraries' names for `Model`'s arguments, and what scratchnet takes instead
MODEL_ADVICE: dict[str, str] = {
    **dict.fromkeys(
        ("input_dim", "input_shape", "n_features", "n_inputs", "in_features"),
        "the input width is read from X at the first fit, or set by "
        "model.build(n_features, n_outputs)",
    ),
    **dict.fromkeys(
        ("n_classes", "num_classes", "n_outputs", "output_dim", "out_features"),
        "the number of outputs is read from y at the first fit, or set by "
        "model.build(n_features, n_outputs)",
    ),
    **dict.fromkeys(
        ("units", "hidden_units", "hidden_sizes", "layer_sizes", "hidden_dims"),
        "scratchnet calls it hidden=, the widths of the hidden layers: Model(hidden=(64, 32)); "
        "the model adds the output layer itself",
    ),
    "hidden_layer_sizes": (
        "scratchnet calls it hidden=: Model(hidden=(100,)); scratchnet.sklearn.MLPClassifier "
        "and MLPRegressor take scikit-learn's names (hidden_layer_sizes, alpha, max_iter, ...)"
    ),
    **dict.fromkeys(
        ("learning_rate", "learning_rate_init", "lr"),
        "the learning rate is an argument of fit: model.fit(X, y, lr=0.001)",
    ),
    **dict.fromkeys(
        ("optimizer", "solver"),
        "the optimiser is an argument of fit: model.fit(X, y, optimizer='adam', lr=0.001)",
    ),
    **dict.fromkeys(
        ("epochs", "batch_size", "max_iter", "callbacks", "validation_split", "verbose"),
        "this is an argument of fit: model.fit(X, y, epochs=10, batch_size=32, ...)",
    ),
    **dict.fromkeys(
        ("loss", "criterion"),
        "the loss comes with the output head: Model(output='softmax') trains cross-entropy, "
        "'sigmoid' binary cross-entropy, 'identity' squared error",
    ),
    "metrics": (
        "evaluate(X, y) returns the loss and accuracy (classifiers) or mse and r2 (regression), "
        "and fit's History records them per epoch"
    ),
    **dict.fromkeys(("output_activation", "out_activation", "final_activation"), "use output="),
    **dict.fromkeys(("random_state", "random_seed"), "scratchnet calls it seed=: Model(seed=0)"),
    **dict.fromkeys(("activations", "hidden_activation", "act"), "scratchnet calls it activation="),
    **dict.fromkeys(
        ("alpha", "weight_decay", "kernel_regularizer", "l2_reg"),
        "the L2 strength on all weights is l2=: Model(l2=1e-4); for decoupled weight decay "
        "pass optimizer=scratchnet.AdamW(weight_decay=...) to fit",
    ),
    **dict.fromkeys(("dropout_rate", "drop_rate", "p"), "scratchnet calls it dropout="),
    **dict.fromkeys(
        ("batchnorm", "batch_normalization", "use_batch_norm"), "scratchnet calls it batch_norm="
    ),
    **dict.fromkeys(
        ("kernel_initializer", "initializer", "weight_init"), "scratchnet calls it init="
    ),
}

#: other libraries' names for `Model.fit`'s arguments, and what scratchnet takes instead
FIT_ADVICE: dict[str, str] = {
    **dict.fromkeys(
        ("learning_rate", "learning_rate_init", "learningrate", "eta"),
        "scratchnet calls it lr: model.fit(X, y, lr=0.001)",
    ),
    "lr_schedule": (
        "lr takes a schedule too: model.fit(X, y, lr=scratchnet.schedules.ExponentialDecay(...))"
    ),
    **dict.fromkeys(
        ("nb_epoch", "n_epochs", "num_epochs", "max_epochs", "max_iter", "n_iter", "epoch"),
        "scratchnet calls it epochs: model.fit(X, y, epochs=100)",
    ),
    **dict.fromkeys(
        ("loss", "criterion"),
        "the loss comes with the output head, chosen when the model is made: "
        "Model(output='softmax') trains cross-entropy, 'sigmoid' binary cross-entropy, "
        "'identity' squared error",
    ),
    "metrics": (
        "fit's History records loss and accuracy (classifiers) per epoch, and evaluate(X, y) "
        "returns them (mse and r2 for regression)"
    ),
    **dict.fromkeys(("batch", "bs", "minibatch_size"), "scratchnet calls it batch_size="),
    "validation_fraction": "scratchnet calls it validation_split=",
    **dict.fromkeys(("val_data", "eval_set"), "scratchnet calls it validation_data=(X_val, y_val)"),
    "class_weights": "scratchnet calls it class_weight=",
    **dict.fromkeys(("sample_weights", "weights"), "scratchnet calls it sample_weight="),
    **dict.fromkeys(
        ("random_state", "seed"),
        "the seed belongs to the model and fixes shuffling too: Model(seed=0)",
    ),
    "initial_epoch": (
        "a later fit continues where the last stopped (model.epochs_done counts the epochs); "
        "epochs= is the number of epochs to add"
    ),
    "steps_per_epoch": "batch_size= decides the steps: ceil(n / batch_size) per epoch",
    **dict.fromkeys(
        ("device", "backend"),
        "the device belongs to the model: Model(backend=..., device=...) or model.to(...)",
    ),
}


def sample_weights(
    w: Any, n_samples: int, name: str = "sample_weight", target: Any = None
) -> np.ndarray | None:
    """Per-sample weights as float64 of shape (n,): finite, >= 0, not all zero, and (with
    ``target``, a NumPy float dtype) finite in ``target`` too."""
    if w is None:
        return None
    library = library_of(w)
    if library not in (None, "numpy"):
        w = to_numpy(w)
    arr = _host_numeric(w, name).astype(np.float64)
    if arr.shape != (n_samples,):
        raise ValueError(f"{name} must have shape ({n_samples},), got {arr.shape}")
    check_finite_host(arr, name, target)
    if (arr < 0).any():
        raise ValueError(f"{name} must be >= 0, found {arr.min()}")
    if not arr.sum() > 0:
        raise ValueError(f"{name} sums to zero: at least one sample needs a positive weight")
    return arr


def check_positive_int(value: Any, name: str, allow_none: bool = False) -> int | None:
    """An int >= 1 (bools refused), or None where allowed."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    return int(value)


def check_float(
    value: Any,
    name: str,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A finite real number within [low, high] (ends open where asked)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    v = float(value)
    if low is not None and (v < low or (low_open and v == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {value!r}")
    if high is not None and (v > high or (high_open and v == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {value!r}")
    return v


def named_arrays(
    values: Any, shapes: dict[str, tuple], what: str, backend: Any, dtype_name: str
) -> dict[str, Any]:
    """``values`` (name -> array) checked against ``shapes`` and copied to ``backend``.

    Parameters
    ----------
    values : dict
        NumPy arrays or arrays of the backend, one per name of ``shapes``.
    shapes : dict
        Expected name -> shape.
    what : str
        ``"parameters"`` or ``"state"``, for messages.
    """
    if not isinstance(values, dict):
        raise TypeError(f"{what} must be a dict name -> array, got {type(values).__name__}")
    missing = [n for n in shapes if n not in values]
    extra = [n for n in values if n not in shapes]
    if missing or extra:
        raise ValueError(
            f"{what} keys do not match the model: missing {missing}, unexpected {extra}"
        )
    converted = {}
    for name, shape in shapes.items():
        arr = to_device(values[name], backend, dtype=dtype_name)
        if tuple(arr.shape) != shape:
            raise ValueError(f"{what}[{name!r}] has shape {tuple(arr.shape)}, expected {shape}")
        converted[name] = backend.asarray(arr, copy=True)
    return converted

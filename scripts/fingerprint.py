"""Fingerprint trained models so that a refactoring can prove it changed no bits.

``python scripts/fingerprint.py write`` records SHA-256 digests of the parameters, batch-norm state,
optimiser state and loss history after fixed fits (NumPy backend, several configurations: every
optimiser, dropout, batch norm, L2, clipping, weights, each head, float64) in
``tests/data/fingerprints.json``, together with the machine's NumPy and BLAS description.
``python scripts/fingerprint.py check`` recomputes and compares; ``tests/test_fingerprints.py``
does the same where the recorded BLAS matches (bits depend on the matrix-product kernels).
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np

import scratchnet as sn

PATH = Path(__file__).resolve().parent.parent / "tests" / "data" / "fingerprints.json"


def _data(kind: str, n: int = 240, p: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    if kind == "softmax":
        y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5).astype(int)
    elif kind == "sigmoid":
        y = (X[:, 0] + X[:, 2] > 0).astype(int)
    else:
        y = X[:, 0] * 2.0 - X[:, 1] + 0.1 * rng.normal(size=n)
    return X, y


CONFIGS: dict[str, dict] = {
    "sgd": {"fit": {"optimizer": "sgd", "lr": 0.1}},
    "gd_full_batch": {"fit": {"optimizer": "gd", "lr": 0.2, "batch_size": None}},
    "momentum": {"fit": {"optimizer": "momentum", "lr": 0.05}},
    "nesterov": {"fit": {"optimizer": "nesterov", "lr": 0.05}},
    "adagrad": {"fit": {"optimizer": "adagrad", "lr": 0.05}},
    "rmsprop": {"fit": {"optimizer": "rmsprop", "lr": 0.01}},
    "adam": {"fit": {"optimizer": "adam", "lr": 0.01}},
    "adamw": {"fit": {"optimizer": "adamw", "lr": 0.01}},
    "adam_clip_norm": {"fit": {"optimizer": ("adam", {"lr": 0.01, "clip_norm": 0.5})}},
    "sgd_clip_value": {"fit": {"optimizer": ("sgd", {"lr": 0.1, "clip_value": 0.05})}},
    "dropout": {"model": {"dropout": 0.3}, "fit": {"optimizer": "adam", "lr": 0.01}},
    "batch_norm": {"model": {"batch_norm": True}, "fit": {"optimizer": "adam", "lr": 0.01}},
    "bn_dropout_l2": {
        "model": {"batch_norm": True, "dropout": 0.2, "l2": 1e-3, "hidden": (16, 8)},
        "fit": {"optimizer": "momentum", "lr": 0.05},
    },
    "l2_tanh": {"model": {"l2": 0.01, "activation": "tanh"}, "fit": {"optimizer": "adam"}},
    "sigmoid_head_weights": {
        "model": {"output": "sigmoid"},
        "data": "sigmoid",
        "fit": {"optimizer": "adam", "lr": 0.01, "class_weight": "balanced"},
    },
    "identity_head_sum": {
        "model": {"output": "identity", "reduction": "sum"},
        "data": "identity",
        "fit": {"optimizer": "sgd", "lr": 1e-4},
    },
    "float64_split_early_stop": {
        "model": {"dtype": "float64", "hidden": (12, 6)},
        "fit": {"optimizer": "adam", "lr": 0.01, "validation_split": 0.2, "early": True},
    },
}


def _digest(arrays: dict) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(sn.to_numpy(arrays[name]))
        h.update(name.encode())
        h.update(str(a.dtype).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def run_config(spec: dict) -> dict[str, str]:
    model_kw = {"hidden": (16,), "seed": 3, **spec.get("model", {})}
    fit_kw = dict(spec.get("fit", {}))
    X, y = _data(spec.get("data", "softmax"))
    if isinstance(fit_kw.get("optimizer"), tuple):
        name, kw = fit_kw["optimizer"]
        fit_kw["optimizer"] = type(sn.optimizers.get_optimizer(name))(**kw)
    callbacks = []
    if fit_kw.pop("early", False):
        callbacks.append(sn.EarlyStopping(patience=3))
    fit_kw.setdefault("batch_size", 32)
    model = sn.Model(**model_kw)
    hist = model.fit(X, y, epochs=8, callbacks=callbacks, **fit_kw)
    opt = model.optimizer
    out = {
        "parameters": _digest(model.parameters()),
        "state": _digest(model.state()),
        "history": hashlib.sha256(
            json.dumps({k: v for k, v in hist.history.items() if k != "seconds"}).encode()
        ).hexdigest(),
        "iterations": str(opt.iterations),
    }
    out["optimizer"] = _digest(_optimizer_slots(model))
    return out


def _optimizer_slots(model) -> dict:
    """Optimiser state under the save format's names ``optimizer/<parameter>/<slot>``."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.npz"
        model.save(path)
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.keys() if k.startswith("optimizer/")}


def environment() -> dict:
    from threadpoolctl import threadpool_info

    blas = [  # NumPy's own BLAS only: SciPy or PyTorch may load others in the same process
        {k: info.get(k) for k in ("internal_api", "version", "architecture")}
        for info in threadpool_info()
        if info.get("user_api") == "blas" and "numpy" in str(info.get("filepath", ""))
    ]
    return {"numpy": np.__version__, "machine": platform.machine(), "blas": blas}


def compute() -> dict:
    return {name: run_config(spec) for name, spec in CONFIGS.items()}


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 else "check"
    if mode == "write":
        PATH.parent.mkdir(parents=True, exist_ok=True)
        PATH.write_text(
            json.dumps({"environment": environment(), "fingerprints": compute()}, indent=1) + "\n"
        )
        print(f"wrote {PATH}")
        return 0
    recorded = json.loads(PATH.read_text())
    now = compute()
    bad = [k for k in recorded["fingerprints"] if recorded["fingerprints"][k] != now.get(k)]
    for k in bad:
        diff = {f for f in now[k] if now[k][f] != recorded["fingerprints"][k].get(f)}
        print(f"CHANGED {k}: {sorted(diff)}")
    print("environment recorded:", recorded["environment"], "now:", environment())
    print("all identical" if not bad else f"{len(bad)} of {len(now)} changed")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())

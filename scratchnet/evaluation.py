"""Inference-mode loss and metrics over prepared device arrays (`Model.evaluate`, validation).

One pass in chunks of ``model.inference_chunk`` rows through `Model.infer`: the summed loss (no
L2 penalty), accuracy for classifiers, and for regression the mean squared error and R^2 (per
output, weighted where weights are given, averaged). Sums stay on the device; each metric is read
back once. Features read by rows (a `scratchnet.streaming.RowStream`: a memory map, a validation
split of one) are read one chunk at a time by `Model.infer`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Array = Any


def evaluate_arrays(model: Any, Xd: Array, Y: Array, w: np.ndarray | None) -> dict[str, float]:
    """Inference-mode loss (no penalty) and metrics over prepared device arrays, in chunks.

    ``Xd`` (n, n_features) is a device array or a `RowStream`; ``Y`` (n, n_outputs) the encoded
    targets on the device; ``w`` the host weights of shape (n,) or None.
    """
    xp = model.backend.xp
    head = model.head
    n = int(Xd.shape[0])
    w_dev = None if w is None else model.backend.asarray(w, dtype=model.dtype)
    loss_sum = 0.0
    correct = 0.0
    sq_res = 0.0
    chunk = model.inference_chunk
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        F = model.infer(Xd[start:stop, ...])
        Yc = Y[start:stop, ...]
        losses, _ = head.sample_losses(F, Yc)
        if w_dev is None:
            loss_sum = loss_sum + xp.sum(losses)
        else:
            loss_sum = loss_sum + xp.sum(losses * w_dev[start:stop])
        if head.is_classifier:
            wc = None if w_dev is None else w_dev[start:stop]
            correct = correct + head.correct(F, Yc, wc, getattr(model.backend, "kernels", None))
        else:
            R = F - Yc
            R2 = R * R if w_dev is None else R * R * xp.expand_dims(w_dev[start:stop], axis=1)
            sq_res = sq_res + xp.sum(R2, axis=0)
    total_w = float(n if w is None else w.sum())
    scale = 1.0 if model.reduction == "sum" else 1.0 / total_w
    out = {"loss": float(loss_sum) * scale}
    if head.is_classifier:
        out["accuracy"] = float(correct) / total_w
    else:
        # R^2 = 1 - SS_res / SS_tot per output (weighted where weights are given), averaged
        Yh = model.backend.to_numpy(Y).astype(np.float64)
        wh = np.ones(n) if w is None else w
        D = Yh - np.average(Yh, axis=0, weights=wh)
        ss_tot = (wh[:, None] * D * D).sum(axis=0)
        ss_res = model.backend.to_numpy(sq_res).astype(np.float64)
        out["mse"] = float(ss_res.sum() / (total_w * ss_res.size))
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), 0.0)
        out["r2"] = float(r2.mean())
    return out

"""`Model.summary`: a table of layers, output shapes and parameter counts."""

from __future__ import annotations

from typing import Any

import numpy as np


def summarize(model: Any) -> str:
    """The summary table of a built model as text (see `Model.summary`)."""
    rows = [("layer (type)", "output shape", "params")]
    rows.append(("input", f"(n, {model.n_features})", "0"))
    for layer in model.layers:
        n = sum(int(np.prod(v.shape)) for v in layer.params.values())
        rows.append((f"{layer.name} ({type(layer).__name__})", f"(n, {layer.n_out})", f"{n:,}"))
    rows.append((f"{model.head.name} head", f"(n, {model.n_outputs})", "0"))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    rule = "-" * (sum(widths) + 4)
    lines = [
        f"Model: {len(model.layers)} layers on {model.backend.describe()}, {model.dtype_name}",
        rule,
    ]
    for j, r in enumerate(rows):
        lines.append(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}")
        if j == 0:
            lines.append(rule)
    n_state = sum(int(np.prod(v.shape)) for ly in model.layers for v in ly.state.values())
    lines += [
        rule,
        f"trainable parameters: {model.count_parameters():,}",
        f"non-trainable state: {n_state:,}",
    ]
    return "\n".join(lines)

"""`Model.summary`: a table of layers, output shapes and parameter counts, as text or HTML."""

from __future__ import annotations

import html
from typing import Any

import numpy as np


def _table(model: Any) -> tuple[str, list[tuple[str, str, str]], list[str]]:
    """(title, rows of (layer (type), output shape, params) with the header first, totals)."""
    rows = [("layer (type)", "output shape", "params")]
    rows.append(("input", f"(n, {model.n_features})", "0"))
    for layer in model.layers:
        n = sum(int(np.prod(v.shape)) for v in layer.params.values())
        rows.append((f"{layer.name} ({type(layer).__name__})", f"(n, {layer.n_out})", f"{n:,}"))
    rows.append((f"{model.head.name} head", f"(n, {model.n_outputs})", "0"))
    n_state = sum(int(np.prod(v.shape)) for ly in model.layers for v in ly.state.values())
    title = f"Model: {len(model.layers)} layers on {model.backend.describe()}, {model.dtype_name}"
    totals = [
        f"trainable parameters: {model.count_parameters():,}",
        f"non-trainable state: {n_state:,}",
    ]
    return title, rows, totals


def summarize(model: Any) -> str:
    """The summary table of a built model as text (see `Model.summary`)."""
    title, rows, totals = _table(model)
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    rule = "-" * (sum(widths) + 4)
    lines = [title, rule]
    for j, r in enumerate(rows):
        lines.append(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}")
        if j == 0:
            lines.append(rule)
    lines += [rule, *totals]
    return "\n".join(lines)


def summarize_html(model: Any) -> str:
    """The summary table of a built model as an HTML table (see `Model.summary_html`)."""
    title, rows, totals = _table(model)
    esc = html.escape
    head = "".join(
        f'<th style="text-align:{a}">{esc(c)}</th>' for c, a in zip(rows[0], _ALIGN, strict=True)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td style="text-align:{a}"><code>{esc(c)}</code></td>'
            for c, a in zip(r, _ALIGN, strict=True)
        )
        + "</tr>"
        for r in rows[1:]
    )
    foot = "".join(f'<tr><td colspan="3">{esc(t)}</td></tr>' for t in totals)
    return (
        f'<table class="scratchnet-summary"><caption style="text-align:left">{esc(title)}'
        f"</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
        f"<tfoot>{foot}</tfoot></table>"
    )


def unbuilt_html(text: str) -> str:
    """A model's Jupyter display before it is built: its repr and what builds it."""
    return (
        f"<pre>{html.escape(text)}</pre><p>Not built yet: <code>fit(X, y)</code> or "
        "<code>build(n_features, n_outputs)</code> creates the layers.</p>"
    )


_ALIGN = ("left", "left", "right")

"""Benchmark output: ``results.json`` (everything, raw times included) and ``results.md`` (tables)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

#: columns of the reference table: (header, result key, format)
REFERENCE_COLUMNS = (
    ("framework", "label", "s"),
    ("s/epoch (median)", "median_epoch_s", ".3f"),
    ("first epoch s", "first_epoch_median_s", ".3f"),
    ("samples/s", "samples_per_s", ",.0f"),
    ("x floor", "x_floor", ".2f"),
    ("test accuracy", "test_accuracy", ".4f"),
    ("predict rows/s", "predict_rows_per_s", ",.0f"),
    ("peak extra MiB", "train_extra_mib", ".1f"),
)
SIZES_COLUMNS = (
    ("config", "config", "s"),
    ("framework", "label", "s"),
    ("s/epoch (median)", "median_epoch_s", ".3f"),
    ("samples/s", "samples_per_s", ",.0f"),
    ("x floor", "x_floor", ".2f"),
    ("x time vs reference", "time_vs_reference", ".2f"),
    ("x FLOP vs reference", "flops_vs_reference", ".2f"),
    ("test accuracy", "test_accuracy", ".4f"),
)
RATIO_COLUMNS = (
    ("config", "config", "s"),
    ("scratchnet/PyTorch", "scratchnet/torch", ".2f"),
    ("scratchnet/scikit-learn", "scratchnet/sklearn", ".2f"),
    ("scratchnet/NumPy loop", "scratchnet/numpy-direct", ".2f"),
    ("compat/direct NumPy loop", "numpy-compat/numpy-direct", ".3f"),
    ("predict scratchnet/PyTorch", "predict scratchnet/torch", ".2f"),
)
MEMORY_COLUMNS = (
    ("framework", "label", "s"),
    ("data MiB", "data_mib", ".1f"),
    ("RSS after imports MiB", "rss_imports_mib", ".1f"),
    ("RSS after data MiB", "rss_after_data_mib", ".1f"),
    ("peak RSS MiB", "peak_rss_mib", ".1f"),
    ("peak extra MiB", "train_extra_mib", ".1f"),
    ("device peak MiB", "device_peak_mib", ".1f"),
    ("method", "method", "s"),
)


def fmt(value: Any, spec: str) -> str:
    """Format one cell; None and NaN become an en dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if spec == "s":
        return str(value)
    return format(value, spec)


def table(rows: list[dict[str, Any]], columns: tuple[tuple[str, str, str], ...]) -> str:
    """A Markdown table of ``rows`` with ``columns`` = (header, key, format spec)."""
    lines = [
        "| " + " | ".join(h for h, _, _ in columns) + " |",
        "|" + "|".join("---" if f == "s" else "---:" for _, _, f in columns) + "|",
    ]
    for row in rows:
        cells = [fmt(row.get(key), f).replace("|", "\\|") for _, key, f in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _skipped(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"- {r['config']} / {r['framework']}: {r['skipped']}" for r in rows if r.get("skipped")
    ]
    return ("Skipped:\n\n" + "\n".join(lines)) if lines else ""


def markdown(report: dict[str, Any]) -> str:
    """The Markdown report of a `benchmarks.run` result dict."""
    meta = report["meta"]
    data = meta["data"]
    out = ["# scratchnet benchmarks", ""]
    out.append(
        f"{meta['timestamp']} · {meta['platform']} · {meta['cpu_count']} CPUs · "
        f"threads {meta['threads']} · device {meta['device']} · scratchnet backend "
        f"{meta['backend']}"
    )
    out.append("")
    out.append(
        f"Data: {data['source']}, {data['n_train']:,} training x {data['n_features']} features, "
        f"{data['n_test']:,} test rows, {data['dtype']} ({data['train_mib']:.1f} MiB). "
        f"{meta['epochs']} epoch(s) x {meta['repeats']} repeat(s), Adam lr {meta['lr']}, "
        f"{'quick mode, ' if meta['quick'] else ''}versions: "
        + ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    )
    out.append("")
    for warning in report.get("warnings", []):
        out += [f"**Warning:** {warning}.", ""]
    peaks = report.get("matmul", [])
    if peaks:
        out += ["## Matrix-product peak", ""]
        out.append(
            table(
                peaks,
                (
                    ("library", "library", "s"),
                    ("device", "device", "s"),
                    ("when", "when", "s"),
                    ("n", "n", "d"),
                    ("best s", "best_s", ".4f"),
                    ("GFLOP/s", "gflops", ".1f"),
                ),
            )
        )
        ref = next((r for r in report["results"] if r["config"] == "reference"), None)
        if ref is not None and ref.get("floor_s") is not None:
            out.append("")
            out.append(
                f"Reference epoch: {ref['flops_per_epoch'] / 1e9:.1f} GFLOP of matrix products "
                f"({ref['flops_per_epoch'] // ref['n_train']:,} per sample); at "
                f"{report.get('floor_gflops', peaks[0]['gflops']):.1f} GFLOP/s (the faster "
                f"{peaks[0]['library']} peak of the run) the floor is {ref['floor_s']:.3f} s/epoch."
            )
            alone = report.get("batch_products")
            sn = next(
                (
                    r
                    for r in report["results"]
                    if r["config"] == "reference" and r["framework"] == "scratchnet"
                ),
                None,
            )
            if alone:
                line = (
                    f"The same products timed alone at the reference batch shapes (nothing else "
                    f"running): {alone['seconds']:.3f} s/epoch ({alone['gflops']:.1f} GFLOP/s), "
                    f"{alone['seconds'] / ref['floor_s']:.2f}x the floor"
                )
                if sn is not None and not sn.get("skipped"):
                    ratio = sn["median_epoch_s"] / alone["seconds"]
                    line += f"; scratchnet's epoch is {ratio:.2f}x that"
                out.append("")
                out.append(line + ".")
        out.append("")
    memory = {m["framework"]: m for m in report.get("memory", []) if "error" not in m}
    reference = [
        {**r, **{k: memory.get(r["framework"], {}).get(k) for k in ("train_extra_mib",)}}
        for r in report["results"]
        if r["config"] == "reference"
    ]
    out += ["## Reference task: " + (reference[0]["description"] if reference else ""), ""]
    out.append(table([r for r in reference if not r.get("skipped")], REFERENCE_COLUMNS))
    skipped = _skipped(reference)
    if skipped:
        out += ["", skipped]
    out += ["", "## Ratios (epoch time: below 1 means scratchnet is faster)", ""]
    out.append(table(report["ratios"], RATIO_COLUMNS))
    if report.get("memory"):
        out += ["", "## Peak memory while training (fresh process per framework)", ""]
        rows = [m for m in report["memory"] if "error" not in m]
        out.append(table(rows, MEMORY_COLUMNS))
        errors = [f"- {m['framework']}: {m['error']}" for m in report["memory"] if "error" in m]
        if errors:
            out += ["", "Failed:", "", *errors]
    sizes = [r for r in report["results"] if r["config"] != "reference"]
    if sizes:
        grow = {(g["framework"], g["config"]): g for g in report.get("growth", [])}
        rows = [
            {**r, **grow.get((r["framework"], r["config"]), {})}
            for r in sizes
            if not r.get("skipped")
        ]
        out += ["", "## Sizes: how epoch time grows from the reference", ""]
        out.append(table(rows, SIZES_COLUMNS))
        skipped = _skipped(sizes)
        if skipped:
            out += ["", skipped]
    if report.get("targets"):
        out += ["", "## Targets (reported, not asserted)", ""]
        out.append(
            table(
                report["targets"],
                (
                    ("target", "target", "s"),
                    ("value", "value", ".3f"),
                    ("goal", "goal", "s"),
                    ("met", "met", "s"),
                ),
            )
        )
    return "\n".join(out) + "\n"


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def write(report: dict[str, Any], out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``results.json`` and ``results.md`` into ``out_dir`` (created if needed).

    Returns
    -------
    (Path, Path)
        The JSON and Markdown paths.
    """
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / "results.json"
    md_path = folder / "results.md"
    json_path.write_text(json.dumps(report, indent=2, default=_json_default) + "\n")
    md_path.write_text(markdown(report))
    return json_path, md_path

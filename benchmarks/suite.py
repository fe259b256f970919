"""Benchmark configurations, the alternating timing loop, and the derived ratios and targets.

Timing protocol: for each configuration and each repeat, every framework in turn (A B C A B C ...)
gets a fresh model from that repeat's shared initial weights and trains ``epochs`` epochs; each
epoch is timed with ``time.perf_counter`` around one `Runner.train_epoch` call followed by
`Runner.synchronize`. The headline "s/epoch" is the median over all repeats of the epochs after
each repeat's first (its warm-up) when ``epochs >= 2``, else the median of all epochs; the first
epochs' median is reported separately.
"""

from __future__ import annotations

import gc
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .data import Dataset
from .flops import epoch_flops, floor_seconds, layer_sizes
from .frameworks import TrainSpec, init_parameters, make_runner, unavailable_reason


@dataclass(frozen=True)
class Config:
    """One network/batch combination.

    Attributes
    ----------
    name : str
        Short key ("reference", "batch32", "wide", ...).
    hidden : tuple of int
    batch_size : int
    description : str
    """

    name: str
    hidden: tuple[int, ...]
    batch_size: int
    description: str


REFERENCE = Config("reference", (256, 128), 128, "784-256-128-10, batch 128 (the reference task)")
SIZES = (
    Config("batch32", (256, 128), 32, "reference net, batch 32"),
    Config("batch1024", (256, 128), 1024, "reference net, batch 1024"),
    Config("wide", (2048, 2048), 128, "wide net 784-2048-2048-10, batch 128"),
    Config("deep", (64,) * 20, 128, "deep narrow net, 20 hidden layers of 64, batch 128"),
)
#: (framework, config) pairs skipped unless --include-slow
SLOW = {
    ("sklearn", "wide"): "skipped by default: scikit-learn on the wide net (31x the reference "
    "FLOP) takes minutes per run; --include-slow runs it",
}
#: frameworks timed on the sizes configurations (the NumPy loops only serve the reference)
SIZES_FRAMEWORKS = ("scratchnet", "sklearn", "torch")


def configs_for(suite: str) -> list[Config]:
    """Configurations of ``suite`` ("reference", "sizes" or "all"); the reference always comes first."""
    if suite == "reference":
        return [REFERENCE]
    if suite in ("sizes", "all"):
        return [REFERENCE, *SIZES]
    raise ValueError(f"suite must be 'reference', 'sizes' or 'all', got {suite!r}")


def load_average() -> float | None:
    """The system's 1-minute load average (None where the OS has none)."""
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):
        return None


def busy_machine_warning(results: list[dict], cpu_count: int, threads: int | None) -> str | None:
    """A warning when other processes competed for the CPUs during the timed runs.

    The 1-minute load average is sampled after each framework's run; the benchmark itself
    accounts for about ``threads`` of it. A maximum above ``cpu_count + 0.5`` means that the
    timings are unreliable.
    """
    loads = [v for r in results for v in r.get("load_average_1min", []) if v is not None]
    if not loads or max(loads) <= cpu_count + 0.5:
        return None
    return (
        f"the 1-minute load average reached {max(loads):.1f} on {cpu_count} CPUs during the "
        f"timed runs (this benchmark uses {threads or 'all'} threads): other processes competed "
        "for the CPUs, so the timings are unreliable; rerun on an idle machine"
    )


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _median(values: list[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def time_config(
    config: Config,
    frameworks: list[str],
    data: Dataset,
    base_spec: TrainSpec,
    epochs: int,
    repeats: int,
    predict_repeats: int,
    peak_gflops: float | None,
    include_slow: bool = False,
    log: Callable[[str], None] = _log,
) -> list[dict[str, Any]]:
    """Time every framework on one configuration, alternating them within each repeat.

    Parameters
    ----------
    config : Config
    frameworks : list of str
        Runner names, in the order they alternate.
    data : Dataset
    base_spec : TrainSpec
        Shared settings; ``hidden`` and ``batch_size`` come from ``config``.
    epochs, repeats : int
    predict_repeats : int
        Timed ``predict`` calls on the training rows after each repeat's training (0: none).
    peak_gflops : float, optional
        Matrix-product peak for the floor; None leaves floor columns empty.
    include_slow : bool
        Run the (framework, config) pairs listed in `SLOW`.
    log : callable
        Progress messages.

    Returns
    -------
    list of dict
        One result per framework (see ``benchmarks/README.md`` for the keys); a skipped
        framework has ``"skipped"`` set to the reason.
    """
    spec = replace(base_spec, hidden=config.hidden, batch_size=config.batch_size)
    sizes = layer_sizes(data.n_features, config.hidden, data.n_classes)
    n_train = int(data.X_train.shape[0])
    flops = epoch_flops(sizes, n_train)
    floor = floor_seconds(flops, peak_gflops) if peak_gflops else None
    common = {
        "config": config.name,
        "description": config.description,
        "layer_sizes": sizes,
        "batch_size": config.batch_size,
        "n_train": n_train,
        "flops_per_epoch": flops,
        "floor_s": floor,
    }
    skipped: dict[str, str] = {}
    for name in frameworks:
        reason = unavailable_reason(name, spec)
        if reason is None and not include_slow:
            reason = SLOW.get((name, config.name))
        if reason is not None:
            skipped[name] = reason
            log(f"[{config.name}] {name}: skipped ({reason})")
    active = [f for f in frameworks if f not in skipped]
    raw: dict[str, dict[str, Any]] = {
        f: {"epochs": [], "accuracy": [], "predict_s": [], "extra": [], "load": [], "label": f}
        for f in active
    }
    for r in range(repeats):
        init = init_parameters(sizes, base_spec.seed + r, base_spec.dtype)
        run_spec = replace(spec, seed=base_spec.seed + r)
        for name in active:
            runner = make_runner(name, run_spec, data, init)
            raw[name]["label"] = runner.label
            times = []
            for e in range(epochs):
                start = time.perf_counter()
                runner.train_epoch()
                runner.synchronize()
                times.append(time.perf_counter() - start)
                log(
                    f"[{config.name}] repeat {r + 1}/{repeats} {name}: epoch {e + 1} {times[-1]:.3f} s"
                )
            raw[name]["epochs"].append(times)
            X_test = runner.prepare(data.X_test)
            predicted = runner.to_labels(runner.predict(X_test))
            raw[name]["accuracy"].append(float(np.mean(predicted == data.y_test)))
            if predict_repeats > 0:
                X_all = runner.prepare(data.X_train)
                runner.synchronize()
                for _ in range(predict_repeats):
                    start = time.perf_counter()
                    runner.predict(X_all)
                    runner.synchronize()
                    raw[name]["predict_s"].append(time.perf_counter() - start)
                del X_all
            raw[name]["extra"].append(runner.extra_info())
            raw[name]["load"].append(load_average())
            del runner, X_test
            gc.collect()
    results = []
    for name in frameworks:
        if name in skipped:
            results.append({**common, "framework": name, "label": name, "skipped": skipped[name]})
            continue
        results.append({**common, **_summarise(name, raw[name], n_train, floor)})
    return results


def rescale_floor(results: list[dict[str, Any]], peak_gflops: float) -> None:
    """Set ``floor_s`` and ``x_floor`` of every result (in place) to those at ``peak_gflops``."""
    for r in results:
        r["floor_s"] = floor_seconds(r["flops_per_epoch"], peak_gflops)
        if not r.get("skipped"):
            r["x_floor"] = r["median_epoch_s"] / r["floor_s"]


def _summarise(name: str, raw: dict[str, Any], n_train: int, floor: float | None) -> dict:
    per_repeat = raw["epochs"]
    steady = [t for times in per_repeat for t in times[1:]]
    first = [times[0] for times in per_repeat]
    headline = _median(steady) if steady else _median(first)
    predict = _median(raw["predict_s"])
    out: dict[str, Any] = {
        "framework": name,
        "label": raw["label"],
        "skipped": None,
        "epoch_seconds": per_repeat,
        "median_epoch_s": headline,
        "first_epoch_median_s": _median(first),
        "min_epoch_s": min(t for times in per_repeat for t in times),
        "samples_per_s": n_train / headline,
        "x_floor": None if floor is None else headline / floor,
        "test_accuracy": _median(raw["accuracy"]),
        "test_accuracies": raw["accuracy"],
        "predict_seconds": raw["predict_s"],
        "predict_rows_per_s": None if predict is None else n_train / predict,
        "load_average_1min": raw["load"],
    }
    inner = [e["inner_epoch_seconds"] for e in raw["extra"] if "inner_epoch_seconds" in e]
    if inner:
        steady_inner = [t for times in inner for t in times[1:]]
        out["inner_median_epoch_s"] = _median(steady_inner or [times[0] for times in inner])
    return out


def _find(results: list[dict], config: str, framework: str) -> dict | None:
    for r in results:
        if r["config"] == config and r["framework"] == framework and not r.get("skipped"):
            return r
    return None


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def ratios(results: list[dict]) -> list[dict[str, Any]]:
    """Per configuration: scratchnet's epoch time over each other framework's, and predict speed.

    Returns
    -------
    list of dict
        ``config``, ``scratchnet/torch``, ``scratchnet/sklearn``, ``scratchnet/numpy-direct``
        (epoch-time ratios: below 1 means scratchnet is faster), ``numpy-compat/numpy-direct``
        (the array-api-compat cost), and ``predict scratchnet/torch`` (throughput ratio: above 1
        means scratchnet predicts faster).
    """
    out = []
    for config in dict.fromkeys(r["config"] for r in results):
        sn = _find(results, config, "scratchnet")
        row: dict[str, Any] = {"config": config}
        for other in ("torch", "sklearn", "numpy-direct"):
            o = _find(results, config, other)
            row[f"scratchnet/{other}"] = (
                _ratio(sn["median_epoch_s"], o["median_epoch_s"]) if sn and o else None
            )
        direct = _find(results, config, "numpy-direct")
        compat = _find(results, config, "numpy-compat")
        row["numpy-compat/numpy-direct"] = (
            _ratio(compat["median_epoch_s"], direct["median_epoch_s"])
            if direct and compat
            else None
        )
        torch = _find(results, config, "torch")
        row["predict scratchnet/torch"] = (
            _ratio(sn["predict_rows_per_s"], torch["predict_rows_per_s"]) if sn and torch else None
        )
        out.append(row)
    return out


def growth(results: list[dict]) -> list[dict[str, Any]]:
    """How each framework's epoch time grows from the reference configuration.

    Returns
    -------
    list of dict
        ``framework``, ``config``, ``median_epoch_s``, ``time_vs_reference`` and
        ``flops_vs_reference`` (equal growth means the extra work costs what its FLOP predict;
        at equal FLOP, as for batch sizes, the time ratio is pure overhead or efficiency).
    """
    out = []
    for r in results:
        if r.get("skipped") or r["config"] == REFERENCE.name:
            continue
        base = _find(results, REFERENCE.name, r["framework"])
        if base is None:
            continue
        out.append(
            {
                "framework": r["framework"],
                "config": r["config"],
                "description": r["description"],
                "median_epoch_s": r["median_epoch_s"],
                "time_vs_reference": r["median_epoch_s"] / base["median_epoch_s"],
                "flops_vs_reference": r["flops_per_epoch"] / base["flops_per_epoch"],
                "x_floor": r["x_floor"],
            }
        )
    return out


def targets(
    results: list[dict],
    memory: list[dict],
    device: str,
    backend: str = "numpy",
    extra_mib_budget: float = 200.0,
) -> list[dict[str, Any]]:
    """The issue's performance targets, each with the measured value (reported, never asserted).

    The CPU targets are defined for the NumPy backend, the GPU ones for any GPU backend; other
    CPU backends (torch, jax) get none.

    Returns
    -------
    list of dict
        ``target``, ``value`` (None when not measured), ``goal`` (text) and ``met`` (bool/None).
    """
    rows: list[dict[str, Any]] = []

    def add(target: str, value: float | None, goal: str, met: Callable[[float], bool]) -> None:
        rows.append(
            {
                "target": target,
                "value": value,
                "goal": goal,
                "met": None if value is None else met(value),
            }
        )

    ref = next((r for r in ratios(results) if r["config"] == REFERENCE.name), {})
    sn = _find(results, REFERENCE.name, "scratchnet")
    if device == "cpu" and backend == "numpy":
        add(
            "training epoch, scratchnet / PyTorch CPU",
            ref.get("scratchnet/torch"),
            "<= 0.6",
            lambda v: v <= 0.6,
        )
        add(
            "training epoch, scratchnet / scikit-learn",
            ref.get("scratchnet/sklearn"),
            "<= 0.5",
            lambda v: v <= 0.5,
        )
        add(
            "training epoch, scratchnet / matrix-product floor",
            None if sn is None else sn["x_floor"],
            "<= 2",
            lambda v: v <= 2.0,
        )
        add(
            "prediction throughput, scratchnet / PyTorch CPU",
            ref.get("predict scratchnet/torch"),
            ">= 1",
            lambda v: v >= 1.0,
        )
        mem = next(
            (m for m in memory if m.get("framework") == "scratchnet" and "error" not in m), None
        )
        add(
            "peak training memory beyond the loaded data, MiB",
            None if mem is None else mem["train_extra_mib"],
            f"<= {extra_mib_budget:.0f}",
            lambda v: v <= extra_mib_budget,
        )
        compat = ref.get("numpy-compat/numpy-direct")
        add(
            "array-api-compat path over direct NumPy (same loop)",
            None if compat is None else compat - 1.0,
            "<= 5% (0.05)",
            lambda v: v <= 0.05,
        )
    elif device != "cpu":
        for config in (REFERENCE.name, "batch1024"):
            s, t = _find(results, config, "scratchnet"), _find(results, config, "torch")
            value = _ratio(s["samples_per_s"], t["samples_per_s"]) if s and t else None
            add(
                f"GPU training throughput, scratchnet / PyTorch CUDA eager ({config})",
                value,
                ">= 1",
                lambda v: v >= 1.0,
            )
    return rows

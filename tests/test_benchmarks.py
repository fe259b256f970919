"""Smoke tests of the benchmark harness in ``benchmarks/`` (no timing assertions)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.data import load_dataset, synthetic  # noqa: E402
from benchmarks.flops import epoch_flops, flops_per_sample, layer_sizes  # noqa: E402
from benchmarks.frameworks import (  # noqa: E402
    TrainSpec,
    expand_frameworks,
    init_parameters,
    make_runner,
    unavailable_reason,
)
from benchmarks.numpy_mlp import NumpyMLP  # noqa: E402

REFERENCE_KEYS = {
    "framework",
    "label",
    "config",
    "median_epoch_s",
    "samples_per_s",
    "test_accuracy",
    "predict_rows_per_s",
    "flops_per_epoch",
    "floor_s",
    "x_floor",
    "epoch_seconds",
}


def test_epoch_flops_reference_net():
    sizes = layer_sizes(784, (256, 128), 10)
    assert sizes == [784, 256, 128, 10]
    assert flops_per_sample(sizes) == 1_007_104
    assert epoch_flops(sizes, 60_000) == 1_007_104 * 60_000  # 60.4 GFLOP
    assert round(epoch_flops(sizes, 60_000) / 1e9, 1) == 60.4


def test_epoch_flops_is_general():
    # one layer: forward + weight gradient only (no input gradient for the first layer)
    assert flops_per_sample([3, 2]) == 2 * 6 + 2 * 6
    # two layers: the second layer's input gradient is counted
    assert flops_per_sample([3, 4, 2]) == 2 * (12 + 8) * 2 + 2 * 8
    with pytest.raises(ValueError):
        flops_per_sample([784])


def test_expand_frameworks():
    assert expand_frameworks("scratchnet, numpy,torch") == [
        "scratchnet",
        "numpy-direct",
        "numpy-compat",
        "torch",
    ]
    with pytest.raises(ValueError, match="unknown framework"):
        expand_frameworks("scratchnet,keras")


def test_numpy_loop_direct_and_compat_agree():
    pytest.importorskip("array_api_compat")
    data = synthetic(n_train=300, n_test=10, n_features=20, n_classes=3, seed=1)
    init = init_parameters([20, 16, 3], seed=2)
    nets = [NumpyMLP(init, 3, 64, 1e-2, seed=3, namespace=ns) for ns in ("direct", "compat")]
    for net in nets:
        Y = net.one_hot(data.y_train)
        for _ in range(2):
            net.train_epoch(data.X_train, Y)
    for a, b in zip(nets[0].B + nets[0].c, nets[1].B + nets[1].c, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(nets[0].B[0], init[0][0])  # it did train


def test_runners_start_from_identical_weights():
    data = synthetic(n_train=256, n_test=64, seed=0)
    init = init_parameters(layer_sizes(784, (32, 16), 10), seed=5)
    spec = TrainSpec(hidden=(32, 16), batch_size=64, threads=None)
    names = [
        n
        for n in ("scratchnet", "sklearn", "torch", "numpy-direct")
        if not unavailable_reason(n, spec)
    ]
    assert "scratchnet" in names
    predictions = {}
    for name in names:
        runner = make_runner(name, spec, data, init)
        predictions[name] = runner.to_labels(runner.predict(runner.prepare(data.X_test)))
    for name, labels in predictions.items():
        np.testing.assert_array_equal(labels, predictions["scratchnet"], err_msg=name)


def test_load_dataset_synthetic_shape():
    data = load_dataset(n_train=100, n_test=20, synthetic_only=True)
    assert data.X_train.shape == (100, 784) and data.X_train.dtype == np.float32
    assert data.source == "synthetic" and data.n_classes == 10
    assert 0.0 <= data.X_train.min() and data.X_train.max() < 1.0


def _positive(value) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def test_quick_run_writes_json_and_markdown(tmp_path):
    out = tmp_path / "bench"
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.run",
        "--quick",
        "--suite",
        "all",
        "--samples",
        "512",
        "--test-samples",
        "128",
        "--out",
        str(out),
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]

    report = json.loads((out / "results.json").read_text())
    assert {"meta", "matmul", "results", "ratios", "growth", "memory", "targets"} <= set(report)
    assert report["meta"]["quick"] is True and report["meta"]["data"]["n_train"] == 512
    assert _positive(report["matmul"][0]["gflops"])
    # the peak measured again after the training runs; the floor uses the faster of the two
    lib = report["matmul"][0]["library"]
    own = [m for m in report["matmul"] if m["library"] == lib]
    assert [m["when"] for m in own] == ["start", "end"]
    assert report["floor_gflops"] == max(m["gflops"] for m in own)
    alone = report["batch_products"]  # the reference products alone, at batch shapes
    assert alone["batch_size"] == 128 and _positive(alone["seconds"]) and _positive(alone["gflops"])

    ran = [r for r in report["results"] if not r.get("skipped")]
    ref = {r["framework"]: r for r in ran if r["config"] == "reference"}
    assert "scratchnet" in ref
    for r in ref.values():
        assert REFERENCE_KEYS <= set(r), r["framework"]
        floor = r["flops_per_epoch"] / (report["floor_gflops"] * 1e9)
        assert r["floor_s"] == pytest.approx(floor)
        assert r["x_floor"] == pytest.approx(r["median_epoch_s"] / floor)
        for key in ("median_epoch_s", "samples_per_s", "predict_rows_per_s", "x_floor"):
            assert _positive(r[key]), (r["framework"], key, r[key])
        assert 0.0 <= r["test_accuracy"] <= 1.0
    configs = {r["config"] for r in report["results"]}
    assert {"reference", "batch32", "batch1024", "wide", "deep"} <= configs
    skipped = {(r["config"], r["framework"]) for r in report["results"] if r.get("skipped")}
    if "sklearn" in ref:
        assert ("wide", "sklearn") in skipped
    assert any(g["config"] == "batch1024" for g in report["growth"])

    ratio = next(r for r in report["ratios"] if r["config"] == "reference")
    if "torch" in ref:
        assert _positive(ratio["scratchnet/torch"])
    if "sklearn" in ref:
        assert _positive(ratio["scratchnet/sklearn"])
    assert _positive(ratio["numpy-compat/numpy-direct"])

    memory = {m["framework"]: m for m in report["memory"]}
    assert "error" not in memory["scratchnet"], memory["scratchnet"]
    assert _positive(memory["scratchnet"]["peak_rss_mib"])
    assert memory["scratchnet"]["train_extra_mib"] >= 0
    assert {t["target"] for t in report["targets"]}

    md = (out / "results.md").read_text()
    for heading in (
        "## Matrix-product peak",
        "## Reference task",
        "## Ratios",
        "## Peak memory",
        "## Sizes",
        "## Targets",
        "timed alone at the reference batch shapes",
    ):
        assert heading in md
    for column in (
        "s/epoch (median)",
        "samples/s",
        "x floor",
        "test accuracy",
        "predict rows/s",
        "peak extra MiB",
    ):
        assert column in md
    assert "scratchnet" in md


def test_script_entry_point(tmp_path):
    cmd = [
        sys.executable,
        str(ROOT / "benchmarks" / "run.py"),
        "--quick",
        "--frameworks",
        "scratchnet",
        "--samples",
        "256",
        "--test-samples",
        "64",
        "--no-memory",
        "--out",
        str(tmp_path),
    ]
    proc = subprocess.run(
        cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "results.json").read_text())
    assert [r["framework"] for r in report["results"]] == ["scratchnet"]
    assert report["memory"] == []


def test_the_small_data_ufunc_variant_trains_on_the_ufunc_kernels_and_restores_them():
    pytest.importorskip("sklearn")
    from benchmarks import small_data
    from scratchnet.backends import get_backend
    from scratchnet.sklearn import MLPClassifier

    backend = get_backend("numpy")
    before = backend.kernels
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    with small_data._UfuncKernelsOnly():
        est = MLPClassifier(max_iter=3).fit(X, y)
        assert type(est.model_.backend.kernels).__name__ == "UfuncKernels"
    assert backend.kernels is before


def test_small_data_suite_runs_and_reports_both_estimators(tmp_path):
    pytest.importorskip("sklearn")
    from benchmarks import small_data

    assert small_data.main(["--quick", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "small_data.json").read_text())
    assert report["max_iter"] == 20 and len(report["rows"]) == 2
    for row in report["rows"]:
        for label in ("scikit-learn", "scratchnet"):
            assert row[label]["epochs"] >= 1 and 0.0 <= row[label]["accuracy"] <= 1.0
            assert row[label]["fit_s"] > 0
        assert math.isclose(
            row["ratio_fit"], row["scratchnet"]["fit_s"] / row["scikit-learn"]["fit_s"]
        )
        if report["kernels"] == "numba":  # the ufunc-kernel run trains to the same bits
            unfused = row["scratchnet-ufunc"]
            assert unfused["accuracy"] == row["scratchnet"]["accuracy"]
            assert unfused["epochs"] == row["scratchnet"]["epochs"]
            assert math.isclose(
                row["ratio_fused_unfused"],
                row["scratchnet"]["ms_per_epoch"] / unfused["ms_per_epoch"],
            )
    text = (tmp_path / "small_data.md").read_text()
    assert "ratio per epoch" in text
    assert ("fused / ufunc" in text) == (report["kernels"] == "numba")
    # fresh processes: each variant imported and fitted twice; the default policy keeps the
    # ufunc kernels for a fit this short, "1" loads the loops first, "0" never
    first = {(r["estimator"], r["SCRATCHNET_NUMBA"]): r for r in report["first_fits"]}
    assert set(first) == set(small_data.FIRST_FIT_VARIANTS)
    for row in first.values():
        assert "error" not in row, row
        assert row["dataset"] == "iris (150 x 4)" and row["first_fit_s"] > 0 < row["second_fit_s"]
    assert first[("scratchnet", "auto")]["kernels_after"] == "ufunc"
    assert first[("scratchnet", "0")]["kernels_after"] == "ufunc"
    if report["kernels"] == "numba":
        assert first[("scratchnet", "1")]["kernels_after"] == "numba"
    assert "First fits in a fresh process" in text


def test_rescale_floor_recomputes_the_floor_and_the_ratio_of_every_run_row():
    from benchmarks.suite import rescale_floor

    rows = [
        {"flops_per_epoch": 2e9, "floor_s": 0.04, "median_epoch_s": 0.1, "x_floor": 2.5},
        {"flops_per_epoch": 2e9, "floor_s": 0.04, "skipped": "not installed"},
    ]
    rescale_floor(rows, 100.0)  # 2 GFLOP at 100 GFLOP/s: 0.02 s
    assert rows[0]["floor_s"] == pytest.approx(0.02) and rows[0]["x_floor"] == pytest.approx(5.0)
    assert rows[1]["floor_s"] == pytest.approx(0.02) and "x_floor" not in rows[1]

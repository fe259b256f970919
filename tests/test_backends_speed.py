"""Smoke tests of ``benchmarks/backends_speed.py`` (the per-backend speed table; no timing asserts)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.backends_speed import VARIANTS, best_round, table  # noqa: E402

HEADER = "| backend | MNIST-shaped epoch (256 rows) | digits epoch (1,347 rows) | notes |"


def test_quick_run_prints_the_table(tmp_path):
    pytest.importorskip("sklearn")
    raw = tmp_path / "speed.json"
    cmd = [sys.executable, "-m", "benchmarks.backends_speed", "--quick", "--rows", "256",
           "--digits-epochs", "1", "--backends", "numpy,numpy-ufunc",
           "--json", str(raw)]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[0] == HEADER and lines[1].startswith("| --- |")
    assert [line.split("|")[1].strip() for line in lines[2:]] == ["numpy", "numpy-ufunc"]
    assert "SCRATCHNET_NUMBA=0" in lines[3]
    results = json.loads(raw.read_text())["results"]
    for variant in ("numpy", "numpy-ufunc"):
        for task in ("mnist", "digits"):
            seconds = results[variant][task]["seconds"]
            assert len(seconds) == 1 and all(math.isfinite(s) and s > 0 for s in seconds)
    assert results["numpy"]["mnist"]["describe"] == "numpy on cpu"
    assert lines[2].split("|")[2].strip().endswith("(1.00x)")  # numpy is the reference


def test_table_lists_skipped_backends_with_the_reason():
    results = {
        "numpy": {"mnist": {"min_s": 2.0}, "digits": {"min_s": 0.004}, "numba": True},
        "torch": {"mnist": {"min_s": 3.0}, "digits": {"min_s": 0.010}},
        "jax": {"skipped": "jax is not installed"},
    }
    lines = table(results, 60_000).splitlines()
    assert lines[0] == HEADER.replace("256", "60,000")
    assert lines[2] == "| numpy | 2.000 s (1.00x) | 4.0 ms (1.00x) | fused Numba optimiser |"
    assert lines[3] == "| torch | 3.000 s (1.50x) | 10.0 ms (2.50x) |  |"
    assert lines[4] == "| jax | n/a | n/a | not measured: jax is not installed |"


def test_best_round_keeps_every_epoch_and_the_fastest():
    runs = [
        {"mnist": {"seconds": [2.0, 9.0]}, "digits": {"seconds": [0.01]}, "numba": True},
        {"mnist": {"seconds": [1.5, 1.7]}, "digits": {"seconds": [0.02]}, "numba": True},
    ]
    merged = best_round(runs)
    assert merged["mnist"]["seconds"] == [2.0, 9.0, 1.5, 1.7]
    assert merged["mnist"]["min_s"] == 1.5 and merged["mnist"]["median_s"] == 1.85
    assert merged["digits"]["min_s"] == 0.01
    assert merged["numba"] is True and merged["rounds"] == runs
    assert runs[0]["mnist"]["seconds"] == [2.0, 9.0]  # the rounds are not changed
    assert best_round([{"skipped": "no"}]) == {"skipped": "no"}


def test_every_cpu_backend_is_a_variant():
    assert set(VARIANTS) == {"numpy", "numpy-ufunc", "torch", "jax", "array_api_strict"}
    assert VARIANTS["numpy-ufunc"] == ("numpy", {"SCRATCHNET_NUMBA": "0"})


def test_unknown_backend_is_refused():
    cmd = [sys.executable, "-m", "benchmarks.backends_speed", "--backends", "numpy,tensorflow"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode != 0
    assert "--backends takes a comma list of numpy, numpy-ufunc" in proc.stderr
    assert "tensorflow" in proc.stderr and "Traceback" not in proc.stderr

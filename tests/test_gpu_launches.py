"""The launch counter of ``benchmarks/gpu_launches.py``: trace parsing here, the count on a GPU."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.gpu_launches import count_device_events, per_step, unusable_reason  # noqa: E402


def test_counts_kernels_copies_and_fills_but_not_host_events():
    trace = {
        "traceEvents": [
            {"cat": "kernel", "name": "gemm"},
            {"cat": "Kernel", "name": "adam"},
            {"cat": "gpu_memcpy"},
            {"cat": "gpu_memset"},
            {"cat": "gpu_memset"},
            {"cat": "cpu_op", "name": "aten::mm"},
            {"cat": "cuda_runtime", "name": "cudaLaunchKernel"},
            {"ph": "M"},
        ]
    }
    assert count_device_events(trace) == Counter(kernels=2, copies=1, fills=2)


def test_per_step_divides_and_reports_every_category():
    assert per_step(Counter(kernels=40, copies=2), 20) == {
        "kernels": 2.0,
        "copies": 0.1,
        "fills": 0.0,
    }
    with pytest.raises(ValueError, match="steps must be >= 1"):
        per_step(Counter(), 0)


def test_refuses_what_is_not_a_trace():
    with pytest.raises(ValueError, match="traceEvents"):
        count_device_events({"events": []})


def test_without_a_gpu_exits_with_one_line():
    if unusable_reason() is None:
        pytest.skip("a GPU is usable here: the count itself runs in scripts/gpu_check.sh")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.gpu_launches", "--steps", "2"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gpu_launches: "), done.stderr
    assert "Traceback" not in done.stderr

"""Every example runs in quick mode, as a user would start it (a subprocess from the repo root)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.name for p in (ROOT / "examples").glob("*.py") if not p.name.startswith("_"))

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")


def _run(script: str, tmp_path: Path, *extra: str) -> str:
    env = {**os.environ, "SCRATCHNET_QUICK": "1", "SCRATCHNET_OFFLINE": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), "--out", str(tmp_path), *extra],
        capture_output=True, text=True, env=env, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.mark.parametrize("script", EXAMPLES)
def test_example_runs_in_quick_mode(script, tmp_path):
    if script == "dask_model_search.py":  # starts a LocalCluster of 2 worker processes
        pytest.importorskip("distributed", reason="needs dask[distributed]")
    if script == "distributed_mnist.py":  # one MPI rank; tests/test_distributed.py runs two
        pytest.importorskip("mpi4py", reason="mpi4py is not installed (scratchnet[mpi])")
    out = _run(script, tmp_path)
    assert out.strip(), f"{script} printed nothing"


def test_main_job_writes_model_and_figures(tmp_path):
    out = _run("train_mnist.py", tmp_path)
    assert "test accuracy" in out
    for name in ("mnist_model.npz", "learning_curves.png", "confusion_matrix.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    import scratchnet as sn

    model = sn.load(tmp_path / "mnist_model.npz")
    assert model.n_outputs == 10


def test_examples_take_a_backend(tmp_path):
    pytest.importorskip("torch")
    out = _run("digits.py", tmp_path, "--backend", "torch")
    assert "test accuracy" in out


def test_single_neuron_example_agrees_with_the_closed_form(tmp_path):
    out = _run("single_neuron_chain.py", tmp_path)
    worst = float(out.strip().splitlines()[-1].split()[-1])
    assert worst < 1e-10

"""Every example runs in quick mode, as a user would start it (a subprocess from the repo root)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.name for p in (ROOT / "examples").glob("*.py") if not p.name.startswith("_"))

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")


def _start(script: str, tmp_path: Path, *extra: str, env: dict | None = None):
    env = {**os.environ, "SCRATCHNET_QUICK": "1", "SCRATCHNET_OFFLINE": "1", "MPLBACKEND": "Agg",
           **(env or {})}  # fmt: skip
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), "--out", str(tmp_path), *extra],
        capture_output=True, text=True, env=env, timeout=300, cwd=ROOT,
    )  # fmt: skip


def _run(script: str, tmp_path: Path, *extra: str, env: dict | None = None) -> str:
    proc = _start(script, tmp_path, *extra, env=env)
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


def _no_mnist_env(tmp_path: Path) -> dict:
    """Environment in which no MNIST can be found: empty search folders, downloads off."""
    empty = tmp_path / "no-data"
    empty.mkdir()
    return {"SCRATCHNET_MNIST": str(empty), "SCRATCHNET_DATA": str(empty),
            "XDG_CACHE_HOME": str(empty)}  # fmt: skip


def test_main_job_writes_model_and_figures(tmp_path):
    out = _run("train_mnist.py", tmp_path)
    assert "test accuracy" in out
    data = "digits" if "fallback:" in out else "mnist"  # MNIST where this machine has it
    for name in ("model.npz", "learning_curves.png", "confusion.png"):
        assert (tmp_path / f"{data}_{name}").stat().st_size > 0, name
    import scratchnet as sn

    model = sn.load(tmp_path / f"{data}_model.npz")
    assert model.n_outputs == 10


def test_main_job_names_its_files_after_the_fallback_data(tmp_path):
    out = _run("train_mnist.py", tmp_path / "out", env=_no_mnist_env(tmp_path))
    lines = out.splitlines()
    fallback = [line for line in lines if line.startswith("fallback:")]
    assert len(fallback) == 1, f"expected one line announcing the fallback:\n{out}"
    assert "MNIST was not found" in fallback[0] and "digits" in fallback[0]
    assert lines.index(fallback[0]) == 0, "the fallback is announced before anything else"
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["digits_confusion.png", "digits_learning_curves.png", "digits_model.npz"]
    assert not any("mnist" in name for name in written)


def _validation_on_test_data(path: Path) -> list[str]:
    """Lines of ``path`` where a fit validates on arrays whose names say they are test data."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call):
            continue
        for keyword in node.keywords:
            if keyword.arg not in ("validation_data", "eval_set"):
                continue
            names = [n.id for n in ast.walk(keyword.value) if isinstance(n, ast.Name)]
            if any("test" in name.lower() for name in names):
                found.append(
                    f"{path.name}:{node.lineno}: {keyword.arg}={ast.unparse(keyword.value)}"
                )
    return found


def test_no_example_validates_on_its_test_set():
    scripts = sorted((ROOT / "examples").glob("*.py"))
    assert len(scripts) >= 5
    found = [hit for script in scripts for hit in _validation_on_test_data(script)]
    assert not found, "examples validate on the test set (use validation_split=):\n" + "\n".join(
        found
    )


def test_the_validation_scan_catches_test_arrays(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("model.fit(X, y, validation_data=(X_test, y_test))\n"
                   "model.fit(X, y, validation_data=(X_val, y_val))\n")  # fmt: skip
    assert _validation_on_test_data(bad) == ["bad.py:1: validation_data=(X_test, y_test)"]


def test_an_unusable_backend_ends_with_one_line_not_a_traceback(tmp_path):
    import scratchnet as sn

    if sn.available_backends()["cupy"].available:
        pytest.skip("CuPy works on this machine (a GPU is present)")
    proc = _start("digits.py", tmp_path, "--backend", "cupy")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("examples: backend 'cupy' is not usable here: ")
    assert proc.stdout == ""


def test_an_unknown_backend_name_ends_with_one_line(tmp_path):
    proc = _start("breast_cancer.py", tmp_path, "--backend", "tensorflow")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "examples: backend 'tensorflow' is not usable here: unknown backend 'tensorflow'; valid "
        "names are 'numpy', 'cupy', 'torch', 'jax', 'array_api_strict', 'auto'"
    ]


def test_gpu_example_falls_back_from_cupy_to_numpy(tmp_path):
    import scratchnet as sn

    if sn.available_backends()["cupy"].available:
        pytest.skip("CuPy works on this machine (a GPU is present)")
    out = _run("gpu_training.py", tmp_path, "--backend", "cupy")
    assert out.startswith("no CuPy GPU here (") and "training on numpy on cpu" in out


def test_examples_take_a_backend(tmp_path):
    pytest.importorskip("torch")
    out = _run("digits.py", tmp_path, "--backend", "torch")
    assert "test accuracy" in out


def test_single_neuron_example_agrees_with_the_closed_form(tmp_path):
    out = _run("single_neuron_chain.py", tmp_path)
    worst = float(out.strip().splitlines()[-1].split()[-1])
    assert worst < 1e-10

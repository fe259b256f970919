"""The tutorial notebook runs from top to bottom, and is stored without outputs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "examples" / "notebooks").glob("*.ipynb"))
TUTORIAL = ROOT / "examples" / "notebooks" / "backprop_by_hand.ipynb"


def test_the_tutorial_is_there():
    assert TUTORIAL in NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_stored_without_outputs(path):
    nbformat = pytest.importorskip("nbformat", reason="needs nbformat (scratchnet[test])")
    raw = json.loads(path.read_text())
    assert raw["nbformat"] == 4
    nb = nbformat.reads(path.read_text(), as_version=4)
    nbformat.validate(nb)  # raises on an invalid notebook
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code, "the notebook has no code"
    for cell in code:
        assert cell.execution_count is None, f"stored with an execution count:\n{cell.source}"
        assert cell.outputs == [], f"stored with outputs:\n{cell.source}"
    assert nb.metadata.kernelspec.name == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_without_errors(path, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="needs nbformat (scratchnet[test])")
    nbclient = pytest.importorskip("nbclient", reason="needs nbclient (scratchnet[test])")
    if importlib.util.find_spec("ipykernel") is None:  # not imported here: it runs the kernel
        pytest.skip("needs ipykernel (scratchnet[test])")
    pytest.importorskip("matplotlib")
    pytest.importorskip("sklearn")
    monkeypatch.setenv("MPLBACKEND", "Agg")  # the kernel inherits the environment
    monkeypatch.setenv("SCRATCHNET_OFFLINE", "1")
    nb = nbformat.reads(path.read_text(), as_version=4)
    # one more cell, run last: which scratchnet did the kernel import?
    nb.cells.append(nbformat.v4.new_code_cell("import scratchnet\nprint(scratchnet.__file__)"))
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on an error
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]  # fmt: skip
    assert not errors
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                      for o in c.outputs if o.output_type == "stream")  # fmt: skip
    assert "gradient check: max relative error" in printed
    assert "test accuracy" in printed
    where = Path(nb.cells[-1].outputs[0]["text"].strip())  # this checkout, not another copy
    assert where.resolve().is_relative_to(ROOT.resolve()), where

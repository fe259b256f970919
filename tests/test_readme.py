"""The README's quickstart is examples/digits.py's code, and it runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
EXAMPLE = ROOT / "examples" / "digits.py"
START, END = "# --- quickstart ---\n", "# --- end quickstart ---"


def _quickstart_blocks() -> list[str]:
    """The ```python blocks of the README's "## Quickstart" section, in order."""
    text = README.read_text()
    section = re.search(r"^## Quickstart\n(.*?)(?=^## )", text, re.S | re.M)
    assert section, "the README lost its '## Quickstart' section"
    blocks = re.findall(r"```python\n(.*?)```", section.group(1), re.S)
    assert len(blocks) >= 2, "the quickstart needs the code block and the block that calls it"
    return blocks


def _example_region() -> str:
    code = EXAMPLE.read_text()
    assert code.count(START) == 1 and code.count(END) == 1, f"{EXAMPLE.name} lost its markers"
    return code.split(START, 1)[1].split(END, 1)[0]


def test_quickstart_is_the_digits_example():
    block, region = _quickstart_blocks()[0], _example_region()
    # blank lines around the markers are layout; everything else must match character for character
    assert block.strip("\n") == region.strip("\n"), (
        "README.md's quickstart and examples/digits.py (between the quickstart markers) differ; "
        "copy one into the other"
    )


def test_the_comparison_fails_when_they_diverge():
    block, region = _quickstart_blocks()[0], _example_region()
    changed = block.replace("lr=2e-3", "lr=3e-3")
    assert changed != block, "the quickstart no longer sets lr=2e-3; update this test"
    assert changed.strip("\n") != region.strip("\n")


def test_quickstart_block_runs(tmp_path, monkeypatch):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__main__"}
    for block in _quickstart_blocks():
        exec(compile(block, str(README), "exec"), namespace)
    assert namespace["scores"]["accuracy"] > 0.9
    assert namespace["model"].n_outputs == 10  # the trained model is left for the reader
    assert (tmp_path / "digits.npz").exists() and (tmp_path / "digits_curves.png").exists()

"""The README's quickstart runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_quickstart_block_runs(tmp_path, monkeypatch):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    block = re.search(r"## Quickstart\n\n```python\n(.*?)```", README.read_text(), re.S)
    assert block, "the README lost its quickstart block"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(block.group(1), str(README), "exec"), namespace)
    assert namespace["model"].evaluate(namespace["X_test"], namespace["y_test"])["accuracy"] > 0.9
    assert (tmp_path / "digits.npz").exists() and (tmp_path / "curves.png").exists()

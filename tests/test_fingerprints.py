"""Behaviour does not drift: fixed fits give the recorded bits, and files of format 1 still load.

``tests/data/fingerprints.json`` holds SHA-256 digests of parameters, state, optimiser slots and
history after fixed NumPy fits (``scripts/fingerprint.py``), recorded before the parameter store
replaced per-layer arrays. Bits depend on the BLAS kernels, so the comparison runs only where the
recorded NumPy and BLAS match this machine's. ``tests/data/format-v1/`` holds models saved by
scratchnet 0.1 with their predictions.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import scratchnet as sn

DATA = Path(__file__).parent / "data"
SCRIPT = Path(__file__).parent.parent / "scripts" / "fingerprint.py"


def _fingerprint_module():
    spec = importlib.util.spec_from_file_location("fingerprint", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RECORDED = json.loads((DATA / "fingerprints.json").read_text())


@pytest.mark.parametrize("config", sorted(RECORDED["fingerprints"]))
def test_fixed_fits_give_the_recorded_bits(config):
    pytest.importorskip("threadpoolctl")
    fp = _fingerprint_module()
    if fp.environment() != RECORDED["environment"]:
        pytest.skip(f"bits were recorded with {RECORDED['environment']}, here {fp.environment()}")
    assert fp.run_config(fp.CONFIGS[config]) == RECORDED["fingerprints"][config]


EXPECTED = json.loads((DATA / "format-v1" / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(EXPECTED["expected"]))
def test_files_written_by_scratchnet_0_1_still_load_and_train(name):
    want = EXPECTED["expected"][name]
    model = sn.load(DATA / "format-v1" / f"{name}.npz")
    X = np.asarray(EXPECTED["X"])
    np.testing.assert_allclose(sn.to_numpy(model.predict_proba(X)), want["predict_proba"],
                               rtol=1e-6, atol=1e-7)  # fmt: skip
    assert (model.epochs_done, model.steps_done) == (want["epochs_done"], want["steps_done"])
    slots = model.optimizer.state_arrays(model.parameter_layout, model.backend.xp)
    with np.load(DATA / "format-v1" / f"{name}.npz") as archive:
        saved = {k: archive[k] for k in archive.files if k.startswith("optimizer/")}
    assert saved and len(saved) == sum(len(v) for v in slots.values())
    for key, value in saved.items():  # each moment lands in its place in the flat slots
        _, param, slot = key.split("/")
        np.testing.assert_array_equal(sn.to_numpy(slots[param][slot]), value)
    y = model.predict(X)
    model.fit(X, sn.to_numpy(y), epochs=1, batch_size=4)  # and training resumes
    assert model.epochs_done == want["epochs_done"] + 1

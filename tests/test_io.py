"""Save and load: bit-exact round trips, any backend to any backend, atomic writes, hostile files."""

from __future__ import annotations

import io
import json
import os
import stat
import zipfile

import numpy as np
import pytest
from conftest import blobs, skip_unavailable, tolerance

import scratchnet as sn
from scratchnet import io as scratchnet_io
from scratchnet.layers import Activation, BatchNorm, Dense, Dropout


def _trained(seed=0, **kwargs):
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(60, 4)), rng.integers(0, 3, size=60)
    cfg = dict(hidden=(8, 6), batch_norm=True, dropout=0.1, seed=seed)
    cfg.update(kwargs)
    m = sn.Model(**cfg)
    m.fit(X, y, epochs=2, batch_size=16, optimizer="adam")
    return m, X, y


def test_round_trip_is_bit_exact_on_numpy(tmp_path):
    m, X, _ = _trained()
    path = tmp_path / "m.npz"
    m.save(path)
    loaded = sn.load(path)
    for name, value in sn.to_numpy(m.parameters()).items():
        assert np.array_equal(sn.to_numpy(loaded.parameters())[name], value)
    for name, value in sn.to_numpy(m.state()).items():
        assert np.array_equal(sn.to_numpy(loaded.state())[name], value)
    assert np.array_equal(sn.to_numpy(loaded.predict_proba(X)), sn.to_numpy(m.predict_proba(X)))
    assert [ly.name for ly in loaded.layers] == [ly.name for ly in m.layers]
    assert loaded.get_config() == m.get_config()
    assert loaded.history.history == m.history.history


def test_custom_stacks_and_per_layer_settings_survive(tmp_path):
    stack = [Dense(5, init="he_normal", l2=0.3, name="first"), BatchNorm(momentum=0.8), Activation("elu"),
             Dropout(0.25), Dense(4, use_bias=False), Activation("gelu")]  # fmt: skip
    m = sn.Model(layers=stack, output="sigmoid", seed=1, dtype="float64").build(3, 2)
    m.save(tmp_path / "c.npz")
    loaded = sn.load(tmp_path / "c.npz")
    assert [ly.get_config() for ly in loaded.layers] == [ly.get_config() for ly in m.layers]
    assert loaded.dtype_name == "float64" and loaded.output == "sigmoid"


@pytest.mark.parametrize("source", ["numpy", "torch", "jax", "array_api_strict"])
def test_any_backend_loads_on_any_other(source, backend, tmp_path):
    skip_unavailable(source)
    m, X, _ = _trained(seed=2, backend=source, dtype="float64")
    m.save(tmp_path / "x.npz")
    loaded = sn.load(tmp_path / "x.npz", backend=backend.name, device=backend.device)
    assert loaded.backend == backend
    np.testing.assert_allclose(sn.to_numpy(loaded.predict_proba(X)), sn.to_numpy(m.predict_proba(X)),
                               rtol=tolerance("float64"))  # fmt: skip


def test_load_can_cast_dtype(tmp_path):
    m, X, _ = _trained(dtype="float64")
    m.save(tmp_path / "m.npz")
    loaded = sn.load(tmp_path / "m.npz", dtype="float32")
    assert loaded.parameters()["dense1.B"].dtype == np.float32
    np.testing.assert_allclose(
        sn.to_numpy(loaded.predict_proba(X)), sn.to_numpy(m.predict_proba(X)), rtol=1e-4
    )


def test_training_resumes_exactly(tmp_path):
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(80, 4)), rng.integers(0, 3, size=80)
    straight = sn.Model(hidden=(8,), dropout=0.2, batch_norm=True, seed=4)
    straight.fit(
        X, y, epochs=4, batch_size=16, optimizer="adam", lr=sn.schedules.StepDecay(0.01, 0.5, 1)
    )
    first = sn.Model(hidden=(8,), dropout=0.2, batch_norm=True, seed=4)
    first.fit(
        X, y, epochs=2, batch_size=16, optimizer="adam", lr=sn.schedules.StepDecay(0.01, 0.5, 1)
    )
    first.save(tmp_path / "half.npz")
    resumed = sn.load(tmp_path / "half.npz")
    assert resumed.optimizer.iterations == first.optimizer.iterations
    resumed.fit(X, y, epochs=2, batch_size=16)
    for name, value in sn.to_numpy(straight.parameters()).items():
        assert np.array_equal(sn.to_numpy(resumed.parameters())[name], value), name
    assert resumed.history.epoch == [2, 3]


def test_save_without_optimizer(tmp_path):
    m, _, _ = _trained()
    m.save(tmp_path / "small.npz", include_optimizer=False)
    loaded = sn.load(tmp_path / "small.npz")
    assert loaded.optimizer is None and loaded.epochs_done == 0
    assert os.path.getsize(tmp_path / "small.npz") < os.path.getsize(
        _save(m, tmp_path / "full.npz")
    )


def _save(m, path):
    m.save(path)
    return path


def test_save_is_atomic(tmp_path, monkeypatch):
    m, _, _ = _trained()
    path = tmp_path / "model.npz"
    m.save(path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    m.fit(np.ones((4, 4)), np.array([0, 1, 2, 0]), epochs=1)
    with pytest.raises(OSError, match="disk full"):
        m.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]  # no temporary left behind


def test_save_into_a_missing_folder(tmp_path):
    m, _, _ = _trained()
    with pytest.raises(ValueError, match="does not exist"):
        m.save(tmp_path / "nope" / "m.npz")
    with pytest.raises(RuntimeError, match="no parameters yet"):
        sn.Model().save(tmp_path / "m.npz")


# --------------------------------------------------------------------------------------------
# hostile and broken files
@pytest.fixture
def saved(tmp_path):
    m, _, _ = _trained()
    path = tmp_path / "good.npz"
    m.save(path)
    return path


def _rewrite(src, dst, edit_config=None, edit_arrays=None, extra=None):
    with np.load(src) as archive:
        members = {k: archive[k] for k in archive.files}
    config = json.loads(bytes(members.pop("__config__")).decode())
    if edit_config:
        edit_config(config)
    if edit_arrays:
        edit_arrays(members)
    members["__config__"] = np.frombuffer(json.dumps(config).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **members, **(extra or {}))
    dst.write_bytes(buf.getvalue())
    return dst


def test_truncated_file(saved, tmp_path):
    bad = tmp_path / "cut.npz"
    bad.write_bytes(saved.read_bytes()[: len(saved.read_bytes()) // 2])
    with pytest.raises(ValueError, match="truncated or corrupted"):
        sn.load(bad)


def test_flipped_byte_fails_a_checksum(saved, tmp_path):
    data = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as zf:
        info = zf.getinfo("param/dense1.B.npy")
    data[info.header_offset + 100] ^= 0xFF  # inside the stored (uncompressed) array bytes
    bad = tmp_path / "flip.npz"
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="truncated or corrupted|checksum"):
        sn.load(bad)


def test_tampered_array_values(saved, tmp_path):
    def tamper(arrays):
        arrays["param/dense1.B"] = arrays["param/dense1.B"] + 1.0

    with pytest.raises(ValueError, match="fails its checksum"):
        sn.load(_rewrite(saved, tmp_path / "t.npz", edit_arrays=tamper))


def test_wrong_shapes(saved, tmp_path):
    def reshape(arrays):
        arrays["param/dense1.B"] = np.zeros((3, 3), dtype=np.float32)

    def fix_manifest(config):
        a = np.zeros((3, 3), dtype=np.float32)
        import hashlib

        config["arrays"]["param/dense1.B"] = {"shape": [3, 3], "dtype": "float32",
                                              "sha256": hashlib.sha256(a.tobytes()).hexdigest()}  # fmt: skip

    with pytest.raises(ValueError, match="has shape"):
        sn.load(_rewrite(saved, tmp_path / "s1.npz", edit_arrays=reshape))
    with pytest.raises(ValueError, match=r"arrays do not fit the layer stack.*expected \(4, 8\)"):
        sn.load(_rewrite(saved, tmp_path / "s2.npz", edit_config=fix_manifest, edit_arrays=reshape))


def test_unknown_layer_name(saved, tmp_path):
    def rename(config):
        config["layers"][0]["kind"] = "os_system"

    with pytest.raises(ValueError, match="unknown layer type 'os_system'"):
        sn.load(_rewrite(saved, tmp_path / "u.npz", edit_config=rename))


def test_unknown_activation_name(saved, tmp_path):
    def rename(config):
        config["layers"][2]["config"]["activation"] = "__import__"

    with pytest.raises(ValueError, match="unknown activation '__import__'"):
        sn.load(_rewrite(saved, tmp_path / "a.npz", edit_config=rename))


class Boom:
    """Unpickling this would run code; the loader must never get that far."""

    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_pickled_object_is_refused(saved, tmp_path):
    evil = np.array([Boom()], dtype=object)

    def add(arrays):
        arrays["param/evil"] = evil

    def register(config):
        config["arrays"]["param/evil"] = {"shape": [1], "dtype": "object", "sha256": ""}

    bad = _rewrite(saved, tmp_path / "p.npz", edit_config=register, edit_arrays=add)
    with pytest.raises(ValueError, match="pickled object"):
        sn.load(bad)


def test_pickle_file_is_refused(tmp_path):
    import pickle

    bad = tmp_path / "model.pkl"
    bad.write_bytes(pickle.dumps({"weights": Boom()}))
    with pytest.raises(ValueError, match="truncated or corrupted|not a"):
        sn.load(bad)


def test_foreign_files(tmp_path):
    other = tmp_path / "other.npz"
    np.savez(other, a=np.ones(3))
    with pytest.raises(ValueError, match="not a scratchnet model file"):
        sn.load(other)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ValueError, match="truncated or corrupted|not a"):
        sn.load(text)
    with pytest.raises(FileNotFoundError, match="no model file"):
        sn.load(tmp_path / "missing.npz")


def test_future_format_version(saved, tmp_path):
    def bump(config):
        config["format_version"] = 99

    with pytest.raises(ValueError, match="format version 99"):
        sn.load(_rewrite(saved, tmp_path / "v.npz", edit_config=bump))


def test_extra_array_not_in_manifest(saved, tmp_path):
    with pytest.raises(ValueError, match="do not match its manifest"):
        sn.load(_rewrite(saved, tmp_path / "e.npz", extra={"param/extra": np.ones(2)}))


def test_loading_onto_another_device_reseeds_the_device_generator(tmp_path):
    skip_unavailable("array_api_strict")
    X, y = blobs(30)
    m = sn.Model(hidden=(4,), dropout=0.3, backend="array_api_strict", device="device1", seed=0)
    m.fit(X, y, epochs=1)
    m.save(tmp_path / "m.npz")
    moved = sn.load(tmp_path / "m.npz", device="device2")
    assert moved.backend.device_spec() == "device2"
    moved.fit(X, y, epochs=1)


def test_hostile_headers_and_training_state_are_value_errors(tmp_path):
    bomb = tmp_path / "bomb.npz"
    header = np.lib.format.header_data_from_array_1_0(np.zeros(1, dtype=np.float32))
    header["shape"] = (2**40,)
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    with zipfile.ZipFile(bomb, "w") as zf:
        zf.writestr("__config__.npy", buf.getvalue() + b"\0" * 16)
    with pytest.raises(ValueError, match="declares shape"):
        sn.load(bomb)

    X, y = blobs(20)
    m = sn.Model(hidden=(4,), seed=0)
    m.fit(X, y, epochs=1)
    good = tmp_path / "good.npz"
    m.save(good)
    with np.load(good) as archive:
        members = {k: archive[k] for k in archive.files}
    config = json.loads(bytes(members["__config__"]).decode())
    del config["training"]["epochs_done"]
    members["__config__"] = np.frombuffer(json.dumps(config).encode(), dtype=np.uint8)
    bad = tmp_path / "bad.npz"
    np.savez(bad, **members)
    with pytest.raises(ValueError, match="malformed training state"):
        sn.load(bad)


# --------------------------------------------------------------------------------------------
# permissions and what save refuses
@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077, 0o002])
def test_a_new_file_follows_the_umask(tmp_path, umask):
    m = sn.Model(hidden=(3,), seed=0).build(2, 2)
    old = os.umask(umask)
    try:
        m.save(tmp_path / "m.npz")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "m.npz").st_mode) == 0o666 & ~umask


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o444, 0o664])
def test_replacing_a_file_keeps_its_mode(tmp_path, mode):
    m = sn.Model(hidden=(3,), seed=0).build(2, 2)
    path = tmp_path / "m.npz"
    m.save(path)
    path.chmod(mode)
    old = os.umask(0o000)  # the umask must not matter for a replaced file
    try:
        m.save(path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == mode
    assert sn.load(path).built


def test_save_names_the_true_cause(tmp_path, monkeypatch):
    m = sn.Model(hidden=(3,), seed=0).build(2, 2)
    (tmp_path / "folder.npz").mkdir()
    with pytest.raises(IsADirectoryError, match="cannot save to .*folder.npz.*: it is a folder"):
        m.save(tmp_path / "folder.npz")

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(scratchnet_io.os, "open", denied)
    with pytest.raises(PermissionError, match="cannot save to .*m.npz.*: permission denied"):
        m.save(tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


def test_save_refuses_what_load_would_refuse(tmp_path):
    X, y = blobs(20)
    m = sn.Model(hidden=(3,), seed=0)
    m.fit(X, y, epochs=1)
    path = tmp_path / "m.npz"
    m.save(path)
    before = path.read_bytes()
    n = 60_000  # epochs of history: a configuration over scratchnet.io.MAX_CONFIG_BYTES
    m.history.epoch = list(range(n))
    m.history.history = {k: list(np.linspace(0.1, 0.9, n)) for k in m.history.history}
    with pytest.raises(ValueError, match="so load would refuse it"):
        m.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]  # no temporary left behind
    deep = sn.Model(hidden=(1,) * 600, seed=0).build(2, 2)  # 1201 layers
    with pytest.raises(ValueError, match="1201 layers; model files hold at most 1000"):
        deep.save(tmp_path / "deep.npz")
    assert deep.copy().built  # copies and pickles have no layer bound


def test_the_largest_legal_files_load(tmp_path):
    """At the bounds: 1000 layers with Adam state for every parameter, and 25,000 epochs of
    history, load (and their loads stay within the documented memory allowance)."""
    X, y = blobs(16)
    for kwargs in ({"hidden": (1,) * 499}, {"hidden": (1,) * 333, "batch_norm": True}):
        m = sn.Model(seed=0, **kwargs)
        m.fit(X, y, epochs=1, optimizer="adam")
        assert len(m.layers) in (999, 1000)
        m.save(tmp_path / "deep.npz")
        assert len(sn.load(tmp_path / "deep.npz").layers) == len(m.layers)
    m = sn.Model(hidden=(4,), seed=0)
    m.fit(X, y, epochs=1, validation_split=0.25)
    n = 25_000
    m.history.epoch = list(range(n))
    m.history.history = {
        k: list(np.random.default_rng(0).random(n)) for k in m.history.history
    }  # fmt: skip
    m.save(tmp_path / "long.npz")
    assert sn.load(tmp_path / "long.npz").history.epoch[-1] == n - 1

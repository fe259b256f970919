"""Model API: build, parameters, predictions, device moves, copies, summary."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import skip_unavailable

import scratchnet as sn
from scratchnet.backends import library_of


def test_public_api_of_the_issue(rng):
    m = sn.Model(hidden=(64, 32), activation="relu", output="softmax", backend="numpy",
                 dtype="float32", seed=0)  # fmt: skip
    assert m.build(n_features=784, n_outputs=10) is m
    p = m.parameters()
    assert list(p) == ["dense1.B", "dense1.c", "dense2.B", "dense2.c", "dense3.B", "dense3.c"]
    assert [tuple(v.shape) for v in p.values()] == [
        (784, 64),
        (64,),
        (64, 32),
        (32,),
        (32, 10),
        (10,),
    ]
    assert all(v.dtype == np.float32 for v in p.values())
    m.set_parameters(p)
    X, y = rng.normal(size=(50, 784)), rng.integers(0, 10, size=50)
    loss, grads = m.loss_and_gradients(X, y)
    assert isinstance(loss, float) and list(grads) == list(p)
    m.fit(X, y, epochs=2, batch_size=32)
    assert sn.to_numpy(m.predict(X)).shape == (50,)
    proba = sn.to_numpy(m.predict_proba(X))
    assert proba.shape == (50, 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)


def test_parameters_are_copies():
    m = sn.Model(hidden=(3,), seed=0).build(2, 2)
    p = m.parameters()
    p["dense1.B"][...] = 99.0
    assert not (sn.to_numpy(m.parameters()["dense1.B"]) == 99.0).any()


def test_set_parameters_copies_and_casts():
    m = sn.Model(hidden=(3,), seed=0).build(2, 2)
    new = {k: np.ones(v.shape) for k, v in m.parameters().items()}
    m.set_parameters(new)
    new["dense1.B"][...] = 5.0
    got = m.parameters()["dense1.B"]
    assert got.dtype == np.float32 and (got == 1.0).all()


def test_set_parameters_errors():
    m = sn.Model(hidden=(3,), seed=0).build(2, 2)
    p = sn.to_numpy(m.parameters())
    with pytest.raises(ValueError, match=r"missing \['dense2.c'\]"):
        m.set_parameters({k: v for k, v in p.items() if k != "dense2.c"})
    with pytest.raises(ValueError, match=r"unexpected \['extra'\]"):
        m.set_parameters({**p, "extra": np.ones(1)})
    with pytest.raises(
        ValueError, match=r"parameters\['dense1.B'\] has shape \(3, 2\), expected \(2, 3\)"
    ):
        m.set_parameters({**p, "dense1.B": np.ones((3, 2))})
    with pytest.raises(TypeError, match="dict name -> array"):
        m.set_parameters([1, 2])


def test_unbuilt_model_says_what_to_do():
    m = sn.Model(hidden=(3,))
    for call in (m.parameters, m.summary, lambda: m.predict(np.ones((2, 2)))):
        with pytest.raises(RuntimeError, match=r"call fit\(X, y\) or build"):
            call()


def test_predict_per_head(rng):
    X = rng.normal(size=(20, 3))
    binary = sn.Model(hidden=(4,), output="sigmoid", seed=0)
    binary.fit(X, (X[:, 0] > 0).astype(int), epochs=1)
    pred = sn.to_numpy(binary.predict(X))
    assert pred.shape == (20,) and set(np.unique(pred)) <= {0, 1}
    assert sn.to_numpy(binary.predict_proba(X)).shape == (20, 1)
    multi = sn.Model(hidden=(4,), output="sigmoid", seed=0)
    multi.fit(X, (X > 0).astype(int), epochs=1)
    assert sn.to_numpy(multi.predict(X)).shape == (20, 3)
    reg = sn.Model(hidden=(4,), output="identity", seed=0)
    reg.fit(X, X[:, 0], epochs=1)
    assert sn.to_numpy(reg.predict(X)).shape == (20,)
    with pytest.raises(ValueError, match="predict_proba needs a 'softmax' or 'sigmoid' output"):
        reg.predict_proba(X)


def test_predict_handles_more_rows_than_one_chunk(rng):
    X = rng.normal(size=(50, 3))
    y = rng.integers(0, 2, size=50)
    m = sn.Model(hidden=(4,), seed=0).build(3, 2)
    whole = sn.to_numpy(m.predict_proba(X))
    scores = m.evaluate(X, y)
    m.inference_chunk = 7
    chunked = sn.to_numpy(m.predict_proba(X))
    np.testing.assert_allclose(chunked, whole, rtol=1e-6)
    assert m.evaluate(X, y) == pytest.approx(scores, rel=1e-6)


def test_results_are_arrays_of_the_model_backend(backend, rng):
    X, y = rng.normal(size=(12, 3)), rng.integers(0, 2, size=12)
    m = sn.Model(hidden=(4,), backend=backend, seed=0)
    m.fit(X, y, epochs=1)
    for out in (m.predict(X), m.predict_proba(X), m.parameters()["dense1.B"]):
        assert library_of(out) == backend.name
    _, grads = m.loss_and_gradients(sn.to_device(X, backend), sn.to_device(y, backend))
    assert library_of(grads["dense1.B"]) == backend.name


def test_to_moves_everything(backend, rng):
    X, y = rng.normal(size=(30, 3)), rng.integers(0, 3, size=30)
    m = sn.Model(hidden=(5,), batch_norm=True, dropout=0.2, seed=0, dtype="float64")
    m.fit(X, y, epochs=2, batch_size=10, optimizer="adam")
    before = sn.to_numpy(m.predict_proba(X))
    params, state = sn.to_numpy(m.parameters()), sn.to_numpy(m.state())
    assert m.to(backend.name, device=backend.device) is m
    assert m.backend == backend
    for name, value in sn.to_numpy(m.parameters()).items():
        np.testing.assert_array_equal(value, params[name])
    for name, value in sn.to_numpy(m.state()).items():
        np.testing.assert_array_equal(value, state[name])
    assert m.optimizer.state and all(
        library_of(a) == backend.name for a in m.optimizer.state.values()
    )
    np.testing.assert_allclose(sn.to_numpy(m.predict_proba(X)), before, rtol=1e-10)
    m.fit(X, y, epochs=1, batch_size=10)  # training continues on the new device
    m.to("numpy")
    assert library_of(m.parameters()["dense1.B"]) == "numpy"
    assert m.store.values.flags.writeable  # (JAX's buffers arrive read-only through DLPack)
    m.fit(X, y, epochs=1, batch_size=10)  # and back home it trains in place again


def test_to_changes_dtype(rng):
    m = sn.Model(hidden=(3,), seed=0, dtype="float64").build(2, 2)
    m.to(dtype="float32")
    assert m.dtype_name == "float32" and m.parameters()["dense1.B"].dtype == np.float32


def test_copy_is_independent(rng):
    X, y = rng.normal(size=(20, 3)), rng.integers(0, 2, size=20)
    m = sn.Model(hidden=(4,), seed=0)
    m.fit(X, y, epochs=1)
    twin = m.copy()
    twin.fit(X, y, epochs=2)
    assert not np.array_equal(sn.to_numpy(twin.parameters()["dense1.B"]),
                              sn.to_numpy(m.parameters()["dense1.B"]))  # fmt: skip
    assert m.epochs_done == 1 and twin.epochs_done == 3


def test_summary_lists_layers_and_counts():
    m = sn.Model(hidden=(64, 32), batch_norm=True, dropout=0.1, seed=0).build(784, 10)
    lines = []
    assert m.summary(print_fn=lines.append) is None  # printed once, not echoed by a REPL
    text = m.summary(print_fn=None)
    assert lines == [text]
    assert "dense1 (Dense)" in text and "batchnorm1 (BatchNorm)" in text and "(n, 64)" in text
    assert f"trainable parameters: {m.count_parameters():,}" in text
    assert m.count_parameters() == 784 * 64 + 2 * 64 + 64 * 32 + 2 * 32 + 32 * 10 + 10
    assert "non-trainable state: 192" in text


def test_repr_and_config():
    m = sn.Model(hidden=(4, 2), activation="tanh", output="sigmoid", seed=3)
    assert "hidden=(4, 2)" in repr(m) and "'sigmoid'" in repr(m)
    cfg = m.get_config()
    assert cfg["hidden"] == [4, 2] and cfg["activation"] == ["tanh", "tanh"] and cfg["seed"] == 3


def test_per_layer_activation_and_dropout():
    m = sn.Model(hidden=(4, 3), activation=("tanh", "relu"), dropout=(0.0, 0.5), seed=0).build(2, 2)
    kinds = [(ly.kind, getattr(ly, "fn", None) and ly.fn.name) for ly in m.layers]
    assert kinds == [("dense", None), ("activation", "tanh"), ("dense", None), ("activation", "relu"),
                     ("dropout", None), ("dense", None)]  # fmt: skip


def test_constructor_validation():
    with pytest.raises(ValueError, match="each hidden layer width must be an int >= 1"):
        sn.Model(hidden=(4, 0))
    with pytest.raises(TypeError, match="hidden must be a sequence of ints"):
        sn.Model(hidden=None)
    with pytest.raises(ValueError, match="activation has 1 entries but there are 2 hidden layers"):
        sn.Model(hidden=(3, 3), activation=["relu"])
    with pytest.raises(ValueError, match=r"dropout must be < 1.0"):
        sn.Model(dropout=1.0)
    with pytest.raises(ValueError, match="l2 must be >= 0.0"):
        sn.Model(l2=-1)
    with pytest.raises(ValueError, match="reduction must be one of"):
        sn.Model(reduction="median")
    with pytest.raises(TypeError, match="seed must be an int"):
        sn.Model(seed=1.5)
    with pytest.raises(ValueError, match="dtype must be one of"):
        sn.Model(dtype="float16")


def test_forward_and_backward_are_public(rng):
    m = sn.Model(hidden=(3,), output="identity", dtype="float64", seed=0).build(2, 1)
    X = rng.normal(size=(4, 2))
    F = m.forward(X)
    grads = m.backward(np.ones((4, 1)))
    assert tuple(F.shape) == (4, 1) and set(grads) == set(m.parameters())
    assert set(m.errors) == {"dense1", "dense2"}
    with pytest.raises(ValueError, match=r"dF must have shape \(n, 1\)"):
        m.backward(np.ones((4, 2)))


def test_seed_none_still_trains_and_differs():
    a = sn.Model(hidden=(4,)).build(3, 2)
    b = sn.Model(hidden=(4,)).build(3, 2)
    assert not np.array_equal(
        sn.to_numpy(a.parameters()["dense1.B"]), sn.to_numpy(b.parameters()["dense1.B"])
    )


def test_jax_arrays_are_never_written_in_place(rng):
    skip_unavailable("jax")
    X, y = rng.normal(size=(20, 3)), rng.integers(0, 2, size=20)
    m = sn.Model(hidden=(4,), backend="jax", seed=0, dropout=0.2)
    hist = m.fit(X, y, epochs=2, batch_size=5, optimizer="adamw")
    assert np.isfinite(hist.history["loss"]).all()


def test_models_pickle_and_deepcopy_on_any_backend(backend, rng):
    import copy
    import pickle

    X, y = rng.normal(size=(20, 3)), rng.integers(0, 3, size=20)
    m = sn.Model(hidden=(5,), batch_norm=True, backend=backend, seed=0)
    unbuilt = pickle.loads(pickle.dumps(m))
    assert not unbuilt.built and unbuilt.backend == backend and unbuilt.hidden == (5,)
    m.fit(X, y, epochs=2, batch_size=5)
    for twin in (pickle.loads(pickle.dumps(m)), copy.deepcopy(m)):
        assert twin.backend == backend and twin.epochs_done == 2
        np.testing.assert_array_equal(
            sn.to_numpy(twin.predict_proba(X)), sn.to_numpy(m.predict_proba(X))
        )
        assert twin.optimizer.iterations == m.optimizer.iterations
    assert "hidden=(5,)" in repr(pickle.loads(pickle.dumps(m)))

"""The house rules, checked: an acyclic import graph, small modules, public seams, one store."""

from __future__ import annotations

import ast
import copy
import pickle
from pathlib import Path

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.params import ALIGNMENT, ParameterLayout

PACKAGE = Path(sn.__file__).resolve().parent
MAX_MODULE_LINES = 700


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(current: str, is_package: bool, level: int, module: str | None) -> str:
    base = current.split(".") if is_package else current.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def import_graph() -> dict[str, set[str]]:
    """Module -> scratchnet modules it imports, at any depth of the file (function bodies too)."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                source = (
                    _resolve(name, is_package, node.level, node.module)
                    if node.level
                    else node.module or ""
                )
                for alias in node.names:
                    sub = f"{source}.{alias.name}"
                    targets.append(sub if sub in modules else source)
            for target in targets:
                while target and target not in modules:  # `import a.b.c` -> a.b.c or a.b
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_import_graph_of_the_package_is_acyclic():
    graph = import_graph()
    assert "scratchnet.training" in graph["scratchnet.model"]  # the walk sees imports
    assert _find_cycle(graph) is None, " -> ".join(_find_cycle(graph))


def test_the_cycle_finder_finds_cycles():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize(
    "module", ["scratchnet.io", "scratchnet.params", "scratchnet.backends.base"]
)
def test_floor_modules_import_nothing_of_the_package(module):
    assert import_graph()[module] == set()


def test_math_and_loop_modules_never_import_the_model():
    graph = import_graph()
    for name in ("scratchnet.training", "scratchnet.saving", "scratchnet.targets",
                 "scratchnet.layers", "scratchnet.optimizers", "scratchnet.callbacks"):  # fmt: skip
        assert "scratchnet.model" not in graph[name], name


def test_no_module_is_longer_than_the_house_limit():
    long = {n: len(p.read_text().splitlines()) for n, p in _modules().items()}
    assert {n: k for n, k in long.items() if k > MAX_MODULE_LINES} == {}


def test_the_training_loop_uses_only_public_model_names():
    tree = ast.parse((PACKAGE / "training.py").read_text())
    private = sorted(
        {
            node.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "model"
            and node.attr.startswith("_")
        }
    )
    assert private == []


# ----- the parameter store -------------------------------------------------------------------
def test_layout_puts_weights_first_aligned_and_describes_itself():
    m = sn.Model(hidden=(5,), batch_norm=True, seed=0).build(3, 2)
    layout = m.parameter_layout
    rows = layout.describe()
    assert [r["name"] for r in rows] == list(m.parameters())  # forward order, as users see it
    weights = [r for r in rows if r["is_weight"]]
    others = [r for r in rows if not r["is_weight"]]
    assert {r["name"] for r in weights} == {"dense1.B", "dense2.B"}
    assert max(r["offset"] + r["size"] for r in weights) == layout.weight_stop
    assert layout.weight_stop <= min(r["offset"] for r in others)
    assert all(r["offset"] % ALIGNMENT == 0 for r in rows)
    assert layout.n_parameters == m.count_parameters() == 3 * 5 + 5 + 5 + 5 * 2 + 2
    assert layout.size % ALIGNMENT == 0


def test_layout_refuses_duplicate_names():
    with pytest.raises(ValueError, match="unique"):
        ParameterLayout([("a", (2,), True), ("a", (3,), False)])


@pytest.mark.parametrize("name", ["numpy", "torch"])
def test_layer_parameters_are_views_of_one_buffer_that_training_updates_in_place(name, rng):
    from conftest import skip_unavailable

    skip_unavailable(name)
    X, y = rng.normal(size=(40, 3)), rng.integers(0, 2, size=40)
    m = sn.Model(hidden=(4,), seed=0, backend=name).build(3, 2)
    buffer = m.store.values
    m.fit(X, y, epochs=1, batch_size=10, optimizer="adam")
    assert m.store.values is buffer  # updated in place, one array
    flat = sn.to_numpy(buffer)
    for layer in m.layers:
        for key, view in layer.params.items():
            s = m.parameter_layout[f"{layer.name}.{key}"]
            np.testing.assert_array_equal(sn.to_numpy(view).ravel(), flat[s.offset : s.stop])
    m.layers[0].params["B"][0, 0] = 42.0  # a write through a view lands in the buffer
    assert sn.to_numpy(m.store.values)[m.parameter_layout["dense1.B"].offset] == 42.0


def test_gradients_and_optimiser_slots_share_the_layout(backend, rng):
    X, y = rng.normal(size=(20, 3)), rng.integers(0, 3, size=20)
    m = sn.Model(hidden=(4,), seed=1, backend=backend.name, device=backend.device,
                 dtype="float64")  # fmt: skip
    _loss, grads = m.loss_and_gradients(X, y)
    size = m.parameter_layout.size
    assert tuple(m.store.grads.shape) == (size,)
    flat = sn.to_numpy(m.store.grads)
    for name, g in grads.items():
        s = m.parameter_layout[name]
        np.testing.assert_array_equal(sn.to_numpy(g).ravel(), flat[s.offset : s.stop])
    m.fit(X, y, epochs=1, batch_size=5, optimizer="adam")
    assert set(m.optimizer.state) == {"m", "v"}
    assert all(tuple(a.shape) == (size,) for a in m.optimizer.state.values())
    padding = np.ones(size, dtype=bool)
    for s in m.parameter_layout.slots:
        padding[s.offset : s.stop] = False
    for a in (m.store.values, *m.optimizer.state.values()):
        np.testing.assert_array_equal(sn.to_numpy(a)[padding], 0.0)  # gaps stay zero


def test_jax_updates_the_flat_buffer_functionally(rng):
    from conftest import skip_unavailable

    skip_unavailable("jax")
    X, y = rng.normal(size=(30, 3)), rng.integers(0, 2, size=30)
    m = sn.Model(hidden=(4,), seed=0, backend="jax").build(3, 2)
    before = m.store.values
    m.fit(X, y, epochs=1, batch_size=10, optimizer="adamw")
    assert m.store.values is not before  # a new buffer per step, the old one untouched
    ref = sn.Model(hidden=(4,), seed=0).build(3, 2)
    np.testing.assert_allclose(sn.to_numpy(before), sn.to_numpy(ref.store.values))
    flat = sn.to_numpy(m.store.values)
    s = m.parameter_layout["dense1.B"]
    np.testing.assert_array_equal(
        sn.to_numpy(m.layers[0].params["B"]).ravel(), flat[s.offset : s.stop]
    )


def test_a_snapshot_is_one_array_and_restores_exactly(rng):
    X, y = rng.normal(size=(30, 3)), rng.integers(0, 2, size=30)
    m = sn.Model(hidden=(4,), batch_norm=True, seed=0).build(3, 2)
    snap = m.snapshot()
    assert tuple(snap["parameters"].shape) == (m.parameter_layout.size,)
    before = sn.to_numpy(m.parameters())
    m.fit(X, y, epochs=2, batch_size=10)
    m.restore(sn.to_numpy(snap))  # host copies are accepted too
    for name, value in sn.to_numpy(m.parameters()).items():
        np.testing.assert_array_equal(value, before[name])
    with pytest.raises(ValueError, match="snapshot parameters have shape"):
        m.restore({"parameters": np.zeros(3), "state": snap["state"]})


# ----- layers: an explicit cache, errors that say what to call, no library inside ------------
def test_backward_after_predict_says_what_to_call(rng):
    m = sn.Model(hidden=(4,), dropout=0.2, batch_norm=True, seed=0).build(3, 2)
    X = rng.normal(size=(5, 3))
    m.predict(X)
    with pytest.raises(RuntimeError, match=r"call model\.forward\(X, training=True\)"):
        m.backward(np.ones((5, 2)))
    for layer in m.layers:
        assert layer.cache == {}
    m.forward(X, training=True)
    assert set(m.backward(np.ones((5, 2)))) == set(m.parameters())


def test_dropout_without_a_generator_is_refused():
    layer = sn.layers.Dropout(0.5)
    with pytest.raises(ValueError, match="needs the device generator"):
        layer.forward(np.ones((2, 3)), training=True)


def test_built_models_and_layers_deep_copy_and_pickle(backend, rng):
    X, y = rng.normal(size=(20, 3)), rng.integers(0, 3, size=20)
    m = sn.Model(hidden=(4,), dropout=0.3, batch_norm=True, seed=2,
                 backend=backend.name, device=backend.device)  # fmt: skip
    m.fit(X, y, epochs=1, batch_size=5)
    for layer in m.layers:
        twin = copy.deepcopy(layer)
        assert type(twin) is type(layer) and set(twin.params) == set(layer.params)
    for clone in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        np.testing.assert_array_equal(sn.to_numpy(clone.predict(X)), sn.to_numpy(m.predict(X)))
        assert clone.backend == m.backend
        clone.fit(X, y, epochs=1, batch_size=5)  # the copy trains on its own buffer
        assert clone.store.values is not m.store.values


def test_predict_runs_with_the_device_current(monkeypatch, rng):
    m = sn.Model(hidden=(3,), seed=0).build(2, 2)
    entered = []

    class Recorder:
        def __enter__(self):
            entered.append(True)

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(m.backend, "activate", lambda: Recorder())
    X = rng.normal(size=(4, 2))
    m.predict(X)
    m.predict_proba(X)
    assert len(entered) >= 2


def test_target_preparation_is_public(rng):
    from scratchnet.targets import loss_scale, prepare_targets

    m = sn.Model(hidden=(3,), seed=0)
    _Xd, Y, w = prepare_targets(m, rng.normal(size=(6, 2)), [0, 1, 2, 0, 1, 2])
    assert m.built and tuple(Y.shape) == (6, 3) and w is None
    assert loss_scale("mean", 6, None) == 1 / 6 and loss_scale("sum", 6, None) == 1.0
    assert loss_scale("mean", 2, np.array([1.0, 3.0])) == 0.25


def test_a_hand_written_loop_over_the_public_seams_equals_fit(rng):
    """train_step is what fit runs: the same batches give the same bits."""
    from scratchnet.targets import prepare_targets

    X, y = rng.normal(size=(32, 3)), rng.integers(0, 2, size=32)
    a = sn.Model(hidden=(4,), seed=5, dtype="float64")
    a.fit(X, y, epochs=1, batch_size=32, shuffle=False, optimizer="sgd", lr=0.1)
    b = sn.Model(hidden=(4,), seed=5, dtype="float64")
    Xd, Y, _w = prepare_targets(b, X, y)
    b.optimizer = sn.SGD(lr=0.1)
    b.train_step(Xd, Y, None, b.loss_scale(32, None), 0.1)
    for name, value in sn.to_numpy(a.parameters()).items():
        np.testing.assert_array_equal(sn.to_numpy(b.parameters())[name], value)

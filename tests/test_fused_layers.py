"""Fused layer kernels equal the portable expressions: bias add, 1^T E, ReLU both ways, H^T E,
the L2 term with its squared norm, and the heads' loss and dL/dF.

The Numba loops replay NumPy's operations element by element, so on NumPy they agree bit for bit
(signed zeros and NaN included); the layers give the same values with and without the backend's
kernels, and the weight gradient written straight into the flat gradient buffer is the one the
store would have copied there.
"""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
from conftest import skip_unavailable

import scratchnet as sn
from scratchnet.activations import ActivationFunction, get_activation
from scratchnet.backends.inplace import UfuncKernels
from scratchnet.backends.kernels import PortableKernels
from scratchnet.layers import Activation, Dense
from scratchnet.layers.base import BuildContext, Layer

DTYPES = ["float32", "float64"]
SHAPES = [(1, 3), (7, 5), (128, 256), (200, 2), (33, 100)]
SPECIAL = [-0.0, 0.0, np.nan, -np.nan, np.inf, -np.inf, 1e-40, -1e-40]


def _numba_kernels():
    pytest.importorskip("numba")
    from scratchnet.backends.numba_kernels import NumbaKernels

    return NumbaKernels(sn.get_backend("numpy").xp, np)


def _data(shape, dtype, seed=0, special=True):
    """Random signs over many magnitudes, with signed zeros, NaN and infinities mixed in."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape) * 10.0 ** rng.integers(-5, 5, shape)
    flat = a.reshape(-1)
    if special:
        flat[: min(len(SPECIAL), flat.size)] = SPECIAL[: flat.size]
    return rng.permutation(flat).reshape(shape).astype(dtype)


def _same_bits(a, b):
    a, b = np.atleast_1d(np.asarray(a)), np.atleast_1d(np.asarray(b))
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_numba_layer_kernels_equal_the_portable_ones_bit_for_bit(shape, dtype):
    fused, portable = _numba_kernels(), PortableKernels(sn.get_backend("numpy").xp)
    relu = get_activation("relu")
    Z, E = _data(shape, dtype, 1), _data(shape, dtype, 2)
    c = _data(shape[1:], dtype, 3)
    H = relu.forward(Z)

    expected = portable.add_bias(Z, c)
    _same_bits(fused.add_bias(Z.copy(), c), expected)
    _same_bits(fused.sum_rows(E), portable.sum_rows(E))
    target = np.full(shape[1:], 7.0, dtype=dtype)  # a view of the gradient buffer, in training
    assert fused.sum_rows(E, target) is target
    _same_bits(target, portable.sum_rows(E))
    _same_bits(fused.activation("relu", Z), H)
    _same_bits(fused.activation_backprop("relu", E, Z, H), relu.backprop(E, Z, H))


@pytest.mark.parametrize("dtype", DTYPES)
def test_numba_sum_rows_leaves_a_single_column_to_numpy(dtype):
    # NumPy sums one contiguous column pairwise, not row by row: the kernel must not loop there
    fused = _numba_kernels()
    E = _data((1000, 1), dtype, 4, special=False)
    _same_bits(fused.sum_rows(E), np.sum(E, axis=0))


def test_numba_layer_kernels_never_write_their_inputs_except_the_bias_target():
    fused = _numba_kernels()
    Z, E = _data((9, 4), "float32", 5), _data((9, 4), "float32", 6)
    H = np.maximum(Z, 0.0)
    before = [a.copy() for a in (Z, E, H)]
    fused.activation("relu", Z)
    fused.activation_backprop("relu", E, Z, H)
    fused.sum_rows(E)
    for a, b in zip((Z, E, H), before, strict=True):
        _same_bits(a, b)
    c = np.ones(4, dtype=np.float32)
    out = fused.add_bias(Z, c)
    assert out is Z  # documented: the fresh product may take the sum
    _same_bits(out, before[0] + c)


def test_numba_layer_kernels_fall_back_where_a_loop_cannot_take_the_arrays():
    fused = _numba_kernels()
    Z = _data((6, 8), "float32", 7)[:, ::2]  # not contiguous
    c = np.arange(4, dtype=np.float32)
    np.testing.assert_array_equal(fused.add_bias(Z, c), Z + c)
    np.testing.assert_array_equal(fused.sum_rows(Z), Z.sum(axis=0))
    E = np.ascontiguousarray(Z)
    for out in (np.zeros(8, np.float32)[::2], np.zeros(5, np.float32), np.zeros(4, np.float64)):
        got = fused.sum_rows(E, out)  # a target the loop cannot take: a new array, out untouched
        assert got is not out and not np.any(out)
        _same_bits(got, np.sum(E, axis=0))
    half = Z.astype(np.float16)
    np.testing.assert_array_equal(fused.sum_rows(half), half.sum(axis=0))
    # no fused kernel for other activations, nor for arrays a loop cannot take: None, use u
    assert fused.activation("tanh", np.ascontiguousarray(Z)) is None
    assert fused.activation("relu", Z) is None
    assert fused.activation_backprop("relu", Z, Z, Z.astype(np.float64)) is None


@pytest.mark.parametrize("dtype", DTYPES)
def test_ufunc_product_writes_the_same_bits_into_out(dtype):
    xp = sn.get_backend("numpy").xp
    kernels = UfuncKernels(xp, np)
    H, E = _data((37, 11), dtype, 8, special=False), _data((37, 6), dtype, 9, special=False)
    flat = np.zeros(11 * 6 + 32, dtype=dtype)
    out = flat[16 : 16 + 66].reshape(11, 6)
    got = kernels.product(H.T, E, out)
    assert got is out
    _same_bits(out, H.T @ E)
    assert np.all(flat[:16] == 0) and np.all(flat[82:] == 0)  # nothing outside the view
    portable = PortableKernels(xp).product(H.T, E, out)
    assert portable is not out
    _same_bits(portable, H.T @ E)


OUTER_SHAPES = [((200, 1), (1, 100)), ((1, 7), (7, 1)), ((5, 1), (1, 1)), ((64, 1), (1, 3))]


def _outer_kernels():
    xp = sn.get_backend("numpy").xp
    kernels = [("ufunc", UfuncKernels(xp, np))]
    try:
        kernels.append(("numba", _numba_kernels()))
    except pytest.skip.Exception:
        pass
    return kernels


@pytest.mark.parametrize("shapes", OUTER_SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_products_with_an_inner_dimension_of_one_give_the_blas_bits(shapes, dtype):
    # an outer product: one rounded term per entry, accumulated from +0 by the BLAS, so -0 terms
    # come out +0; the elementwise path must give exactly those bits, NaN and infinities included
    (a_shape, b_shape) = shapes
    A, B = _data(a_shape, dtype, 10), _data(b_shape, dtype, 11)
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        expected = A @ B
        for name, kernels in _outer_kernels():
            _same_bits(kernels.product(A, B), expected)
            flat = np.full(expected.size + 8, 7.0, dtype=dtype)
            out = flat[4 : 4 + expected.size].reshape(expected.shape)
            assert kernels.product(A, B, out) is out, name
            _same_bits(out, expected)
            assert np.all(flat[:4] == 7.0) and np.all(flat[-4:] == 7.0)  # nothing outside out


def test_an_outer_product_of_signed_zeros_comes_out_positive_like_the_blas_result():
    for name, kernels in _outer_kernels():
        A = np.array([[-0.0], [0.0], [-2.0]])
        B = np.array([[1.0, -1.0, 0.0]])
        got = kernels.product(A, B)
        _same_bits(got, A @ B)
        assert not np.signbit(got[0, 0]) and not np.signbit(got[2, 2]), name


def test_the_outer_product_path_serves_views_and_falls_back_where_a_loop_cannot():
    # B.T of a (units, 1) weight is the view Dense passes; float16 (no BLAS) keeps matmul
    for _, kernels in _outer_kernels():
        W = _data((9, 1), "float64", 12, special=False)
        E = _data((4, 1), "float64", 13, special=False)
        _same_bits(kernels.product(E, W.T), E @ W.T)
        rng = np.random.default_rng(14)
        half = (
            rng.normal(size=(4, 1)).astype(np.float16),
            rng.normal(size=(1, 9)).astype(np.float16),
        )
        _same_bits(kernels.product(*half), half[0] @ half[1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_model_with_one_output_and_one_feature_trains_to_the_portable_bits(dtype):
    # every product of this model has an inner dimension of one somewhere: X B(1) (one feature),
    # E B(L)^T (one output) and H^T E (batches of one row)
    rng = np.random.default_rng(4)
    X = rng.normal(size=(24, 1))
    y = (X[:, 0] > 0.1).astype(int)
    models = []
    for portable in (False, True):
        m = sn.Model(hidden=(5,), output="sigmoid", seed=0, dtype=dtype)
        m.build(1, 1)
        if portable:
            for layer in m.layers:
                layer.use_kernels(None)
        m.fit(X, y, epochs=2, batch_size=1, optimizer="adam", lr=0.01)
        models.append(m)
    fast, plain = models
    for name, value in fast.parameters().items():
        _same_bits(value, plain.parameters()[name])


@pytest.mark.parametrize("shape", [(1, 2), (7, 5), (300, 10), (64, 1)])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("head", ["softmax", "sigmoid"])
def test_numba_hit_counts_equal_the_heads_own_count(head, dtype, shape):
    # NaN rows, ties and infinities: numpy.argmax takes the first maximum or the first NaN
    from scratchnet.heads import get_head

    fused = _numba_kernels()
    rng = np.random.default_rng(15)
    F = _data(shape, dtype, 16)
    F[: shape[0] // 3] = np.round(F[: shape[0] // 3])  # many ties
    if head == "softmax":
        Y = np.eye(shape[1], dtype=dtype)[rng.integers(0, shape[1], shape[0])]
        Y[: shape[0] // 2] = np.eye(shape[1], dtype=dtype)[np.argmax(F[: shape[0] // 2], axis=1)]
    else:
        Y = (rng.random(shape) > 0.5).astype(dtype)
        Y[: shape[0] // 2] = (F[: shape[0] // 2] > 0).astype(dtype)
    h = get_head(head)
    with np.errstate(invalid="ignore"):
        expected = h.correct(F, Y)
        got = h.correct(F, Y, None, fused)
        assert fused.count_hits(head, F, Y) is not None
    assert type(got) is type(expected) and got == expected
    assert got > 0 or shape[0] < 2  # half the rows were made hits


def test_hit_counts_fall_back_to_the_head_for_weights_other_heads_and_views():
    from scratchnet.heads import get_head

    fused = _numba_kernels()
    F = _data((20, 3), "float64", 17, special=False)
    Y = np.eye(3)[np.argmax(F, axis=1)]
    assert fused.count_hits("identity", F, Y) is None
    assert fused.count_hits("softmax", F[:, ::2], Y[:, ::2]) is None  # not contiguous
    assert fused.count_hits("softmax", F, Y.astype(np.float32)) is None
    w = np.linspace(0.0, 1.0, 20)
    h = get_head("softmax")
    assert h.correct(F, Y, w, fused) == h.correct(F, Y, w)  # weighted: the head's own sum
    assert h.correct(F, Y, None, PortableKernels(sn.get_backend("numpy").xp)) == 20.0


@pytest.mark.parametrize("in_place", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
def test_l2_gradient_kernels_give_the_portable_bits(dtype, in_place):
    # g + norm (lambda W), in the array's dtype: written into g only when asked to
    xp = sn.get_backend("numpy").xp
    W, g = _data((33, 7), dtype, 18), _data((33, 7), dtype, 19)
    lam, norm = 3e-4, 1.0 / 200
    with np.errstate(invalid="ignore", over="ignore"):
        expected = g + norm * (lam * W)
        kernels = [PortableKernels(xp), UfuncKernels(xp, np)]
        try:
            kernels.append(_numba_kernels())
        except pytest.skip.Exception:
            pass
        for k in kernels:
            target = g.copy()
            got = k.add_l2(target, W, lam, norm, in_place)
            _same_bits(got, expected)
            assert (got is target) == in_place, type(k).__name__
            if not in_place:
                _same_bits(target, g)  # the caller's array is left alone
    view = _data((8, 6), dtype, 20)[:, ::2]  # not contiguous: the ufunc route
    if len(kernels) == 3:
        _same_bits(
            kernels[2].add_l2(view.copy(), view, lam, norm, False), view + norm * (lam * view)
        )


#: lengths around every place where NumPy's pairwise summation changes course: under 8 terms,
#: the 8-way blocks up to 128, the first split above 128, splits of splits, an 8192-term buffer
L2_LENGTHS = [1, 7, 8, 9, 127, 128, 129, 136, 255, 256, 257, 1000, 4099, 8191, 8192, 8193, 50_021]


@pytest.mark.parametrize("every_size_in_the_loop", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_l2_terms_give_the_gradient_and_numpys_squared_norm_bit_for_bit(
    dtype, every_size_in_the_loop, monkeypatch
):
    # one call: g + norm (lambda W) and sum(W * W), which NumPy sums pairwise, recursively above
    # 128 terms; the loop walks the same splits without recursion. By default only weights of up
    # to FUSED_SQUARES_MAX entries take the loop; the second run sends every size through it.
    if every_size_in_the_loop:
        numba_kernels = pytest.importorskip("scratchnet.backends.numba_kernels")
        monkeypatch.setattr(numba_kernels, "FUSED_SQUARES_MAX", 10**9)
    xp = sn.get_backend("numpy").xp
    kernels = [PortableKernels(xp), UfuncKernels(xp, np)]
    try:
        kernels.append(_numba_kernels())
    except pytest.skip.Exception:
        pass
    lam, norm = 3e-4, 1.0 / 200
    shapes = [(n,) for n in L2_LENGTHS] + [(64, 100), (784, 256), (3, 5000), (1, 1)]
    with np.errstate(invalid="ignore", over="ignore"):
        for i, shape in enumerate(shapes):
            W = _data(shape, dtype, 100 + i, special=i % 3 == 0)
            g = _data(shape, dtype, 200 + i)
            expected = g + norm * (lam * W), np.sum(W * W)
            for k in kernels:
                for in_place in (True, False):
                    target = g.copy()
                    got, squares = k.l2_terms(target, W, lam, norm, in_place)
                    _same_bits(got, expected[0])
                    _same_bits(squares, expected[1])
                    assert (got is target) == in_place
                    if not in_place:
                        _same_bits(target, g)
    if len(kernels) == 3:  # not contiguous: the ufunc route, the same values
        view = _data((40, 10), dtype, 20)[:, ::2]
        got, squares = kernels[2].l2_terms(view.copy(), view, lam, norm, False)
        _same_bits(got, view + norm * (lam * view))
        _same_bits(squares, np.sum(view * view))


@pytest.mark.parametrize("dtype", DTYPES)
def test_numba_pairwise_long_sums_follow_numpy_on_lengths_that_split(dtype):
    # the compiled helper alone, on plain sums (product=False) of large-and-small mixed terms,
    # where any change in the order of additions changes the bits
    fused = _numba_kernels()
    from scratchnet.backends import numba_head_loops as helpers

    assert fused is not None and helpers.pairwise_long is not None
    rng = np.random.default_rng(22)
    zero = np.dtype(dtype).type(0.0)
    for n in [*L2_LENGTHS, 100_003]:
        a = (rng.standard_normal(n) * 10.0 ** rng.integers(-6, 6, n)).astype(dtype)
        got = zero + helpers.pairwise_long(a, a, False, n, zero)
        _same_bits(np.dtype(dtype).type(got), np.sum(a))


@pytest.mark.parametrize("dtype", DTYPES)
def test_numba_row_sums_are_numpys_pairwise_sums_for_every_row_length(dtype):
    fused = _numba_kernels()
    rows = fused._compiled["row_sums"]
    rng = np.random.default_rng(21)
    for k in range(1, 129):
        P = _data((12, k), dtype, k, special=False)
        P[0] = -0.0  # all -0: +0 from the identity
        P[1, : min(k, len(SPECIAL))] = SPECIAL[: min(k, len(SPECIAL))]
        P[2] = rng.permutation(P[2])
        out = np.empty(12, dtype=dtype)
        with np.errstate(invalid="ignore"):
            rows(P, P.dtype.type(0.0), out)
            _same_bits(out, np.sum(P, axis=1))


def _softmax_case(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    F = (rng.standard_normal(shape) * 3.0).astype(dtype)
    Y = np.eye(shape[1], dtype=dtype)[rng.integers(0, shape[1], shape[0])]
    return F, Y


@pytest.mark.parametrize("shape", [(1, 2), (200, 10), (128, 10), (33, 3), (50, 128), (20, 129)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_numba_softmax_loss_and_delta_give_the_heads_bits(shape, dtype):
    from scratchnet.heads import get_head

    fused, head = _numba_kernels(), get_head("softmax")
    F, Y = _softmax_case(shape, dtype, 22)
    for norm in (1.0, 1.0 / shape[0], 0.37):
        loss, delta = head.loss_and_delta(F, Y, None, norm)
        got = head.loss_and_delta(F, Y, None, norm, fused)
        _same_bits(got[0], loss)
        _same_bits(got[1], delta)
    assert (fused.softmax_loss_and_delta(F, Y, 1.0) is None) == (shape[1] > 128)


@pytest.mark.parametrize("dtype", DTYPES)
def test_numba_softmax_rows_with_special_maxima_give_the_heads_bits(dtype):
    # a row whose max is -0/+0 (NumPy's SIMD max picks either) or NaN takes NumPy's max: still
    # the head's bits; infinities and huge logits go through the loops
    from scratchnet.heads import get_head

    fused, head = _numba_kernels(), get_head("softmax")
    F, Y = _softmax_case((40, 6), dtype, 23)
    F[0] = [-0.0, 0.0, -1.0, -0.0, -2.0, 0.0]
    F[1] = [np.inf, 1.0, -np.inf, 0.0, 2.0, 3.0]
    F[2] = -np.inf
    F[3, 2] = np.nan
    F[4] = [1e4, -1e4, 3e3, 0.0, 1e4, 5.0]
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        shift = fused._compiled["shift_by_row_max"]
        for rows, loops in ((slice(1, 3), True), (slice(4, None), True), (slice(0, None), False),
                            (slice(3, None), False)):  # fmt: skip
            assert shift(F[rows], np.empty_like(F[rows])) == loops
            loss, delta = head.loss_and_delta(F[rows], Y[rows], None, 0.25)
            got = head.loss_and_delta(F[rows], Y[rows], None, 0.25, fused)
            _same_bits(got[0], loss)
            _same_bits(got[1], delta)


def test_numba_softmax_leaves_weighted_and_foreign_arrays_to_the_head():
    from scratchnet.heads import get_head

    fused, head = _numba_kernels(), get_head("softmax")
    F, Y = _softmax_case((30, 4), "float64", 24)
    assert fused.softmax_loss_and_delta(F[:, ::2], Y[:, ::2], 1.0) is None  # not contiguous
    assert fused.softmax_loss_and_delta(F, Y.astype(np.float32), 1.0) is None
    w = np.linspace(0.5, 1.5, 30)
    loss, delta = head.loss_and_delta(F, Y, w, 0.1)
    got = head.loss_and_delta(F, Y, w, 0.1, fused)  # weighted: the head's own expressions
    _same_bits(got[0], loss)
    _same_bits(got[1], delta)


@pytest.mark.parametrize("shape", [(1, 1), (200, 1), (128, 5), (40, 128), (10, 129)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_numba_sigmoid_loss_and_delta_give_the_heads_bits(shape, dtype):
    # signed zeros, infinities, NaN and logits past exp's range mixed in (_data's specials)
    from scratchnet.heads import get_head

    fused, head = _numba_kernels(), get_head("sigmoid")
    rng = np.random.default_rng(25)
    F = _data(shape, dtype, 26)
    F.reshape(-1)[-3:] = np.array([800.0, -800.0, 90.0], dtype=dtype)[: F.size][-3:]
    Y = (rng.random(shape) > 0.5).astype(dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        for norm in (1.0, 1.0 / shape[0], 0.37):
            loss, delta = head.loss_and_delta(F, Y, None, norm)
            got = head.loss_and_delta(F, Y, None, norm, fused)
            _same_bits(got[0], loss)
            _same_bits(got[1], delta)
        finite = np.nan_to_num(F, nan=0.5, posinf=30.0, neginf=-30.0)
        loss, delta = head.loss_and_delta(finite, Y, None, 0.5)  # a finite loss, compared too
        got = head.loss_and_delta(finite, Y, None, 0.5, fused)
        _same_bits(got[0], loss)
        _same_bits(got[1], delta)
    assert np.isfinite(loss)
    assert (fused.sigmoid_loss_and_delta(F, Y, 1.0) is None) == (shape[1] > 128)


# ----- the layers, with and without the backend's kernels ---------------------------------------
def _fit(dtype, portable, activation="relu", **model):
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(96, 6)), rng.integers(0, 3, size=96)
    m = sn.Model(hidden=(16, 8), activation=activation, seed=0, dtype=dtype, **model)
    m.build(6, 3)
    if portable:
        for layer in m.layers:
            layer.use_kernels(None)
    m.fit(X, y, epochs=2, batch_size=32, optimizer="adam", lr=0.01)
    return m


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_training_with_the_layer_kernels_gives_the_portable_bits(dtype, activation):
    fast = _fit(dtype, portable=False, activation=activation, l2=1e-3, dropout=0.1)
    plain = _fit(dtype, portable=True, activation=activation, l2=1e-3, dropout=0.1)
    assert fast.layers[0].backend_kernels is fast.backend.kernels
    assert plain.layers[0].backend_kernels is None
    _same_bits(fast.store.values, plain.store.values)
    _same_bits(fast.store.grads, plain.store.grads)


def test_a_train_step_keeps_the_layer_contract():
    m = _fit("float32", portable=False)
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(32, 6)).astype(np.float32), rng.integers(0, 3, size=32)
    Y = np.eye(3, dtype=np.float32)[y]
    before = {name: np.array(v) for name, v in m.parameters().items()}
    m.train_step(X, Y, None, 1.0 / 32, 0.01)
    grads = m.store.gradient_views()
    dense = [ly for ly in m.layers if isinstance(ly, Dense)]
    activations = [ly for ly in m.layers if isinstance(ly, Activation)]
    assert len(activations) == 2
    for layer in activations:  # Z: the input of the batch, H: the output
        below = m.layers[m.layers.index(layer) - 1]
        B, c = before[f"{below.name}.B"], before[f"{below.name}.c"]
        _same_bits(layer.cache["Z"], below.cache["H"] @ B + c)
        _same_bits(layer.cache["H"], layer.fn.forward(layer.cache["Z"]))
        assert m.layers[m.layers.index(layer) + 1].cache["H"] is layer.cache["H"]
    # grads: the step's gradients, written into the buffer rather than copied there (the bias
    # sums only by the Numba loop; the ufunc kernels return a new array that the store copies)
    written = ("B", "c") if m.backend.kernels.name == "numba" else ("B",)
    for layer in dense:
        for key in ("B", "c"):
            _same_bits(layer.grads[key], grads[f"{layer.name}.{key}"])
            assert np.shares_memory(layer.grads[key], m.store.grads) == (key in written), key
        assert np.shares_memory(layer.params["B"], m.store.values)
    _same_bits(dense[0].cache["H"], X)


def test_a_replaced_gradient_buffer_still_receives_the_gradient():
    # an all-reduce may hand back a new buffer: the layers' old views must not be trusted
    fast, plain = _fit("float64", portable=False), _fit("float64", portable=True)
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(32, 6)), rng.integers(0, 3, size=32)
    Y = np.eye(3)[y]
    for m in (fast, plain):
        m.store.grads = np.full_like(m.store.grads, 7.0)
        m.compute_gradients(X, Y, None, 1.0 / 32)
    _same_bits(fast.store.grads, plain.store.grads)
    gaps = np.ones(fast.store.layout.size, dtype=bool)
    for s in fast.store.layout.slots:
        gaps[s.offset : s.stop] = False
    assert np.all(fast.store.grads[gaps] == 7.0)  # only parameter slots were written
    dense = fast.layers[0]
    assert np.shares_memory(dense.grad_targets["B"], fast.store.grads)  # new views handed out


def test_copied_and_pickled_layers_drop_the_kernels_and_compute_the_same():
    be = sn.get_backend("numpy")
    ctx = BuildContext(be, be.dtype("float32"), np.random.default_rng(0))
    dense, act = Dense(5), Activation("relu")
    dense.build(4, ctx)
    act.build(5, ctx)
    assert dense.backend_kernels is be.kernels
    X = _data((8, 4), "float32", 10, special=False)
    expected = act.forward(dense.forward(X))
    for clone in (copy.deepcopy(dense), pickle.loads(pickle.dumps(dense))):
        assert clone.backend_kernels is None and clone.grad_targets is None
        _same_bits(Activation("relu").forward(clone.forward(X)), expected)


def test_only_the_registered_function_uses_a_fused_kernel():
    relu = get_activation("relu")
    impostor = ActivationFunction("relu", lambda z: z * 2.0, lambda z, h: 2.0 + 0.0 * z)
    assert Activation("relu")._fused_name == "relu"
    assert Activation(impostor)._fused_name is None
    layer = Activation(impostor)
    layer.use_kernels(_numba_kernels())
    Z = _data((4, 3), "float64", 11)
    np.testing.assert_array_equal(layer.forward(Z), Z * 2.0)
    assert relu.forward is not impostor.forward


def test_a_moved_model_computes_with_the_new_backends_kernels():
    skip_unavailable("torch")
    m = _fit("float32", portable=False)
    m.to("torch")
    assert all(layer.backend_kernels is m.backend.kernels for layer in m.layers)
    assert all(getattr(layer, "grad_targets", None) is None or
               all(not isinstance(v, np.ndarray) for v in layer.grad_targets.values())
               for layer in m.layers)  # fmt: skip
    rng = np.random.default_rng(6)
    X, y = rng.normal(size=(16, 6)), rng.integers(0, 3, size=16)
    loss, grads = m.loss_and_gradients(X, y)
    assert np.isfinite(loss)
    assert sn.backends.library_of(grads["dense1.B"]) == "torch"


def test_layers_without_a_model_keep_returning_new_arrays():
    be = sn.get_backend("numpy")
    ctx = BuildContext(be, be.dtype("float64"), np.random.default_rng(1))
    dense = Dense(3)
    dense.build(4, ctx)
    X, E = _data((6, 4), "float64", 12, special=False), _data((6, 3), "float64", 13, special=False)
    dense.forward(X)
    dense.backward(E)
    _same_bits(dense.grads["B"], X.T @ E)
    _same_bits(dense.grads["c"], E.sum(axis=0))
    assert isinstance(Layer.grad_targets, type(None))

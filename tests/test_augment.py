"""Augmentation: label-preserving transforms on the model's device, seeded."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.augment import Compose, GaussianNoise, RandomCrop, RandomFlip, RandomShift


def _images(n=4, h=5, w=6, c=1, seed=0):
    return np.random.default_rng(seed).random((n, h * w * c))


def test_shift_moves_pixels_and_fills_zeros(backend):
    X = _images(n=3)
    shift = RandomShift((5, 6), max_shift=2)
    dt = backend.dtype("float64")
    dy, dx = np.array([1, -2, 0]), np.array([0, 1, -1])
    out = sn.to_numpy(
        shift.shift(backend.asarray(X, dtype=dt), backend.asarray(dy), backend.asarray(dx))
    )
    imgs, got = X.reshape(3, 5, 6), out.reshape(3, 5, 6)
    for i in range(3):
        expected = np.zeros((5, 6))
        for r in range(5):
            for col in range(6):
                sr, sc = r - dy[i], col - dx[i]
                if 0 <= sr < 5 and 0 <= sc < 6:
                    expected[r, col] = imgs[i, sr, sc]
        np.testing.assert_array_equal(got[i], expected)


def test_shift_with_channels_keeps_channels_together():
    X = _images(n=2, h=3, w=3, c=2)
    out = RandomShift((3, 3, 2), 1).shift(X, np.array([0, 1]), np.array([1, 0]))
    imgs, got = X.reshape(2, 3, 3, 2), out.reshape(2, 3, 3, 2)
    np.testing.assert_array_equal(got[0, :, 1:, :], imgs[0, :, :2, :])
    np.testing.assert_array_equal(got[1, 1:, :, :], imgs[1, :2, :, :])
    assert not got[0, :, 0, :].any() and not got[1, 0, :, :].any()


def test_random_shift_and_crop_are_seeded_and_bounded(backend):
    X = backend.asarray(_images(n=64), dtype=backend.dtype("float32"))
    for t in (RandomShift((5, 6), 1), RandomCrop((5, 6), padding=1)):
        a = sn.to_numpy(t(X, backend.make_rng(0)))
        b = sn.to_numpy(t(X, backend.make_rng(0)))
        np.testing.assert_array_equal(a, b)
        assert a.shape == (64, 30)
        # the sum can only lose mass (pixels leave the frame, zeros enter)
        assert (a.sum(axis=1) <= sn.to_numpy(X).sum(axis=1) + 1e-5).all()
        assert not np.array_equal(a, sn.to_numpy(X))


def test_flips(backend):
    X = _images(n=200, h=2, w=3)
    dt = backend.dtype("float64")
    out = sn.to_numpy(
        RandomFlip((2, 3), horizontal=True, p=0.5)(
            backend.asarray(X, dtype=dt), backend.make_rng(1)
        )
    )
    imgs, got = X.reshape(200, 2, 3), out.reshape(200, 2, 3)
    flipped = np.array([np.array_equal(g, im[:, ::-1]) for g, im in zip(got, imgs, strict=True)])
    same = np.array([np.array_equal(g, im) for g, im in zip(got, imgs, strict=True)])
    assert (flipped | same).all() and 60 < flipped.sum() < 140
    vert = RandomFlip((2, 3), horizontal=False, vertical=True, p=1.0)(
        X, sn.get_backend("numpy").make_rng(0)
    )
    np.testing.assert_array_equal(vert.reshape(200, 2, 3), imgs[:, ::-1, :])
    with pytest.raises(ValueError, match="needs horizontal=True"):
        RandomFlip((2, 3), horizontal=False)


def test_gaussian_noise_statistics(backend):
    X = backend.asarray(np.zeros((200, 50)), dtype=backend.dtype("float32"))
    noisy = sn.to_numpy(GaussianNoise(0.3)(X, backend.make_rng(0)))
    assert abs(noisy.std() - 0.3) < 0.01 and abs(noisy.mean()) < 0.01


def test_compose_and_custom_callables():
    X = _images(n=2)
    rng = sn.get_backend("numpy").make_rng(0)
    pipeline = Compose([lambda Xb, r: Xb * 2.0, lambda Xb, r: Xb + 1.0])
    np.testing.assert_allclose(pipeline(X, rng), X * 2.0 + 1.0)
    with pytest.raises(ValueError, match="at least one transform"):
        Compose([])
    with pytest.raises(TypeError, match="must be callable"):
        Compose([3])


def test_image_shape_is_checked():
    with pytest.raises(ValueError, match="image_shape must be"):
        RandomShift((28,))
    with pytest.raises(ValueError, match="expects 30 features per row"):
        RandomShift((5, 6), 1)(np.ones((2, 29)), sn.get_backend("numpy").make_rng(0))


def test_augmentation_in_fit_runs_on_the_device_and_is_training_only(backend):
    rng = np.random.default_rng(0)
    X = rng.random((40, 16))
    y = rng.integers(0, 2, size=40)
    calls = []

    def spy(Xb, r):
        calls.append(sn.backends.library_of(Xb))
        return RandomShift((4, 4), 1)(Xb, r)

    m = sn.Model(hidden=(8,), backend=backend, seed=0)
    m.fit(X, y, epochs=2, batch_size=10, augment=spy)
    assert calls == [backend.name] * 8
    m.predict(X)
    assert len(calls) == 8  # inference never augments
    m.fit(X, y, epochs=1, batch_size=10, augment=[GaussianNoise(0.1), RandomShift((4, 4), 1)])

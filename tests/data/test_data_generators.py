"""Built-in generators: shapes, seeded determinism, class balance and geometry.

Oracles: scikit-learn's make_moons / make_circles (same construction, noise 0), closed-form
geometry for the others, and least squares for the linear generator.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_circles, make_moons

from nnspec.data import generate
from nnspec.ops.sources import Blobs, Circles, Linear, Moons, Sine, Spirals, Xor

CASES = [
    (Xor(), 200, 2, 2),
    (Xor(samples=7), 7, 2, 2),
    (Moons(), 1000, 2, 2),
    (Moons(samples=9), 9, 2, 2),
    (Circles(samples=101), 101, 2, 2),
    (Spirals(samples=301, classes=3, turns=1.5), 301, 2, 3),
    (Spirals(samples=50), 50, 2, 2),
    (Blobs(samples=100, classes=4, n_features=5), 100, 5, 4),
    (Linear(n_features=3), 200, 3, None),
    (Sine(samples=64), 64, 1, None),
]


@pytest.mark.parametrize("src, n, f, k", CASES, ids=lambda c: getattr(c, "kind", None))
def test_shapes_and_balance(src, n, f, k):
    t = generate(src, seed=3)
    assert t.x.shape == (n, f) and t.x.dtype == np.float64
    assert np.isfinite(t.x).all() and np.isfinite(t.y).all()
    assert t.feature_names == [f"x{j}" for j in range(f)]
    if k is None:
        assert t.y.shape == (n, 1)
    else:
        assert t.y.shape == (n,)
        counts = np.bincount(t.y.astype(int), minlength=k)
        assert len(counts) == k and counts.max() - counts.min() <= 1, counts
        assert counts.sum() == n


@pytest.mark.parametrize("src", [c[0] for c in CASES], ids=lambda s: s.kind)
def test_seeded_determinism(src):
    a, b, c = generate(src, 5), generate(src, 5), generate(src, 6)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert not np.array_equal(a.x, c.x)
    # The source's own seed wins over the spec's.
    own = src.model_copy(update={"seed": 11})
    assert np.array_equal(generate(own, 1).x, generate(own, 2).x)
    assert np.array_equal(generate(own, 1).x, generate(src, 11).x)


@pytest.mark.parametrize("src", [Xor(), Moons(), Circles(), Spirals(classes=3), Blobs()],
                         ids=lambda s: s.kind)
def test_classes_are_shuffled(src):
    # No class sits at the end: a tail-split would otherwise miss classes.
    y = generate(src, 0).y
    tail = y[-len(y) // 5:]
    assert len(np.unique(tail)) == len(np.unique(y))


def _rows(x, y):
    """Rows (x..., y) in a canonical order, for set comparison."""
    a = np.column_stack([np.round(x, 12), y])
    return a[np.lexsort(a.T[::-1])]


@pytest.mark.parametrize("n", [10, 11, 200])
def test_moons_match_sklearn(n):
    t = generate(Moons(samples=n, noise=0.0), 0)
    xs, ys = make_moons(n_samples=n, noise=0.0, shuffle=False)
    np.testing.assert_allclose(_rows(t.x, t.y), _rows(xs, ys), atol=1e-12)


@pytest.mark.parametrize("n, factor", [(10, 0.5), (101, 0.3)])
def test_circles_match_sklearn(n, factor):
    t = generate(Circles(samples=n, noise=0.0, factor=factor), 0)
    xs, ys = make_circles(n_samples=n, noise=0.0, factor=factor, shuffle=False)
    np.testing.assert_allclose(_rows(t.x, t.y), _rows(xs, ys), atol=1e-12)


@pytest.mark.parametrize("src", [Moons(samples=4000, noise=0.2),
                                 Circles(samples=4000, noise=0.1),
                                 Spirals(samples=4000, noise=0.05)], ids=lambda s: s.kind)
def test_noise_is_gaussian_on_the_coordinates(src):
    # noise=0 draws the same numbers (scaled by 0), so the order is the same and the
    # difference is exactly the added noise; labels are untouched by it.
    clean = generate(src.model_copy(update={"noise": 0.0}), 0)
    noisy = generate(src, 0)
    assert np.array_equal(clean.y, noisy.y)
    d = (noisy.x - clean.x).ravel()
    assert d.std() == pytest.approx(src.noise, rel=0.05)
    assert abs(d.mean()) < 4 * src.noise / np.sqrt(d.size)
    # Gaussian: about 68.3% within one standard deviation.
    assert np.mean(np.abs(d) < src.noise) == pytest.approx(0.683, abs=0.02)


def test_xor_geometry():
    t = generate(Xor(samples=400, noise=0.0), 1)
    assert set(map(tuple, t.x)) == {(-1.0, -1.0), (-1.0, 1.0), (1.0, -1.0), (1.0, 1.0)}
    assert np.array_equal(t.y, (t.x[:, 0] * t.x[:, 1] < 0).astype(float))
    noisy = generate(Xor(samples=4000, noise=0.3), 1)
    dev = noisy.x - np.sign(noisy.x)  # nearest corner (noise 0.3 rarely crosses an axis)
    assert dev.std() == pytest.approx(0.3, rel=0.1)
    assert np.mean(noisy.y == (noisy.x[:, 0] * noisy.x[:, 1] < 0)) > 0.99


@pytest.mark.parametrize("k, turns", [(2, 1.0), (3, 0.5), (5, 2.0)])
def test_spirals_geometry(k, turns):
    t = generate(Spirals(samples=60 * k, classes=k, turns=turns, noise=0.0), 2)
    r = np.hypot(t.x[:, 0], t.x[:, 1])
    assert r.min() == pytest.approx(0.0) and r.max() == pytest.approx(1.0)
    keep = r > 1e-9
    angle = np.arctan2(t.x[keep, 1], t.x[keep, 0])
    expected = 2 * np.pi * (t.y[keep] / k + turns * r[keep])
    diff = np.angle(np.exp(1j * (angle - expected)))  # wrapped to (-pi, pi]
    np.testing.assert_allclose(diff, 0.0, atol=1e-9)


def test_blobs_geometry():
    src = Blobs(samples=3000, classes=3, n_features=4, noise=0.5)
    t = generate(src, 4)
    for c in range(3):
        pts = t.x[t.y == c]
        centre = pts.mean(axis=0)
        assert np.all(np.abs(centre) <= 10.0 + 0.1)
        assert pts.std(axis=0) == pytest.approx(np.full(4, 0.5), rel=0.15)
    # Centres come from the first draws of the generator, uniform in the box.
    rng = np.random.Generator(np.random.PCG64(4))
    centres = rng.uniform(-10, 10, size=(3, 4))
    for c in range(3):
        np.testing.assert_allclose(t.x[t.y == c].mean(axis=0), centres[c], atol=0.1)


def test_linear_geometry():
    clean = generate(Linear(samples=50, n_features=3, slope=2.0, intercept=-1.0, noise=0.0), 0)
    assert np.all(np.abs(clean.x) <= 1.0)
    np.testing.assert_allclose(clean.y[:, 0], 2.0 * clean.x.sum(axis=1) - 1.0, atol=1e-12)
    noisy = generate(Linear(samples=5000, n_features=2, slope=0.5, intercept=3.0, noise=0.2), 0)
    a = np.column_stack([noisy.x.sum(axis=1), np.ones(5000)])
    (slope, icpt), res, *_ = np.linalg.lstsq(a, noisy.y[:, 0], rcond=None)
    assert slope == pytest.approx(0.5, abs=0.02) and icpt == pytest.approx(3.0, abs=0.02)
    assert np.sqrt(res[0] / 5000) == pytest.approx(0.2, rel=0.05)


def test_sine_geometry():
    t = generate(Sine(samples=300, frequency=2.0, amplitude=3.0, noise=0.0), 0)
    assert np.all(np.abs(t.x) <= np.pi)
    np.testing.assert_allclose(t.y[:, 0], 3.0 * np.sin(2.0 * t.x[:, 0]), atol=1e-12)


def test_negative_zero_noise_is_no_noise() -> None:
    """`noise=-0.0` passes `ge=0` but numpy's normal() refuses a scale with the sign bit
    (found by tests/run/test_train_fuzz.py: it ended in E502)."""
    import nnspec.ops.sources as sources
    from nnspec.data.generators import generate

    a = generate(sources.Moons(samples=20, noise=-0.0), 3)
    b = generate(sources.Moons(samples=20, noise=0.0), 3)
    assert np.array_equal(a.x, b.x)

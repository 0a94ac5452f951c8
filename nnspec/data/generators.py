"""data.generators: a built-in source (xor, moons, digits, shapes, ...) + a seed -> Table.

Every generator draws from one `numpy.random.Generator(PCG64(seed))`, in the order its
docstring states, so a seed gives the same data on every machine. Classification generators
balance the classes (sizes differ by at most one, the first classes get the extra samples)
and return the samples in a seeded random order (so no class sits at the end of the table).
Noise is added to the coordinates, never to the labels.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from nnspec.data.dataset import Table
from nnspec.ops import sources as S


def rng_for(seed: int | np.random.SeedSequence) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(seed))


def generate(src: S.Source, seed: int | np.random.SeedSequence) -> Table:
    """The samples of a built-in source; `seed` is used unless the source sets its own.
    Image sources (digits(image=true), shapes) give rows of (C, H, W) images (Table.shape)."""
    own = getattr(src, "seed", None)
    rng = rng_for(own if own is not None else seed)
    x, y = GENERATORS[src.kind](src, rng)  # type: ignore[attr-defined]
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    k = 1 if y.ndim == 1 else y.shape[1]
    declared = getattr(src, "declared_shape", lambda: None)()
    shape = declared if declared is not None and len(declared) == 3 else None
    if isinstance(src, S.Digits):
        names = [f"pixel_{j // 8}_{j % 8}" for j in range(64)]
    elif shape is not None:
        from nnspec.data.images import pixel_names

        names = pixel_names(shape)
    else:
        names = [f"x{j}" for j in range(x.shape[1])]
    return Table(x, y, names, ["y"] if k == 1 else [f"y{j}" for j in range(k)], shape=shape)


def _sizes(n: int, k: int) -> list[int]:
    """n samples over k classes: n // k each, the first n % k classes get one more."""
    return [n // k + (1 if c < n % k else 0) for c in range(k)]


def _shuffled(x: np.ndarray, y: np.ndarray, rng: np.random.Generator):
    order = rng.permutation(len(y))
    return x[order], y[order]


def xor(src: S.Xor, rng: np.random.Generator):
    """Corners c in (-1,-1), (-1,1), (1,-1), (1,1) (balanced, in that order), x = c + N(0,
    noise^2 I); label 1 for the corners with c0*c1 < 0 (the two off-diagonal ones), else 0.
    Draws: noise (N, 2), then the order permutation."""
    corners = np.array([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]])
    which = np.repeat(np.arange(4), _sizes(src.samples, 4))
    x = corners[which] + rng.normal(0.0, abs(src.noise), size=(src.samples, 2))
    y = (corners[which, 0] * corners[which, 1] < 0).astype(np.float64)
    return _shuffled(x, y, rng)


def moons(src: S.Moons, rng: np.random.Generator):
    """As sklearn.datasets.make_moons: n_out = N // 2 points on the upper half circle
    (cos t, sin t), t = linspace(0, pi, n_out), label 0; n_in = N - n_out on the lower one
    (1 - cos t, 1 - sin t - 0.5), label 1; x += N(0, noise^2 I).
    Draws: noise (N, 2), then the order permutation."""
    n_out = src.samples // 2
    n_in = src.samples - n_out
    t_out = np.linspace(0.0, np.pi, n_out)
    t_in = np.linspace(0.0, np.pi, n_in)
    x = np.vstack([np.column_stack([np.cos(t_out), np.sin(t_out)]),
                   np.column_stack([1.0 - np.cos(t_in), 1.0 - np.sin(t_in) - 0.5])])
    y = np.concatenate([np.zeros(n_out), np.ones(n_in)])
    x = x + rng.normal(0.0, abs(src.noise), size=x.shape)
    return _shuffled(x, y, rng)


def circles(src: S.Circles, rng: np.random.Generator):
    """As sklearn.datasets.make_circles: n_out = N // 2 points on the unit circle at angles
    linspace(0, 2 pi, n_out, endpoint=False), label 0; n_in = N - n_out on the circle of
    radius `factor`, label 1; x += N(0, noise^2 I).
    Draws: noise (N, 2), then the order permutation."""
    n_out = src.samples // 2
    n_in = src.samples - n_out
    a_out = np.linspace(0.0, 2 * np.pi, n_out, endpoint=False)
    a_in = np.linspace(0.0, 2 * np.pi, n_in, endpoint=False)
    x = np.vstack([np.column_stack([np.cos(a_out), np.sin(a_out)]),
                   src.factor * np.column_stack([np.cos(a_in), np.sin(a_in)])])
    y = np.concatenate([np.zeros(n_out), np.ones(n_in)])
    x = x + rng.normal(0.0, abs(src.noise), size=x.shape)
    return _shuffled(x, y, rng)


def spirals(src: S.Spirals, rng: np.random.Generator):
    """K = classes arms; arm k has n_k points (balanced) at r = linspace(0, 1, n_k) and angle
    2 pi (k / K + turns * r): x = r (cos, sin) + N(0, noise^2 I), label k. The arms start
    together at the centre and wind `turns` times outward, evenly rotated.
    Draws: noise (N, 2), then the order permutation."""
    k = src.classes
    xs, ys = [], []
    for c, n in enumerate(_sizes(src.samples, k)):
        r = np.linspace(0.0, 1.0, n)
        a = 2 * np.pi * (c / k + src.turns * r)
        xs.append(np.column_stack([r * np.cos(a), r * np.sin(a)]))
        ys.append(np.full(n, float(c)))
    x = np.vstack(xs)
    x = x + rng.normal(0.0, abs(src.noise), size=x.shape)
    return _shuffled(x, np.concatenate(ys), rng)


def blobs(src: S.Blobs, rng: np.random.Generator):
    """K = classes centres drawn uniformly from [-10, 10]^features (as sklearn make_blobs'
    default box); cluster k has n_k samples (balanced), x = centre_k + N(0, noise^2 I),
    label k. Draws: centres (K, F), noise (N, F), then the order permutation."""
    f, k = src.n_features, src.classes
    centres = rng.uniform(-10.0, 10.0, size=(k, f))
    which = np.repeat(np.arange(k), _sizes(src.samples, k))
    x = centres[which] + rng.normal(0.0, abs(src.noise), size=(src.samples, f))
    return _shuffled(x, which.astype(np.float64), rng)


def linear(src: S.Linear, rng: np.random.Generator):
    """x ~ U(-1, 1)^(N x features); y = slope * sum_j x_j + intercept + N(0, noise^2),
    shape (N, 1). Draws: x, then the noise."""
    x = rng.uniform(-1.0, 1.0, size=(src.samples, src.n_features))
    y = src.slope * x.sum(axis=1) + src.intercept + rng.normal(0.0, abs(src.noise), src.samples)
    return x, y[:, None]


def sine(src: S.Sine, rng: np.random.Generator):
    """x ~ U(-pi, pi)^(N x 1); y = amplitude * sin(frequency * x) + N(0, noise^2), shape
    (N, 1). Draws: x, then the noise."""
    x = rng.uniform(-np.pi, np.pi, size=(src.samples, 1))
    y = src.amplitude * np.sin(src.frequency * x[:, 0]) + rng.normal(0.0, abs(src.noise),
                                                                     src.samples)
    return x, y[:, None]


DIGITS = Path(__file__).resolve().parent / "builtin" / "digits.npz"


def digits(src: S.Digits, rng: np.random.Generator):
    """The 1797 samples of nnspec/data/builtin/digits.npz (scikit-learn's bundled copy of the
    UCI handwritten digits, written by specs/data/make_data.py) in the file's order: x (N, 64)
    pixel counts 0..16 (row-major 8x8, so the same values are (1, 8, 8) images), y the digit.
    Draws nothing: the split (seeded) decides which samples are held out."""
    with np.load(DIGITS, allow_pickle=False) as z:
        return z["x"].astype(np.float64), z["y"].astype(np.float64)


def _segments_distance(px: np.ndarray, py: np.ndarray, pts: np.ndarray,
                       closed: bool) -> np.ndarray:
    """Distance of every pixel centre (px, py) to the polyline through `pts` (k, 2)."""
    ends = np.vstack([pts, pts[:1]]) if closed else pts
    best = np.full(px.shape, np.inf)
    for (ax, ay), (bx, by) in zip(ends[:-1], ends[1:], strict=True):
        dx, dy = bx - ax, by - ay
        t = np.clip(((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
        best = np.minimum(best, np.hypot(px - ax - t * dx, py - ay - t * dy))
    return best


SHAPE_NAMES = ("circle", "square", "triangle", "cross")


def shapes(src: S.Shapes, rng: np.random.Generator):
    """Balanced classes 0 circle, 1 square, 2 triangle, 3 cross, in that order. Per sample
    (one uniform draw (N, 5), in this column order): radius r = (0.25 + 0.15 u0) * size,
    centre (cx, cy) = r + 1 + u1,2 * (size - 2 r - 2) (so the shape lies inside), angle
    a = -pi/2 + (u3 - 1/2) pi/6 (upright, tilted up to 15 degrees either way; y points
    down), stroke width t = 1.5 + u4. The outline: a circle of radius r; a square with its
    corners on that circle at a + pi/4 + k pi/2; a triangle with its corners at a + 2 pi k / 3
    (apex up); a cross (+) of two strokes of length 2 r through the centre at angles a and
    a + pi/2. A pixel's value is
    clip(t / 2 + 0.5 - d, 0, 1), d its centre's distance to the outline (a one-pixel ramp:
    anti-aliased). Then x += N(0, noise^2) (draws (N, size, size)), then the order
    permutation. Rows are (1, size, size) images."""
    n, s = src.samples, src.size
    which = np.repeat(np.arange(4), _sizes(n, 4))
    u = rng.uniform(0.0, 1.0, size=(n, 5))
    py, px = np.mgrid[0:s, 0:s].astype(np.float64) + 0.5
    x = np.empty((n, s, s))
    for i in range(n):
        r = (0.25 + 0.15 * u[i, 0]) * s
        cx, cy = r + 1 + u[i, 1] * (s - 2 * r - 2), r + 1 + u[i, 2] * (s - 2 * r - 2)
        a, t = -np.pi / 2 + (u[i, 3] - 0.5) * np.pi / 6, 1.5 + u[i, 4]
        kind = which[i]
        if kind == 0:
            d = np.abs(np.hypot(px - cx, py - cy) - r)
        elif kind in (1, 2):
            k = 4 if kind == 1 else 3
            ang = a + (np.pi / 4 if k == 4 else 0.0) + 2 * np.pi * np.arange(k) / k
            d = _segments_distance(px, py, np.column_stack([cx + r * np.cos(ang),
                                                            cy + r * np.sin(ang)]), True)
        else:
            d = np.minimum(*(_segments_distance(px, py, np.array(
                [[cx - r * np.cos(b), cy - r * np.sin(b)], [cx + r * np.cos(b),
                                                            cy + r * np.sin(b)]]), False)
                for b in (a, a + np.pi / 2)))
        x[i] = np.clip(t / 2 + 0.5 - d, 0.0, 1.0)
    x = x + rng.normal(0.0, abs(src.noise), size=x.shape)
    return _shuffled(x.reshape(n, s * s), which.astype(np.float64), rng)


GENERATORS: dict[str, Callable] = {"digits": digits, "shapes": shapes, "xor": xor,
                                   "moons": moons, "circles": circles, "spirals": spirals,
                                   "blobs": blobs, "linear": linear, "sine": sine}

"""backends.cuda.dropout: (x, keep bits, rate) -> y; dL/dy -> dL/dx, numba.cuda.

    keep[b, i] = u[b, i] >= rate,  u = rng.random() drawn ON THE HOST, in the CPU backend's
                 order (per batch, per dropout layer in layer order, row-major), as uint8
    y[b, i] = x[b, i] * m[b, i],   m = keep / (1 - rate) (0 where dropped)
    gx[b, i] = g[b, i] * m[b, i]

The masks of a whole chunk of batches are drawn with the chunk's Generator and uploaded once
(engine.draw_masks), so a seeded run drops exactly the units the CPU backend drops; the
price is one host draw and one upload of a byte per dropped-layer unit per sample (the GPU
never waits on it within the chunk). Evaluation is the identity (`copy`).
Thread mapping: one thread per element, grid-stride.
"""

from __future__ import annotations

import functools
from types import SimpleNamespace

import numpy as np

from nnspec.backends.cuda.jit import cuda, kernel


@functools.cache
def build(dtype: str) -> SimpleNamespace:
    dt = np.dtype(dtype).type
    zero = dt(0.0)

    @kernel("void(T[::1], int64, int64, uint8[::1], int64, float64, int64)", dtype)
    def forward(ws, in_off, a_off, keep, keep_off, scale, size):  # type: ignore[no-untyped-def]
        """y = x * m over `size` elements."""
        sc = dt(scale)
        for i in range(cuda.grid(1), size, cuda.gridsize(1)):
            m = sc if keep[keep_off + i] != 0 else zero
            ws[a_off + i] = ws[in_off + i] * m

    @kernel("void(T[::1], uint8[::1], int64, float64, int64)", dtype)
    def backward(g, keep, keep_off, scale, size):  # type: ignore[no-untyped-def]
        """g <- g * m in place."""
        sc = dt(scale)
        for i in range(cuda.grid(1), size, cuda.gridsize(1)):
            m = sc if keep[keep_off + i] != 0 else zero
            g[i] = g[i] * m

    @kernel("void(T[::1], int64, int64, int64)", dtype)
    def copy(ws, in_off, a_off, size):  # type: ignore[no-untyped-def]
        """y = x (evaluation, rate 0)."""
        for i in range(cuda.grid(1), size, cuda.gridsize(1)):
            ws[a_off + i] = ws[in_off + i]

    return SimpleNamespace(forward=forward, backward=backward, copy=copy)

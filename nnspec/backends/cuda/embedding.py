"""backends.cuda.embedding: token ids -> vectors (gather) and the table's gradient
(scatter-add), numba.cuda.

The same op as backends/cpu/embedding.py: the batch's ids are at ws[in_off:] (rows x t values
of the plan dtype, exact integers: the executable checked them against the vocabulary as
int64 before the upload); w is (vocab, dim) row-major at params[w_off:].

    forward   a[r, j, d] = w[ids[r, j], d]         thread per output element, grid-stride
    zero      gw[v, d] = 0                          thread per table element, grid-stride
    backward  gw[ids[r, j], d] += g[r, j, d]        thread per column d, looping over the
              (r, j) in order: each value gets its terms in the cpu engine's order, so
              repeated ids are summed deterministically (no atomics)
"""

from __future__ import annotations

import functools
from types import SimpleNamespace

import numpy as np

from nnspec.backends.cuda.jit import cuda, kernel


@functools.cache
def build(dtype: str) -> SimpleNamespace:
    zero = np.dtype(dtype).type(0.0)

    @kernel("void(T[::1], int64, int64, T[::1], int64, int64, int64, int64)", dtype)
    def forward(ws, in_off, a_off, params, w_off, rows, t, dim):  # type: ignore[no-untyped-def]
        for i in range(cuda.grid(1), rows * t * dim, cuda.gridsize(1)):
            tok = i // dim
            d = i - tok * dim
            v = int(ws[in_off + tok])
            ws[a_off + i] = params[w_off + v * dim + d]

    @kernel("void(T[::1], int64, int64)", dtype)
    def zero_grad(grad, w_off, size):  # type: ignore[no-untyped-def]
        for i in range(cuda.grid(1), size, cuda.gridsize(1)):
            grad[w_off + i] = zero

    @kernel("void(T[::1], int64, T[::1], int64, T[::1], int64, int64, int64)", dtype)
    def backward(ws, in_off, g, g_off, grad, w_off, tokens, dim):  # type: ignore[no-untyped-def]
        for d in range(cuda.grid(1), dim, cuda.gridsize(1)):
            for tok in range(tokens):
                v = int(ws[in_off + tok])
                grad[w_off + v * dim + d] += g[g_off + tok * dim + d]

    return SimpleNamespace(forward=forward, zero_grad=zero_grad, backward=backward)

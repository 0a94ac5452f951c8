"""backends.cuda.dense: (x, w, bias) -> z and dL/dz -> (dL/dx, dL/dw, dL/dbias), numba.cuda.

    z[b, o]    = sum_i x[b, i] * w[o, i]   (+ bias[o] and f: activations.forward, fused)
    gz[b, o]   = g[b, o] * f'(z[b, o])     gbias[o] = sum_b gz[b, o]     (bias_grad, fused)
    gw[o, i]   = sum_b gz[b, o] * x[b, i]
    gx[b, i]   = sum_o gz[b, o] * w[o, i]  (skipped for the first layer)

Every matrix is a strided view into a flat buffer, A(m, k) = a[a_off + m*a_rs + k*a_cs], so
the three products of a layer are one `matmul(A, B) -> C` with different strides (w.T, gz.T
cost no copy). Products go to cuBLAS through CuPy (`cublas.py`) when CuPy and a real GPU are
present; `matmul` below is the fallback, and the only path under the simulator.

matmul thread mapping: a TILE x TILE block computes the C tile (blockIdx.y, blockIdx.x);
thread (ty, tx) owns C[by*TILE + ty, bx*TILE + tx] and, per step over k, loads one element of
the A tile and one of the B tile into shared memory (zero outside the matrix, so any shape
works). bias_grad: a BIAS_ROWS x BIAS_COLS block owns BIAS_COLS output columns; thread
(ty, tx) takes column bx*BIAS_COLS + tx and rows ty, ty + BIAS_ROWS, ... (adjacent threads
read adjacent addresses: coalesced), and the BIAS_ROWS partial sums of a column meet in shared
memory.
"""

from __future__ import annotations

import functools
from types import SimpleNamespace

import numpy as np
from numba import float32, float64

from nnspec.backends.cuda import activations
from nnspec.backends.cuda.jit import BIAS_COLS, BIAS_ROWS, TILE, cuda, kernel


@functools.cache
def build(dtype: str) -> SimpleNamespace:
    dt = np.dtype(dtype).type
    zero = dt(0.0)
    tile = TILE
    tile_type = float32 if dtype == "float32" else float64
    sum_type = tile_type
    bg_rows, bg_cols = BIAS_ROWS, BIAS_COLS
    grad = activations.build(dtype).grad

    @kernel("void(T[::1], int64, int64, int64, T[::1], int64, int64, int64, T[::1], int64, "
            "int64, int64, int64, int64)", dtype)
    def matmul(a, a_off, a_rs, a_cs, b, b_off, b_rs, b_cs, c, c_off, c_rs, m, n, k):  # type: ignore[no-untyped-def]
        """C[i, j] = sum_p A[i, p] B[p, j]; C row-major with row stride c_rs."""
        sa = cuda.shared.array((tile, tile), tile_type)
        sb = cuda.shared.array((tile, tile), tile_type)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        row = cuda.blockIdx.y * tile + ty
        col = cuda.blockIdx.x * tile + tx
        acc = zero
        for p0 in range(0, k, tile):
            pa = p0 + tx
            if row < m and pa < k:
                sa[ty, tx] = a[a_off + row * a_rs + pa * a_cs]
            else:
                sa[ty, tx] = zero
            pb = p0 + ty
            if pb < k and col < n:
                sb[ty, tx] = b[b_off + pb * b_rs + col * b_cs]
            else:
                sb[ty, tx] = zero
            cuda.syncthreads()
            for q in range(tile):
                acc += sa[ty, q] * sb[q, tx]
            cuda.syncthreads()
        if row < m and col < n:
            c[c_off + row * c_rs + col] = acc

    @kernel("void(int64, float64, float64, T[::1], int64, int64, T[::1], T[::1], int64, int64, "
            "int64, int64)", dtype)
    def bias_grad(code, p0, p1, ws, z_off, a_off, g, grad_buf, b_off, has_bias, rows, n):  # type: ignore[no-untyped-def]
        """g <- g * f'(z) in place (elementwise f; linear: unchanged); gbias = column sums."""
        part = cuda.shared.array((bg_rows, bg_cols), sum_type)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        o = cuda.blockIdx.x * bg_cols + tx
        s = zero
        if o < n:
            for r in range(ty, rows, bg_rows):
                i = r * n + o
                g[i] = grad(code, p0, p1, ws[z_off + i], ws[a_off + i], g[i])
                s += g[i]
        part[ty, tx] = s
        cuda.syncthreads()
        if ty == 0 and o < n and has_bias != 0:
            for q in range(1, bg_rows):
                s += part[q, tx]
            grad_buf[b_off + o] = s

    return SimpleNamespace(matmul=matmul, bias_grad=bias_grad)


def launch_bias_grad(k: SimpleNamespace, code, p0, p1, ws, z_off, a_off, g, grad_buf, b_off,  # type: ignore[no-untyped-def]
                     has_bias, rows, n):
    k.bias_grad[-(-n // BIAS_COLS), (BIAS_COLS, BIAS_ROWS)](code, p0, p1, ws, z_off, a_off, g,
                                                            grad_buf, b_off, has_bias, rows, n)


def launch_matmul(k: SimpleNamespace, a, a_off, a_rs, a_cs, b, b_off, b_rs, b_cs, c, c_off,  # type: ignore[no-untyped-def]
                  c_rs, m, n, kdim):
    """The tiled fallback: C (m, n) = A (m, kdim) B (kdim, n)."""
    blocks = (-(-n // TILE), -(-m // TILE))
    k.matmul[blocks, (TILE, TILE)](a, a_off, a_rs, a_cs, b, b_off, b_rs, b_cs, c, c_off, c_rs,
                                   m, n, kdim)

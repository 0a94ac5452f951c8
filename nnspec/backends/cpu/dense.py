"""backends.cpu.dense: (x, w, bias) -> z and dL/dz -> (dL/dx, dL/dw, dL/dbias), Numba + BLAS.

    z[b, o]    = sum_i x[b, i] * w[o, i] + bias[o]          x (B, in), w (out, in)
                 (x @ w.T, or x @ wt with wt[i, o] = w[o, i] copied: small weights)
    gw[o, i]   = sum_b gz[b, o] * x[b, i]                    (BLAS gemm, gz transposed)
    gbias[o]   = sum_b gz[b, o]
    gx[b, i]   = sum_o gz[b, o] * w[o, i]                    (skipped for the first layer)
    returned   sum_oi gw[o, i]^2 + sum_o gbias[o]^2 (float64), or 0 | NaN (see optimizers.check)

All arrays are C-contiguous 2-D views into the engine's flat buffers; np.dot inside Numba
calls BLAS gemm with transpose flags, so w.T and gz.T cost no copy. With parts > 1 (large
layers, layout.layer_parts) each gemm runs as `parts` single-threaded blocks on as many
threads instead (backends/cpu/blas.py).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from nnspec.backends.cpu import blas, fpu
from nnspec.backends.cpu.jit import JIT, kernel
from nnspec.backends.cpu.optimizers import check


@kernel
def _ones_zero(like):  # type: ignore[no-untyped-def]
    """(1, 0) in like's dtype: the alpha and beta of a plain product."""
    coef = np.ones(2, like.dtype)
    coef[1] = 0
    return coef


@kernel
def forward(x, w, bias, has_bias, z, wt, parts):  # type: ignore[no-untyped-def]
    """z = x @ w.T (+ bias); when wt (in, out) is not empty, through wt = w.T copied first
    (faster on small weights: layout.transposed_forward); on `parts` threads when > 1."""
    if parts > 1:
        rows, n_in = x.shape
        blas.gemm_parts(parts, blas.NO, blas.TRANS, rows, w.shape[0], n_in, x, 0, n_in, w, 0,
                        n_in, z, 0, w.shape[0], _ones_zero(z))
    elif wt.shape[0] == 0:
        np.dot(x, w.T, z)
    else:
        n_out, n_in = w.shape
        for i in range(n_in):
            for o in range(n_out):
                wt[i, o] = w[o, i]
        np.dot(x, wt, z)
    if has_bias:
        rows, cols = z.shape
        for r in range(rows):
            for o in range(cols):
                z[r, o] += bias[o]


@kernel
def backward(x, w, gz, gw, gb, has_bias, gx, need_gx, squares, parts):  # type: ignore[no-untyped-def]
    """Parameter gradients into gw (out, in) and gb (out,); dL/dx into gx when need_gx.
    Returns optimizers.check(gw) + check(gb) (finite iff they are; their sum of squares
    when `squares`), taken right after the gemm, while gw is still in cache."""
    rows, n_in = x.shape
    n_out = gw.shape[0]
    if parts > 1:
        checked = weight_grad_parts(parts, gz, x, gw, squares)
    else:
        np.dot(gz.T, x, gw)
        checked = check(gw.reshape(gw.size), squares)
    if has_bias:
        rows, cols = gz.shape
        for o in range(cols):
            gb[o] = 0
        for r in range(rows):
            for o in range(cols):
                gb[o] += gz[r, o]
        checked += check(gb, squares)
    if need_gx:
        if parts > 1:
            blas.gemm_parts(parts, blas.NO, blas.NO, rows, n_in, n_out, gz, 0, n_out, w, 0,
                            n_in, gx, 0, n_in, _ones_zero(gx))
        else:
            np.dot(gz, w, gx)
    return checked



@njit(parallel=True, **JIT)
def weight_grad_parts(parts, gz, x, gw, squares):  # type: ignore[no-untyped-def]
    """gw = gz.T @ x on `parts` threads, each computing (and checking, see backward) a block
    of rows of gw while it is in that core's cache: with k = batch, row blocks run at ~300
    GFLOP/s on the large benchmark with 2 threads, column blocks at ~245."""
    rows, n_in = x.shape
    n_out = gw.shape[0]
    flat = gw.reshape(gw.size)
    coef = _ones_zero(gw)
    checked = 0.0
    mxcsr = fpu.get_mxcsr()
    for p in prange(parts):
        saved = fpu.get_mxcsr()
        fpu.set_mxcsr(mxcsr)
        m0 = blas.bound(n_out, parts, p)
        m1 = blas.bound(n_out, parts, p + 1)
        blas.gemm(blas.TRANS, blas.NO, m1 - m0, n_in, rows, gz, m0, n_out, x, 0, n_in, gw,
                  m0 * n_in, n_in, coef)
        checked += check(flat[m0 * n_in:m1 * n_in], squares)
        fpu.set_mxcsr(saved)
    return checked

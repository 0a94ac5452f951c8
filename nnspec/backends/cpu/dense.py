"""backends.cpu.dense: (x, w, bias) -> z and dL/dz -> (dL/dx, dL/dw, dL/dbias), Numba + BLAS.

    z[b, o]    = sum_i x[b, i] * w[o, i] + bias[o]          x (B, in), w (out, in)
                 (x @ w.T, or x @ wt with wt[i, o] = w[o, i] copied: small weights)
    gw[o, i]   = sum_b gz[b, o] * x[b, i]                    (BLAS gemm, gz transposed)
    gbias[o]   = sum_b gz[b, o]
    gx[b, i]   = sum_o gz[b, o] * w[o, i]                    (skipped for the first layer)
    returned   sum_oi gw[o, i]^2 + sum_o gbias[o]^2 (float64), or 0 | NaN (see optimizers.check)

All arrays are C-contiguous 2-D views into the engine's flat buffers; np.dot inside Numba
calls BLAS gemm with transpose flags, so w.T and gz.T cost no copy.
"""

from __future__ import annotations

import numpy as np

from nnspec.backends.cpu.jit import kernel
from nnspec.backends.cpu.optimizers import check


@kernel
def forward(x, w, bias, has_bias, z, wt):  # type: ignore[no-untyped-def]
    """z = x @ w.T (+ bias); when wt (in, out) is not empty, through wt = w.T copied first
    (faster on small weights: layout.transposed_forward)."""
    if wt.shape[0] == 0:
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
def backward(x, w, gz, gw, gb, has_bias, gx, need_gx, squares):  # type: ignore[no-untyped-def]
    """Parameter gradients into gw (out, in) and gb (out,); dL/dx into gx when need_gx.
    Returns optimizers.check(gw) + check(gb) (finite iff they are; their sum of squares
    when `squares`), taken right after the gemm, while gw is still in cache."""
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
        np.dot(gz, w, gx)
    return checked


"""backends.cpu.dense: (x, w, bias) -> z and dL/dz -> (dL/dx, dL/dw, dL/dbias), Numba + BLAS.

    z[b, o]    = sum_i x[b, i] * w[o, i] + bias[o]          x (B, in), w (out, in)
                 (x @ w.T, or x @ wt with wt[i, o] = w[o, i] copied: small weights)
    gw[o, i]   = sum_b gz[b, o] * x[b, i]                    (BLAS gemm, gz transposed)
    gbias[o]   = sum_b gz[b, o]
    gx[b, i]   = sum_o gz[b, o] * w[o, i]                    (skipped for the first layer)
    returned   sum_oi gw[o, i]^2 + sum_o gbias[o]^2 (float64), or 0 | NaN (see optimizers.check)

All arrays are C-contiguous 2-D views into the engine's flat buffers; np.dot inside Numba
calls BLAS gemm with transpose flags, so w.T and gz.T cost no copy. Large layers
(layout.SPLIT, T_IN, T_OUT) go through forward_t / backward_t below instead: flat arrays,
activations possibly transposed, gemms split into blocks across threads (blas.py).
"""

from __future__ import annotations

import numpy as np
from numba import prange

from nnspec.backends.cpu import activations, blas, fpu, views
from nnspec.backends.cpu.jit import kernel, parallel_kernel
from nnspec.backends.cpu.optimizers import check
from nnspec.lower.plan import A_LINEAR


@kernel
def _ones_zero(like):  # type: ignore[no-untyped-def]
    """(1, 0) in like's dtype: the alpha and beta of a plain product."""
    coef = np.ones(2, like.dtype)
    coef[1] = 0
    return coef


@kernel
def _add_bias(z, bias):  # type: ignore[no-untyped-def]
    """z[r, o] += bias[o], z (rows, n_out)."""
    rows, cols = z.shape
    for r in range(rows):
        for o in range(cols):
            z[r, o] += bias[o]


@kernel
def _bias_grad(gz, gb):  # type: ignore[no-untyped-def]
    """gb[o] = sum_r gz[r, o], gz (rows, n_out)."""
    rows, cols = gz.shape
    for o in range(cols):
        gb[o] = 0
    for r in range(rows):
        for o in range(cols):
            gb[o] += gz[r, o]


@kernel
def forward(x, w, bias, has_bias, z, wt):  # type: ignore[no-untyped-def]
    """z = x @ w.T (+ bias); when wt (in, out) is not empty, through wt = w.T copied first
    (by BLAS: blas.transpose; faster on small weights: layout.transposed_forward)."""
    if wt.shape[0] == 0:
        np.dot(x, w.T, z)
    else:
        n_out, n_in = w.shape
        blas.transpose(w, 0, n_out, n_in, wt, 0)
        np.dot(x, wt, z)
    if has_bias:
        _add_bias(z, bias)


@kernel
def backward(x, w, gz, gw, gb, has_bias, gx, need_gx, squares):  # type: ignore[no-untyped-def]
    """Parameter gradients into gw (out, in) and gb (out,); dL/dx into gx when need_gx.
    Returns optimizers.check(gw) + check(gb) (finite iff they are; their sum of squares
    when `squares`), taken right after the gemm, while gw is still in cache."""
    np.dot(gz.T, x, gw)
    checked = check(views.flat(gw), squares)
    if has_bias:
        _bias_grad(gz, gb)
        checked += check(gb, squares)
    if need_gx:
        np.dot(gz, w, gx)
    return checked


# Large layers. Every thread computes one block of each gemm's output (blas.gemm_block; the
# serial path is block 0 of 1). Between two large dense layers the engine keeps the activation
# transposed, (features, rows) (layout.T_OUT): BLAS computes zT = w @ x.T at ~295 GFLOP/s
# where z = x @ w.T ran at ~260 (large benchmark, 2 threads: OpenBLAS is faster with the
# batch as the short side of each thread's block). A layer's input is transposed when t_in,
# its output when t_out; arrays are flat; coef is _ones_zero.


@kernel
def _bias_rows(zt, bias, m0, m1, rows):  # type: ignore[no-untyped-def]
    """zt[o, :] += bias[o] for o in [m0, m1), zt (n_out, rows) flat."""
    for o in range(m0, m1):
        b = bias[o]
        for r in range(o * rows, (o + 1) * rows):
            zt[r] += b


@kernel
def _bias_grad_rows(gzt, gb, m0, m1, rows):  # type: ignore[no-untyped-def]
    """gb[o] = sum_r gzt[o, r] for o in [m0, m1), gzt (n_out, rows) flat."""
    for o in range(m0, m1):
        acc = gzt[o * rows]
        for r in range(o * rows + 1, (o + 1) * rows):
            acc += gzt[r]
        gb[o] = acc


@kernel
def _bias_grad_cols(gz, gb, m0, m1, rows, n_out):  # type: ignore[no-untyped-def]
    """gb[o] = sum_r gz[r, o] for o in [m0, m1), gz (rows, n_out) flat: _bias_grad's sums,
    added in its order, for one block of columns."""
    for o in range(m0, m1):
        gb[o] = 0
    for r in range(rows):
        base = r * n_out
        for o in range(m0, m1):
            gb[o] += gz[base + o]


@kernel
def _forward_block(parts, p, x, w, bias, has_bias, z, a, rows, n_in, n_out, t_in, t_out, act,
                   p0, p1, fast, coef):  # type: ignore[no-untyped-def]
    """Block p of forward_t's product: with t_out, a block of rows of zT (output features,
    contiguous), its bias and activation added while it is in cache; else a block of columns
    of z (forward_t adds the bias and applies the activation after)."""
    ldx = rows if t_in else n_in
    if t_out:  # zT = w @ op(x)
        blas.gemm_block(parts, p, True, blas.NO, blas.NO if t_in else blas.TRANS, n_out, rows,
                        n_in, w, 0, n_in, x, 0, ldx, z, 0, rows, coef)
        m0 = blas.bound(n_out, parts, p)
        m1 = blas.bound(n_out, parts, p + 1)
        if has_bias:
            _bias_rows(z, bias, m0, m1, rows)
        if act != A_LINEAR:
            activations.forward(act, p0, p1, z[m0 * rows:m1 * rows], a[m0 * rows:m1 * rows],
                                rows, fast)
    else:  # z = op(x) @ w.T
        blas.gemm_block(parts, p, False, blas.TRANS if t_in else blas.NO, blas.TRANS, rows,
                        n_out, n_in, x, 0, ldx, w, 0, n_in, z, 0, n_out, coef)


@parallel_kernel
def _forward_parts(parts, x, w, bias, has_bias, z, a, rows, n_in, n_out, t_in, t_out, act, p0,
                   p1, fast, coef, by_rows):  # type: ignore[no-untyped-def]
    """forward_t's blocks on `parts` threads: the product's (_forward_block), or with
    `by_rows` the bias and activation's (_rows_block). One parallel region for both passes:
    each one Numba compiles costs a first run ~1 s."""
    mxcsr = fpu.get_mxcsr()
    for p in prange(parts):
        saved = fpu.get_mxcsr()
        fpu.set_mxcsr(mxcsr)
        if by_rows:
            _rows_block(parts, np.int64(p), bias, has_bias, z, a, rows, n_out, act, p0, p1,
                        fast)
        else:
            _forward_block(parts, np.int64(p), x, w, bias, has_bias, z, a, rows, n_in, n_out,
                           t_in, t_out, act, p0, p1, fast, coef)
        fpu.set_mxcsr(saved)


@kernel
def forward_t(x, w, bias, has_bias, z, a, rows, n_in, n_out, t_in, t_out, parts, act, p0, p1,
              fast):  # type: ignore[no-untyped-def]
    """a = f(z), z = x @ w.T (+ bias), x stored (n_in, rows) if t_in, z and a stored
    (n_out, rows) if t_out (then f is elementwise: layout.py); on `parts` threads when > 1."""
    coef = _ones_zero(z)
    if parts > 1:
        _forward_parts(parts, x, w, bias, has_bias, z, a, rows, n_in, n_out, t_in, t_out, act,
                       p0, p1, fast, coef, False)
    else:
        _forward_block(1, 0, x, w, bias, has_bias, z, a, rows, n_in, n_out, t_in, t_out, act,
                       p0, p1, fast, coef)
    if t_out:
        return
    if parts > 1:  # the bias and the activation (a softmax: whole rows) by blocks of rows
        _forward_parts(parts, x, w, bias, has_bias, z, a, rows, n_in, n_out, t_in, t_out, act,
                       p0, p1, fast, coef, True)
    else:
        _rows_block(1, 0, bias, has_bias, z, a, rows, n_out, act, p0, p1, fast)


@kernel
def _rows_block(parts, p, bias, has_bias, z, a, rows, n_out, act, p0, p1, fast):  # type: ignore[no-untyped-def]
    """Block p of the rows of z (rows, n_out): z += bias, a = f(z) (each row's values as one
    pass over all of z computes them)."""
    r0 = blas.bound(rows, parts, p)
    r1 = blas.bound(rows, parts, p + 1)
    zb = z[r0 * n_out:r1 * n_out]
    if has_bias:
        _add_bias(views.matrix(zb, 0, r1 - r0, n_out), bias)
    if act != A_LINEAR:
        activations.forward(act, p0, p1, zb, a[r0 * n_out:r1 * n_out], n_out, fast)


@kernel
def _backward_block(parts, p, x, w, gz, gw, gb, has_bias, gx, need_gx, squares, rows, n_in,
                    n_out, t_in, t_out, act_in, p0_in, p1_in, z_in, coef):  # type: ignore[no-untyped-def]
    """Block p of backward_t: rows of gw (k = batch: row blocks ran at ~300 GFLOP/s, column
    blocks at ~245), checked while in cache, with their bias gradients (sums of rows of gzT
    when t_out, else of columns of gz); then a block of gx (rows of gxT when t_in, with the previous
    layer's activation derivative applied to it; else columns of gx)."""
    lda = rows if t_out else n_out  # op(gz) = gz.T, stored (n_out, rows) or (rows, n_out)
    blas.gemm_block(parts, p, True, blas.NO if t_out else blas.TRANS,
                    blas.TRANS if t_in else blas.NO, n_out, n_in, rows, gz, 0, lda, x, 0,
                    rows if t_in else n_in, gw, 0, n_in, coef)
    m0 = blas.bound(n_out, parts, p)
    m1 = blas.bound(n_out, parts, p + 1)
    checked = check(gw[m0 * n_in:m1 * n_in], squares)
    if has_bias:
        if t_out:
            _bias_grad_rows(gz, gb, m0, m1, rows)
        else:
            _bias_grad_cols(gz, gb, m0, m1, rows, n_out)
        checked += check(gb[m0:m1], squares)
    if need_gx and t_in:  # gxT = w.T @ op(gz).T
        blas.gemm_block(parts, p, True, blas.TRANS, blas.NO if t_out else blas.TRANS, n_in,
                        rows, n_out, w, 0, n_in, gz, 0, lda, gx, 0, rows, coef)
        if act_in != A_LINEAR:
            k0 = blas.bound(n_in, parts, p)
            k1 = blas.bound(n_in, parts, p + 1)
            activations.backward(act_in, p0_in, p1_in, z_in[k0 * rows:k1 * rows],
                                 x[k0 * rows:k1 * rows], gx[k0 * rows:k1 * rows], rows)
    elif need_gx:  # gx = op(gz) @ w
        blas.gemm_block(parts, p, False, blas.TRANS if t_out else blas.NO, blas.NO, rows, n_in,
                        n_out, gz, 0, lda, w, 0, n_in, gx, 0, n_in, coef)
    return checked


@parallel_kernel
def _backward_parts(parts, x, w, gz, gw, gb, has_bias, gx, need_gx, squares, rows, n_in,
                    n_out, t_in, t_out, act_in, p0_in, p1_in, z_in, coef):  # type: ignore[no-untyped-def]
    checked = 0.0
    mxcsr = fpu.get_mxcsr()
    for p in prange(parts):
        saved = fpu.get_mxcsr()
        fpu.set_mxcsr(mxcsr)
        checked += _backward_block(parts, np.int64(p), x, w, gz, gw, gb, has_bias, gx,
                                   need_gx, squares, rows, n_in, n_out, t_in, t_out, act_in,
                                   p0_in, p1_in, z_in, coef)
        fpu.set_mxcsr(saved)
    return checked


@kernel
def backward_t(x, w, gz, gw, gb, has_bias, gx, need_gx, squares, rows, n_in, n_out, t_in,
               t_out, parts, act_in, p0_in, p1_in, z_in):  # type: ignore[no-untyped-def]
    """backward of forward_t: gz, and gx when need_gx, in the layouts of z and x. When t_in,
    x is the previous layer's output f(z_in) (transposed, f elementwise: act_in, p0_in,
    p1_in) and gx comes back as dL/dz_in, that layer's activation derivative applied.
    Returns the check of gw and gb, as backward."""
    coef = _ones_zero(gw)
    if parts > 1:
        return _backward_parts(parts, x, w, gz, gw, gb, has_bias, gx, need_gx, squares, rows,
                               n_in, n_out, t_in, t_out, act_in, p0_in, p1_in, z_in, coef)
    return _backward_block(1, 0, x, w, gz, gw, gb, has_bias, gx, need_gx, squares, rows, n_in,
                           n_out, t_in, t_out, act_in, p0_in, p1_in, z_in, coef)

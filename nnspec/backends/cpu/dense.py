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

from nnspec.backends.cpu import activations, blas, fpu
from nnspec.backends.cpu.jit import JIT, kernel
from nnspec.backends.cpu.optimizers import check
from nnspec.lower.plan import A_LINEAR


@kernel
def _ones_zero(like):  # type: ignore[no-untyped-def]
    """(1, 0) in like's dtype: the alpha and beta of a plain product."""
    coef = np.ones(2, like.dtype)
    coef[1] = 0
    return coef


@kernel
def forward(x, w, bias, has_bias, z, wt, parts):  # type: ignore[no-untyped-def]
    """z = x @ w.T (+ bias); when wt (in, out) is not empty, through wt = w.T copied first
    (faster on small weights: layout.transposed_forward); on `parts` threads when > 1
    (None: never, and compiled without that path)."""
    if parts is not None and parts > 1:
        rows, n_in = x.shape
        blas.gemm_parts(parts, False, blas.NO, blas.TRANS, rows, w.shape[0], n_in,
                        x.reshape(x.size), 0, n_in, w.reshape(w.size), 0, n_in,
                        z.reshape(z.size), 0, w.shape[0], _ones_zero(z))
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
    if parts is not None and parts > 1:
        checked = weight_grad_parts(parts, blas.TRANS, blas.NO, n_out, n_in, rows,
                                    gz.reshape(gz.size), n_out, x.reshape(x.size), n_in,
                                    gw.reshape(gw.size), squares)
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
        if parts is not None and parts > 1:
            blas.gemm_parts(parts, False, blas.NO, blas.NO, rows, n_in, n_out,
                            gz.reshape(gz.size), 0, n_out, w.reshape(w.size), 0, n_in,
                            gx.reshape(gx.size), 0, n_in, _ones_zero(gx))
        else:
            np.dot(gz, w, gx)
    return checked



@njit(parallel=True, **JIT)
def weight_grad_parts(parts, ta, tb, n_out, n_in, rows, gz, lda, x, ldb, gw, squares):  # type: ignore[no-untyped-def]
    """gw (n_out, n_in) = op(gz) @ op(x) on `parts` threads, each computing (and checking,
    see backward) a block of rows of gw while it is in that core's cache: with k = batch,
    row blocks run at ~300 GFLOP/s on the large benchmark with 2 threads, column blocks at
    ~245. gz, x, gw are flat."""
    coef = _ones_zero(gw)
    checked = 0.0
    mxcsr = fpu.get_mxcsr()
    for p in prange(parts):
        saved = fpu.get_mxcsr()
        fpu.set_mxcsr(mxcsr)
        blas.gemm_block(parts, p, True, ta, tb, n_out, n_in, rows, gz, 0, lda, x, 0, ldb, gw,
                        0, n_in, coef)
        m0 = blas.bound(n_out, parts, p)
        m1 = blas.bound(n_out, parts, p + 1)
        checked += check(gw[m0 * n_in:m1 * n_in], squares)
        fpu.set_mxcsr(saved)
    return checked


# Transposed activations. Between two dense layers whose gemms are split (layout.T_OUT), the
# engine keeps the activation transposed, (features, rows): BLAS then computes
# zT = w @ x.T at ~295 GFLOP/s where z = x @ w.T ran at ~260 (large benchmark, 2 threads:
# OpenBLAS is faster with the batch as the short side of each thread's block). The layer's
# input is transposed when t_in, its output when t_out; arrays are flat.


@kernel
def _bias_rows(zt, bias, m0, m1, rows):  # type: ignore[no-untyped-def]
    """zt[o, :] += bias[o] for o in [m0, m1), zt (n_out, rows) flat."""
    for o in range(m0, m1):
        b = bias[o]
        for r in range(o * rows, (o + 1) * rows):
            zt[r] += b


@njit(parallel=True, **JIT)
def _forward_t_out_parts(parts, x, w, bias, has_bias, z, a, rows, n_in, n_out, t_in, act, p0,
                         p1, fast):  # type: ignore[no-untyped-def]
    """zT = w @ op(x) (+ bias), aT = f(zT) on `parts` threads, each a block of rows of zT
    (output features: contiguous), bias and activation while the block is in cache."""
    coef = _ones_zero(z)
    mxcsr = fpu.get_mxcsr()
    for p in prange(parts):
        saved = fpu.get_mxcsr()
        fpu.set_mxcsr(mxcsr)
        blas.gemm_block(parts, p, True, blas.NO, blas.NO if t_in else blas.TRANS, n_out, rows,
                        n_in, w, 0, n_in, x, 0, rows if t_in else n_in, z, 0, rows, coef)
        m0 = blas.bound(n_out, parts, p)
        m1 = blas.bound(n_out, parts, p + 1)
        if has_bias:
            _bias_rows(z, bias, m0, m1, rows)
        if act != A_LINEAR:
            activations.forward(act, p0, p1, z[m0 * rows:m1 * rows], a[m0 * rows:m1 * rows],
                                rows, fast)
        fpu.set_mxcsr(saved)


@kernel
def forward_t(x, w, bias, has_bias, z, a, rows, n_in, n_out, t_in, t_out, parts, act, p0, p1,
              fast):  # type: ignore[no-untyped-def]
    """a = f(z), z = x @ w.T (+ bias), x stored (n_in, rows) if t_in, z and a stored
    (n_out, rows) if t_out (then f is elementwise: layout.py); on `parts` threads when > 1."""
    if t_out and parts > 1:
        _forward_t_out_parts(parts, x, w, bias, has_bias, z, a, rows, n_in, n_out, t_in, act,
                             p0, p1, fast)
        return
    coef = _ones_zero(z)
    if t_out:  # zT = w @ op(x)
        blas.gemm(blas.NO, blas.NO if t_in else blas.TRANS, n_out, rows, n_in, w, 0, n_in, x,
                  0, rows if t_in else n_in, z, 0, rows, coef)
        if has_bias:
            _bias_rows(z, bias, 0, n_out, rows)
    else:  # z = op(x) @ w.T, blocks of columns of z
        blas.matmul(parts, False, blas.TRANS if t_in else blas.NO, blas.TRANS, rows, n_out,
                    n_in, x, 0, rows if t_in else n_in, w, 0, n_in, z, 0, n_out, coef)
        if has_bias:
            for r in range(rows):
                for o in range(n_out):
                    z[r * n_out + o] += bias[o]
    if act != A_LINEAR:
        activations.forward(act, p0, p1, z, a, rows if t_out else n_out, fast)


@kernel
def _bias_grad_rows(gzt, gb, m0, m1, rows):  # type: ignore[no-untyped-def]
    """gb[o] = sum_r gzt[o, r] for o in [m0, m1), gzt (n_out, rows) flat."""
    for o in range(m0, m1):
        acc = gzt[o * rows]
        for r in range(o * rows + 1, (o + 1) * rows):
            acc += gzt[r]
        gb[o] = acc


@njit(parallel=True, **JIT)
def _backward_t_parts(parts, x, w, gz, gw, gb, bias_here, gx, need_gx, squares, rows, n_in,
                      n_out, t_in, t_out, act_in, p0_in, p1_in, z_in):  # type: ignore[no-untyped-def]
    """gw (and its check) and gx of backward_t in one parallel region, each thread a block of
    rows of gw and of gx (of its columns when x is not transposed), and, when t_in, the
    derivative of the previous layer's activation on its block of gxT while in cache."""
    ta = blas.NO if t_out else blas.TRANS
    lda = rows if t_out else n_out
    coef = _ones_zero(gw)
    checked = 0.0
    mxcsr = fpu.get_mxcsr()
    for p in prange(parts):
        saved = fpu.get_mxcsr()
        fpu.set_mxcsr(mxcsr)
        blas.gemm_block(parts, p, True, ta, blas.TRANS if t_in else blas.NO, n_out, n_in, rows,
                        gz, 0, lda, x, 0, rows if t_in else n_in, gw, 0, n_in, coef)
        m0 = blas.bound(n_out, parts, p)
        m1 = blas.bound(n_out, parts, p + 1)
        checked += check(gw[m0 * n_in:m1 * n_in], squares)
        if bias_here:  # t_out: the bias gradients of these features are sums of rows of gzT
            _bias_grad_rows(gz, gb, m0, m1, rows)
            checked += check(gb[m0:m1], squares)
        if need_gx and t_in:
            blas.gemm_block(parts, p, True, blas.TRANS, blas.NO if t_out else blas.TRANS, n_in,
                            rows, n_out, w, 0, n_in, gz, 0, lda, gx, 0, rows, coef)
            if act_in != A_LINEAR:
                k0 = blas.bound(n_in, parts, p)
                k1 = blas.bound(n_in, parts, p + 1)
                activations.backward(act_in, p0_in, p1_in, z_in[k0 * rows:k1 * rows],
                                     x[k0 * rows:k1 * rows], gx[k0 * rows:k1 * rows], rows)
        elif need_gx:
            blas.gemm_block(parts, p, False, blas.TRANS if t_out else blas.NO, blas.NO, rows,
                            n_in, n_out, gz, 0, lda, w, 0, n_in, gx, 0, n_in, coef)
        fpu.set_mxcsr(saved)
    return checked


@kernel
def backward_t(x, w, gz, gw, gb, has_bias, gx, need_gx, squares, rows, n_in, n_out, t_in,
               t_out, parts, act_in, p0_in, p1_in, z_in):  # type: ignore[no-untyped-def]
    """backward of forward_t: gz, and gx when need_gx, in the layouts of z and x. When t_in,
    x is the previous layer's output f(z_in) (transposed, f elementwise: act_in, p0_in,
    p1_in) and gx comes back as dL/dz_in, that layer's activation derivative applied."""
    bias_done = False
    if parts > 1:
        bias_done = has_bias and t_out
        checked = _backward_t_parts(parts, x, w, gz, gw, gb, bias_done, gx, need_gx, squares,
                                    rows, n_in, n_out, t_in, t_out, act_in, p0_in, p1_in, z_in)
    else:
        ta = blas.NO if t_out else blas.TRANS  # op(gz) = gz.T
        lda = rows if t_out else n_out
        blas.gemm(ta, blas.TRANS if t_in else blas.NO, n_out, n_in, rows, gz, 0, lda, x, 0,
                  rows if t_in else n_in, gw, 0, n_in, _ones_zero(gw))
        checked = check(gw, squares)
        if need_gx:
            coef = _ones_zero(gx)
            if t_in:  # gxT = w.T @ op(gz).T
                blas.gemm(blas.TRANS, blas.NO if t_out else blas.TRANS, n_in, rows, n_out, w, 0,
                          n_in, gz, 0, lda, gx, 0, rows, coef)
                if act_in != A_LINEAR:
                    activations.backward(act_in, p0_in, p1_in, z_in, x, gx, rows)
            else:  # gx = op(gz) @ w
                blas.gemm(blas.TRANS if t_out else blas.NO, blas.NO, rows, n_in, n_out, gz, 0,
                          lda, w, 0, n_in, gx, 0, n_in, coef)
    if has_bias and not bias_done:
        if t_out:
            _bias_grad_rows(gz, gb, 0, n_out, rows)
        else:
            for o in range(n_out):
                gb[o] = 0
            for r in range(rows):
                for o in range(n_out):
                    gb[o] += gz[r * n_out + o]
        checked += check(gb, squares)
    return checked

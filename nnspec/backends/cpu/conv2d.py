"""backends.cpu.conv2d: (x, w, bias) -> a = f(z); dL/da -> (dL/dx, dL/dw, dL/dbias); Numba, BLAS.

Samples are stored NCHW (row-major (C, H, W) per sample, the Plan's layout: flatten moves
nothing and the weight keeps PyTorch's (F, C, kh, kw) layout, i.e. a row-major (F, K)
matrix, K = C*kh*kw). Per sample s, P = Ho*Wo output positions:

    cols[k, p]  = xp[c, i*sh + u*dh, j*sw + v*dw]    k = (c, u, v), p = (i, j)  (im2col)
    z_s (F, P)  = w (F, K) @ cols (K, P) + bias      a_s = f(z_s)  (bias and f fused)
    gw (F, K)  += gz_s (F, P) @ cols.T                gbias[f] += sum_p gz_s[f, p]
    gcols (K, P) = w.T @ gz_s                         gx_s = col2im(gcols)

xp is the zero-padded input: im2col writes zeros where a window reads padding, and col2im
drops those. The product of one sample is already the sample's NCHW output, so no
transpose follows the gemm (an NHWC layout would make one gemm per batch but needs the
sample reordered for flatten and for the PyTorch weight layout: see benchmarks/README.md).
cols is kept from forward for backward when the batch's fits layout.KEEP_COLS_MAX (wtab
W_KEEP: rows*K*P values, LeNet-5's 4.4M at batch 128); above that backward runs im2col
again into the thread's buffer (K*P values instead of rows*K*P: 115 MB for a 32-channel 3x3
layer at 28x28 and batch 128, float32). A 1x1 convolution of stride 1 without padding (DIRECT)
reads its input as cols and writes gcols as its gx.

All arrays are flat (ws, params, grad, the gradient buffers) with element offsets, as
blas.gemm takes them. A split layer (layout.conv_parts) runs blocks of samples on the
Numba threads, each with its own cols buffer; thread p > 0 sums its weight and bias
gradients into its own region (wtab W_SCR), added to grad after the parallel region in a
fixed order, so results depend on the number of threads only through that summation.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from nnspec.backends.cpu import activations, blas, fpu, simd
from nnspec.backends.cpu.jit import kernel, parallel_kernel
from nnspec.backends.cpu.layout import (
    A_OFF,
    ACT,
    AUX_OFF,
    B_OFF,
    HAS_BIAS,
    IN_OFF,
    N_IN,
    N_OUT,
    P0,
    P1,
    W_C,
    W_DH,
    W_DIRECT,
    W_DW,
    W_F,
    W_H,
    W_HO,
    W_KEEP,
    W_KH,
    W_KW,
    W_OFF,
    W_PL,
    W_PT,
    W_SCR,
    W_SH,
    W_SW,
    W_W,
    W_WO,
    Z_OFF,
)
from nnspec.backends.cpu.optimizers import check
from nnspec.lower.plan import A_LINEAR


@kernel
def _coefs(like):  # type: ignore[no-untyped-def]
    """(alpha, beta) pairs (1, 0) and (1, 1) in like's dtype: a product written, added."""
    coef = np.ones(4, like.dtype)
    coef[1] = 0
    return coef[:2], coef[2:]


@kernel
def _span(n_out, stride, shift, n_in):  # type: ignore[no-untyped-def]
    """[j0, j1): the outputs j in [0, n_out) whose input index j*stride + shift is in
    [0, n_in)."""
    j0 = 0 if shift >= 0 else min(n_out, (-shift + stride - 1) // stride)
    last = n_in - 1 - shift
    j1 = 0 if last < 0 else min(n_out, last // stride + 1)
    return j0, max(j0, j1)


# Row loops index with unsigned integers (U): with signed ones, Numba wraps negative indices
# around, a compare and select on every access that kept these short loops ~5-9x slower
# (measured: im2col of a 5x5 window over 28x28, 21 us a sample signed, 2.4 us unsigned).
# LLVM's vectorized form of the contiguous copy, with its runtime alias checks, ran 2x slower
# on rows of 10-28 values than the plain loop (5.3 against 2.5 us); contiguous rows move by
# explicit vectors instead (simd.py: that im2col 2.7 -> 1.2 us).
U = np.uint64


@kernel
def gather_row(dst, d, src, s, n, stride):  # type: ignore[no-untyped-def]
    """dst[d + j] = src[s + j*stride] for j < n; the two ranges do not overlap. A contiguous
    row of 4 or more values moves as vectors (simd.py), the last one overlapping the one
    before where n is not a multiple (the same values written twice)."""
    d, s, stride, n = U(d), U(s), U(stride), U(n)
    if stride == U(1) and n >= U(8):
        j = U(0)
        while j + U(8) < n:
            simd.copy8(dst, d + j, src, s + j)
            j += U(8)
        simd.copy8(dst, d + n - U(8), src, s + n - U(8))
        return
    if stride == U(1) and n >= U(4):
        simd.copy4(dst, d, src, s)
        simd.copy4(dst, d + n - U(4), src, s + n - U(4))
        return
    for j in range(n):
        dst[d + j] = src[s + j * stride]


@kernel
def scatter_add_row(dst, d, src, s, n, stride):  # type: ignore[no-untyped-def]
    """dst[d + j*stride] += src[s + j] for j < n; the two ranges do not overlap (a
    contiguous row by vectors of 8 and 4, then one value at a time: each sum is the same
    single addition)."""
    d, s, stride, n = U(d), U(s), U(stride), U(n)
    j = U(0)
    if stride == U(1):
        while j + U(8) <= n:
            simd.add8(dst, d + j, src, s + j)
            j += U(8)
        if j + U(4) <= n:
            simd.add4(dst, d + j, src, s + j)
            j += U(4)
    while j < n:
        dst[d + j * stride] += src[s + j]
        j += U(1)


@kernel
def fill(dst, d, n, value):  # type: ignore[no-untyped-def]
    """dst[d:d + n] = value."""
    d = U(d)
    v = dst.dtype.type(value)
    for j in range(U(n)):
        dst[d + j] = v


@kernel
def _add_to_row(dst, d, n, value):  # type: ignore[no-untyped-def]
    d = U(d)
    for j in range(U(n)):
        dst[d + j] += value


@kernel
def _row_sum(src, s, n):  # type: ignore[no-untyped-def]
    """sum of src[s:s + n] in src's dtype, n >= 1."""
    s = U(s)
    acc = src[s]
    for j in range(U(1), U(n)):
        acc += src[s + j]
    return acc


@kernel
def _padded(img, layer):  # type: ignore[no-untyped-def]
    """(Hp, Wp, whether padded): the input's extent with its padding."""
    h, w = img[layer, W_H], img[layer, W_W]
    pt, pl = img[layer, W_PT], img[layer, W_PL]
    ho, wo = img[layer, W_HO], img[layer, W_WO]
    # the rows and columns the windows reach (padding after included), at least the input
    hp = max(pt + h, (ho - 1) * img[layer, W_SH] + (img[layer, W_KH] - 1) * img[layer, W_DH] + 1)
    wp = max(pl + w, (wo - 1) * img[layer, W_SW] + (img[layer, W_KW] - 1) * img[layer, W_DW] + 1)
    return hp, wp, hp != h or wp != w or pt != 0 or pl != 0


@kernel
def pad(x, xo, img, layer, xp, po):  # type: ignore[no-untyped-def]
    """xp[po:] as (C, Hp, Wp) = the sample x[xo:] (C, H, W) with its zero padding."""
    c_in, h, w = img[layer, W_C], img[layer, W_H], img[layer, W_W]
    pt, pl = img[layer, W_PT], img[layer, W_PL]
    hp, wp, _ = _padded(img, layer)
    fill(xp, po, c_in * hp * wp, 0)
    for c in range(c_in):
        for i in range(h):
            gather_row(xp, po + (c * hp + pt + i) * wp + pl, x, xo + (c * h + i) * w, w, 1)


@kernel
def im2col(x, xo, img, layer, cols, co, po):  # type: ignore[no-untyped-def]
    """cols[co:] as (K, P) from the sample x[xo:] (C, H, W): zeros where a window reads
    padding. A padded layer first copies the sample into cols[po:] with its padding (pad)
    so that every window row is read without bounds checks."""
    c_in = img[layer, W_C]
    kh, kw, sh, sw = img[layer, W_KH], img[layer, W_KW], img[layer, W_SH], img[layer, W_SW]
    dh, dw = img[layer, W_DH], img[layer, W_DW]
    ho, wo = img[layer, W_HO], img[layer, W_WO]
    hp, wp, padded = _padded(img, layer)
    if padded:
        pad(x, xo, img, layer, cols, po)
        src0 = po
    else:
        src0 = xo
    xs = cols if padded else x
    p = ho * wo
    dst = co
    for c in range(c_in):
        for u in range(kh):
            for v in range(kw):
                for i in range(ho):
                    gather_row(cols, dst, xs, src0 + (c * hp + i * sh + u * dh) * wp + v * dw,
                               wo, sw)
                    dst += wo
    return p


@kernel
def col2im(cols, co, img, layer, gx, go, po):  # type: ignore[no-untyped-def]
    """gx[go:] as (C, H, W) = the sum of cols[co:] (K, P) at the input positions im2col read
    them from (padding dropped; a padded layer sums into cols[po:] first, then crops)."""
    c_in, h, w = img[layer, W_C], img[layer, W_H], img[layer, W_W]
    kh, kw, sh, sw = img[layer, W_KH], img[layer, W_KW], img[layer, W_SH], img[layer, W_SW]
    pt, pl, dh, dw = img[layer, W_PT], img[layer, W_PL], img[layer, W_DH], img[layer, W_DW]
    ho, wo = img[layer, W_HO], img[layer, W_WO]
    hp, wp, padded = _padded(img, layer)
    out, oo = (cols, po) if padded else (gx, go)
    fill(out, oo, c_in * hp * wp, 0)
    src = co
    for c in range(c_in):
        for u in range(kh):
            for v in range(kw):
                for i in range(ho):
                    scatter_add_row(out, oo + (c * hp + i * sh + u * dh) * wp + v * dw, cols,
                                    src, wo, sw)
                    src += wo
    if padded:
        for c in range(c_in):
            for i in range(h):
                gather_row(gx, go + (c * h + i) * w, cols, po + (c * hp + pt + i) * wp + pl, w,
                           1)


@kernel
def scratch(itab, img, layer):  # type: ignore[no-untyped-def]
    """Values of one thread's scratch at AUX_OFF: cols (K*P), then the padded sample
    (C*Hp*Wp; layout.conv_scratch computes the same)."""
    hp, wp, _ = _padded(img, layer)
    c = img[layer, W_C]
    return c * img[layer, W_KH] * img[layer, W_KW] * img[layer, W_HO] * img[layer, W_WO] + (
        c * hp * wp)


@kernel
def _forward_samples(s0, s1, col_off, itab, ftab, img, layer, params, ws, fast):  # type: ignore[no-untyped-def]
    """z and a of samples [s0, s1), im2col through ws[col_off:]."""
    n_in, n = itab[layer, N_IN], itab[layer, N_OUT]
    x_off, z_off, a_off = itab[layer, IN_OFF], itab[layer, Z_OFF], itab[layer, A_OFF]
    w_off, b_off = itab[layer, W_OFF], itab[layer, B_OFF]
    has_bias = itab[layer, HAS_BIAS] != 0
    act = itab[layer, ACT]
    f = img[layer, W_F]
    p = img[layer, W_HO] * img[layer, W_WO]
    k = n_in // (img[layer, W_H] * img[layer, W_W]) * img[layer, W_KH] * img[layer, W_KW]
    direct = img[layer, W_DIRECT] != 0
    keep = img[layer, W_KEEP]
    coef, _ = _coefs(ws)
    for s in range(s0, s1):
        if direct:
            src = x_off + s * n_in
        else:  # into the batch's kept im2col (for backward) or the thread's scratch
            src = keep + s * k * p if keep >= 0 else col_off
            im2col(ws, x_off + s * n_in, img, layer, ws, src, col_off + k * p)
        zs = z_off + s * n
        blas.gemm(blas.NO, blas.NO, f, p, k, params, w_off, k, ws, src, p, ws, zs, p, coef)
        if has_bias:
            for o in range(f):
                _add_to_row(ws, zs + o * p, p, params[b_off + o])
        if act != A_LINEAR:  # elementwise (layers.py refuses row-wise ones on images)
            activations.forward(act, ftab[layer, P0], ftab[layer, P1], ws[zs:zs + n],
                                ws[a_off + s * n:a_off + (s + 1) * n], n, fast)


@kernel
def forward(rows, itab, ftab, img, layer, params, ws, fast):  # type: ignore[no-untyped-def]
    """The layer on `rows` samples, on the calling thread."""
    _forward_samples(0, rows, itab[layer, AUX_OFF], itab, ftab, img, layer, params, ws, fast)


@parallel_kernel
def forward_parts(parts, rows, itab, ftab, img, layer, params, ws, fast):  # type: ignore[no-untyped-def]
    """The layer on `rows` samples, blocks of samples on `parts` threads."""
    kp = scratch(itab, img, layer)
    mxcsr = fpu.get_mxcsr()
    for part in prange(parts):
        saved = fpu.get_mxcsr()
        fpu.set_mxcsr(mxcsr)
        _forward_samples(rows * part // parts, rows * (part + 1) // parts,
                         itab[layer, AUX_OFF] + part * kp, itab, ftab, img, layer, params, ws,
                         fast)
        fpu.set_mxcsr(saved)


@kernel
def _backward_samples(s0, s1, col_off, skip_act, itab, ftab, img, layer, params, ws, g, g_off,
                      gw, gw_off, gb_off, gx, gx_off, need_gx):  # type: ignore[no-untyped-def]
    """Samples [s0, s1): g[g_off:] (rows, n) = dL/da turned into dL/dz in place (unless
    skip_act), the weight and bias gradients summed into gw[gw_off:] (F, K) and gw[gb_off:]
    (F,) (written: the block's first sample's product has beta 0), dL/dx into gx[gx_off:]
    when need_gx."""
    n_in, n = itab[layer, N_IN], itab[layer, N_OUT]
    x_off, z_off, a_off = itab[layer, IN_OFF], itab[layer, Z_OFF], itab[layer, A_OFF]
    w_off = itab[layer, W_OFF]
    has_bias = itab[layer, HAS_BIAS] != 0
    act = itab[layer, ACT]
    f = img[layer, W_F]
    p = img[layer, W_HO] * img[layer, W_WO]
    k = n_in // (img[layer, W_H] * img[layer, W_W]) * img[layer, W_KH] * img[layer, W_KW]
    direct = img[layer, W_DIRECT] != 0
    keep = img[layer, W_KEEP]
    write, add = _coefs(ws)
    if s0 == s1:  # an empty block still owns its partial sums
        for q in range(gw_off, gw_off + f * k):
            gw[q] = 0
        if has_bias:
            for q in range(gb_off, gb_off + f):
                gw[q] = 0
    for s in range(s0, s1):
        gs = g_off + s * n
        if not skip_act and act != A_LINEAR:
            activations.backward(act, ftab[layer, P0], ftab[layer, P1], ws[z_off + s * n:
                                 z_off + (s + 1) * n], ws[a_off + s * n:a_off + (s + 1) * n],
                                 g[gs:gs + n], n)
        if direct:
            src = x_off + s * n_in
        elif keep >= 0:  # forward's im2col of the sample
            src = keep + s * k * p
        else:
            im2col(ws, x_off + s * n_in, img, layer, ws, col_off, col_off + k * p)
            src = col_off
        blas.gemm(blas.NO, blas.TRANS, f, k, p, g, gs, p, ws, src, p, gw, gw_off, k,
                  write if s == s0 else add)
        if has_bias:
            for o in range(f):
                acc = _row_sum(g, gs + o * p, p)
                if s == s0:
                    gw[gb_off + o] = acc
                else:
                    gw[gb_off + o] += acc
        if need_gx:
            if direct:
                blas.gemm(blas.TRANS, blas.NO, k, p, f, params, w_off, k, g, gs, p, gx,
                          gx_off + s * n_in, p, write)
            else:  # the im2col's gradient over the sample's im2col (no longer needed)
                blas.gemm(blas.TRANS, blas.NO, k, p, f, params, w_off, k, g, gs, p, ws, src, p,
                          write)
                col2im(ws, src, img, layer, gx, gx_off + s * n_in, col_off + k * p)


@kernel
def backward(rows, skip_act, itab, ftab, img, layer, params, grad, ws, g, g_off, gx, gx_off,
             need_gx, squares):  # type: ignore[no-untyped-def]
    """dL/da of `rows` samples in g[g_off:] -> the layer's gradients into grad (g becomes
    dL/dz), dL/dx into gx[gx_off:] when need_gx, on the calling thread. Returns the check of
    the gradients (optimizers.check: finite iff they are, their sum of squares when
    `squares`)."""
    w_off, b_off = itab[layer, W_OFF], itab[layer, B_OFF]
    _backward_samples(0, rows, itab[layer, AUX_OFF], skip_act, itab, ftab, img, layer, params,
                      ws, g, g_off, grad, w_off, b_off, gx, gx_off, need_gx)
    return _check(itab, img, layer, grad, squares)


@kernel
def _check(itab, img, layer, grad, squares):  # type: ignore[no-untyped-def]
    w_off, b_off = itab[layer, W_OFF], itab[layer, B_OFF]
    f = img[layer, W_F]
    fk = f * (itab[layer, N_IN] // (img[layer, W_H] * img[layer, W_W]) * img[layer, W_KH]
              * img[layer, W_KW])
    checked = check(grad[w_off:w_off + fk], squares)
    if itab[layer, HAS_BIAS] != 0:
        checked += check(grad[b_off:b_off + f], squares)
    return checked


@parallel_kernel
def _backward_parts(parts, rows, skip_act, itab, ftab, img, layer, params, grad, ws, g, g_off,
                    gx, gx_off, need_gx):  # type: ignore[no-untyped-def]
    f = img[layer, W_F]
    k = itab[layer, N_IN] // (img[layer, W_H] * img[layer, W_W]) * img[layer, W_KH] * img[
        layer, W_KW]
    kp = scratch(itab, img, layer)
    mxcsr = fpu.get_mxcsr()
    for part in prange(parts):
        saved = fpu.get_mxcsr()
        fpu.set_mxcsr(mxcsr)
        s0, s1 = rows * part // parts, rows * (part + 1) // parts
        col_off = itab[layer, AUX_OFF] + part * kp
        if part == 0:
            _backward_samples(s0, s1, col_off, skip_act, itab, ftab, img, layer, params, ws,
                              g, g_off, grad, itab[layer, W_OFF], itab[layer, B_OFF], gx,
                              gx_off, need_gx)
        else:
            scr = img[layer, W_SCR] + (part - 1) * f * (k + 1)
            _backward_samples(s0, s1, col_off, skip_act, itab, ftab, img, layer, params, ws,
                              g, g_off, ws, scr, scr + f * k, gx, gx_off, need_gx)
        fpu.set_mxcsr(saved)


@kernel
def backward_parts(parts, rows, skip_act, itab, ftab, img, layer, params, grad, ws, g, g_off,
                   gx, gx_off, need_gx, squares):  # type: ignore[no-untyped-def]
    """backward with blocks of samples on `parts` threads; the partial sums of the other
    threads are added to grad after, in thread order."""
    _backward_parts(parts, rows, skip_act, itab, ftab, img, layer, params, grad, ws, g, g_off,
                    gx, gx_off, need_gx)
    f = img[layer, W_F]
    k = itab[layer, N_IN] // (img[layer, W_H] * img[layer, W_W]) * img[layer, W_KH] * img[
        layer, W_KW]
    w_off, b_off = itab[layer, W_OFF], itab[layer, B_OFF]
    has_bias = itab[layer, HAS_BIAS] != 0
    for part in range(1, parts):
        scr = img[layer, W_SCR] + (part - 1) * f * (k + 1)
        for q in range(f * k):
            grad[w_off + q] += ws[scr + q]
        if has_bias:
            for o in range(f):
                grad[b_off + o] += ws[scr + f * k + o]
    return _check(itab, img, layer, grad, squares)

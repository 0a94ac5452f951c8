"""backends.cpu.pool: max, average and global average pooling, forward and backward, Numba.

Samples are NCHW (conv2d.py); a window (wtab row: kernel, stride, padding before) slides
over each channel, xp the padded input:

    maxpool   y[c, i, j] = max_{u, v} xp[c, i*sh + u, j*sw + v]   (padding is -inf: skipped)
              arg[c, i, j] = the input offset (within the sample) of the first maximum in
              row-major window order (ties as PyTorch; a NaN wins, as in PyTorch), kept in
              the float workspace (exact: layout.ARGMAX_LIMIT); dL/dx[arg] += dL/dy
    avgpool   y[c, i, j] = sum_{u, v} xp[c, i*sh + u, j*sw + v] / (kh*kw)
              (padded zeros count, count_include_pad as PyTorch); dL/dx[window] += dL/dy/(kh*kw)
    global    y[c] = sum_{i, j} x[c, i, j] / (H*W);  dL/dx[c, i, j] = dL/dy[c] / (H*W)

x, y, arg, g, gx: flat arrays with element offsets, `rows` samples of n_in / n_out values.
"""

from __future__ import annotations

import math

from nnspec.backends.cpu.conv2d import _span
from nnspec.backends.cpu.jit import kernel
from nnspec.backends.cpu.layout import (
    W_C,
    W_H,
    W_HO,
    W_HW,
    W_KH,
    W_KW,
    W_PL,
    W_PT,
    W_SH,
    W_SW,
    W_W,
    W_WO,
)


@kernel
def max_forward(rows, img, layer, x, xo, y, yo, arg, ao):  # type: ignore[no-untyped-def]
    c_in, h, w = img[layer, W_C], img[layer, W_H], img[layer, W_W]
    kh, kw, sh, sw = img[layer, W_KH], img[layer, W_KW], img[layer, W_SH], img[layer, W_SW]
    pt, pl = img[layer, W_PT], img[layer, W_PL]
    ho, wo = img[layer, W_HO], img[layer, W_WO]
    n_in, n = c_in * h * w, c_in * ho * wo
    for s in range(rows):
        for c in range(c_in):
            plane = c * h * w
            for i in range(ho):
                u0, u1 = _span(kh, 1, i * sh - pt, h)
                for j in range(wo):
                    v0, v1 = _span(kw, 1, j * sw - pl, w)
                    best = x.dtype.type(-math.inf)
                    at = plane + (i * sh - pt + u0) * w + j * sw - pl + v0
                    for u in range(u0, u1):
                        r = plane + (i * sh - pt + u) * w + j * sw - pl
                        for v in range(v0, v1):
                            val = x[xo + s * n_in + r + v]
                            if val > best or val != val:
                                if best != best:
                                    continue
                                best = val
                                at = r + v
                    q = s * n + (c * ho + i) * wo + j
                    y[yo + q] = best
                    arg[ao + q] = at


@kernel
def max_backward(rows, img, layer, g, go, arg, ao, gx, gxo):  # type: ignore[no-untyped-def]
    c_in, h, w = img[layer, W_C], img[layer, W_H], img[layer, W_W]
    n_in, n = c_in * h * w, c_in * img[layer, W_HO] * img[layer, W_WO]
    zero = gx.dtype.type(0)
    for q in range(gxo, gxo + rows * n_in):
        gx[q] = zero
    for s in range(rows):
        for q in range(n):
            gx[gxo + s * n_in + int(arg[ao + s * n + q])] += g[go + s * n + q]


@kernel
def avg_forward(rows, img, layer, x, xo, y, yo):  # type: ignore[no-untyped-def]
    c_in, h, w = img[layer, W_C], img[layer, W_H], img[layer, W_W]
    kh, kw, sh, sw = img[layer, W_KH], img[layer, W_KW], img[layer, W_SH], img[layer, W_SW]
    pt, pl = img[layer, W_PT], img[layer, W_PL]
    ho, wo = img[layer, W_HO], img[layer, W_WO]
    n_in, n = c_in * h * w, c_in * ho * wo
    scale = y.dtype.type(1.0 / (kh * kw))
    for s in range(rows):
        for c in range(c_in):
            plane = xo + s * n_in + c * h * w
            for i in range(ho):
                u0, u1 = _span(kh, 1, i * sh - pt, h)
                for j in range(wo):
                    v0, v1 = _span(kw, 1, j * sw - pl, w)
                    acc = y.dtype.type(0)
                    for u in range(u0, u1):
                        r = plane + (i * sh - pt + u) * w + j * sw - pl
                        for v in range(v0, v1):
                            acc += x[r + v]
                    y[yo + s * n + (c * ho + i) * wo + j] = acc * scale


@kernel
def avg_backward(rows, img, layer, g, go, gx, gxo):  # type: ignore[no-untyped-def]
    c_in, h, w = img[layer, W_C], img[layer, W_H], img[layer, W_W]
    kh, kw, sh, sw = img[layer, W_KH], img[layer, W_KW], img[layer, W_SH], img[layer, W_SW]
    pt, pl = img[layer, W_PT], img[layer, W_PL]
    ho, wo = img[layer, W_HO], img[layer, W_WO]
    n_in, n = c_in * h * w, c_in * ho * wo
    scale = gx.dtype.type(1.0 / (kh * kw))
    zero = gx.dtype.type(0)
    for q in range(gxo, gxo + rows * n_in):
        gx[q] = zero
    for s in range(rows):
        for c in range(c_in):
            plane = gxo + s * n_in + c * h * w
            for i in range(ho):
                u0, u1 = _span(kh, 1, i * sh - pt, h)
                for j in range(wo):
                    v0, v1 = _span(kw, 1, j * sw - pl, w)
                    share = g[go + s * n + (c * ho + i) * wo + j] * scale
                    for u in range(u0, u1):
                        r = plane + (i * sh - pt + u) * w + j * sw - pl
                        for v in range(v0, v1):
                            gx[r + v] += share


@kernel
def global_forward(rows, img, layer, x, xo, y, yo):  # type: ignore[no-untyped-def]
    c_in, hw = img[layer, W_C], img[layer, W_HW]
    scale = y.dtype.type(1.0 / hw)
    for s in range(rows):
        for c in range(c_in):
            start = xo + (s * c_in + c) * hw
            acc = y.dtype.type(0)
            for q in range(start, start + hw):
                acc += x[q]
            y[yo + s * c_in + c] = acc * scale


@kernel
def global_backward(rows, img, layer, g, go, gx, gxo):  # type: ignore[no-untyped-def]
    c_in, hw = img[layer, W_C], img[layer, W_HW]
    scale = gx.dtype.type(1.0 / hw)
    for s in range(rows):
        for c in range(c_in):
            share = g[go + s * c_in + c] * scale
            start = gxo + (s * c_in + c) * hw
            for q in range(start, start + hw):
                gx[q] = share

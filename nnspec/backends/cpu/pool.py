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

import numpy as np
from numba import prange

from nnspec.backends.cpu import fpu
from nnspec.backends.cpu.conv2d import U, fill
from nnspec.backends.cpu.jit import kernel, parallel_kernel
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
def _clip(i, stride, pad, k, n):  # type: ignore[no-untyped-def]
    """(start, count) as unsigned ints: the input indices i*stride - pad + [0, k) that lie in
    [0, n), output i's window along one axis clipped to the input."""
    first = i * stride - pad
    k0, k1 = max(0, -first), max(0, min(k, n - first))
    return U(first + k0), U(max(k1 - k0, 0))


@kernel
def _geometry(img, layer):  # type: ignore[no-untyped-def]
    """(C, H, W, kh, kw, sh, sw, pt, pl, Ho, Wo): the node's wtab row, what every window
    walk below reads."""
    return (img[layer, W_C], img[layer, W_H], img[layer, W_W], img[layer, W_KH],
            img[layer, W_KW], img[layer, W_SH], img[layer, W_SW], img[layer, W_PT],
            img[layer, W_PL], img[layer, W_HO], img[layer, W_WO])


@kernel
def max_forward(rows, img, layer, x, xo, y, yo, arg, ao):  # type: ignore[no-untyped-def]
    c_in, h, w, kh, kw, sh, sw, pt, pl, ho, wo = _geometry(img, layer)
    if (kh == 2 and kw == 2 and pt == 0 and pl == 0 and (ho - 1) * sh + 2 <= h
            and (wo - 1) * sw + 2 <= w):
        _max_forward_2x2(rows, img, layer, x, xo, y, yo, arg, ao)
        return
    uw = U(w)
    q = U(0)
    for sc in range(rows * c_in):  # (sample, channel) planes, in order
        plane = U(xo + sc * h * w)
        local = U((sc % c_in) * h * w)  # the plane's offset within its sample
        for i in range(ho):
            r0, nr = _clip(i, sh, pt, kh, h)
            for j in range(wo):
                c0, nc = _clip(j, sw, pl, kw, w)
                at = r0 * uw + c0
                best = x[plane + at]
                for u in range(nr):
                    row = (r0 + u) * uw + c0
                    for v in range(nc):
                        val = x[plane + row + v]
                        # greater, or a NaN (kept: the first NaN wins, as PyTorch's max)
                        if not (val <= best) and best == best:
                            best = val
                            at = row + v
                y[U(yo) + q] = best
                arg[U(ao) + q] = local + at
                q += U(1)


@kernel
def _take(val, best):  # type: ignore[no-untyped-def]
    """max_forward's rule, without a branch: val replaces best if greater, or if val is NaN
    and best is not (the first NaN wins)."""
    return (not val <= best) & (best == best)


@kernel
def _max_forward_2x2(rows, img, layer, x, xo, y, yo, arg, ao):  # type: ignore[no-untyped-def]
    """max_forward for 2x2 windows that lie inside the input (no padding: LeNet's pools),
    the four values compared with selects instead of branches (a branch on the comparison of
    two activations is mispredicted about half the time: ~10 ns an output against ~4).
    Stride 2, the common pool, passes its strides as constants: LLVM then vectorises the row
    loop (stride-2 loads de-interleaved, the selects as blends): LeNet's pools 2.6-3.3x faster
    on one core (16 samples, 6x28x28: 87 -> 26 us; 16x10x10: 35 -> 13 us)."""
    c_in, h, w, kh, kw, sh, sw, pt, pl, ho, wo = _geometry(img, layer)
    if sh == 2 and sw == 2:
        _max_2x2_planes(rows, c_in, h, w, ho, wo, 2, 2, x, xo, y, yo, arg, ao)
    else:
        _max_2x2_planes(rows, c_in, h, w, ho, wo, sh, sw, x, xo, y, yo, arg, ao)


@kernel(inline=True)
def _max_2x2_planes(rows, c_in, h, w, ho, wo, sh, sw, x, xo, y, yo, arg, ao):  # type: ignore[no-untyped-def]
    """_max_forward_2x2's loops, inlined into it so that constant strides stay constants."""
    uw, uwo, ush, usw = U(w), U(wo), U(sh), U(sw)
    q = U(yo)
    qa = U(ao)
    for sc in range(rows * c_in):  # (sample, channel) planes, in order
        plane = U(xo + sc * h * w)
        local = (sc % c_in) * h * w  # the plane's offset within its sample
        for i in range(U(ho)):
            top = i * ush * uw
            r0 = plane + top
            r1 = r0 + uw
            for j in range(uwo):
                o = top + j * usw
                best, at = x[r0 + j * usw], o
                val = x[r0 + j * usw + U(1)]
                t = _take(val, best)
                best, at = (val, o + U(1)) if t else (best, at)
                val = x[r1 + j * usw]
                t = _take(val, best)
                best, at = (val, o + uw) if t else (best, at)
                val = x[r1 + j * usw + U(1)]
                t = _take(val, best)
                best, at = (val, o + uw + U(1)) if t else (best, at)
                y[q + j] = best
                arg[qa + j] = local + np.int64(at)
            q += uwo
            qa += uwo


# codes of pool_parts
MAX_FORWARD, MAX_BACKWARD, AVG_FORWARD, AVG_BACKWARD = range(4)


@parallel_kernel
def pool_parts(parts, code, rows, img, layer, a, ao, b, bo, c, co):  # type: ignore[no-untyped-def]
    """A pool's pass (code) over `rows` samples, blocks of samples on `parts` threads (each
    sample's outputs, argmax and input gradient are its own): max_forward(x=a, y=b, arg=c),
    max_backward(g=a, arg=b, gx=c), avg_forward(x=a, y=b), avg_backward(g=a, gx=b)."""
    n_in = img[layer, W_C] * img[layer, W_H] * img[layer, W_W]
    n = img[layer, W_C] * img[layer, W_HO] * img[layer, W_WO]
    mxcsr = fpu.get_mxcsr()  # the engine's denormal flushing, on every thread (fpu.py)
    for p in prange(parts):
        saved = fpu.get_mxcsr()
        fpu.set_mxcsr(mxcsr)
        s0 = rows * p // parts
        m = rows * (p + 1) // parts - s0
        if code == MAX_FORWARD:
            max_forward(m, img, layer, a, ao + s0 * n_in, b, bo + s0 * n, c, co + s0 * n)
        elif code == MAX_BACKWARD:
            max_backward(m, img, layer, a, ao + s0 * n, b, bo + s0 * n, c, co + s0 * n_in)
        elif code == AVG_FORWARD:
            avg_forward(m, img, layer, a, ao + s0 * n_in, b, bo + s0 * n)
        else:
            avg_backward(m, img, layer, a, ao + s0 * n, b, bo + s0 * n_in)
        fpu.set_mxcsr(saved)


@kernel
def max_backward(rows, img, layer, g, go, arg, ao, gx, gxo):  # type: ignore[no-untyped-def]
    c_in, h, w = img[layer, W_C], img[layer, W_H], img[layer, W_W]
    n_in, n = c_in * h * w, c_in * img[layer, W_HO] * img[layer, W_WO]
    fill(gx, gxo, rows * n_in, 0)
    for s in range(rows):
        base = U(gxo + s * n_in)
        src = U(go + s * n)
        at = U(ao + s * n)
        for q in range(U(n)):
            gx[base + U(arg[at + q])] += g[src + q]


@kernel
def avg_forward(rows, img, layer, x, xo, y, yo):  # type: ignore[no-untyped-def]
    c_in, h, w, kh, kw, sh, sw, pt, pl, ho, wo = _geometry(img, layer)
    scale = y.dtype.type(1.0 / (kh * kw))
    uw = U(w)
    q = U(yo)
    for sc in range(rows * c_in):
        plane = U(xo + sc * h * w)
        for i in range(ho):
            r0, nr = _clip(i, sh, pt, kh, h)
            for j in range(wo):
                c0, nc = _clip(j, sw, pl, kw, w)
                acc = y.dtype.type(0)
                for u in range(nr):
                    row = plane + (r0 + u) * uw + c0
                    for v in range(nc):
                        acc += x[row + v]
                y[q] = acc * scale
                q += U(1)


@kernel
def avg_backward(rows, img, layer, g, go, gx, gxo):  # type: ignore[no-untyped-def]
    c_in, h, w, kh, kw, sh, sw, pt, pl, ho, wo = _geometry(img, layer)
    scale = gx.dtype.type(1.0 / (kh * kw))
    fill(gx, gxo, rows * c_in * h * w, 0)
    uw = U(w)
    q = U(go)
    for sc in range(rows * c_in):
        plane = U(gxo + sc * h * w)
        for i in range(ho):
            r0, nr = _clip(i, sh, pt, kh, h)
            for j in range(wo):
                c0, nc = _clip(j, sw, pl, kw, w)
                share = g[q] * scale
                q += U(1)
                for u in range(nr):
                    row = plane + (r0 + u) * uw + c0
                    for v in range(nc):
                        gx[row + v] += share


@kernel
def global_forward(rows, img, layer, x, xo, y, yo):  # type: ignore[no-untyped-def]
    c_in, hw = img[layer, W_C], img[layer, W_HW]
    scale = y.dtype.type(1.0 / hw)
    for sc in range(rows * c_in):
        start = U(xo + sc * hw)
        acc = y.dtype.type(0)
        for q in range(U(hw)):
            acc += x[start + q]
        y[U(yo + sc)] = acc * scale


@kernel
def global_backward(rows, img, layer, g, go, gx, gxo):  # type: ignore[no-untyped-def]
    c_in, hw = img[layer, W_C], img[layer, W_HW]
    scale = gx.dtype.type(1.0 / hw)
    for sc in range(rows * c_in):
        fill(gx, gxo + sc * hw, hw, g[U(go + sc)] * scale)

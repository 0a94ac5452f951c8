"""backends.cuda.pool: max, average and global average pooling, forward and backward, numba.cuda.

The formulas of backends/cpu/pool.py (NCHW samples, a window of kernel (kh, kw), stride
(sh, sw) and padding before (pt, pl) sliding over each channel; the window clipped to the
input, as the cpu kernels do):

    maxpool   y[s, c, i, j] = max over the window of x; arg = the input offset within the
              sample of the first maximum in row-major window order (a NaN wins), kept in
              the float workspace as the cpu engine keeps it (exact below
              layout.ARGMAX_LIMIT values per sample); dL/dx[arg] += dL/dy
    avgpool   y = sum over the window / (kh*kw) (padding counts);  dL/dx += dL/dy / (kh*kw)
              over every window that covers the input value
    global    y[s, c] = sum_{i, j} x[s, c, i, j] / (H*W);  dL/dx = dL/dy[s, c] / (H*W)

Thread mapping: forward, one thread per output value (grid-stride; adjacent threads take
adjacent j). Backward, one thread per INPUT value, gathering the outputs whose windows cover
it in the order the cpu kernel scatters them (channel, i, j ascending), so no atomics are
needed and the sums are the cpu's, term for term. The geometry is the layer's wtab row as a
device array (conv2d.py).
"""

from __future__ import annotations

import functools
from types import SimpleNamespace

import numpy as np

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
from nnspec.backends.cuda.jit import cuda, device, kernel


@device
def window_start(i, stride, pad, k, n):  # type: ignore[no-untyped-def]
    """(first input index, count) of output i's window clipped to [0, n)."""
    first = i * stride - pad
    k0 = max(0, -first)
    k1 = max(0, min(k, n - first))
    return first + k0, k1 - k0


@device
def covering(x, stride, pad, k, n_out):  # type: ignore[no-untyped-def]
    """[i0, i1): the outputs i whose window i*stride - pad + [0, k) contains input x."""
    top = x + pad  # i*stride <= top and i*stride > top - k
    i0 = max(0, (top - k) // stride + 1) if top - k >= 0 else 0
    i1 = min(n_out, top // stride + 1)
    return i0, max(i0, i1)


@functools.cache
def build(dtype: str) -> SimpleNamespace:
    dt = np.dtype(dtype).type
    zero = dt(0.0)

    @kernel("void(T[::1], int64, int64, int64, int64[::1], int64)", dtype)
    def max_forward(ws, x_off, y_off, arg_off, geom, rows):  # type: ignore[no-untyped-def]
        c_in, h, w = geom[W_C], geom[W_H], geom[W_W]
        ho, wo = geom[W_HO], geom[W_WO]
        p = ho * wo
        for e in range(cuda.grid(1), rows * c_in * p, cuda.gridsize(1)):
            sc = e // p  # (sample, channel) plane
            i = (e - sc * p) // wo
            j = e - sc * p - i * wo
            r0, nr = window_start(i, geom[W_SH], geom[W_PT], geom[W_KH], h)
            c0, nc = window_start(j, geom[W_SW], geom[W_PL], geom[W_KW], w)
            plane = x_off + sc * h * w
            at = r0 * w + c0
            best = ws[plane + at]
            for u in range(nr):
                row = (r0 + u) * w + c0
                for v in range(nc):
                    val = ws[plane + row + v]
                    # greater, or a NaN (kept: the first NaN wins, as PyTorch's max)
                    if not (val <= best) and best == best:
                        best = val
                        at = row + v
            ws[y_off + e] = best
            ws[arg_off + e] = (sc % c_in) * h * w + at

    @kernel("void(T[::1], T[::1], int64, T[::1], int64, int64[::1], int64)", dtype)
    def max_backward(g, ws, arg_off, gx, gx_off, geom, rows):  # type: ignore[no-untyped-def]
        c_in, h, w = geom[W_C], geom[W_H], geom[W_W]
        ho, wo = geom[W_HO], geom[W_WO]
        hw = h * w
        n_in = c_in * hw
        n = c_in * ho * wo
        for e in range(cuda.grid(1), rows * n_in, cuda.gridsize(1)):
            s = e // n_in
            local = e - s * n_in
            c = local // hw
            hh = (local - c * hw) // w
            ww = local - c * hw - hh * w
            i0, i1 = covering(hh, geom[W_SH], geom[W_PT], geom[W_KH], ho)
            j0, j1 = covering(ww, geom[W_SW], geom[W_PL], geom[W_KW], wo)
            acc = zero
            for i in range(i0, i1):
                for j in range(j0, j1):
                    q = s * n + (c * ho + i) * wo + j
                    if int(ws[arg_off + q]) == local:
                        acc += g[q]
            gx[gx_off + e] = acc

    @kernel("void(T[::1], int64, int64, int64[::1], int64)", dtype)
    def avg_forward(ws, x_off, y_off, geom, rows):  # type: ignore[no-untyped-def]
        c_in, h, w = geom[W_C], geom[W_H], geom[W_W]
        ho, wo = geom[W_HO], geom[W_WO]
        scale = dt(1.0 / (geom[W_KH] * geom[W_KW]))
        p = ho * wo
        for e in range(cuda.grid(1), rows * c_in * p, cuda.gridsize(1)):
            sc = e // p
            i = (e - sc * p) // wo
            j = e - sc * p - i * wo
            r0, nr = window_start(i, geom[W_SH], geom[W_PT], geom[W_KH], h)
            c0, nc = window_start(j, geom[W_SW], geom[W_PL], geom[W_KW], w)
            plane = x_off + sc * h * w
            acc = zero
            for u in range(nr):
                row = plane + (r0 + u) * w + c0
                for v in range(nc):
                    acc += ws[row + v]
            ws[y_off + e] = acc * scale

    @kernel("void(T[::1], T[::1], int64, int64[::1], int64)", dtype)
    def avg_backward(g, gx, gx_off, geom, rows):  # type: ignore[no-untyped-def]
        c_in, h, w = geom[W_C], geom[W_H], geom[W_W]
        ho, wo = geom[W_HO], geom[W_WO]
        scale = dt(1.0 / (geom[W_KH] * geom[W_KW]))
        hw = h * w
        for e in range(cuda.grid(1), rows * c_in * hw, cuda.gridsize(1)):
            sc = e // hw
            hh = (e - sc * hw) // w
            ww = e - sc * hw - hh * w
            i0, i1 = covering(hh, geom[W_SH], geom[W_PT], geom[W_KH], ho)
            j0, j1 = covering(ww, geom[W_SW], geom[W_PL], geom[W_KW], wo)
            acc = zero
            for i in range(i0, i1):
                for j in range(j0, j1):
                    acc += g[(sc * ho + i) * wo + j] * scale
            gx[gx_off + e] = acc

    @kernel("void(T[::1], int64, int64, int64[::1], int64)", dtype)
    def global_forward(ws, x_off, y_off, geom, rows):  # type: ignore[no-untyped-def]
        """Thread per (sample, channel): the plane's mean."""
        hw = geom[W_HW]
        scale = dt(1.0 / hw)
        for sc in range(cuda.grid(1), rows * geom[W_C], cuda.gridsize(1)):
            acc = zero
            for q in range(hw):
                acc += ws[x_off + sc * hw + q]
            ws[y_off + sc] = acc * scale

    @kernel("void(T[::1], T[::1], int64, int64[::1], int64)", dtype)
    def global_backward(g, gx, gx_off, geom, rows):  # type: ignore[no-untyped-def]
        hw = geom[W_HW]
        scale = dt(1.0 / hw)
        for e in range(cuda.grid(1), rows * geom[W_C] * hw, cuda.gridsize(1)):
            gx[gx_off + e] = g[e // hw] * scale

    return SimpleNamespace(max_forward=max_forward, max_backward=max_backward,
                           avg_forward=avg_forward, avg_backward=avg_backward,
                           global_forward=global_forward, global_backward=global_backward)

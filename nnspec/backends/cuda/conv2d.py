"""backends.cuda.conv2d: (x, w, bias) -> a = f(z); dL/da -> (dL/dx, dL/dw, dL/dbias); numba.cuda.

Samples are NCHW and the weight is PyTorch's (F, C, kh, kw), as in backends/cpu/conv2d.py;
per sample s, output position (i, j), window element k = (c, u, v), the input position
read is (hh, ww) = (i*sh - pt + u*dh, j*sw - pl + v*dw) (outside the input: padding, 0):

    z[s, f, i, j] = sum_{c,u,v} w[f, c, u, v] x[s, c, hh, ww] + bias[f];  a = f(z)
    gz = g f'(z)                                           (activations.backward, in place)
    gw[f, c, u, v] = sum_{s,i,j} gz[s, f, i, j] x[s, c, hh, ww]   gbias[f] = sum_{s,i,j} gz
    gx[s, c, hh, ww] = sum_{f,u,v} gz[s, f, i, j] w[f, c, u, v]   over (i, j) with
                       i*sh = hh + pt - u*dh, j*sw = ww + pl - v*dw inside the output

Thread mapping (no atomics anywhere, so results do not depend on scheduling):
- forward: one thread per output value (s, f, i, j), grid-stride; adjacent threads take
  adjacent j, so the loads of x (stride sw) and the stores of z, a coalesce; bias and
  activation fused.
- weight_grad: one BLOCK per weight (f, c, u, v) and per bias f (block-stride over them);
  its RED_THREADS threads stride over the rows*Ho*Wo products (adjacent threads, adjacent
  positions: coalesced) and meet in a shared-memory tree (losses.block_sum). A reduction of
  rows*P terms per parameter with F*K blocks in flight, instead of rows*P atomics on each of
  F*K addresses.
- input_grad: one thread per input value (s, c, hh, ww), gathering the outputs whose
  windows read it (the transposed convolution written as a gather, not a scatter of
  col2im, so no two threads write the same value).

The geometry is the layer's row of the cpu layout's wtab (backends/cpu/layout.py, W_*
columns), uploaded once as a small int64 device array: every thread reads the same few
values (a broadcast from cache).

For speed on a real GPU this would become im2col into the workspace plus cuBLAS through
CuPy (cublas.py): z = w (F, K) @ cols (K, rows*P) as one batched gemm, gw = gz @ cols.T,
gcols = w.T @ gz and a col2im gather, as the cpu engine does with BLAS; or cuDNN. The
direct kernels here are the plain numba.cuda fallback (the only path under the simulator):
correct for any geometry, each value computed in registers, but without the data reuse of a
tiled product (every thread reads its C*kh*kw inputs from cache).
"""

from __future__ import annotations

import functools
from types import SimpleNamespace

import numpy as np
from numba import float32, float64

from nnspec.backends.cpu.layout import (
    W_C,
    W_DH,
    W_DW,
    W_F,
    W_H,
    W_HO,
    W_KH,
    W_KW,
    W_PL,
    W_PT,
    W_SH,
    W_SW,
    W_W,
    W_WO,
)
from nnspec.backends.cuda import activations
from nnspec.backends.cuda.jit import RED_THREADS, cuda, kernel
from nnspec.backends.cuda.losses import block_sum
from nnspec.lower.plan import A_LINEAR


@functools.cache
def build(dtype: str) -> SimpleNamespace:
    dt = np.dtype(dtype).type
    zero = dt(0.0)
    sum_type = float32 if dtype == "float32" else float64
    nt = RED_THREADS
    act = activations.build(dtype).act

    @kernel("void(T[::1], int64, int64, int64, T[::1], int64, int64, int64, int64, float64, "
            "float64, int64[::1], int64)", dtype)
    def forward(ws, x_off, z_off, a_off, params, w_off, b_off, has_bias, code, p0, p1, geom,  # type: ignore[no-untyped-def]
                rows):
        """z and a of `rows` samples (bias and activation fused). Thread per output value."""
        c_in, h, w = geom[W_C], geom[W_H], geom[W_W]
        f_out, ho, wo = geom[W_F], geom[W_HO], geom[W_WO]
        kh, kw, sh, sw = geom[W_KH], geom[W_KW], geom[W_SH], geom[W_SW]
        pt, pl, dh, dw = geom[W_PT], geom[W_PL], geom[W_DH], geom[W_DW]
        p = ho * wo
        n = f_out * p
        n_in = c_in * h * w
        for e in range(cuda.grid(1), rows * n, cuda.gridsize(1)):
            s = e // n
            f = (e - s * n) // p
            q = e - s * n - f * p
            i = q // wo
            j = q - i * wo
            acc = zero
            for c in range(c_in):
                xc = x_off + s * n_in + c * h * w
                wc = w_off + (f * c_in + c) * kh * kw
                for u in range(kh):
                    hh = i * sh - pt + u * dh
                    if hh >= 0 and hh < h:
                        for v in range(kw):
                            ww = j * sw - pl + v * dw
                            if ww >= 0 and ww < w:
                                acc += params[wc + u * kw + v] * ws[xc + hh * w + ww]
            if has_bias != 0:
                acc += params[b_off + f]
            ws[z_off + e] = acc
            if code != A_LINEAR:  # elementwise (layers.py refuses row-wise ones on images)
                ws[a_off + e] = act(code, p0, p1, acc)

    @kernel("void(T[::1], int64, T[::1], T[::1], int64, int64, int64, int64[::1], int64)",
            dtype)
    def weight_grad(ws, x_off, g, grad, w_off, b_off, has_bias, geom, rows):  # type: ignore[no-untyped-def]
        """grad[w_off:] (F, C, kh, kw) and grad[b_off:] (F,) written from gz = g (rows, F, P).
        A block per parameter (block-stride), its threads over the rows*P terms."""
        part = cuda.shared.array(nt, sum_type)
        tid = cuda.threadIdx.x
        c_in, h, w = geom[W_C], geom[W_H], geom[W_W]
        f_out, ho, wo = geom[W_F], geom[W_HO], geom[W_WO]
        kh, kw, sh, sw = geom[W_KH], geom[W_KW], geom[W_SH], geom[W_SW]
        pt, pl, dh, dw = geom[W_PT], geom[W_PL], geom[W_DH], geom[W_DW]
        p = ho * wo
        n = f_out * p
        n_in = c_in * h * w
        kk = c_in * kh * kw
        n_w = f_out * kk
        total = n_w + (f_out if has_bias != 0 else 0)
        for e in range(cuda.blockIdx.x, total, cuda.gridDim.x):  # uniform within a block
            acc = zero
            if e < n_w:
                f = e // kk
                c = (e - f * kk) // (kh * kw)
                u = (e - f * kk - c * kh * kw) // kw
                v = e - f * kk - c * kh * kw - u * kw
                for t in range(tid, rows * p, nt):
                    s = t // p
                    q = t - s * p
                    i = q // wo
                    j = q - i * wo
                    hh = i * sh - pt + u * dh
                    ww = j * sw - pl + v * dw
                    if hh >= 0 and hh < h and ww >= 0 and ww < w:
                        acc += g[s * n + f * p + q] * ws[x_off + s * n_in + (c * h + hh) * w
                                                         + ww]
            else:
                f = e - n_w
                for t in range(tid, rows * p, nt):
                    s = t // p
                    acc += g[s * n + f * p + t - s * p]
            total_e = block_sum(part, tid, acc)
            if tid == 0:
                if e < n_w:
                    grad[w_off + e] = total_e
                else:
                    grad[b_off + e - n_w] = total_e

    @kernel("void(T[::1], T[::1], int64, T[::1], int64, int64[::1], int64)", dtype)
    def input_grad(params, g, w_off, gx, gx_off, geom, rows):  # type: ignore[no-untyped-def]
        """gx[gx_off:] (rows, C, H, W) written from gz = g. Thread per input value."""
        c_in, h, w = geom[W_C], geom[W_H], geom[W_W]
        f_out, ho, wo = geom[W_F], geom[W_HO], geom[W_WO]
        kh, kw, sh, sw = geom[W_KH], geom[W_KW], geom[W_SH], geom[W_SW]
        pt, pl, dh, dw = geom[W_PT], geom[W_PL], geom[W_DH], geom[W_DW]
        p = ho * wo
        n = f_out * p
        hw = h * w
        n_in = c_in * hw
        for e in range(cuda.grid(1), rows * n_in, cuda.gridsize(1)):
            s = e // n_in
            c = (e - s * n_in) // hw
            hh = (e - s * n_in - c * hw) // w
            ww = e - s * n_in - c * hw - hh * w
            acc = zero
            for f in range(f_out):
                gf = s * n + f * p
                wc = w_off + (f * c_in + c) * kh * kw
                for u in range(kh):
                    ti = hh + pt - u * dh
                    if ti >= 0 and ti % sh == 0 and ti // sh < ho:
                        i = ti // sh
                        for v in range(kw):
                            tj = ww + pl - v * dw
                            if tj >= 0 and tj % sw == 0 and tj // sw < wo:
                                acc += g[gf + i * wo + tj // sw] * params[wc + u * kw + v]
            gx[gx_off + e] = acc

    return SimpleNamespace(forward=forward, weight_grad=weight_grad, input_grad=input_grad)

"""backends.cuda.batchnorm: batch normalization over the batch axis (PyTorch BatchNorm1d).

The formulas of backends/cpu/batchnorm.py, with the same float64 accumulations:
    mu[j] = sum_b x[b, j] / B;  var[j] = sum_b (x[b, j] - mu[j])^2 / B;  inv = 1/sqrt(var+eps)
    xh = (x - mu) inv;  y = gamma xh + beta;  stats = (mu, var, inv) kept for backward
    backward: gbeta = sum_b g;  ggamma = sum_b g xh;
              gx = gamma inv / B (B g - gbeta - xh ggamma)
    running stats: (1-m) r + m mu | m var B/(B-1), only for a batch whose update is applied
    (ctl[STATUS] == 0 after the optimizer kernel; see slots.py).
Thread mapping: one thread per feature j (grid-stride), looping over the batch rows; adjacent
threads read adjacent features of a row, so the loads coalesce.

Over images (BatchNorm2d, the *_2d kernels): x is `rows` samples of c channels x hw
positions (NCHW), channel j's statistics taken over its m = rows*hw values (the formulas
above with B replaced by m; the running variance unbiased by m/(m-1): update_running with
rows*hw). There are few channels and many values per channel, so a BLOCK per channel
(block-stride) reduces them: its RED_THREADS threads stride over the m values (adjacent
threads, adjacent positions: coalesced) and meet in shared memory (losses.block_sum), in
float64 as the cpu kernels sum; mean and inv are rounded to the dtype before xh is formed,
as backends/cpu/batchnorm.py's *_2d do. Evaluation is elementwise: a thread per value.
"""

from __future__ import annotations

import functools
import math
from types import SimpleNamespace

import numpy as np
from numba import float64

from nnspec.backends.cuda import slots
from nnspec.backends.cuda.jit import RED_THREADS, cuda, kernel
from nnspec.backends.cuda.losses import block_sum


@functools.cache
def build(dtype: str) -> SimpleNamespace:
    dt = np.dtype(dtype).type
    one = dt(1.0)

    @kernel("void(T[::1], int64, int64, int64, int64, int64, int64, T[::1], int64, int64, "
            "int64, float64)", dtype)
    def forward_train(ws, in_off, a_off, xh_off, st_off, rows, n, params, g_off, b_off,  # type: ignore[no-untyped-def]
                      affine, eps):
        """Batch statistics into stats, xh and y."""
        for j in range(cuda.grid(1), n, cuda.gridsize(1)):
            s = 0.0
            for r in range(rows):
                s += ws[in_off + r * n + j]
            mu = s / rows
            q = 0.0
            for r in range(rows):
                d = ws[in_off + r * n + j] - mu
                q += d * d
            var = q / rows
            inv = one / math.sqrt(var + eps)
            ws[st_off + j] = mu
            ws[st_off + n + j] = var
            ws[st_off + 2 * n + j] = inv
            gj = params[g_off + j] if affine != 0 else one
            bj = params[b_off + j] if affine != 0 else 0.0
            for r in range(rows):
                h = (ws[in_off + r * n + j] - mu) * inv
                ws[xh_off + r * n + j] = h
                ws[a_off + r * n + j] = gj * h + bj

    @kernel("void(T[::1], T[::1], int64, int64, int64, int64, T[::1], T[::1], int64, int64, "
            "int64)", dtype)
    def backward(ws, g, xh_off, st_off, rows, n, params, grad, g_off, b_off, affine):  # type: ignore[no-untyped-def]
        """g <- dL/dx in place; ggamma, gbeta written when affine."""
        for j in range(cuda.grid(1), n, cuda.gridsize(1)):
            sg = 0.0
            sgx = 0.0
            for r in range(rows):
                sg += g[r * n + j]
                sgx += g[r * n + j] * ws[xh_off + r * n + j]
            if affine != 0:
                grad[b_off + j] = sg
                grad[g_off + j] = sgx
                c = params[g_off + j] * ws[st_off + 2 * n + j] / rows
            else:
                c = ws[st_off + 2 * n + j] / rows
            for r in range(rows):
                g[r * n + j] = c * (rows * g[r * n + j] - sg - ws[xh_off + r * n + j] * sgx)

    @kernel("void(T[::1], int64, int64, int64, float64, T[::1], int64, int64, int64[::1])",
            dtype)
    def update_running(ws, st_off, rows, n, momentum, buffers, rm_off, rv_off, ctl):  # type: ignore[no-untyped-def]
        """Running mean and unbiased variance, for a batch whose update was applied."""
        if ctl[slots.STATUS] != 0:
            return
        # unbiased variance as PyTorch; a single-row batch (which PyTorch refuses) keeps var 0
        unbias = rows / max(rows - 1, 1)
        for j in range(cuda.grid(1), n, cuda.gridsize(1)):
            buffers[rm_off + j] = (1.0 - momentum) * buffers[rm_off + j] + momentum * ws[st_off + j]
            buffers[rv_off + j] = ((1.0 - momentum) * buffers[rv_off + j]
                                   + momentum * ws[st_off + n + j] * unbias)

    @kernel("void(T[::1], int64, int64, int64, int64, T[::1], int64, int64, int64, T[::1], "
            "int64, int64, float64)", dtype)
    def forward_eval(ws, in_off, a_off, rows, n, params, g_off, b_off, affine, buffers, rm_off,  # type: ignore[no-untyped-def]
                     rv_off, eps):
        """y = gamma (x - running_mean) / sqrt(running_var + eps) + beta."""
        for j in range(cuda.grid(1), n, cuda.gridsize(1)):
            inv = one / math.sqrt(buffers[rv_off + j] + eps)
            gj = params[g_off + j] if affine != 0 else one
            bj = params[b_off + j] if affine != 0 else 0.0
            mu = buffers[rm_off + j]
            for r in range(rows):
                ws[a_off + r * n + j] = gj * ((ws[in_off + r * n + j] - mu) * inv) + bj

    nt = RED_THREADS

    @kernel("void(T[::1], int64, int64, int64, int64, int64, int64, int64, T[::1], int64, "
            "int64, int64, float64)", dtype)
    def forward_train_2d(ws, in_off, a_off, xh_off, st_off, rows, c, hw, params, g_off,  # type: ignore[no-untyped-def]
                         b_off, affine, eps):
        """Per-channel batch statistics into stats (mu, var, inv: c values each), xh and y.
        A block per channel."""
        part = cuda.shared.array(nt, float64)
        tid = cuda.threadIdx.x
        n = c * hw
        m = rows * hw
        for j in range(cuda.blockIdx.x, c, cuda.gridDim.x):  # uniform within a block
            s = 0.0
            for t in range(tid, m, nt):
                r = t // hw
                s += ws[in_off + r * n + j * hw + t - r * hw]
            mu = block_sum(part, tid, s) / m
            q = 0.0
            for t in range(tid, m, nt):
                r = t // hw
                d = ws[in_off + r * n + j * hw + t - r * hw] - mu
                q += d * d
            var = block_sum(part, tid, q) / m
            inv = one / math.sqrt(var + eps)
            if tid == 0:
                ws[st_off + j] = mu
                ws[st_off + c + j] = var
                ws[st_off + 2 * c + j] = inv
            gj = params[g_off + j] if affine != 0 else one
            bj = params[b_off + j] if affine != 0 else dt(0.0)
            mu_t = dt(mu)
            inv_t = dt(inv)
            for t in range(tid, m, nt):
                r = t // hw
                i = r * n + j * hw + t - r * hw
                h = (ws[in_off + i] - mu_t) * inv_t
                ws[xh_off + i] = h
                ws[a_off + i] = gj * h + bj

    @kernel("void(T[::1], T[::1], int64, int64, int64, int64, int64, T[::1], T[::1], int64, "
            "int64, int64)", dtype)
    def backward_2d(ws, g, xh_off, st_off, rows, c, hw, params, grad, g_off, b_off, affine):  # type: ignore[no-untyped-def]
        """g <- dL/dx in place; ggamma, gbeta written when affine. A block per channel."""
        part = cuda.shared.array(nt, float64)
        tid = cuda.threadIdx.x
        n = c * hw
        m = rows * hw
        for j in range(cuda.blockIdx.x, c, cuda.gridDim.x):
            sg = 0.0
            sgx = 0.0
            for t in range(tid, m, nt):
                r = t // hw
                i = r * n + j * hw + t - r * hw
                sg += g[i]
                sgx += g[i] * ws[xh_off + i]
            sg = block_sum(part, tid, sg)
            sgx = block_sum(part, tid, sgx)
            if affine != 0:
                if tid == 0:
                    grad[b_off + j] = sg
                    grad[g_off + j] = sgx
                k = params[g_off + j] * ws[st_off + 2 * c + j] / m
            else:
                k = ws[st_off + 2 * c + j] / m
            kt, mt, sgt, sgxt = dt(k), dt(m), dt(sg), dt(sgx)
            for t in range(tid, m, nt):
                r = t // hw
                i = r * n + j * hw + t - r * hw
                g[i] = kt * (mt * g[i] - sgt - ws[xh_off + i] * sgxt)

    @kernel("void(T[::1], int64, int64, int64, int64, int64, T[::1], int64, int64, int64, "
            "T[::1], int64, int64, float64)", dtype)
    def forward_eval_2d(ws, in_off, a_off, rows, c, hw, params, g_off, b_off, affine, buffers,  # type: ignore[no-untyped-def]
                        rm_off, rv_off, eps):
        """y = gamma (x - running_mean) / sqrt(running_var + eps) + beta per channel. Thread
        per value."""
        for e in range(cuda.grid(1), rows * c * hw, cuda.gridsize(1)):
            j = (e // hw) % c
            inv = one / math.sqrt(buffers[rv_off + j] + eps)
            gj = params[g_off + j] if affine != 0 else one
            bj = params[b_off + j] if affine != 0 else dt(0.0)
            ws[a_off + e] = gj * ((ws[in_off + e] - buffers[rm_off + j]) * inv) + bj

    return SimpleNamespace(forward_train=forward_train, forward_eval=forward_eval,
                           backward=backward, update_running=update_running,
                           forward_train_2d=forward_train_2d, backward_2d=backward_2d,
                           forward_eval_2d=forward_eval_2d)

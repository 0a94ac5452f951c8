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
"""

from __future__ import annotations

import functools
import math
from types import SimpleNamespace

import numpy as np

from nnspec.backends.cuda import slots
from nnspec.backends.cuda.jit import cuda, kernel


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

    return SimpleNamespace(forward_train=forward_train, forward_eval=forward_eval,
                           backward=backward, update_running=update_running)

"""backends.cuda.activations: (code, z) -> a and (code, z, a, dL/da) -> dL/dz, numba.cuda.

The same functions as backends/cpu/activations.py, on flat C-order regions of the workspace
(row r, feature j at r*n + j). `forward` is fused with the dense layer's bias add.

    z[r, j] += bias[j] (dense with bias);  a[r, j] = f(z[r, j])            (elementwise)
    softmax:     a[r, j] = exp(z[r, j] - m_r) / sum_k exp(z[r, k] - m_r),  m_r = max_k z[r, k]
    log_softmax: a[r, j] = z[r, j] - m_r - log(sum_k exp(z[r, k] - m_r))
    backward (in place, g <- dL/dz):
    elementwise: g[r, j] *= f'(z[r, j])  (written with a where that is cheaper)
    softmax:     g[r, j] = a[r, j] * (g[r, j] - sum_k g[r, k] * a[r, k])
    log_softmax: g[r, j] = g[r, j] - exp(a[r, j]) * sum_k g[r, k]

Thread mapping: elementwise, one thread per element (grid-stride over rows*n); softmax and
log_softmax, one thread per row (the rows of a batch are independent, n is the class count).
Unlike the CPU backend's float32 path, tanh and sigmoid are the exact device functions (the
GPU has fast tanhf/expf), so float32 results differ from the CPU by the approximation's
~3e-7 at most.
"""

from __future__ import annotations

import functools
import math
from types import SimpleNamespace

import numpy as np

from nnspec.backends.cuda.jit import cuda, device, kernel
from nnspec.lower.plan import (
    A_ELU,
    A_GELU,
    A_LEAKY_RELU,
    A_LINEAR,
    A_LOG_SOFTMAX,
    A_RELU,
    A_SELU,
    A_SIGMOID,
    A_SILU,
    A_SOFTMAX,
    A_SOFTPLUS,
    A_TANH,
)

SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
INV_SQRT_2 = 1.0 / math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
GELU_C = 0.044715


@functools.cache
def build(dtype: str) -> SimpleNamespace:
    """The activation device functions and kernels for one dtype."""
    dt = np.dtype(dtype).type
    zero, one = dt(0.0), dt(1.0)

    @device
    def sigmoid(x):  # type: ignore[no-untyped-def]
        """Exact 1/(1+exp(-x)); exp only of non-positive numbers, so it never overflows."""
        if x >= zero:
            return one / (one + math.exp(-x))
        e = math.exp(x)
        return e / (one + e)

    @device
    def act(code, p0, p1, x):  # type: ignore[no-untyped-def]
        """f(x) for the elementwise activations."""
        if code == A_LINEAR:
            return x
        if code == A_RELU:
            return zero if x < zero else x  # NaN passes through, as torch.relu
        if code == A_TANH:
            return math.tanh(x)
        if code == A_SIGMOID:
            return sigmoid(x)
        if code == A_LEAKY_RELU:
            return x if x > 0 else p0 * x
        if code == A_ELU:
            return x if x > 0 else p0 * math.expm1(x)
        if code == A_SELU:
            return SELU_SCALE * (x if x > 0 else SELU_ALPHA * math.expm1(x))
        if code == A_GELU:
            if p0 == 1.0:
                u = SQRT_2_OVER_PI * (x + GELU_C * x * x * x)
                return 0.5 * x * (1.0 + math.tanh(u))
            return 0.5 * x * (1.0 + math.erf(x * INV_SQRT_2))
        if code == A_SILU:
            return x * sigmoid(x)
        if code == A_SOFTPLUS:
            bx = p0 * x
            if bx > p1:
                return x
            # log(1 + exp(bx)) = max(bx, 0) + log1p(exp(-|bx|)), stable for any bx
            return (max(bx, 0.0) + math.log1p(math.exp(-abs(bx)))) / p0
        return x

    @device
    def derivative(code, p0, p1, x, y):  # type: ignore[no-untyped-def]
        """f'(x) given x and y = f(x), for the activations without a special case in grad."""
        if code == A_LEAKY_RELU:
            return 1.0 if x > 0 else p0
        if code == A_ELU:
            return 1.0 if x > 0 else p0 * math.exp(x)
        if code == A_SELU:
            return SELU_SCALE * (1.0 if x > 0 else SELU_ALPHA * math.exp(x))
        if code == A_GELU:
            if p0 == 1.0:
                u = SQRT_2_OVER_PI * (x + GELU_C * x * x * x)
                t = math.tanh(u)
                du = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_C * x * x)
                return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du
            cdf = 0.5 * (1.0 + math.erf(x * INV_SQRT_2))
            return cdf + x * math.exp(-0.5 * x * x) * INV_SQRT_2PI
        if code == A_SILU:
            s = sigmoid(x)
            return s + x * s * (1.0 - s)
        if code == A_SOFTPLUS:
            bx = p0 * x
            return 1.0 if bx > p1 else sigmoid(bx)
        return 1.0

    @device
    def grad(code, p0, p1, x, y, g):  # type: ignore[no-untyped-def]
        """dL/dx = g f'(x), element by element (the CPU backend's expressions)."""
        if code == A_LINEAR:
            return g
        if code == A_RELU:
            return g if x > zero else zero
        if code == A_TANH:
            return g * (one - y * y)
        if code == A_SIGMOID:
            return g * y * (one - y)
        return g * derivative(code, p0, p1, x, y)

    @device
    def softmax_row(code, ws, z_off, a_off, base, n):  # type: ignore[no-untyped-def]
        m = ws[z_off + base]
        for j in range(1, n):
            m = max(m, ws[z_off + base + j])
        s = zero
        for j in range(n):
            s += math.exp(ws[z_off + base + j] - m)
        if code == A_SOFTMAX:
            inv = one / s
            for j in range(n):
                ws[a_off + base + j] = math.exp(ws[z_off + base + j] - m) * inv
        else:
            lse = m + math.log(s)
            for j in range(n):
                ws[a_off + base + j] = ws[z_off + base + j] - lse

    @kernel("void(int64, float64, float64, T[::1], int64, int64, T[::1], int64, int64, int64, "
            "int64)", dtype)
    def forward(code, p0, p1, ws, z_off, a_off, params, b_off, has_bias, rows, n):  # type: ignore[no-untyped-def]
        """z (+)= bias; a = f(z). Thread per element, or per row for softmax/log_softmax."""
        start = cuda.grid(1)
        stride = cuda.gridsize(1)
        if code == A_SOFTMAX or code == A_LOG_SOFTMAX:
            for r in range(start, rows, stride):
                base = r * n
                if has_bias != 0:
                    for j in range(n):
                        ws[z_off + base + j] = ws[z_off + base + j] + params[b_off + j]
                softmax_row(code, ws, z_off, a_off, base, n)
            return
        for i in range(start, rows * n, stride):
            v = ws[z_off + i]
            if has_bias != 0:
                v = v + params[b_off + i % n]
                ws[z_off + i] = v
            ws[a_off + i] = act(code, p0, p1, v)

    @kernel("void(int64, float64, float64, T[::1], int64, int64, T[::1], int64, int64)", dtype)
    def backward(code, p0, p1, ws, z_off, a_off, g, rows, n):  # type: ignore[no-untyped-def]
        """g <- dL/dz in place. Thread per element, or per row for softmax/log_softmax."""
        start = cuda.grid(1)
        stride = cuda.gridsize(1)
        if code == A_SOFTMAX or code == A_LOG_SOFTMAX:
            for r in range(start, rows, stride):
                base = r * n
                s = zero
                if code == A_SOFTMAX:
                    for j in range(n):
                        s += g[base + j] * ws[a_off + base + j]
                    for j in range(n):
                        g[base + j] = ws[a_off + base + j] * (g[base + j] - s)
                else:
                    for j in range(n):
                        s += g[base + j]
                    for j in range(n):
                        g[base + j] = g[base + j] - math.exp(ws[a_off + base + j]) * s
            return
        for i in range(start, rows * n, stride):
            g[i] = grad(code, p0, p1, ws[z_off + i], ws[a_off + i], g[i])

    return SimpleNamespace(act=act, grad=grad, forward=forward, backward=backward)


ROWWISE = (A_SOFTMAX, A_LOG_SOFTMAX)

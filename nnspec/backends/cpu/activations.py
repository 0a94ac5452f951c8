"""backends.cpu.activations: (code, z) -> a and (code, z, a, dL/da) -> dL/dz, Numba kernels.

The same functions as backends/reference/activations.py, on flat C-order arrays of a batch:
z, a and g hold B rows of n features (element r*n + j is row r, feature j). Elementwise
activations ignore n; softmax and log_softmax act on each row of n values.

    a[r, j] = f(z[r, j])                                   (elementwise)
    softmax:     a[r, j] = exp(z[r, j] - m_r) / sum_k exp(z[r, k] - m_r),  m_r = max_k z[r, k]
    log_softmax: a[r, j] = z[r, j] - m_r - log(sum_k exp(z[r, k] - m_r))
    backward (in place, g <- dL/dz):
    elementwise: g[r, j] *= f'(z[r, j])  (written with a where that is cheaper)
    softmax:     g[r, j] = a[r, j] * (g[r, j] - sum_k g[r, k] * a[r, k])
    log_softmax: g[r, j] = g[r, j] - exp(a[r, j]) * sum_k g[r, k]

`fast` selects the float32 approximations of tanh, sigmoid and softmax's exp
(backends/cpu/approx.py);
the caller sets it only for float32 plans. Scalar constants are cast to the array dtype
(`z.dtype.type`) so float32 work stays in float32, as PyTorch computes it.
"""

from __future__ import annotations

import math

import numpy as np

from nnspec.backends.cpu.approx import exp32, row_max, sigmoid32, tanh32
from nnspec.backends.cpu.jit import kernel
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


@kernel
def sigmoid(x):  # type: ignore[no-untyped-def]
    """Exact 1/(1+exp(-x)); exp only of non-positive numbers, so it never overflows."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@kernel
def _scalar_forward(code, p0, p1, x):  # type: ignore[no-untyped-def]
    """f(x) for the elementwise activations that are not on a hot path."""
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


@kernel
def _scalar_derivative(code, p0, p1, x, y):  # type: ignore[no-untyped-def]
    """f'(x) given x and y = f(x), for the activations of _scalar_forward."""
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


@kernel
def forward(code, p0, p1, z, a, n, fast):  # type: ignore[no-untyped-def]
    """a = f(z) over flat arrays (a may be z itself for linear)."""
    one = z.dtype.type(1.0)
    zero = z.dtype.type(0.0)
    size = z.shape[0]
    if code == A_LINEAR:
        for i in range(size):  # a self-copy when a is z
            a[i] = z[i]
    elif code == A_RELU:
        for i in range(size):
            x = z[i]
            a[i] = zero if x < zero else x  # NaN passes through, as torch.relu
    elif code == A_TANH:
        if fast:
            for i in range(size):
                a[i] = tanh32(z[i])
        else:
            for i in range(size):
                a[i] = math.tanh(z[i])
    elif code == A_SIGMOID:
        if fast:
            for i in range(size):
                a[i] = sigmoid32(z[i])
        else:
            for i in range(size):
                a[i] = sigmoid(z[i])
    elif code == A_SOFTMAX or code == A_LOG_SOFTMAX:
        un = np.uint64(n)  # unsigned indices: no negative-index wraparound to block LLVM
        for r in range(size // n):
            base = np.uint64(r * n)
            m = row_max(z, base, n)
            s = zero
            if code == A_SOFTMAX:  # one exp per element: keep exp(z - m) in a, then scale
                if fast:
                    for j in range(un):
                        e = exp32(z[base + j] - m)
                        a[base + j] = e
                        s += e
                else:
                    for j in range(un):
                        e = math.exp(z[base + j] - m)
                        a[base + j] = e
                        s += e
                inv = one / s
                for j in range(un):
                    a[base + j] = a[base + j] * inv
            else:
                if fast:
                    for j in range(un):
                        s += exp32(z[base + j] - m)
                else:
                    for j in range(un):
                        s += math.exp(z[base + j] - m)
                lse = m + math.log(s)
                for j in range(un):
                    a[base + j] = z[base + j] - lse
    else:
        for i in range(size):
            a[i] = _scalar_forward(code, p0, p1, z[i])


@kernel
def backward(code, p0, p1, z, a, g, n):  # type: ignore[no-untyped-def]
    """g <- dL/dz in place, given z, a = f(z) and g = dL/da."""
    one = g.dtype.type(1.0)
    zero = g.dtype.type(0.0)
    size = g.shape[0]
    if code == A_LINEAR:
        return
    if code == A_RELU:
        for i in range(size):
            g[i] = g[i] if z[i] > zero else zero
    elif code == A_TANH:
        for i in range(size):
            g[i] = g[i] * (one - a[i] * a[i])
    elif code == A_SIGMOID:
        for i in range(size):
            g[i] = g[i] * a[i] * (one - a[i])
    elif code == A_SOFTMAX:
        for r in range(size // n):
            base = r * n
            s = zero
            for j in range(n):
                s += g[base + j] * a[base + j]
            for j in range(n):
                g[base + j] = a[base + j] * (g[base + j] - s)
    elif code == A_LOG_SOFTMAX:
        for r in range(size // n):
            base = r * n
            s = zero
            for j in range(n):
                s += g[base + j]
            for j in range(n):
                g[base + j] = g[base + j] - math.exp(a[base + j]) * s
    else:
        for i in range(size):
            g[i] = g[i] * _scalar_derivative(code, p0, p1, z[i], a[i])

"""backends.cpu.batchnorm: x -> normalized y and dL/dy -> dL/dx (PyTorch BatchNorm1d), Numba.

Training, x (B, n):
    mu[j]   = sum_b x[b, j] / B            var[j] = sum_b (x[b, j] - mu[j])^2 / B
    inv[j]  = 1 / sqrt(var[j] + eps)       xh[b, j] = (x[b, j] - mu[j]) * inv[j]
    y[b, j] = gamma[j] * xh[b, j] + beta[j]                    (gamma = 1, beta = 0 if !affine)
    running_mean <- (1-m) running_mean + m mu;  running_var <- (1-m) running_var
                    + m var B/(B-1)      (applied after the batch's gradients are found finite)
Backward (in place on g = dL/dy):
    gbeta[j] = sum_b g[b, j]      ggamma[j] = sum_b g[b, j] xh[b, j]
    gx[b, j] = gamma[j] inv[j] / B * (B g[b, j] - gbeta[j] - xh[b, j] ggamma[j])
Evaluation: y = gamma (x - running_mean) / sqrt(running_var + eps) + beta.
stats holds mu, var, inv (3n values) between forward, backward and the running update.
"""

from __future__ import annotations

import math

import numpy as np

from nnspec.backends.cpu.jit import kernel


@kernel
def forward_train(x, rows, n, gamma, beta, affine, eps, xh, stats, y):  # type: ignore[no-untyped-def]
    one = x.dtype.type(1.0)
    for j in range(n):
        s = 0.0
        for r in range(rows):
            s += x[r * n + j]
        mu = s / rows
        q = 0.0
        for r in range(rows):
            d = x[r * n + j] - mu
            q += d * d
        var = q / rows
        inv = one / math.sqrt(var + eps)
        stats[j] = mu
        stats[n + j] = var
        stats[2 * n + j] = inv
        gj = gamma[j] if affine else one
        bj = beta[j] if affine else 0.0
        for r in range(rows):
            h = (x[r * n + j] - mu) * inv
            xh[r * n + j] = h
            y[r * n + j] = gj * h + bj


@kernel
def forward_eval(x, rows, n, gamma, beta, affine, eps, rmean, rvar, y):  # type: ignore[no-untyped-def]
    one = x.dtype.type(1.0)
    for j in range(n):
        inv = one / math.sqrt(rvar[j] + eps)
        gj = gamma[j] if affine else one
        bj = beta[j] if affine else 0.0
        mu = rmean[j]
        for r in range(rows):
            y[r * n + j] = gj * ((x[r * n + j] - mu) * inv) + bj


@kernel
def backward(g, rows, n, gamma, affine, xh, stats, ggamma, gbeta):  # type: ignore[no-untyped-def]
    """g <- dL/dx in place; ggamma, gbeta written when affine."""
    for j in range(n):
        sg = 0.0
        sgx = 0.0
        for r in range(rows):
            sg += g[r * n + j]
            sgx += g[r * n + j] * xh[r * n + j]
        if affine:
            gbeta[j] = sg
            ggamma[j] = sgx
            c = gamma[j] * stats[2 * n + j] / rows
        else:
            c = stats[2 * n + j] / rows
        for r in range(rows):
            g[r * n + j] = c * (rows * g[r * n + j] - sg - xh[r * n + j] * sgx)


@kernel
def update_running(rows, n, momentum, stats, rmean, rvar):  # type: ignore[no-untyped-def]
    # unbiased variance as PyTorch; a single-row batch (which PyTorch refuses) keeps var 0
    unbias = rows / max(rows - 1, 1)
    for j in range(n):
        rmean[j] = (1.0 - momentum) * rmean[j] + momentum * stats[j]
        rvar[j] = (1.0 - momentum) * rvar[j] + momentum * stats[n + j] * unbias


# Over images (BatchNorm2d): x holds `rows` samples of c channels x hw positions (NCHW), the
# statistics of channel j over the m = rows*hw values x[r, j, p]; the formulas above with
# B replaced by m (running variance unbiased by m/(m-1): update_running with rows*hw).
# Indices are unsigned (U) in the loops over positions: see conv2d.py.
U = np.uint64


@kernel
def forward_train_2d(x, rows, c, hw, gamma, beta, affine, eps, xh, stats, y):  # type: ignore[no-untyped-def]
    one = x.dtype.type(1.0)
    n = c * hw
    m = rows * hw
    for j in range(c):
        s = 0.0
        for r in range(rows):
            base = U(r * n + j * hw)
            for q in range(U(hw)):
                s += x[base + q]
        mu = s / m
        acc = 0.0
        for r in range(rows):
            base = U(r * n + j * hw)
            for q in range(U(hw)):
                d = x[base + q] - mu
                acc += d * d
        var = acc / m
        inv = one / math.sqrt(var + eps)
        stats[j] = mu
        stats[c + j] = var
        stats[2 * c + j] = inv
        gj = gamma[j] if affine else one
        bj = beta[j] if affine else x.dtype.type(0.0)
        mu_t = x.dtype.type(mu)
        inv_t = x.dtype.type(inv)
        for r in range(rows):
            base = U(r * n + j * hw)
            for q in range(U(hw)):
                h = (x[base + q] - mu_t) * inv_t
                xh[base + q] = h
                y[base + q] = gj * h + bj


@kernel
def forward_eval_2d(x, rows, c, hw, gamma, beta, affine, eps, rmean, rvar, y):  # type: ignore[no-untyped-def]
    one = x.dtype.type(1.0)
    n = c * hw
    for j in range(c):
        inv = one / math.sqrt(rvar[j] + eps)
        gj = gamma[j] if affine else one
        bj = beta[j] if affine else x.dtype.type(0.0)
        mu = rmean[j]
        for r in range(rows):
            base = U(r * n + j * hw)
            for q in range(U(hw)):
                y[base + q] = gj * ((x[base + q] - mu) * inv) + bj


@kernel
def backward_2d(g, rows, c, hw, gamma, affine, xh, stats, ggamma, gbeta):  # type: ignore[no-untyped-def]
    """g <- dL/dx in place; ggamma, gbeta written when affine."""
    n = c * hw
    m = rows * hw
    for j in range(c):
        sg = 0.0
        sgx = 0.0
        for r in range(rows):
            base = U(r * n + j * hw)
            for q in range(U(hw)):
                sg += g[base + q]
                sgx += g[base + q] * xh[base + q]
        if affine:
            gbeta[j] = sg
            ggamma[j] = sgx
            k = gamma[j] * stats[2 * c + j] / m
        else:
            k = stats[2 * c + j] / m
        kt = g.dtype.type(k)
        mt, sgt, sgxt = g.dtype.type(m), g.dtype.type(sg), g.dtype.type(sgx)
        for r in range(rows):
            base = U(r * n + j * hw)
            for q in range(U(hw)):
                g[base + q] = kt * (mt * g[base + q] - sgt - xh[base + q] * sgxt)

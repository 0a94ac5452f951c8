"""backends.cpu.losses: (output, target) -> loss terms and dL/doutput, Numba.

The same losses as backends/reference/losses.py on flat (B, K) arrays: a is the network
output, z the last layer's pre-activation (used by the fused forms), y the targets as rows
(one-hot for categorical crossentropy), t the smoothed targets. e = a - y.

`loss_sum` returns S, the float64 sum of the per-element terms (per-row for categorical
crossentropy); the loss is `finish(S, B, K)`: S/(B K) (mse, mae, huber, bce),
sqrt(S/(B K)) (rmse), S/B (cce). A whole set evaluated chunk by chunk adds the S values.

    mse     term e^2                       grad 2 e / (B K)
    rmse    term e^2                       grad e / (B K L)   (0 when L = 0)
    mae     term |e|                       grad sign(e) / (B K)
    huber   term e^2/2 | d(|e| - d/2)      grad clip(e, -d, d) / (B K)
    bce     t = y (1-s) + s/2
      plain term -(t max(log a, -100) + (1-t) max(log(1-a), -100))
                                           grad (a - t) / max(a (1-a), 1e-12) / (B K)
      fused term max(z,0) - z t + log1p(exp(-|z|))      grad (a - t) / (B K), a = sigmoid(z)
            (computed as max(z,0) - z t - log1p(-min(a, 1-a)), from the forward's a)
    cce     t = y (1-s) + s/K, per row r:
      plain term -sum_k t_k max(log a_k, -100)
                                           grad -t_k / max(a_k, 1e-12) / B  (0 where clamped)
      softmax fused   term -sum_k t_k (z_k - logsumexp(z))   grad (a_k sum_j t_j - t_k) / B
                      (logsumexp(z) = max z - log(max a): from the forward's softmax; a
                      one-hot row of class c, unsmoothed: -log(a_c) while a_c >= 1e-30)
      log_softmax fused term -sum_k t_k a_k                 grad (exp(a_k) sum_j t_j - t_k) / B
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from nnspec.backends.cpu import blas, fpu
from nnspec.backends.cpu.approx import row_max
from nnspec.backends.cpu.jit import kernel, parallel_kernel
from nnspec.lower.plan import (
    FUSED_LOG_SOFTMAX_CCE,
    FUSED_SIGMOID_BCE,
    FUSED_SOFTMAX_CCE,
    L_BCE,
    L_CCE,
    L_HUBER,
    L_MAE,
    L_MSE,
    L_RMSE,
)

LOG_CLAMP = -100.0
GRAD_EPS = 1e-12
TINY = math.exp(LOG_CLAMP)


@kernel
def finish(code, s, rows, k):  # type: ignore[no-untyped-def]
    """The loss from the summed terms S of `rows` samples."""
    if code == L_CCE:
        return s / rows
    if code == L_RMSE:
        return math.sqrt(s / (rows * k))
    return s / (rows * k)


A_LOG_MIN = 1e-30  # the smallest a_c whose log the fused loss takes directly (float32's
# smallest normal number is ~1.2e-38)


@kernel
def one_hot_class(y, base, k):  # type: ignore[no-untyped-def]
    """c if y[base:base + k] is the one-hot row of class c, else -1 (branch-free counts, so
    the pass over the row vectorises)."""
    nonzero = 0
    where = 0
    b0 = np.uint64(base)  # unsigned indices: no negative-index wraparound to block LLVM
    for j in range(np.uint64(k)):
        nz = np.int64(y[b0 + j] != 0)
        nonzero += nz
        where += nz * np.int64(j)
    return where if nonzero == 1 and y[base + where] == 1.0 else -1


@kernel
def loss_sum(code, param, fused, z, a, y, rows, k):  # type: ignore[no-untyped-def]
    """S, the float64 sum of the loss terms over `rows` rows of k outputs."""
    s = 0.0
    size = rows * k
    if code == L_MSE or code == L_RMSE:
        for i in range(size):
            e = np.float64(a[i]) - np.float64(y[i])
            s += e * e
    elif code == L_MAE:
        for i in range(size):
            s += abs(np.float64(a[i]) - np.float64(y[i]))
    elif code == L_HUBER:
        for i in range(size):
            e = abs(np.float64(a[i]) - np.float64(y[i]))
            s += 0.5 * e * e if e <= param else param * (e - 0.5 * param)
    elif code == L_BCE and fused == FUSED_SIGMOID_BCE:
        for i in range(size):
            t = y[i] * (1.0 - param) + 0.5 * param
            zi = np.float64(z[i])
            # log1p(exp(-|z|)) = -log(sigmoid(|z|)) = -log1p(-r), r = min(a, 1 - a) with the
            # forward pass's a = sigmoid(z): one log1p instead of exp + log1p (r <= 1/2, so
            # no clamp; absolute error ~1e-16 in float64, that of a, ~3e-7, in float32)
            p = np.float64(a[i])
            s += max(zi, 0.0) - zi * t - math.log1p(-min(p, 1.0 - p))
    elif code == L_BCE:
        for i in range(size):
            t = y[i] * (1.0 - param) + 0.5 * param
            p = np.float64(a[i])
            lp = max(math.log(p), LOG_CLAMP) if p > 0 else LOG_CLAMP
            lq = max(math.log(1.0 - p), LOG_CLAMP) if p < 1 else LOG_CLAMP
            s -= t * lp + (1.0 - t) * lq
    elif code == L_CCE and fused == FUSED_SOFTMAX_CCE:
        for r in range(rows):
            base = r * k
            if param == 0.0:
                c = one_hot_class(y, base, k)
                if c >= 0 and a[base + c] >= A_LOG_MIN:
                    # a one-hot row: the term is lse - z_c = -log(a_c), as accurate as the
                    # form below while a_c is a normal number (a_c = exp(z_c - lse) rounded
                    # once or twice), and one pass over the row instead of three
                    s -= math.log(np.float64(a[base + c]))
                    continue
            # logsumexp(z) = m + log(s), s = sum_j exp(z_j - m), m = z_top the row's
            # maximum; the forward pass left a_top = exp(0) / s = 1 / s, the row's largest
            # a (every other a_j = e_j / s with e_j <= 1), so lse = max z - log(max a):
            # one log per row instead of k exps (a_top >= 1/k: no underflow; its rounding
            # adds ~1 ulp of the dtype to lse), and two maxima instead of a search for top
            lse = np.float64(row_max(z, base, k)) - math.log(np.float64(row_max(a, base, k)))
            for j in range(k):
                t = y[base + j] * (1.0 - param) + param / k
                s -= t * (np.float64(z[base + j]) - lse)
    elif code == L_CCE:
        for r in range(rows):
            base = r * k
            for j in range(k):
                t = y[base + j] * (1.0 - param) + param / k
                if fused == FUSED_LOG_SOFTMAX_CCE:
                    s -= t * np.float64(a[base + j])
                else:
                    p = np.float64(a[base + j])
                    s -= t * (max(math.log(p), LOG_CLAMP) if p > 0 else LOG_CLAMP)
    return s


@kernel
def loss_grad(code, param, fused, a, y, g, rows, k, loss):  # type: ignore[no-untyped-def]
    """g <- dL/da (or dL/dz for the fused forms) of the batch loss `loss`."""
    size = rows * k
    dt = g.dtype.type
    if code == L_CCE:
        inv_b = 1.0 / rows
        for r in range(rows):
            base = np.uint64(r * k)  # unsigned indices: the loops vectorise (one_hot_class)
            st = 0.0
            for j in range(np.uint64(k)):
                st += y[base + j] * (1.0 - param) + param / k
            if fused == FUSED_SOFTMAX_CCE:
                for j in range(np.uint64(k)):
                    t = y[base + j] * (1.0 - param) + param / k
                    g[base + j] = dt((np.float64(a[base + j]) * st - t) * inv_b)
            elif fused == FUSED_LOG_SOFTMAX_CCE:
                for j in range(np.uint64(k)):
                    t = y[base + j] * (1.0 - param) + param / k
                    g[base + j] = dt((math.exp(np.float64(a[base + j])) * st - t) * inv_b)
            else:
                for j in range(np.uint64(k)):
                    t = y[base + j] * (1.0 - param) + param / k
                    p = np.float64(a[base + j])
                    g[base + j] = dt(-t / max(p, GRAD_EPS) * inv_b if p > TINY else 0.0)
        return
    inv_n = 1.0 / size
    if code == L_MSE:
        for i in range(size):
            g[i] = dt(2.0 * (np.float64(a[i]) - np.float64(y[i])) * inv_n)
    elif code == L_RMSE:
        c = inv_n / loss if loss > 0 else 0.0
        for i in range(size):
            g[i] = dt((np.float64(a[i]) - np.float64(y[i])) * c)
    elif code == L_MAE:
        for i in range(size):
            e = np.float64(a[i]) - np.float64(y[i])
            g[i] = dt((1.0 if e > 0 else (-1.0 if e < 0 else 0.0)) * inv_n)
    elif code == L_HUBER:
        for i in range(size):
            e = np.float64(a[i]) - np.float64(y[i])
            g[i] = dt(min(max(e, -param), param) * inv_n)
    elif code == L_BCE:
        for i in range(size):
            t = y[i] * (1.0 - param) + 0.5 * param
            p = np.float64(a[i])
            if fused == FUSED_SIGMOID_BCE:
                g[i] = dt((p - t) * inv_n)
            else:
                g[i] = dt((p - t) / max(p * (1.0 - p), GRAD_EPS) * inv_n)



# -- class ids: the fused softmax-crossentropy without one-hot rows --------------------------


@kernel
def sparse_rows(z, a, ids, g, r0, r1, k, inv_b, terms, grad):  # type: ignore[no-untyped-def]
    """Rows [r0, r1) of the unsmoothed fused softmax-crossentropy against class ids (row r's
    class ids[r], in [0, k): the executable checked them): terms[r] what loss_sum adds to S
    for that row's one-hot target and, when grad, loss_grad's dL/dz (inv_b = 1 / the batch's
    rows) into g. The same arithmetic as those functions with t_j = 1 at the class and 0
    elsewhere (so sum_j t_j = 1), so the same values, without writing, reading and searching
    one-hot rows (5,000 values a sample for a 5,000-word vocabulary)."""
    dt = g.dtype.type
    uk = np.uint64(k)
    for r in range(r0, r1):
        base = np.uint64(r * k)  # unsigned indices: the loops vectorise (one_hot_class)
        c = np.uint64(ids[r])
        ac = np.float64(a[base + c])
        if ac >= A_LOG_MIN:
            terms[r] = -math.log(ac)
        else:  # loss_sum's general form (NaN when a z is not finite, as there)
            lse = np.float64(row_max(z, base, k)) - math.log(np.float64(row_max(a, base, k)))
            acc = 0.0
            for j in range(uk):
                t = 1.0 if j == c else 0.0
                acc -= t * (np.float64(z[base + j]) - lse)
            terms[r] = acc
        if grad:
            for j in range(uk):
                g[base + j] = dt(np.float64(a[base + j]) * inv_b)
            g[base + c] = dt((ac - 1.0) * inv_b)


@parallel_kernel
def _sparse_parts(parts, z, a, ids, g, rows, k, inv_b, terms, grad):  # type: ignore[no-untyped-def]
    mxcsr = fpu.get_mxcsr()  # the engine's denormal flushing, on every thread (fpu.py)
    for p in prange(parts):
        saved = fpu.get_mxcsr()
        fpu.set_mxcsr(mxcsr)
        q = np.int64(p)
        sparse_rows(z, a, ids, g, blas.bound(rows, parts, q), blas.bound(rows, parts, q + 1),
                    k, inv_b, terms, grad)
        fpu.set_mxcsr(saved)


@kernel(fastmath={"nsz", "arcp", "afn"})
def _in_order(terms):  # type: ignore[no-untyped-def]
    """terms' sum, added first to last (not reassociated: loss_sum's order)."""
    s = 0.0
    for r in range(terms.shape[0]):
        s += terms[r]
    return s


@kernel
def sparse_cce(parts, z, a, ids, g, rows, k, grad):  # type: ignore[no-untyped-def]
    """loss_sum's S of the unsmoothed fused softmax-crossentropy against one class id a row
    (ids[:rows]) and, when grad, loss_grad's dL/dz into g (sparse_rows), on `parts` threads
    by blocks of rows when > 1; S is added row by row in order, so it is the same whatever
    the threads."""
    terms = np.empty(rows, np.float64)
    inv_b = 1.0 / rows
    if parts > 1:
        _sparse_parts(parts, z, a, ids, g, rows, k, inv_b, terms, grad)
    else:
        sparse_rows(z, a, ids, g, 0, rows, k, inv_b, terms, grad)
    return _in_order(terms)

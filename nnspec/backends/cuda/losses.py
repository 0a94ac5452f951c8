"""backends.cuda.losses: (output, target) -> loss and dL/doutput in one launch, numba.cuda.

The same losses as backends/cpu/losses.py (formulas there), on the flat (B, K) regions of the
workspace: a the network output, z the last pre-activation (fused forms), y the targets.

`loss_grad` (training) is ONE single-block kernel per batch: each thread sums the float64
loss terms of rows tid, tid + T, ...; a shared-memory tree gives S; every thread then knows
the batch loss L = finish(S) (rmse's gradient needs it) and writes the gradient rows it owns
(dL/dz for the fused sigmoid/softmax/log_softmax forms). A non-finite L sets the chunk status
instead (slots.py). `loss_seed` is the same for one output of a graph (engine.py): its loss
into acc[slot], its seed weight x dL/d(output) written or added to its node's gradient region
(g = w * dL/da, in the dtype, as the cpu engine's graph_seeds). `loss_sum` (evaluation) adds
S of a chunk of rows to acc[S].
Thread mapping: one thread per batch row (strided by the block size), T = RED_THREADS.
"""

from __future__ import annotations

import functools
import math
from types import SimpleNamespace

import numpy as np
from numba import float64

from nnspec.backends.cuda import slots
from nnspec.backends.cuda.jit import RED_THREADS, cuda, device, kernel
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


@device
def finish(code, s, rows, k):  # type: ignore[no-untyped-def]
    """The loss from the summed terms S of `rows` samples."""
    if code == L_CCE:
        return s / rows
    if code == L_RMSE:
        return math.sqrt(s / (rows * k))
    return s / (rows * k)


@device
def block_sum(sh, tid, v):  # type: ignore[no-untyped-def]
    """Sum of v over the RED_THREADS threads of the block (tree in shared memory `sh`)."""
    sh[tid] = v
    cuda.syncthreads()
    step = RED_THREADS // 2
    while step > 0:
        if tid < step:
            sh[tid] += sh[tid + step]
        cuda.syncthreads()
        step //= 2
    total = sh[0]
    cuda.syncthreads()  # sh may be reused right after
    return total


@functools.cache
def build(dtype: str) -> SimpleNamespace:
    dt = np.dtype(dtype).type
    one = dt(1.0)
    nt = RED_THREADS

    @device
    def row_terms(code, param, fused, ws, z_off, a_off, y_off, r, k):  # type: ignore[no-untyped-def]
        """The float64 sum of row r's loss terms."""
        s = 0.0
        base = r * k
        if code == L_MSE or code == L_RMSE:
            for j in range(k):
                e = float64(ws[a_off + base + j]) - float64(ws[y_off + base + j])
                s += e * e
        elif code == L_MAE:
            for j in range(k):
                s += abs(float64(ws[a_off + base + j]) - float64(ws[y_off + base + j]))
        elif code == L_HUBER:
            for j in range(k):
                e = abs(float64(ws[a_off + base + j]) - float64(ws[y_off + base + j]))
                s += 0.5 * e * e if e <= param else param * (e - 0.5 * param)
        elif code == L_BCE:
            for j in range(k):
                t = ws[y_off + base + j] * (1.0 - param) + 0.5 * param
                if fused == FUSED_SIGMOID_BCE:
                    zi = float64(ws[z_off + base + j])
                    s += max(zi, 0.0) - zi * t + math.log1p(math.exp(-abs(zi)))
                else:
                    p = float64(ws[a_off + base + j])
                    lp = max(math.log(p), LOG_CLAMP) if p > 0 else LOG_CLAMP
                    lq = max(math.log(1.0 - p), LOG_CLAMP) if p < 1 else LOG_CLAMP
                    s -= t * lp + (1.0 - t) * lq
        elif code == L_CCE:
            lse = 0.0
            if fused == FUSED_SOFTMAX_CCE:
                m = float64(ws[z_off + base])
                for j in range(1, k):
                    m = max(m, float64(ws[z_off + base + j]))
                e = 0.0
                for j in range(k):
                    e += math.exp(float64(ws[z_off + base + j]) - m)
                lse = m + math.log(e)
            for j in range(k):
                t = ws[y_off + base + j] * (1.0 - param) + param / k
                if fused == FUSED_SOFTMAX_CCE:
                    s -= t * (float64(ws[z_off + base + j]) - lse)
                elif fused == FUSED_LOG_SOFTMAX_CCE:
                    s -= t * float64(ws[a_off + base + j])
                else:
                    p = float64(ws[a_off + base + j])
                    s -= t * (max(math.log(p), LOG_CLAMP) if p > 0 else LOG_CLAMP)
        return s

    @device
    def assign(g, i, v, w, add):  # type: ignore[no-untyped-def]
        """g[i] <- v (the chain's seed: w and add are not read)."""
        g[i] = v

    @device
    def put(g, i, v, w, add):  # type: ignore[no-untyped-def]
        """g[i] <- v (w = 1, add = 0), w v, or g[i] + w v (a graph output's seed)."""
        if add != 0:
            g[i] += w * v
        elif w != one:
            g[i] = w * v
        else:
            g[i] = v

    def make_row_grad(store):  # type: ignore[no-untyped-def]
        """row_grad writing through `store` (assign | put): two device functions, so the
        chain's kernel compiles to the code it had before graphs."""

        @device
        def row_grad(code, param, fused, ws, a_off, y_off, g, r, rows, k, loss, w, add):  # type: ignore[no-untyped-def]
            """g[r, :] <- dL/da (or dL/dz for the fused forms) of the batch loss `loss`, through
            `store` (w, add: see put)."""
            base = r * k
            if code == L_CCE:
                inv_b = 1.0 / rows
                st = 0.0
                for j in range(k):
                    st += ws[y_off + base + j] * (1.0 - param) + param / k
                for j in range(k):
                    t = ws[y_off + base + j] * (1.0 - param) + param / k
                    p = float64(ws[a_off + base + j])
                    if fused == FUSED_SOFTMAX_CCE:
                        store(g, base + j, dt((p * st - t) * inv_b), w, add)
                    elif fused == FUSED_LOG_SOFTMAX_CCE:
                        store(g, base + j, dt((math.exp(p) * st - t) * inv_b), w, add)
                    else:
                        v = -t / max(p, GRAD_EPS) * inv_b if p > TINY else 0.0
                        store(g, base + j, dt(v), w, add)
                return
            inv_n = 1.0 / (rows * k)
            for j in range(k):
                i = base + j
                e = float64(ws[a_off + i]) - float64(ws[y_off + i])
                if code == L_MSE:
                    store(g, i, dt(2.0 * e * inv_n), w, add)
                elif code == L_RMSE:
                    store(g, i, dt(e * (inv_n / loss if loss > 0 else 0.0)), w, add)
                elif code == L_MAE:
                    sign = 1.0 if e > 0 else (-1.0 if e < 0 else 0.0)
                    store(g, i, dt(sign * inv_n), w, add)
                elif code == L_HUBER:
                    store(g, i, dt(min(max(e, -param), param) * inv_n), w, add)
                elif code == L_BCE:
                    t = ws[y_off + i] * (1.0 - param) + 0.5 * param
                    p = float64(ws[a_off + i])
                    if fused == FUSED_SIGMOID_BCE:
                        store(g, i, dt((p - t) * inv_n), w, add)
                    else:
                        v = (p - t) / max(p * (1.0 - p), GRAD_EPS) * inv_n
                        store(g, i, dt(v), w, add)

        return row_grad

    row_grad = make_row_grad(assign)
    row_seed = make_row_grad(put)

    @kernel("void(int64, float64, int64, T[::1], int64, int64, int64, T[::1], int64, int64, "
            "int64, float64[::1], int64[::1])", dtype)
    def loss_grad(code, param, fused, ws, z_off, a_off, y_off, g, rows, k, batch, acc, ctl):  # type: ignore[no-untyped-def]
        """Batch loss into acc[LOSS] and its gradient into g; one block of RED_THREADS."""
        if ctl[slots.STATUS] != 0:
            return
        sh = cuda.shared.array(nt, float64)
        tid = cuda.threadIdx.x
        s = 0.0
        for r in range(tid, rows, nt):
            s += row_terms(code, param, fused, ws, z_off, a_off, y_off, r, k)
        loss = finish(code, block_sum(sh, tid, s), rows, k)
        if not math.isfinite(loss):
            if tid == 0:
                ctl[slots.STATUS] = 1
                ctl[slots.BAD] = batch
            return
        if tid == 0:
            acc[slots.LOSS] = loss
        for r in range(tid, rows, nt):
            row_grad(code, param, fused, ws, a_off, y_off, g, r, rows, k, loss, one, 0)

    @kernel("void(int64, float64, int64, T[::1], int64, int64, int64, T[::1], int64, int64, "
            "int64, float64[::1], int64[::1], float64, int64, int64)", dtype)
    def loss_seed(code, param, fused, ws, z_off, a_off, y_off, g, rows, k, batch, acc, ctl,  # type: ignore[no-untyped-def]
                  weight, add, slot):
        """loss_grad for one output of a graph: its loss into acc[slot], weight x its
        gradient written (add = 0) or added (add = 1) to g; one block of RED_THREADS."""
        if ctl[slots.STATUS] != 0:
            return
        sh = cuda.shared.array(nt, float64)
        tid = cuda.threadIdx.x
        s = 0.0
        for r in range(tid, rows, nt):
            s += row_terms(code, param, fused, ws, z_off, a_off, y_off, r, k)
        loss = finish(code, block_sum(sh, tid, s), rows, k)
        if not math.isfinite(loss):
            if tid == 0:
                ctl[slots.STATUS] = 1
                ctl[slots.BAD] = batch
            return
        if tid == 0:
            acc[slot] = loss
        w = dt(weight)
        for r in range(tid, rows, nt):
            row_seed(code, param, fused, ws, a_off, y_off, g, r, rows, k, loss, w, add)

    @kernel("void(int64, float64, int64, T[::1], int64, int64, int64, int64, int64, "
            "float64[::1])", dtype)
    def loss_sum(code, param, fused, ws, z_off, a_off, y_off, rows, k, acc):  # type: ignore[no-untyped-def]
        """acc[S] += the float64 sum of the loss terms of `rows` rows; one block."""
        sh = cuda.shared.array(nt, float64)
        tid = cuda.threadIdx.x
        s = 0.0
        for r in range(tid, rows, nt):
            s += row_terms(code, param, fused, ws, z_off, a_off, y_off, r, k)
        total = block_sum(sh, tid, s)
        if tid == 0:
            acc[slots.S] += total

    return SimpleNamespace(loss_grad=loss_grad, loss_seed=loss_seed, loss_sum=loss_sum)


def finish_host(code: int, s: float, rows: int, k: int) -> float:
    """finish() on the host, for evaluate's final sum."""
    if code == L_CCE:
        return s / rows
    if code == L_RMSE:
        return math.sqrt(s / (rows * k))  # s >= 0 (a sum of squares), NaN, or inf
    return s / (rows * k)

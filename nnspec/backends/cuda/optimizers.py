"""backends.cuda.optimizers: gradient check, clipping and ONE optimizer kernel per optimizer.

torch.optim's single-tensor formulas, as backends/cpu/optimizers.py (formulas there), over
the flat parameter buffer w, gradients g and moments `state` (n_state rows of n values,
flattened). Per batch:

1. `sum_squares`: RED_BLOCKS blocks write partial float64 sums of g^2 (the finiteness check,
   on the raw gradient) and of clip(g, -value, value)^2 (the norm clipping uses the
   value-clipped gradient, as on the CPU) to acc[PART..] (slots.py).
2. the optimizer's kernel (`sgd`, `rmsprop`, `adam` for adam and adamw, `adagrad`): every
   block first sums the partials in the same order (thread 0, into shared memory), so all
   blocks agree on finiteness and on the clip coefficient; a non-finite gradient or an
   earlier bad batch (ctl[STATUS]) makes the whole kernel a no-op, block 0 records the bad
   batch or the batch's books; then each thread clips and updates its parameters
   (grid-stride over n): g' = clip(g) * coef (+ wd w), moments, w.

Per-step scalars (lr / (1 - b1^t), ...) are computed on the host in float64 exactly as the
CPU kernel computes them and cast to the parameter dtype in the kernel, so float32 work
stays float32.
"""

from __future__ import annotations

import functools
import math
from types import SimpleNamespace

import numpy as np
from numba import float64

from nnspec.backends.cpu.optimizers import (
    H_ALPHA,
    H_AMSGRAD,
    H_BETA1,
    H_BETA2,
    H_CENTERED,
    H_DAMPENING,
    H_DECOUPLED,
    H_EPS,
    H_MOMENTUM,
    H_NESTEROV,
    H_WD,
    hyper_array,
    init_state,
)
from nnspec.backends.cuda import slots
from nnspec.backends.cuda.jit import RED_BLOCKS, RED_THREADS, cuda, device, kernel
from nnspec.backends.cuda.losses import block_sum
from nnspec.lower.plan import O_ADAGRAD, O_ADAM, O_RMSPROP, O_SGD, OptimizerPlan

__all__ = ["build", "device_hyper", "init_state", "step_scalars"]

def device_hyper(opt: OptimizerPlan) -> np.ndarray:
    """The CPU backend's float64 hyperparameters (H_DECOUPLED included)."""
    return hyper_array(opt)


def step_scalars(opt: OptimizerPlan, lr: float, t: int) -> tuple[float, float, float]:
    """(s0, s1, s2): the float64 per-step scalars of step t, as backends/cpu/optimizers.step
    computes them: sgd (lr, first step, 0), rmsprop (lr, 0, 0), adam/adamw (lr/(1-b1^t),
    1/sqrt(1-b2^t), 1 - lr wd), adagrad (lr/(1+(t-1) lr_decay), 0, 0)."""
    if opt.code == O_SGD:
        return float(lr), 1.0 if t == 1 else 0.0, 0.0
    if opt.code == O_ADAM:
        return (lr / (1.0 - opt.beta1**t), 1.0 / math.sqrt(1.0 - opt.beta2**t),
                1.0 - lr * opt.weight_decay)
    if opt.code == O_ADAGRAD:
        return lr / (1.0 + (t - 1) * opt.lr_decay), 0.0, 0.0
    return float(lr), 0.0, 0.0


STEP_SIG = ("void(T[::1], T[::1], T[::1], int64, float64[::1], float64, float64, float64, "
            "float64, float64, int64, int64, float64[::1], int64[::1], float64[::1])")


@device
def prologue(sh, acc, ctl, terms, clip_norm, batch, rows):  # type: ignore[no-untyped-def]
    """The clip coefficient (1.0 = none) of this batch, or -1.0 when the update is skipped.
    Block 0 books an applied batch: terms[k] = loss * rows of the chunk's k-th batch."""
    tid = cuda.threadIdx.x
    if tid == 0:
        s1 = 0.0
        s2 = 0.0
        for p in range(RED_BLOCKS):
            s1 += acc[slots.PART + 2 * p]
            s2 += acc[slots.PART + 2 * p + 1]
        sh[0] = s1
        sh[1] = s2
    cuda.syncthreads()
    raw = sh[0]
    clipped = sh[1]
    first = cuda.blockIdx.x == 0 and tid == 0
    if ctl[slots.STATUS] != 0:
        return -1.0
    if not math.isfinite(raw):
        if first:
            ctl[slots.STATUS] = 2
            ctl[slots.BAD] = batch
        return -1.0
    if first:
        term = acc[slots.LOSS] * rows
        acc[slots.LOSS_TOTAL] += term
        terms[ctl[slots.DONE]] = term
        ctl[slots.DONE] += 1
        ctl[slots.SAMPLES] += rows
    if clip_norm > 0:
        return min(clip_norm / (math.sqrt(clipped) + 1e-6), 1.0)
    return 1.0


@functools.cache
def build(dtype: str) -> SimpleNamespace:
    dt = np.dtype(dtype).type

    @device
    def clipped(g, i, value, coef):  # type: ignore[no-untyped-def]
        """g[i] clipped by value, then scaled by the norm coefficient (both when on)."""
        gi = g[i]
        if value > 0:
            v = dt(value)
            gi = min(max(gi, -v), v)
        if coef < 1.0:
            gi = gi * dt(coef)
        return gi

    @kernel("void(T[::1], int64, float64, float64[::1], int64[::1])", dtype)
    def sum_squares(g, n, value, acc, ctl):  # type: ignore[no-untyped-def]
        """acc[PART + 2b] = block b's sum of g^2, acc[PART + 2b + 1] of clip(g)^2."""
        sh = cuda.shared.array(RED_THREADS, float64)
        tid = cuda.threadIdx.x
        if ctl[slots.STATUS] != 0:
            return
        s1 = 0.0
        s2 = 0.0
        v = dt(value)
        for i in range(cuda.grid(1), n, cuda.gridsize(1)):
            x = float64(g[i])
            s1 += x * x
            if value > 0:
                x = float64(min(max(g[i], -v), v))
            s2 += x * x
        t1 = block_sum(sh, tid, s1)
        t2 = block_sum(sh, tid, s2)
        if tid == 0:
            acc[slots.PART + 2 * cuda.blockIdx.x] = t1
            acc[slots.PART + 2 * cuda.blockIdx.x + 1] = t2

    @kernel(STEP_SIG, dtype)
    def sgd(w, g, state, n, h, s0, s1, s2, value, norm, batch, rows, acc, ctl, terms):  # type: ignore[no-untyped-def]
        """v = g' (first step) | mom v + (1 - damp) g';  w -= lr (g' + mom v | v)."""
        sh = cuda.shared.array(2, float64)
        coef = prologue(sh, acc, ctl, terms, norm, batch, rows)
        if coef < 0:
            return
        wd = dt(h[H_WD])
        has_wd = h[H_WD] != 0.0
        mom = dt(h[H_MOMENTUM])
        damp = dt(1.0 - h[H_DAMPENING])
        lr_ = dt(s0)
        use_mom = h[H_MOMENTUM] != 0.0
        nesterov = h[H_NESTEROV] != 0.0
        first = s1 != 0.0
        for i in range(cuda.grid(1), n, cuda.gridsize(1)):
            gi = clipped(g, i, value, coef)
            if has_wd:
                gi = gi + wd * w[i]
            if not use_mom:
                w[i] -= lr_ * gi
            else:
                vi = gi if first else mom * state[i] + damp * gi
                state[i] = vi
                w[i] -= lr_ * (gi + mom * vi if nesterov else vi)

    @kernel(STEP_SIG, dtype)
    def rmsprop(w, g, state, n, h, s0, s1, s2, value, norm, batch, rows, acc, ctl, terms):  # type: ignore[no-untyped-def]
        """s = alpha s + (1-alpha) g'^2; centered c; momentum buffer b (state rows 0, 1, 2)."""
        sh = cuda.shared.array(2, float64)
        coef = prologue(sh, acc, ctl, terms, norm, batch, rows)
        if coef < 0:
            return
        wd = dt(h[H_WD])
        has_wd = h[H_WD] != 0.0
        alpha = dt(h[H_ALPHA])
        one_m = dt(1.0 - h[H_ALPHA])
        eps = dt(h[H_EPS])
        mom = dt(h[H_MOMENTUM])
        lr_ = dt(s0)
        centered = h[H_CENTERED] != 0.0
        use_mom = h[H_MOMENTUM] > 0.0
        for i in range(cuda.grid(1), n, cuda.gridsize(1)):
            gi = clipped(g, i, value, coef)
            if has_wd:
                gi = gi + wd * w[i]
            s = alpha * state[i] + one_m * gi * gi
            state[i] = s
            if centered:
                c = state[n + i] + one_m * (gi - state[n + i])
                state[n + i] = c
                d = math.sqrt(s - c * c) + eps
            else:
                d = math.sqrt(s) + eps
            if use_mom:
                b = mom * state[2 * n + i] + gi / d
                state[2 * n + i] = b
                w[i] -= lr_ * b
            else:
                w[i] -= lr_ * (gi / d)

    @kernel(STEP_SIG, dtype)
    def adam(w, g, state, n, h, s0, s1, s2, value, norm, batch, rows, acc, ctl, terms):  # type: ignore[no-untyped-def]
        """m, v, vmax (state rows 0, 1, 2); adamw decays w by s2 = 1 - lr wd first."""
        sh = cuda.shared.array(2, float64)
        coef = prologue(sh, acc, ctl, terms, norm, batch, rows)
        if coef < 0:
            return
        wd = dt(h[H_WD])
        has_wd = h[H_WD] != 0.0
        one_m1 = dt(1.0 - h[H_BETA1])
        b2_ = dt(h[H_BETA2])
        one_m2 = dt(1.0 - h[H_BETA2])
        step_size = dt(s0)
        inv_bc2 = dt(s1)
        decay = dt(s2)
        eps = dt(h[H_EPS])
        decoupled = h[H_DECOUPLED] != 0.0
        amsgrad = h[H_AMSGRAD] != 0.0
        for i in range(cuda.grid(1), n, cuda.gridsize(1)):
            gi = clipped(g, i, value, coef)
            if decoupled:
                wi = w[i] * decay if has_wd else w[i]
            else:
                wi = w[i]
                if has_wd:
                    gi = gi + wd * wi
            mi = state[i] + one_m1 * (gi - state[i])
            vi = b2_ * state[n + i] + one_m2 * gi * gi
            state[i] = mi
            state[n + i] = vi
            if amsgrad:
                vi = max(state[2 * n + i], vi)
                state[2 * n + i] = vi
            w[i] = wi - step_size * (mi / (math.sqrt(vi) * inv_bc2 + eps))

    @kernel(STEP_SIG, dtype)
    def adagrad(w, g, state, n, h, s0, s1, s2, value, norm, batch, rows, acc, ctl, terms):  # type: ignore[no-untyped-def]
        """s += g'^2;  w -= clr g'/(sqrt(s) + eps)."""
        sh = cuda.shared.array(2, float64)
        coef = prologue(sh, acc, ctl, terms, norm, batch, rows)
        if coef < 0:
            return
        wd = dt(h[H_WD])
        has_wd = h[H_WD] != 0.0
        clr = dt(s0)
        eps = dt(h[H_EPS])
        for i in range(cuda.grid(1), n, cuda.gridsize(1)):
            gi = clipped(g, i, value, coef)
            if has_wd:
                gi = gi + wd * w[i]
            si = state[i] + gi * gi
            state[i] = si
            w[i] -= clr * (gi / (math.sqrt(si) + eps))

    return SimpleNamespace(sum_squares=sum_squares, steps={
        O_SGD: sgd, O_RMSPROP: rmsprop, O_ADAM: adam, O_ADAGRAD: adagrad})

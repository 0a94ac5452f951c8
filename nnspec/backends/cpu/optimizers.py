"""backends.cpu.optimizers: (params, grads, moments) -> clipped, updated params and moments.

torch.optim's single-tensor formulas (as backends/reference/optimizers.py), one fused pass
over all n parameters; w params, g grads, state (n_state, n) moments (layout in
lower/plan.OptimizerPlan), t the step counted from 1, wd the weight decay:

    g'   = g + wd w                         (unless the decay is decoupled: adamw)
    sgd:      v = g' (t = 1) | mom v + (1 - damp) g';   w -= lr (g' + mom v | v)
    rmsprop:  s = alpha s + (1-alpha) g'^2;  c = c + (1-alpha)(g' - c) (centered);
              d = sqrt(s - c^2 | s) + eps;  b = mom b + g'/d, w -= lr b  |  w -= lr g'/d
    adam(w):  w *= 1 - lr wd (adamw);  m = m + (1-b1)(g' - m);  v = b2 v + (1-b2) g'^2;
              vmax = max(vmax, v) (amsgrad);  d = sqrt(v | vmax)/sqrt(1-b2^t) + eps;
              w -= lr/(1-b1^t) m/d
    adagrad:  s += g'^2;  w -= lr/(1+(t-1) lr_decay) g'/(sqrt(s) + eps)
    clip:     g = clip(g, -value, value); then if ||g|| > norm: g *= norm/(||g|| + 1e-6)

Per-step scalars are computed in float64 and cast to the parameter dtype, so float32 work
stays float32 (as torch computes it).
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from nnspec.backends.cpu import blas, fpu
from nnspec.backends.cpu.jit import kernel, parallel_kernel
from nnspec.lower.plan import O_ADAGRAD, O_ADAM, O_RMSPROP, O_SGD, OptimizerPlan

# Layout of the hyperparameter array passed to `step`.
H_MOMENTUM, H_DAMPENING, H_NESTEROV, H_WD, H_ALPHA, H_CENTERED, H_BETA1, H_BETA2, H_AMSGRAD, \
    H_EPS, H_LR_DECAY, H_DECOUPLED = range(12)


def hyper_array(opt: OptimizerPlan) -> np.ndarray:
    """The Plan's hyperparameters as the float64 array the kernels index (H_*);
    H_DECOUPLED is 1 when weight decay is decoupled (w *= 1 - lr wd, g unchanged)."""
    h = np.zeros(12, dtype=np.float64)
    h[H_MOMENTUM], h[H_DAMPENING], h[H_NESTEROV] = opt.momentum, opt.dampening, opt.nesterov
    h[H_WD], h[H_ALPHA], h[H_CENTERED] = opt.weight_decay, opt.alpha, opt.centered
    h[H_BETA1], h[H_BETA2], h[H_AMSGRAD] = opt.beta1, opt.beta2, opt.amsgrad
    h[H_EPS], h[H_LR_DECAY] = opt.eps, opt.lr_decay
    h[H_DECOUPLED] = 1.0 if opt.decoupled else 0.0
    return h


def init_state(opt: OptimizerPlan, n: int, dtype: str) -> np.ndarray:
    state = np.zeros((opt.n_state, n), dtype=dtype)
    if opt.code == O_ADAGRAD:
        state[0] = opt.initial_accumulator_value
    return state


@kernel
def sum_squares(g):  # type: ignore[no-untyped-def]
    """sum g^2 in float64: finite iff every g is finite (no overflow below 1e154)."""
    s = 0.0
    for i in range(g.shape[0]):
        x = np.float64(g[i])
        s += x * x
    return s


@kernel
def check(g, squares):  # type: ignore[no-untyped-def]
    """sum_squares(g) when `squares` (the clip norm needs it), else sum g*0: 0.0 when every g
    is finite, NaN when one is NaN or inf (inf*0 is NaN). Either is finite iff g is. The
    float64 sum of squares runs at ~2.5 values per cycle (the float32 -> float64 conversion
    and the adds); g*0 summed in the plan dtype vectorises ~4x faster, which matters on large
    models (0.09 ms per step of 670k parameters)."""
    if squares:
        return sum_squares(g)
    zero = g.dtype.type(0.0)
    acc = zero
    for i in range(g.shape[0]):
        acc += g[i] * zero  # not folded to 0: the JIT options allow NaN/inf (jit.py)
    return np.float64(acc)


@kernel
def clip(g, value, norm, squares):  # type: ignore[no-untyped-def]
    """Clip in place: by value, then by global L2 norm (0 = off). squares: sum_squares(g)
    before clipping (saves a pass when only the norm is clipped)."""
    if value > 0:
        v = g.dtype.type(value)
        for i in range(g.shape[0]):
            g[i] = min(max(g[i], -v), v)
        squares = sum_squares(g)
    if norm > 0:
        total = math.sqrt(squares)
        coef = norm / (total + 1e-6)
        if coef < 1.0:
            c = g.dtype.type(coef)
            for i in range(g.shape[0]):
                g[i] = g[i] * c


@kernel
def rows(state):  # type: ignore[no-untyped-def]
    """The optimizer state's rows s0, s1, s2 as 1-D views (empty for the rows it lacks)."""
    flat = state.reshape(-1)
    n = state.shape[1]
    k = state.shape[0]
    return (flat[:n] if k > 0 else flat[:0], flat[n:2 * n] if k > 1 else flat[:0],
            flat[2 * n:3 * n] if k > 2 else flat[:0])


@kernel
def step(code, w, g, state, h, lr, t):  # type: ignore[no-untyped-def]
    """One update of w (and state) in place for step t >= 1."""
    s0, s1, s2 = rows(state)
    step_rows(code, w, g, s0, s1, s2, h, lr, t)


@parallel_kernel
def step_parts(parts, code, w, g, s0, s1, s2, h, lr, t):  # type: ignore[no-untyped-def]
    """step_rows on `parts` threads, each updating a block of the parameters (every
    parameter's update is independent of the others: the same formulas as one pass)."""
    n = w.shape[0]
    mxcsr = fpu.get_mxcsr()  # the engine's denormal flushing, on every thread (fpu.py)
    for p in prange(parts):
        saved = fpu.get_mxcsr()
        fpu.set_mxcsr(mxcsr)
        q = np.int64(p)  # (prange's index is unsigned: one compiled bound, not two)
        lo = blas.bound(n, parts, q)
        hi = blas.bound(n, parts, q + 1)
        step_rows(code, w[lo:hi], g[lo:hi], s0[lo:hi] if s0.size else s0,
                  s1[lo:hi] if s1.size else s1, s2[lo:hi] if s2.size else s2, h, lr, t)
        fpu.set_mxcsr(saved)


@kernel
def step_rows(code, w, g, s0, s1, s2, h, lr, t):  # type: ignore[no-untyped-def]
    """The update of w given its optimizer state rows s0, s1, s2 (rows(state)): the engine
    takes the rows once per chunk (taking them per batch made the tiny benchmark's 6 us step
    3% slower).

    The loops are branch-free (an option that is off multiplies by 0 or 1, which is exact
    for finite values) or split per option, so LLVM vectorises them: a branch inside the
    loop made the Adam update 8x slower.
    """
    dt = w.dtype.type
    n = w.shape[0]
    decoupled = h[H_DECOUPLED] != 0.0
    l2 = dt(0.0 if decoupled else h[H_WD])  # L2 added to the gradient
    lr_ = dt(lr)
    if code == O_SGD:
        if h[H_MOMENTUM] == 0.0:
            for i in range(n):
                w[i] -= lr_ * (g[i] + l2 * w[i])
        else:
            v = s0
            first = t == 1
            # v = g at t = 1 (torch), else mom v + (1 - damp) g
            mom_v = dt(0.0 if first else h[H_MOMENTUM])
            damp = dt(1.0 if first else 1.0 - h[H_DAMPENING])
            # nesterov: step = g + mom v; else step = v
            c_g = dt(1.0 if h[H_NESTEROV] != 0.0 else 0.0)
            c_v = dt(h[H_MOMENTUM] if h[H_NESTEROV] != 0.0 else 1.0)
            for i in range(n):
                gi = g[i] + l2 * w[i]
                vi = mom_v * v[i] + damp * gi
                v[i] = vi
                w[i] -= lr_ * (c_g * gi + c_v * vi)
    elif code == O_RMSPROP:
        alpha = dt(h[H_ALPHA])
        one_m = dt(1.0 - h[H_ALPHA])
        c_avg = dt(1.0 - h[H_ALPHA] if h[H_CENTERED] != 0.0 else 0.0)  # grad avg stays 0 if off
        eps = dt(h[H_EPS])
        mom = dt(h[H_MOMENTUM])
        sq, ga, buf = s0, s1, s2
        if h[H_MOMENTUM] > 0.0:
            for i in range(n):
                gi = g[i] + l2 * w[i]
                s = alpha * sq[i] + one_m * gi * gi
                c = ga[i] + c_avg * (gi - ga[i])
                sq[i] = s
                ga[i] = c
                b = mom * buf[i] + gi / (math.sqrt(s - c * c) + eps)
                buf[i] = b
                w[i] -= lr_ * b
        else:
            for i in range(n):
                gi = g[i] + l2 * w[i]
                s = alpha * sq[i] + one_m * gi * gi
                c = ga[i] + c_avg * (gi - ga[i])
                sq[i] = s
                ga[i] = c
                w[i] -= lr_ * (gi / (math.sqrt(s - c * c) + eps))
    elif code == O_ADAM:
        b1 = h[H_BETA1]
        b2 = h[H_BETA2]
        one_m1 = dt(1.0 - b1)
        b2_ = dt(b2)
        one_m2 = dt(1.0 - b2)
        step_size = dt(lr / (1.0 - b1**t))
        inv_bc2 = dt(1.0 / math.sqrt(1.0 - b2**t))
        eps = dt(h[H_EPS])
        decay = dt(1.0 - lr * h[H_WD] if decoupled else 1.0)  # decoupled decay (adamw)
        m, v, vmax = s0, s1, s2
        if h[H_AMSGRAD] != 0.0:
            for i in range(n):
                wi = w[i] * decay
                gi = g[i] + l2 * wi
                mi = m[i] + one_m1 * (gi - m[i])
                vi = b2_ * v[i] + one_m2 * gi * gi
                m[i] = mi
                v[i] = vi
                vm = max(vmax[i], vi)
                vmax[i] = vm
                w[i] = wi - step_size * (mi / (math.sqrt(vm) * inv_bc2 + eps))
        else:
            for i in range(n):
                wi = w[i] * decay
                gi = g[i] + l2 * wi
                mi = m[i] + one_m1 * (gi - m[i])
                vi = b2_ * v[i] + one_m2 * gi * gi
                m[i] = mi
                v[i] = vi
                w[i] = wi - step_size * (mi / (math.sqrt(vi) * inv_bc2 + eps))
    elif code == O_ADAGRAD:
        clr = dt(lr / (1.0 + (t - 1) * h[H_LR_DECAY]))
        eps = dt(h[H_EPS])
        s = s0
        for i in range(n):
            gi = g[i] + l2 * w[i]
            si = s[i] + gi * gi
            s[i] = si
            w[i] -= clr * (gi / (math.sqrt(si) + eps))

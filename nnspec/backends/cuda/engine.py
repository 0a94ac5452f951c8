"""backends.cuda.engine: layer tables + device buffers -> trained parameters, kernel launches.

The CPU engine (backends/cpu/engine.py) interprets the plan inside one compiled function; a
GPU is driven from the host instead, so this engine is a host loop that only LAUNCHES: per
batch it gathers the rows order[kB:(k+1)B] of the device-resident data into the workspace,
runs forward (a product and a fused bias+activation kernel per dense layer), the fused
loss+gradient kernel, backward (fused activation-gradient + bias-gradient, two products),
the gradient check and the one optimizer kernel, then the batchnorm running statistics.
Nothing is copied back until the chunk ends: loss sums, the step count and the non-finite
stop are kept on the device (slots.py), so the host never waits on the GPU within a chunk.
The workspace layout is the CPU engine's own (backends/cpu/layout.py).

About 5 launches per dense layer and 3 per batch: `tiny` models are launch-bound on a GPU.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from nnspec.backends.cpu.layout import (
    A_OFF,
    ACT,
    AFFINE,
    AUX_OFF,
    B_OFF,
    EPS,
    HAS_BIAS,
    IN_OFF,
    KIND,
    MOMENTUM,
    N_IN,
    N_OUT,
    P0,
    P1,
    RATE,
    RM_OFF,
    RV_OFF,
    STAT_OFF,
    W_OFF,
    Z_OFF,
    Layout,
    layout,
)
from nnspec.backends.cuda import activations, batchnorm, dense, dropout, losses, optimizers
from nnspec.backends.cuda.jit import BLOCK, RED_BLOCKS, RED_THREADS, cuda, grid, kernel
from nnspec.lower.plan import (
    A_LINEAR,
    ACTIVATION,
    BATCHNORM,
    DENSE,
    DROPOUT,
    FUSED_NONE,
    ROWWISE_ACTS,
    Plan,
)


@functools.cache
def build(dtype: str) -> SimpleNamespace:
    """Every kernel the engine launches, for one dtype."""

    @kernel("void(T[::1], T[::1], int64[::1], int64, int64, int64, int64, T[::1], int64)",
            dtype)
    def gather(x, y, order, r0, rows, n_in, k, ws, y_off):  # type: ignore[no-untyped-def]
        """ws[r, :] = x[order[r0 + r], :], ws[y_off + (r, :)] = y[order[r0 + r], :]."""
        width = n_in + k
        for i in range(cuda.grid(1), rows * width, cuda.gridsize(1)):
            r = i // width
            j = i - r * width
            src = order[r0 + r]
            if j < n_in:
                ws[r * n_in + j] = x[src * n_in + j]
            else:
                ws[y_off + r * k + j - n_in] = y[src * k + j - n_in]

    @kernel("void(T[::1], int64, T[::1], int64, int64)", dtype)
    def copy(src, src_off, dst, dst_off, size):  # type: ignore[no-untyped-def]
        """dst[dst_off + i] = src[src_off + i] (contiguous rows in and out of the workspace)."""
        for i in range(cuda.grid(1), size, cuda.gridsize(1)):
            dst[dst_off + i] = src[src_off + i]

    return SimpleNamespace(gather=gather, copy=copy, act=activations.build(dtype),
                           dense=dense.build(dtype), drop=dropout.build(dtype),
                           bn=batchnorm.build(dtype), loss=losses.build(dtype),
                           opt=optimizers.build(dtype))


@dataclass(frozen=True)
class LayerRow:
    """One row of the CPU engine's tables as Python numbers (no numpy scalars per launch)."""

    kind: int
    n_in: int
    n: int
    act: int
    has_bias: int
    w_off: int
    b_off: int
    rm_off: int
    rv_off: int
    affine: int
    in_off: int
    z_off: int
    a_off: int
    aux_off: int
    stat_off: int
    p0: float
    p1: float
    rate: float
    momentum: float
    eps: float
    keep_col: int  # dropout: mask values of earlier dropout layers per sample


class Work:
    """A layout and its device buffers for batches of up to `rows` samples."""

    def __init__(self, plan: Plan, rows: int, dtype: str):
        self.layout: Layout = layout(plan, rows)
        lay = self.layout
        self.ws = cuda.to_device(np.zeros(max(1, lay.ws_size), dtype=dtype))
        self.g1 = cuda.to_device(np.zeros(max(1, lay.g_size), dtype=dtype))
        self.g2 = cuda.to_device(np.zeros(max(1, lay.g_size), dtype=dtype))
        self.layers: list[LayerRow] = []
        col = 0
        for i, row in enumerate(lay.itab):
            f = lay.ftab[i]
            r = [int(v) for v in row]
            self.layers.append(LayerRow(
                r[KIND], r[N_IN], r[N_OUT], r[ACT], r[HAS_BIAS], max(r[W_OFF], 0),
                max(r[B_OFF], 0), max(r[RM_OFF], 0), max(r[RV_OFF], 0), r[AFFINE], r[IN_OFF],
                r[Z_OFF], r[A_OFF], r[AUX_OFF], r[STAT_OFF], float(f[P0]), float(f[P1]),
                float(f[RATE]), float(f[MOMENTUM]), float(f[EPS]), col))
            if r[KIND] == DROPOUT and f[RATE] > 0:
                col += r[N_OUT]
        last = self.layers[-1]
        self.z_out = last.z_off if last.kind == DENSE else last.in_off


def keep_width(plan: Plan) -> int:
    """Mask values per sample: the widths of the dropout layers with rate > 0."""
    return sum(la.n_out for la in plan.layers if la.kind == DROPOUT and la.rate > 0)


class Engine:
    """The launch sequences of one plan (see the module docstring)."""

    def __init__(self, plan: Plan, gemm: Any):
        self.plan = plan
        self.k = build(plan.dtype)
        self.gemm = gemm
        self.step_kernel = self.k.opt.steps[plan.optimizer.code]

    # forward / backward -----------------------------------------------------------------
    def forward(self, w: Work, rows: int, training: bool, params: Any, buffers: Any,
                keep: Any = None, keep_base: int = 0) -> None:
        k, ws = self.k, w.ws
        for la in w.layers:
            n = la.n
            if la.kind == DENSE:
                # z = x @ w.T: A = x (rows, n_in), B(i, o) = w[o, i]
                self.gemm(ws, la.in_off, la.n_in, 1, params, la.w_off, 1, la.n_in, ws, la.z_off,
                          n, rows, n, la.n_in)
                if la.has_bias or la.act != A_LINEAR:
                    k.act.forward[self._act_grid(la.act, rows, n), BLOCK](
                        la.act, la.p0, la.p1, ws, la.z_off, la.a_off, params, la.b_off,
                        la.has_bias, rows, n)
            elif la.kind == ACTIVATION:
                k.act.forward[self._act_grid(la.act, rows, n), BLOCK](
                    la.act, la.p0, la.p1, ws, la.in_off, la.a_off, params, 0, 0, rows, n)
            elif la.kind == DROPOUT:
                if training and la.rate > 0.0:
                    k.drop.forward[grid(rows * n), BLOCK](
                        ws, la.in_off, la.a_off, keep, keep_base + rows * la.keep_col,
                        1.0 / (1.0 - la.rate), rows * n)
                else:
                    k.drop.copy[grid(rows * n), BLOCK](ws, la.in_off, la.a_off, rows * n)
            elif la.kind == BATCHNORM:
                if training:
                    k.bn.forward_train[grid(n), BLOCK](
                        ws, la.in_off, la.a_off, la.aux_off, la.stat_off, rows, n, params,
                        la.w_off, la.b_off, la.affine, la.eps)
                else:
                    k.bn.forward_eval[grid(n), BLOCK](
                        ws, la.in_off, la.a_off, rows, n, params, la.w_off, la.b_off,
                        la.affine, buffers, la.rm_off, la.rv_off, la.eps)

    @staticmethod
    def _act_grid(code: int, rows: int, n: int) -> int:
        return grid(rows) if code in ROWWISE_ACTS else grid(rows * n)

    def backward(self, w: Work, rows: int, params: Any, grad: Any, keep: Any,
                 keep_base: int) -> None:
        """dL/d(params) into grad, given dL/d(output) (dL/dz if fused) in w.g1."""
        k, ws = self.k, w.ws
        cur, other = w.g1, w.g2
        last = len(w.layers) - 1
        fused = self.plan.fused != FUSED_NONE
        for i in range(last, -1, -1):
            la = w.layers[i]
            n = la.n
            code = A_LINEAR if fused and i == last else la.act
            if la.kind == DENSE:
                if code in ROWWISE_ACTS:
                    k.act.backward[grid(rows), BLOCK](code, la.p0, la.p1, ws, la.z_off,
                                                      la.a_off, cur, rows, n)
                    code = A_LINEAR
                if code != A_LINEAR or la.has_bias:
                    dense.launch_bias_grad(k.dense, code, la.p0, la.p1, ws, la.z_off,
                                           la.a_off, cur, grad, la.b_off, la.has_bias, rows, n)
                # gw = gz.T @ x: A(o, r) = gz[r, o], B = x (rows, n_in)
                self.gemm(cur, 0, 1, n, ws, la.in_off, la.n_in, 1, grad, la.w_off, la.n_in,
                          n, la.n_in, rows)
                if i > 0:  # gx = gz @ w
                    self.gemm(cur, 0, n, 1, params, la.w_off, la.n_in, 1, other, 0, la.n_in,
                              rows, la.n_in, n)
                cur, other = other, cur
            elif la.kind == ACTIVATION:
                if code != A_LINEAR:
                    k.act.backward[self._act_grid(code, rows, n), BLOCK](
                        code, la.p0, la.p1, ws, la.in_off, la.a_off, cur, rows, n)
            elif la.kind == DROPOUT:
                if la.rate > 0.0:
                    k.drop.backward[grid(rows * n), BLOCK](
                        cur, keep, keep_base + rows * la.keep_col, 1.0 / (1.0 - la.rate),
                        rows * n)
            elif la.kind == BATCHNORM:
                k.bn.backward[grid(n), BLOCK](ws, cur, la.aux_off, la.stat_off, rows, n, params,
                                              grad, la.w_off, la.b_off, la.affine)

    # one training batch -----------------------------------------------------------------
    def batch(self, w: Work, x: Any, y: Any, order: Any, b: int, r0: int, rows: int,
              lr: float, t: int, s: Any, keep: Any, keep_base: int) -> None:
        """Everything of batch b (rows order[r0:r0+rows]); `s` holds the executable's device
        buffers (params, grad, buffers, state, hyper, acc, ctl, terms)."""
        plan, k = self.plan, self.k
        lay = w.layout
        n_out = plan.n_outputs
        k.gather[grid(rows * (plan.n_inputs + n_out)), BLOCK](
            x, y, order, r0, rows, plan.n_inputs, n_out, w.ws, lay.y_off)
        self.forward(w, rows, True, s.params, s.buffers, keep, keep_base)
        k.loss.loss_grad[1, RED_THREADS](plan.loss, plan.loss_param, plan.fused, w.ws, w.z_out,
                                         lay.out_off, lay.y_off, w.g1, rows, n_out, b, s.acc,
                                         s.ctl)
        self.backward(w, rows, s.params, s.grad, keep, keep_base)
        n = plan.n_params
        k.opt.sum_squares[RED_BLOCKS, RED_THREADS](s.grad, n, plan.clip_value, s.acc, s.ctl)
        s0, s1, s2 = optimizers.step_scalars(plan.optimizer, lr, t)
        self.step_kernel[grid(n), BLOCK](s.params, s.grad, s.state, n, s.hyper, s0, s1, s2,
                                         plan.clip_value, plan.clip_norm, b, rows, s.acc,
                                         s.ctl, s.terms)
        for la in w.layers:
            if la.kind == BATCHNORM:
                k.bn.update_running[grid(la.n), BLOCK](w.ws, la.stat_off, rows, la.n,
                                                       la.momentum, s.buffers, la.rm_off,
                                                       la.rv_off, s.ctl)

    # evaluation -------------------------------------------------------------------------
    def eval_rows(self, w: Work, x: Any, r0: int, rows: int, s: Any) -> None:
        """Forward in eval mode of rows [r0, r0 + rows) of the flat device inputs x."""
        n_in = self.plan.n_inputs
        self.k.copy[grid(rows * n_in), BLOCK](x, r0 * n_in, w.ws, 0, rows * n_in)
        self.forward(w, rows, False, s.params, s.buffers)


def draw_masks(plan: Plan, rng: np.random.Generator, batch: int, n_total: int, b0: int,
               b1: int, width: int) -> np.ndarray:
    """Keep bits (uint8) of batches [b0, b1): per batch, per dropout layer, row-major, drawn
    as the CPU backend draws them (u = rng.random(), keep = u >= rate)."""
    sizes = [min(batch, n_total - b * batch) for b in range(b0, b1)]
    u = rng.random(sum(sizes) * width)
    rates = [(la.n_out, la.rate) for la in plan.layers if la.kind == DROPOUT and la.rate > 0]
    keep = np.empty(u.shape[0], dtype=np.uint8)
    pos = 0
    for rows in sizes:
        for n, rate in rates:
            seg = slice(pos, pos + rows * n)
            keep[seg] = u[seg] >= rate
            pos += rows * n
    return keep

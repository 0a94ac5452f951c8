"""backends.cpu.layout: Plan -> the int/float layer tables and workspace offsets of the engine.

The engine (backends/cpu/engine.py) interprets the plan: one row per layer in an int64 table
`itab` and a float64 table `ftab`, plus one flat workspace `ws` holding every activation of
a batch of up to `rows` samples. A layer's tensors are prefixes of its workspace regions,
so a shorter last batch uses the same offsets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnspec.lower.plan import (
    A_LINEAR,
    A_LOG_SOFTMAX,
    A_SOFTMAX,
    ACTIVATION,
    BATCHNORM,
    DENSE,
    DROPOUT,
    FLATTEN,
    Plan,
)

# itab columns
(KIND, N_IN, N_OUT, ACT, HAS_BIAS, W_OFF, B_OFF, RM_OFF, RV_OFF, AFFINE, IN_OFF, Z_OFF, A_OFF,
 AUX_OFF, STAT_OFF, WT_OFF, SPLIT, T_IN, T_OUT) = range(19)
N_ICOLS = 19

# Threads for one layer's gemms (dense.forward_t / backward_t) and for the optimizer step
# (optimizers.step_parts): every Numba thread (NUMBA_NUM_THREADS, default one per core) for a
# dense layer whose gemms do at least SPLIT_MIN_WORK multiply-adds per batch and for a step
# over at least STEP_SPLIT_MIN parameters; below that a parallel region's start-up (~2 us
# with the OpenMP threading layer) costs more than it saves. Only with a threading layer that
# starts a region in microseconds (omp, tbb): Numba's fallback "workqueue" takes ~100 us.
SPLIT_MIN_WORK = 1 << 21
STEP_SPLIT_MIN = 1 << 17
_THREADS: int | None = None


def threads() -> int:
    """Numba threads usable by the split kernels: 1 when they would not pay off."""
    global _THREADS
    if _THREADS is None:
        import numba
        from numba.np.ufunc import parallel

        try:
            parallel._launch_threads()
            fast = numba.threading_layer() in ("omp", "tbb")
            _THREADS = numba.get_num_threads() if fast else 1
        except Exception:  # noqa: BLE001 - no usable threading layer: run serially
            _THREADS = 1
    return _THREADS


def layer_parts(rows: int, n_in: int, n_out: int) -> int:
    """Threads for a dense layer's gemms on batches of `rows` (0: BLAS called whole)."""
    n = threads()
    return n if n > 1 and rows * n_in * n_out >= SPLIT_MIN_WORK else 0


def step_parts(n_params: int) -> int:
    """Threads for the optimizer step (0: one pass on the calling thread)."""
    n = threads()
    return n if n > 1 and n_params >= STEP_SPLIT_MIN else 0


# Dense forward through a transposed copy of w (WT_OFF >= 0, see dense.forward): OpenBLAS's
# small-matrix path is ~2x slower for x @ w.T than for x @ wt on small weights (measured on
# 2x16 to 128x64, batch 32: 0.27 -> 0.11 us, 6.7 -> 5.5 us), and the copy is cheap there;
# on large weights or few outputs (64x10, 16x1) the copy costs more than it saves.
WT_MIN_OUT = 16
WT_MAX_SIZE = 16384


def transposed_forward(n_in: int, n_out: int) -> bool:
    return n_out >= WT_MIN_OUT and n_in * n_out <= WT_MAX_SIZE
# ftab columns
P0, P1, RATE, MOMENTUM, EPS = range(5)
N_FCOLS = 5


@dataclass(frozen=True)
class Layout:
    itab: np.ndarray  # (L, N_ICOLS) int64
    ftab: np.ndarray  # (L, N_FCOLS) float64
    rows: int  # samples the workspace holds
    ws_size: int  # workspace values
    y_off: int  # where the batch targets start in the workspace
    g_size: int  # values of each of the two backward ping-pong buffers
    out_off: int  # where the network output (rows, n_outputs) starts
    split: bool  # some layer runs its gemms on several threads (layer_parts)


def layout(plan: Plan, rows: int) -> Layout:
    """Tables and workspace offsets for batches of up to `rows` samples."""
    n_layers = len(plan.layers)
    itab = np.full((n_layers, N_ICOLS), -1, dtype=np.int64)
    ftab = np.zeros((n_layers, N_FCOLS), dtype=np.float64)
    off = 0

    def region(width: int) -> int:
        nonlocal off
        start = off
        off += rows * width
        return start

    cur = region(plan.n_inputs)  # the gathered input batch
    y_off = region(plan.n_outputs)
    widest = 1
    for i, layer in enumerate(plan.layers):
        n = layer.n_out
        widest = max(widest, n, layer.n_in)
        row = itab[i]
        row[KIND], row[N_IN], row[N_OUT], row[ACT] = layer.kind, layer.n_in, n, layer.act
        row[HAS_BIAS], row[AFFINE] = int(layer.bias), int(layer.bn_affine)
        row[W_OFF], row[B_OFF] = layer.w_offset, layer.b_offset
        row[RM_OFF], row[RV_OFF] = layer.rm_offset, layer.rv_offset
        ftab[i] = (layer.act_p0, layer.act_p1, layer.rate, layer.bn_momentum, layer.bn_eps)
        row[IN_OFF] = cur
        if layer.kind == DENSE:
            row[Z_OFF] = region(n)
            row[A_OFF] = row[Z_OFF] if layer.act == A_LINEAR else region(n)
            row[SPLIT] = layer_parts(rows, layer.n_in, n)
            if transposed_forward(layer.n_in, n):
                row[WT_OFF] = off  # n_in x n_out values, independent of rows
                off += layer.n_in * n
        elif layer.kind == ACTIVATION:
            row[Z_OFF] = cur
            row[A_OFF] = region(n)
        elif layer.kind == DROPOUT:
            row[AUX_OFF] = region(n)  # the scaled keep mask
            row[A_OFF] = region(n)
        elif layer.kind == BATCHNORM:
            row[AUX_OFF] = region(n)  # xh
            row[STAT_OFF] = off  # mu, var, inv: 3n values, independent of rows
            off += 3 * n
            row[A_OFF] = region(n)
        elif layer.kind == FLATTEN:
            row[A_OFF] = cur  # the same values in the same order: nothing moves
        cur = int(row[A_OFF])
    # A split dense layer whose output feeds a dense layer directly through an elementwise
    # activation keeps that output transposed (dense.forward_t): its gemms, and the next
    # layer's, then run in the orientation BLAS is faster in.
    itab[:, T_IN] = itab[:, T_OUT] = 0
    for i in range(n_layers - 1):
        a, b = plan.layers[i], plan.layers[i + 1]
        if (a.kind == DENSE and b.kind == DENSE and itab[i, SPLIT] > 0
                and a.act not in (A_SOFTMAX, A_LOG_SOFTMAX)):
            itab[i, T_OUT] = itab[i + 1, T_IN] = 1
            # the next layer's backward applies this layer's activation derivative to its
            # transposed gx: on as many threads, however small that layer is
            itab[i + 1, SPLIT] = max(itab[i + 1, SPLIT], itab[i, SPLIT])
    return Layout(itab=itab, ftab=ftab, rows=rows, ws_size=off, y_off=y_off,
                  g_size=rows * widest, out_off=cur, split=bool((itab[:, SPLIT] > 0).any()))


ICOL_NAMES = ("kind", "n_in", "n_out", "act", "bias", "w", "b", "rm", "rv", "affine", "in",
              "z", "a", "aux", "stat", "wt", "split", "t_in", "t_out")
FCOL_NAMES = ("p0", "p1", "rate", "momentum", "eps")


def format_layout(plan: Plan, rows: int) -> str:
    """The engine's tables for batches of `rows` as text (`nnspec plan --layout`): one line
    per node, the itab columns by name (-1: none), then the ftab values that are set."""
    lay = layout(plan, rows)
    width = [max(len(n), 6) for n in ICOL_NAMES]
    lines = [f"cpu layout for batches of {rows}: workspace {lay.ws_size} values, targets at "
             f"{lay.y_off}, output at {lay.out_off}, backward buffers 2 x {lay.g_size}, "
             f"split {lay.split}",
             "node  " + " ".join(f"{n:>{w}}" for n, w in zip(ICOL_NAMES, width, strict=True))]
    for i, row in enumerate(lay.itab):
        cells = " ".join(f"{int(v):>{w}}" for v, w in zip(row, width, strict=True))
        floats = ", ".join(f"{n} {v:g}" for n, v in zip(FCOL_NAMES, lay.ftab[i], strict=True)
                           if v)
        lines.append(f"{i:>4}  {cells}" + (f"  [{floats}]" if floats else ""))
    return "\n".join(lines) + "\n"

"""backends.cpu.tables: Layout + the executable's buffers -> the engine's packed arguments.

The engine's entry points (backends/cpu/engine.py: train_chunk, infer) take a
few packed arguments, built here and indexed in compiled code by the constants below:

    net   = (itab, ftab, conf, fconf, hyper)         read-only, built once per workspace
    mem   = (params, grad, buffers, state, ws, g1, g2)  what the engine reads and writes
    graph = (gtab, etab, otab, owt, gws, values, head_terms, scratch)

- itab / ftab: one row per layer, columns KIND, N_IN, ... / P0, P1, ... (layout.py);
- conf (int64) / fconf (float64): the run's scalars, one column each (C_* / F_*): offsets in
  the workspace, the loss, optimizer and threading codes, clipping;
- hyper: the optimizer's hyperparameters, columns H_* (optimizers.hyper_array);
- graph: layout.Graph's tables and its gradient workspace (empty for a chain).

Besides these an entry point takes its data (x, y, order, or the output array), the
per-call scalars (train_chunk: start, end, t, lr), dropout's uniform draws (train_chunk:
a float64 array, empty without dropout), `graph` (for a
chain: empty tables of the same types, graph()) and `img` (the image layers' geometry,
img()). Every one of them has the same type for every plan, so one compiled engine per
dtype runs them all (engine.py). A layer that needs a new per-layer number adds an
itab/ftab column (layout.py); a new run-wide number adds a C_* or F_* column here and its
value in `net()`. Neither changes an entry point's signature: no new argument to thread
through executable.py, and no new compiled variant.

Why plain tuples and arrays (measured on a stand-in of train_chunk's 32-argument call,
float32, rng/big/graph None): Numba types a plain tuple of arrays in C, so the packed call
dispatches as fast as the flat one (1.40 against 1.50 us per call); a namedtuple goes
through Python's typeof (2.60 us per call, paid once per chunk, which on the tiny benchmark
case is ~1% of an epoch). A structref or jitclass was not tried: each brings its own type
and boxing code, compiled and cached besides the engine, for nothing plain tuples lack here.
Config values are numbers in arrays rather than tuple members so that their types, and
with them the compiled signatures, never change.
"""

from __future__ import annotations

import numpy as np

from nnspec.backends.cpu.layout import N_WCOLS, W_KEEP, W_SCR, Layout
from nnspec.lower.plan import Plan

# net members
NET_ITAB, NET_FTAB, NET_CONF, NET_FCONF, NET_HYPER = range(5)
# mem members (all in the plan dtype; state is (n_state, n_params), the others flat)
M_PARAMS, M_GRAD, M_BUFFERS, M_STATE, M_WS, M_G1, M_G2 = range(7)
# graph members (see engine.backward_graph and layout.Graph)
GR_GTAB, GR_ETAB, GR_OTAB, GR_OWT, GR_GWS, GR_VALUES, GR_HEADS, GR_SCRATCH = range(8)

# conf columns: the rows the workspace holds (the batch size in training, the chunk in
# evaluation), where the batch targets, the main output and its pre-activation are in ws,
# the loss, its fused form and the optimizer (lower/plan.py codes), threads of the optimizer
# step (layout.step_parts: 0 one pass), 1 for the float32 approximations (approx.py), the
# outputs K (the targets' width in the workspace; y itself may hold one class id a row)
C_ROWS, C_Y_OFF, C_OUT_OFF, C_Z_OFF, C_LOSS, C_FUSED, C_OPT, C_STEP_PARTS, C_FAST, C_K = range(10)
N_CONF = 10
# fconf columns: the loss's parameter, clipping by value and by norm (0: off)
F_LOSS_PARAM, F_CLIP_VALUE, F_CLIP_NORM = range(3)
N_FCONF = 3


def net(plan: Plan, lay: Layout, hyper: np.ndarray, parts: int, fast: bool) -> tuple:
    """The engine's `net` for `lay`; parts: optimizer step threads (layout.step_parts)."""
    conf = np.zeros(N_CONF, dtype=np.int64)
    conf[C_ROWS], conf[C_Y_OFF], conf[C_OUT_OFF], conf[C_Z_OFF] = (
        lay.rows, lay.y_off, lay.out_off, lay.z_off)
    conf[C_LOSS], conf[C_FUSED], conf[C_OPT] = plan.loss, plan.fused, plan.optimizer.code
    conf[C_STEP_PARTS], conf[C_FAST], conf[C_K] = parts, int(fast), plan.n_outputs
    fconf = np.zeros(N_FCONF, dtype=np.float64)
    fconf[F_LOSS_PARAM], fconf[F_CLIP_VALUE], fconf[F_CLIP_NORM] = (
        plan.loss_param, plan.clip_value, plan.clip_norm)
    return (lay.itab, lay.ftab, conf, fconf, hyper)


def memory(params: np.ndarray, grad: np.ndarray, buffers: np.ndarray, state: np.ndarray,
           ws: np.ndarray, g1: np.ndarray, g2: np.ndarray) -> tuple:
    """The engine's `mem` (M_* order)."""
    return (params, grad, buffers, state, ws, g1, g2)


def graph(lay: Layout, gws: np.ndarray, values: np.ndarray,
          head_terms: np.ndarray) -> tuple:
    """The engine's `graph`: the graph tables, the gradient workspace gws, the outputs'
    batch losses `values`, head_terms (n_batches, n_heads) and the size of the scratch region
    at the end of gws (GR_* order). A chain's tables are empty (the engine's test for a
    chain: no gtab rows), of the same types, so chains and graphs share one compiled engine."""
    g = lay.graph
    if g is None:
        return (_NO_ROWS, _NO_ROWS, _NO_ROWS, _NO_WEIGHTS, gws, values, head_terms, 0)
    return (g.gtab, g.etab, g.otab, g.owt, gws, values, head_terms, g.gws_size - g.scratch_off)


_NO_ROWS = np.zeros((0, 1), dtype=np.int64)
_NO_WEIGHTS = np.zeros(0, dtype=np.float64)


def img(lay: Layout) -> np.ndarray:
    """The engine's `img`: the layout's wtab, or all zeros (no node is an image node: the
    engine's _image_kind then holds for none) when the plan has no image layer."""
    if lay.wtab is not None:
        return lay.wtab
    wtab = np.zeros((lay.itab.shape[0], N_WCOLS), dtype=np.int64)
    wtab[:, W_SCR] = -1
    wtab[:, W_KEEP] = -1
    return wtab

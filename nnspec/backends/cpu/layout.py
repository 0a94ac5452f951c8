"""backends.cpu.layout: Plan -> the int/float layer tables and workspace offsets of the engine.

The engine (backends/cpu/engine.py) interprets the plan: one row per layer in an int64 table
`itab` and a float64 table `ftab`, plus one flat workspace `ws` holding every activation of
a batch of up to `rows` samples. A layer's tensors are prefixes of its workspace regions,
so a shorter last batch uses the same offsets. A node reads its (first) input at the output
region of the node it names (IN_OFF), the model's input at offset 0.

Graphs (a plan that is not a chain) get three more tables, `Graph` below: per node its
gradient region and edges (`gtab`), per edge (node, input slot) where the input's value and
gradient live and how the gradient is delivered (`etab`), per output where its loss reads
and its seed goes (`otab`, weights `owt`). Backward then keeps dL/d(output) of every node
that needs one in its own region of a gradient workspace `gws`, filled by the node's
consumers in reverse node order: the first contribution to arrive writes, later ones add
(a node read by several gets the sum of their gradients). An elementwise node (activation,
dropout, batchnorm, flatten) turns its gradient into its input's in place, and an add node
hands its gradient on unchanged, so when such a node is the first to contribute to an input,
that input's region IS the node's region (E_ALIAS: nothing moves). Chains keep the two
ping-pong buffers g1/g2 (the engine's chain path, unchanged).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nnspec.lower.plan import (
    A_LINEAR,
    A_LOG_SOFTMAX,
    A_SOFTMAX,
    ACTIVATION,
    ADD,
    AVGPOOL,
    BATCHNORM,
    CONCAT,
    CONV2D,
    DENSE,
    DROPOUT,
    EMBEDDING,
    FLATTEN,
    FUSED_NONE,
    GLOBAL_AVGPOOL,
    INPUT,
    MAXPOOL,
    LayerPlan,
    Plan,
)
from nnspec.ops.layers import MAXPOOL_INPUT_LIMIT

# itab columns
(KIND, N_IN, N_OUT, ACT, HAS_BIAS, W_OFF, B_OFF, RM_OFF, RV_OFF, AFFINE, IN_OFF, Z_OFF, A_OFF,
 AUX_OFF, STAT_OFF, WT_OFF, SPLIT, T_IN, T_OUT, VOCAB) = range(20)
N_ICOLS = 20

# Threads for one layer's gemms (dense.forward_t / backward_t) and for the optimizer step
# (optimizers.step_parts): every Numba thread (NUMBA_NUM_THREADS, default one per core) for a
# dense layer whose gemms do at least SPLIT_MIN_WORK multiply-adds per batch and for a step
# over at least STEP_SPLIT_MIN parameters; below that a parallel region's start-up (~2 us
# with the OpenMP threading layer) costs more than it saves. Only with a threading layer that
# starts a region in microseconds (omp, tbb): Numba's fallback "workqueue" takes ~100 us.
# 1M multiply-adds (~10 us on one core) pays: LeNet-5's 400 x 120 layer at batch 32 (1.5M)
# and the character model's 128 x 128 at batch 64 (1M) split, +8% and +13% samples/s
# (alternated processes against 2M, 2026-12-07).
SPLIT_MIN_WORK = 1 << 20
# The step: SGD with momentum over 64k parameters 11.5 -> 8.6 us on two threads, Adam 20.6 ->
# 15.0 us, even at 32k (measured in cache; in the engine, where the gradient has just been
# written, LeNet-5's 62k-parameter step was ~5% of a batch on one thread).
STEP_SPLIT_MIN = 1 << 15
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

# wtab columns (image layers: conv2d, the pools, batchnorm over (C, H, W)), one row per node,
# 0 for nodes without an image input: the input's channels, height, width and positions
# (H*W), the output's channels, height, width, the window (ops.layers.Window: kernel,
# stride, padding before, dilation), DIRECT: a 1x1 convolution of stride 1 without padding,
# whose im2col is its input itself (no copy), and SCR: where a split conv2d's threads
# other than the first keep their partial weight and bias gradients in ws (-1: none).
# The engine gets wtab as its `img` argument (tables.img: all zeros when the plan has no
# image layer, so that every plan runs the same compiled engine).
(W_C, W_H, W_W, W_HW, W_F, W_HO, W_WO, W_KH, W_KW, W_SH, W_SW, W_PT, W_PL, W_DH, W_DW, W_DIRECT,
 W_SCR, W_KEEP) = range(18)
N_WCOLS = 18
WINDOWED = (CONV2D, MAXPOOL, AVGPOOL)
IMAGE_KINDS = (CONV2D, MAXPOOL, AVGPOOL, GLOBAL_AVGPOOL)
# The max pool's argmax (the input offset within the sample) is kept in the float
# workspace: exact below 2**24 values per sample (float32's integers); check refuses a
# larger input at the statement (E516, ops.layers.MaxPool2D).
ARGMAX_LIMIT = MAXPOOL_INPUT_LIMIT


def is_image_node(node: LayerPlan) -> bool:
    """Whether the node runs an image kernel (a window, a global pool, batchnorm per channel
    over positions)."""
    return node.kind in IMAGE_KINDS or (node.kind == BATCHNORM and len(node.in_shape) > 1)


# A max or average pool's samples are split across the threads from this many input values a
# batch (LeNet's pools at batch 32: 150,528 and 51,200).
POOL_SPLIT_MIN = 1 << 15


def pool_parts(rows: int, n_in: int) -> int:
    """Threads for a max or average pool's batch (samples split across them; 0: serial)."""
    n = threads()
    return n if n > 1 and rows >= 2 and rows * n_in >= POOL_SPLIT_MIN else 0


# A conv2d layer keeps its im2col from forward for backward (W_KEEP) when the batch's takes at
# most this many values (LeNet-5 at batch 128: 2.5M and 1.9M; a 32-channel 3x3 layer over
# 14x14 at batch 128: 7.2M), instead of running im2col again.
KEEP_COLS_MAX = 1 << 23


def conv_parts(rows: int, node: LayerPlan) -> int:
    """Threads for a conv2d layer's batch (samples split across them; 0: serial)."""
    n = threads()
    f, ho, wo = node.out_shape
    k = node.in_shape[0] * int(node.attr("kh")) * int(node.attr("kw"))
    return n if n > 1 and rows >= 2 and rows * f * k * ho * wo >= SPLIT_MIN_WORK else 0


def conv_scratch(w: np.ndarray) -> int:
    """Values of one thread's conv2d scratch, given the layer's wtab row: its im2col
    (K x P) and the sample with its padding (C x Hp x Wp; conv2d.scratch computes the same)."""
    hp = max(w[W_PT] + w[W_H], (w[W_HO] - 1) * w[W_SH] + (w[W_KH] - 1) * w[W_DH] + 1)
    wp = max(w[W_PL] + w[W_W], (w[W_WO] - 1) * w[W_SW] + (w[W_KW] - 1) * w[W_DW] + 1)
    return int(w[W_C] * (w[W_KH] * w[W_KW] * w[W_HO] * w[W_WO] + hp * wp))


def _window_row(node: LayerPlan, row: np.ndarray) -> None:
    """The node's wtab row (see the W_* columns)."""
    c, h, w = node.in_shape if len(node.in_shape) == 3 else (
        node.in_shape[0], math.prod(node.in_shape[1:]), 1)
    row[W_C], row[W_H], row[W_W], row[W_HW] = c, h, w, h * w
    if len(node.out_shape) == 3:
        row[W_F], row[W_HO], row[W_WO] = node.out_shape
    else:
        row[W_F], row[W_HO], row[W_WO] = node.out_shape[0], 1, 1
    if node.kind in WINDOWED:
        win = node.window
        row[W_KH], row[W_KW], row[W_SH], row[W_SW] = win.kh, win.kw, win.sh, win.sw
        row[W_PT], row[W_PL], row[W_DH], row[W_DW] = win.pt, win.pl, win.dh, win.dw
        row[W_DIRECT] = int(node.kind == CONV2D and (win.kh, win.kw, win.sh, win.sw) == (1, 1, 1, 1)
                            and (win.pt, win.pl, win.pb, win.pr) == (0, 0, 0, 0))

# gtab columns (graphs): the node's gradient region in gws (-1: its backward is skipped: no
# output depends on it, or nothing upstream of it, itself included, has parameters); SEEDED:
# an output's fused seed, dL/dz, is in that region (its activation derivative is skipped);
# its edges etab[E0:E0 + NE] (one per input, in input order)
G_OFF, SEEDED, E0, NE = range(4)
N_GCOLS = 4
# etab columns: the input node (INPUT for the model's input), where its value is in ws and
# its width, the column of a concat node's output it goes to, where its gradient is in gws
# (-1: not needed), and how this edge delivers it (E_*)
SRC, SRC_A, WIDTH, COL, TGT, MODE = range(6)
N_ECOLS = 6
E_NONE, E_WRITE, E_ADD, E_ALIAS = range(4)
# otab columns: the output's node, fused form, where its z and a are in ws, where its seed
# goes in gws (-1: none needed) and whether the seed writes or adds (E_WRITE | E_ADD)
O_NODE, O_FUSED, O_Z, O_A, O_G, O_MODE = range(6)
N_OCOLS = 6
# elementwise nodes whose backward turns dL/d(output) into dL/d(input) in place
IN_PLACE = (ACTIVATION, DROPOUT, BATCHNORM, FLATTEN)
# nodes that keep their pre-activation z (Z_OFF) besides their output
HAS_Z = (DENSE, CONV2D)
# nodes whose backward writes dL/d(input) into a region of its own (not in place)
GX_KINDS = (DENSE, CONV2D, MAXPOOL, AVGPOOL, GLOBAL_AVGPOOL)


@dataclass(frozen=True)
class Graph:
    """The graph tables of a layout (see the module docstring); gws_size values of gradient
    workspace, the last `rows * scratch` of them (from scratch_off) a scratch region."""

    gtab: np.ndarray  # (L, N_GCOLS) int64
    etab: np.ndarray  # (edges, N_ECOLS) int64
    otab: np.ndarray  # (outputs, N_OCOLS) int64, the main output first
    owt: np.ndarray  # (outputs,) float64 loss weights
    gws_size: int
    scratch_off: int


@dataclass(frozen=True)
class Layout:
    itab: np.ndarray  # (L, N_ICOLS) int64
    ftab: np.ndarray  # (L, N_FCOLS) float64
    rows: int  # samples the workspace holds
    ws_size: int  # workspace values
    y_off: int  # where the batch targets start in the workspace
    g_size: int  # values of each of the two backward ping-pong buffers
    out_off: int  # where the network output (rows, n_outputs) starts
    z_off: int  # where the main output's pre-activation starts (its input if not dense)
    split: bool  # some layer runs its gemms on several threads (layer_parts)
    graph: Graph | None = None  # the graph tables; None for a chain
    wtab: np.ndarray | None = None  # (L, N_WCOLS) int64 image geometry; None: no image layer


def layout(plan: Plan, rows: int) -> Layout:
    """Tables and workspace offsets for batches of up to `rows` samples."""
    n_layers = len(plan.layers)
    itab = np.full((n_layers, N_ICOLS), -1, dtype=np.int64)
    ftab = np.zeros((n_layers, N_FCOLS), dtype=np.float64)
    wtab = np.zeros((n_layers, N_WCOLS), dtype=np.int64)
    wtab[:, W_SCR] = -1
    wtab[:, W_KEEP] = -1
    images = any(is_image_node(node) for node in plan.layers)
    off = 0

    def region(width: int) -> int:
        nonlocal off
        start = off
        off += rows * width
        return start

    cur = region(plan.n_inputs)  # the gathered input batch (offset 0)
    y_off = region(plan.n_outputs)
    widest = 1
    for i, layer in enumerate(plan.layers):
        src = layer.inputs[0] if layer.inputs else i - 1
        cur = 0 if src == INPUT else int(itab[src, A_OFF])
        n = layer.n_out
        widest = max(widest, n, layer.n_in)
        row = itab[i]
        row[KIND], row[N_IN], row[N_OUT], row[ACT] = layer.kind, layer.n_in, n, layer.act
        row[HAS_BIAS], row[AFFINE] = int(layer.bias), int(layer.bn_affine)
        row[W_OFF], row[B_OFF] = layer.w_offset, layer.b_offset
        row[RM_OFF], row[RV_OFF] = layer.rm_offset, layer.rv_offset
        ftab[i] = (layer.act_p0, layer.act_p1, layer.rate, layer.bn_momentum, layer.bn_eps)
        row[IN_OFF] = cur
        if images and len(layer.in_shape) > 1:
            _window_row(layer, wtab[i])
        if layer.kind == CONV2D:
            wrow = wtab[i]
            row[Z_OFF] = region(n)
            row[A_OFF] = row[Z_OFF] if layer.act == A_LINEAR else region(n)
            parts = conv_parts(rows, layer)
            row[SPLIT] = parts
            row[AUX_OFF] = off  # im2col scratch, one per thread, independent of rows
            off += max(parts, 1) * conv_scratch(wrow) if not wrow[W_DIRECT] else 0
            kp = int(wrow[W_C] * wrow[W_KH] * wrow[W_KW] * wrow[W_HO] * wrow[W_WO])
            if not wrow[W_DIRECT] and rows * kp <= KEEP_COLS_MAX:
                wrow[W_KEEP] = region(kp)  # the batch's im2col, sample after sample
            if parts > 1:  # the other threads' partial weight and bias gradients
                wrow[W_SCR] = off
                off += (parts - 1) * (n // (wrow[W_HO] * wrow[W_WO])) * (
                    wrow[W_C] * wrow[W_KH] * wrow[W_KW] + 1)
        elif layer.kind == MAXPOOL:
            # (layer.n_in < ARGMAX_LIMIT: MaxPool2D's shape rule, so lower() makes no other)
            row[AUX_OFF] = region(n)  # the argmax of each output (input offset in the sample)
            row[A_OFF] = region(n)
            row[SPLIT] = pool_parts(rows, layer.n_in)
        elif layer.kind in (AVGPOOL, GLOBAL_AVGPOOL):
            row[A_OFF] = region(n)
            row[SPLIT] = pool_parts(rows, layer.n_in) if layer.kind == AVGPOOL else 0
        elif layer.kind == DENSE:
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
            row[STAT_OFF] = off  # mu, var, inv: 3 values per channel, independent of rows
            off += 3 * layer.channels
            row[A_OFF] = region(n)
        elif layer.kind == FLATTEN:
            row[A_OFF] = cur  # the same values in the same order: nothing moves
        elif layer.kind == EMBEDDING:  # T ids -> T x dim values (embedding.py)
            row[VOCAB] = layer.tensors[0].shape[0]
            if row[VOCAB] > 1 << 24 and plan.dtype == "float32":  # ids pass the float ws
                raise ValueError(f"{layer.label}: the cpu engine reads token ids through its "
                                 "float32 workspace, exact up to 2^24 ids; train in float64")
            row[A_OFF] = region(n)
        elif layer.kind in (CONCAT, ADD):  # its inputs joined or summed (engine._merge)
            row[A_OFF] = region(n)
        cur = int(row[A_OFF])
    # A split dense layer whose output feeds exactly one node, a dense layer (directly,
    # through an elementwise activation), and is no output keeps that output transposed
    # (dense.forward_t): its gemms, and the next layer's, then run in the orientation BLAS is
    # faster in. Nothing else may read a transposed output.
    readers = _readers(plan)
    outputs = {o.node for o in plan.outputs} or {n_layers - 1}
    itab[:, T_IN] = itab[:, T_OUT] = 0
    for i, a in enumerate(plan.layers):
        if (a.kind == DENSE and itab[i, SPLIT] > 0 and a.act not in (A_SOFTMAX, A_LOG_SOFTMAX)
                and i not in outputs and len(readers[i]) == 1):
            j = readers[i][0]
            if plan.layers[j].kind == DENSE and plan.layers[j].inputs == (i,):
                itab[i, T_OUT] = itab[j, T_IN] = 1
                # the next layer's backward applies this layer's activation derivative to
                # its transposed gx: on as many threads, however small that layer is
                itab[j, SPLIT] = max(itab[j, SPLIT], itab[i, SPLIT])
    main = plan.outputs[0].node if plan.outputs else n_layers - 1
    out_off = z_off = 0
    if main != INPUT:
        out_off = int(itab[main, A_OFF])
        z_off = int(itab[main, Z_OFF if plan.layers[main].kind in HAS_Z else IN_OFF])
    graph = None if plan.is_chain else _graph(plan, rows, itab, readers)
    return Layout(itab=itab, ftab=ftab, rows=rows, ws_size=off, y_off=y_off,
                  g_size=rows * widest, out_off=out_off, z_off=z_off,
                  split=bool((itab[:, SPLIT] > 0).any()), graph=graph,
                  wtab=wtab if images else None)


def _readers(plan: Plan) -> list[list[int]]:
    """For every node, the nodes that read it (once per input slot), in node order."""
    readers: list[list[int]] = [[] for _ in plan.layers]
    for i, node in enumerate(plan.layers):
        for src in node.inputs:
            if src != INPUT:
                readers[src].append(i)
    return readers


def _graph(plan: Plan, rows: int, itab: np.ndarray, readers: list[list[int]]) -> Graph:
    """The graph tables: which nodes need a gradient, where each one's lives, and how every
    edge and output delivers its part (first to arrive in backward order writes, later ones
    add; an in-place node or an add node hands its own region on when it comes first)."""
    nodes = plan.layers
    n_nodes = len(nodes)
    outputs = plan.outputs
    # needed: some output depends on it, and it or a node upstream of it has parameters
    upstream = [False] * n_nodes
    for i, node in enumerate(nodes):
        upstream[i] = bool(node.tensors and any(t.buffer == "params" for t in node.tensors)) \
            or any(upstream[s] for s in node.inputs if s != INPUT)
    live = [False] * n_nodes
    for o in outputs:
        if o.node != INPUT:
            live[o.node] = True
    for i in range(n_nodes - 1, -1, -1):
        live[i] = live[i] or any(live[r] for r in readers[i])
    need = [live[i] and upstream[i] for i in range(n_nodes)]

    # contributions in backward order: the seeds, then the nodes from the last back
    seeded = {o.node for o in outputs if o.node != INPUT}
    first: dict[int, tuple[int, int]] = {}  # node -> (reader, slot) contributing first
    for i in range(n_nodes - 1, -1, -1):
        if not need[i]:
            continue
        for slot, src in enumerate(nodes[i].inputs):
            if src != INPUT and need[src] and src not in seeded and src not in first:
                first[src] = (i, slot)
    gtab = np.full((n_nodes, N_GCOLS), -1, dtype=np.int64)
    n_edges = sum(len(node.inputs) for node in nodes)
    etab = np.full((n_edges, N_ECOLS), -1, dtype=np.int64)
    off = 0
    aliased: set[int] = set()  # add nodes whose region an input took already
    e = 0
    for i, node in enumerate(nodes):
        gtab[i, E0], gtab[i, NE] = e, len(node.inputs)
        col = 0
        for src in node.inputs:
            width = plan.n_inputs if src == INPUT else nodes[src].n_out
            etab[e, SRC], etab[e, WIDTH], etab[e, COL] = src, width, col
            etab[e, SRC_A] = 0 if src == INPUT else itab[src, A_OFF]
            col += width
            e += 1
    # regions, from the last node back (a reader's region is known before its inputs')
    alias_of: dict[int, int] = {}
    for i in range(n_nodes - 1, -1, -1):
        node = nodes[i]
        if need[i]:
            if i in alias_of:
                gtab[i, G_OFF] = gtab[alias_of[i], G_OFF]
            else:
                gtab[i, G_OFF] = off
                off += rows * node.n_out
        for slot, src in enumerate(node.inputs):
            row = etab[gtab[i, E0] + slot]
            if not need[i] or src == INPUT or not need[src]:
                row[MODE] = E_NONE
                continue
            if first.get(src) != (i, slot):
                row[MODE] = E_ADD
            elif node.kind in IN_PLACE or (node.kind == ADD and i not in aliased):
                row[MODE] = E_ALIAS
                alias_of[src] = i
                aliased.add(i)
            else:
                row[MODE] = E_WRITE
    for i in range(n_nodes):  # the targets, now that every region is placed
        for e in range(gtab[i, E0], gtab[i, E0] + gtab[i, NE]):
            src = etab[e, SRC]
            etab[e, TGT] = gtab[src, G_OFF] if src != INPUT and etab[e, MODE] != E_NONE else -1
    otab = np.full((len(outputs), N_OCOLS), -1, dtype=np.int64)
    owt = np.zeros(len(outputs), dtype=np.float64)
    gtab[:, SEEDED] = 0
    seen: set[int] = set()
    for j, o in enumerate(outputs):
        row = otab[j]
        row[O_NODE], row[O_FUSED], owt[j] = o.node, o.fused, o.weight
        if o.node == INPUT:
            row[O_Z] = row[O_A] = 0
            continue
        node = nodes[o.node]
        row[O_A] = itab[o.node, A_OFF]
        row[O_Z] = itab[o.node, Z_OFF] if node.kind in HAS_Z else itab[o.node, IN_OFF]
        if need[o.node]:
            row[O_G] = gtab[o.node, G_OFF]
            row[O_MODE] = E_ADD if o.node in seen else E_WRITE
            seen.add(o.node)
        if o.fused != FUSED_NONE:
            gtab[o.node, SEEDED] = 1
    widest = max([plan.n_outputs] + [nd.n_in for nd in nodes if nd.kind in GX_KINDS])
    return Graph(gtab=gtab, etab=etab, otab=otab, owt=owt, gws_size=off + rows * widest,
                 scratch_off=off)


ICOL_NAMES = ("kind", "n_in", "n_out", "act", "bias", "w", "b", "rm", "rv", "affine", "in",
              "z", "a", "aux", "stat", "wt", "split", "t_in", "t_out", "vocab")
FCOL_NAMES = ("p0", "p1", "rate", "momentum", "eps")


def format_layout(plan: Plan, rows: int) -> str:
    """The engine's tables for batches of `rows` as text (`nnspec plan --layout`): one line
    per node, the itab columns by name (-1: none), then the ftab values that are set."""
    lay = layout(plan, rows)
    # the vocab column is shown for a model with an embedding only (the others' listings
    # stay as they were)
    shown = N_ICOLS if plan.token_input else VOCAB
    names = ICOL_NAMES[:shown]
    width = [max(len(n), 6) for n in names]
    lines = [f"cpu layout for batches of {rows}: workspace {lay.ws_size} values, targets at "
             f"{lay.y_off}, output at {lay.out_off}, backward buffers 2 x {lay.g_size}, "
             f"split {lay.split}",
             "node  " + " ".join(f"{n:>{w}}" for n, w in zip(names, width, strict=True))]
    for i, row in enumerate(lay.itab[:, :shown]):
        cells = " ".join(f"{int(v):>{w}}" for v, w in zip(row, width, strict=True))
        floats = ", ".join(f"{n} {v:g}" for n, v in zip(FCOL_NAMES, lay.ftab[i], strict=True)
                           if v)
        lines.append(f"{i:>4}  {cells}" + (f"  [{floats}]" if floats else ""))
    if lay.wtab is not None:
        lines.append("images (NCHW): in C x H x W -> out C x H x W, window kh x kw, stride, "
                     "padding top, left, dilation")
        for i, w in enumerate(lay.wtab.tolist()):
            if not is_image_node(plan.layers[i]):
                continue
            text = (f"{i:>4}  in {w[W_C]}x{w[W_H]}x{w[W_W]} -> out {w[W_F]}x{w[W_HO]}x"
                    f"{w[W_WO]}")
            if plan.layers[i].kind in WINDOWED:
                text += (f", window {w[W_KH]}x{w[W_KW]} stride {w[W_SH]},{w[W_SW]} padding "
                         f"{w[W_PT]},{w[W_PL]} dilation {w[W_DH]},{w[W_DW]}")
            if w[W_DIRECT]:
                text += ", direct (its input is its im2col)"
            if w[W_SCR] >= 0:
                text += f", thread partial gradients at {w[W_SCR]}"
            if w[W_KEEP] >= 0:
                text += f", im2col kept for backward at {w[W_KEEP]}"
            lines.append(text)
    g = lay.graph
    if g is not None:
        modes = ("none", "write", "add", "alias")
        lines.append(f"graph: gradient workspace {g.gws_size} values, scratch at "
                     f"{g.scratch_off}")
        for i, row in enumerate(g.gtab):
            edges = ", ".join(
                f"{'input' if e[SRC] < 0 else e[SRC]}@{e[SRC_A]}x{e[WIDTH]}"
                + (f" col {e[COL]}" if lay.itab[i, 0] == CONCAT else "")
                + f" grad {modes[e[MODE]]}" + (f"@{e[TGT]}" if e[TGT] >= 0 else "")
                for e in g.etab[row[E0]:row[E0] + row[NE]].tolist())
            lines.append(f"{i:>4}  grad {row[G_OFF]:>6}{' seeded' if row[SEEDED] else ''}"
                         f"  reads {edges}")
        for j, row in enumerate(g.otab.tolist()):
            lines.append(f"output {j}: node {row[O_NODE]}, weight {g.owt[j]:g}, z {row[O_Z]}, "
                         f"a {row[O_A]}, seed {modes[max(row[O_MODE], 0)]}@{row[O_G]}")
    return "\n".join(lines) + "\n"

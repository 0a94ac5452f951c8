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

Graphs (a plan that is not a chain) run on the same layout's graph tables (layout.Graph),
launched as the cpu engine interprets them: a merge node's forward is one `blit` per input
(concat: the input's rows into its columns of the node's output; add: the first input
copied, the others added); every output's loss and seed is one `loss_seed` (weight x
dL/d(output) written, or added where two outputs share a node), then backward_graph walks
the nodes from the last back, each with a gradient region in the gradient workspace `gws`:
parameter gradients into grad, dL/d(input) delivered along its edges (written by the first
reader to arrive in backward order, added by the others, or already in place where the
layout aliased the region: a node read by several gets the sum of their gradients). A dense
node's dL/dx goes straight into its input's region when it arrives first; nothing is
computed for the model's input. With heads, `book_heads` books each head's loss of an
applied batch. A chain keeps its own path (two ping-pong gradient buffers, no edge tables).
Concat copies its inputs: the shared layout gives every node a contiguous output region.

Image nodes (conv2d.py, pool.py, batchnorm.py's *_2d) read their geometry from the layout's
wtab row (uploaded once, LayerRow.geom; None for other nodes) and are dispatched by
_image_forward / _image_backward: a conv2d or pool node's backward writes dL/dx into a
region of its own as a dense node's does (the chain's other buffer, or its input's
gradient region in a graph), a batchnorm over images works in place like the 1-D one.

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
    COL,
    E0,
    E_ADD,
    E_NONE,
    E_WRITE,
    EPS,
    G_OFF,
    HAS_BIAS,
    IN_OFF,
    KIND,
    MODE,
    MOMENTUM,
    N_IN,
    N_OUT,
    N_WCOLS,
    NE,
    O_A,
    O_FUSED,
    O_G,
    O_MODE,
    O_Z,
    P0,
    P1,
    RATE,
    RM_OFF,
    RV_OFF,
    SEEDED,
    SRC,
    SRC_A,
    STAT_OFF,
    TGT,
    VOCAB,
    W_C,
    W_F,
    W_HW,
    W_KH,
    W_KW,
    W_OFF,
    WIDTH,
    Z_OFF,
    Layout,
    is_image_node,
    layout,
)
from nnspec.backends.cuda import (
    activations,
    batchnorm,
    conv2d,
    dense,
    dropout,
    embedding,
    losses,
    optimizers,
    pool,
    slots,
)
from nnspec.backends.cuda.jit import (
    BLOCK,
    MAX_BLOCKS,
    RED_BLOCKS,
    RED_THREADS,
    cuda,
    grid,
    kernel,
)
from nnspec.lower.plan import (
    A_LINEAR,
    ACTIVATION,
    ADD,
    AVGPOOL,
    BATCHNORM,
    CONCAT,
    CONV2D,
    DENSE,
    DROPOUT,
    EMBEDDING,
    FUSED_NONE,
    GLOBAL_AVGPOOL,
    MAXPOOL,
    MERGES,
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

    @kernel("void(T[::1], int64, int64, T[::1], int64, int64, int64, int64, int64)", dtype)
    def blit(src, s_off, s_rs, dst, d_off, d_rs, rows, width, add):  # type: ignore[no-untyped-def]
        """dst[d_off + r*d_rs + j] (+)= src[s_off + r*s_rs + j], r < rows, j < width: a
        merge's input into its columns (forward), a gradient to its input's region or a
        concat's columns of it (backward). Thread per element, grid-stride."""
        for i in range(cuda.grid(1), rows * width, cuda.gridsize(1)):
            r = i // width
            j = i - r * width
            v = src[s_off + r * s_rs + j]
            if add != 0:
                dst[d_off + r * d_rs + j] += v
            else:
                dst[d_off + r * d_rs + j] = v

    @kernel("void(float64[::1], int64[::1], float64[::1], int64, int64)", dtype)
    def book_heads(acc, ctl, head_terms, n_heads, rows):  # type: ignore[no-untyped-def]
        """After the optimizer kernel: when this batch's update was applied (status still
        ok), head_terms[done - 1, h] = acc[HEAD + h] * rows. One thread."""
        if cuda.grid(1) != 0 or ctl[slots.STATUS] != 0:
            return
        row = (ctl[slots.DONE] - 1) * n_heads
        for h in range(n_heads):
            head_terms[row + h] = acc[slots.HEAD + h] * rows

    return SimpleNamespace(gather=gather, copy=copy, blit=blit, book_heads=book_heads,
                           act=activations.build(dtype),
                           dense=dense.build(dtype), drop=dropout.build(dtype),
                           emb=embedding.build(dtype),
                           bn=batchnorm.build(dtype), loss=losses.build(dtype),
                           conv=conv2d.build(dtype), pool=pool.build(dtype),
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
    vocab: int = 0  # embedding: rows of its table
    # graphs (layout.Graph): the node's gradient region in gws (-1: no backward), whether
    # an output's fused seed (dL/dz) is there, and its edges (one per input, in order)
    g_off: int = -1
    seeded: int = 0
    edges: tuple[EdgeRow, ...] = ()
    # image nodes: the wtab row on the device (None: not an image node) and positions H*W
    geom: Any = None
    hw: int = 0
    n_par: int = 0  # conv2d: its weight and bias values (a block each in weight_grad)


@dataclass(frozen=True)
class EdgeRow:
    """An input of a graph node (layout's etab row): where its value is and its width, the
    column of a concat it goes to, where its gradient goes and how (E_*)."""

    src: int
    src_a: int
    width: int
    col: int
    tgt: int
    mode: int


@dataclass(frozen=True)
class OutRow:
    """An output of a graph (layout's otab row): its z and a in ws, its seed's region (a view
    of gws; the scratch region where none is needed), write or add, weight, acc slot."""

    fused: int
    z_off: int
    a_off: int
    g: Any
    add: int
    weight: float
    slot: int


class Work:
    """A layout and its device buffers for batches of up to `rows` samples."""

    def __init__(self, plan: Plan, rows: int, dtype: str):
        self.layout: Layout = layout(plan, rows)
        lay = self.layout
        graph = lay.graph
        self.ws = cuda.to_device(np.zeros(max(1, lay.ws_size), dtype=dtype))
        if graph is None:
            self.g1 = cuda.to_device(np.zeros(max(1, lay.g_size), dtype=dtype))
            self.g2 = cuda.to_device(np.zeros(max(1, lay.g_size), dtype=dtype))
        else:
            self.gws = cuda.to_device(np.zeros(max(1, graph.gws_size), dtype=dtype))
            self.scratch_off = int(graph.scratch_off)
            self.scratch = self.gws[self.scratch_off:]
        self.layers: list[LayerRow] = []
        self.gview: list[Any] = []  # graphs: each node's gradient region, a view of gws
        img = None if lay.wtab is None else cuda.to_device(np.ascontiguousarray(lay.wtab.ravel()))
        col = 0
        for i, row in enumerate(lay.itab):
            f = lay.ftab[i]
            r = [int(v) for v in row]
            extra: dict[str, Any] = {}
            if (img is not None and is_image_node(plan.layers[i])
                    and (r[KIND] != BATCHNORM or lay.wtab[i, W_HW] > 1)):  # (as cpu's)
                extra["geom"] = img[i * N_WCOLS:(i + 1) * N_WCOLS]
                extra["hw"] = int(lay.wtab[i, W_HW])
                wr = lay.wtab[i]
                extra["n_par"] = int(wr[W_F] * (wr[W_C] * wr[W_KH] * wr[W_KW] + r[HAS_BIAS]))
            if graph is not None:
                gr = [int(v) for v in graph.gtab[i]]
                extra |= {"g_off": gr[G_OFF], "seeded": gr[SEEDED], "edges": tuple(
                    EdgeRow(*(int(e[c]) for c in (SRC, SRC_A, WIDTH, COL, TGT, MODE)))
                    for e in graph.etab[gr[E0]:gr[E0] + gr[NE]])}
                self.gview.append(None if gr[G_OFF] < 0 else
                                  self.gws[gr[G_OFF]:gr[G_OFF] + rows * r[N_OUT]])
            self.layers.append(LayerRow(
                r[KIND], r[N_IN], r[N_OUT], r[ACT], r[HAS_BIAS], max(r[W_OFF], 0),
                max(r[B_OFF], 0), max(r[RM_OFF], 0), max(r[RV_OFF], 0), r[AFFINE], r[IN_OFF],
                r[Z_OFF], r[A_OFF], r[AUX_OFF], r[STAT_OFF], float(f[P0]), float(f[P1]),
                float(f[RATE]), float(f[MOMENTUM]), float(f[EPS]), col, vocab=r[VOCAB],
                **extra))
            if r[KIND] == DROPOUT and f[RATE] > 0:
                col += r[N_OUT]
        self.outs: list[OutRow] = []
        if graph is not None:
            size = rows * plan.n_outputs
            for j, o in enumerate(graph.otab.tolist()):
                g = self.scratch if o[O_G] < 0 else self.gws[o[O_G]:o[O_G] + size]
                self.outs.append(OutRow(o[O_FUSED], o[O_Z], o[O_A], g,
                                        int(o[O_MODE] == E_ADD), float(graph.owt[j]),
                                        slots.LOSS if j == 0 else slots.HEAD + j - 1))


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
            if la.geom is not None:
                self._image_forward(w, la, rows, training, params, buffers)
            elif la.kind == DENSE:
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
            elif la.kind == EMBEDDING:  # a gather of the ids' rows (embedding.py)
                k.emb.forward[grid(rows * n), BLOCK](ws, la.in_off, la.a_off, params, la.w_off,
                                                     rows, la.n_in, n // la.n_in)
            elif la.kind in MERGES:  # graphs only
                # concat  a[r, col_e + j] = in_e[r, j]     add  a = in_0 + in_1 + ...
                # (an add's edges have cumulative columns in the layout too: not read)
                add = la.kind == ADD
                for e, edge in enumerate(la.edges):
                    k.blit[grid(rows * edge.width), BLOCK](
                        ws, edge.src_a, edge.width, ws, la.a_off + (0 if add else edge.col), n,
                        rows, edge.width, int(add and e > 0))

    def _image_forward(self, w: Work, la: LayerRow, rows: int, training: bool, params: Any,
                       buffers: Any) -> None:
        """An image node's forward pass (conv2d.py, pool.py, batchnorm.py's *_2d)."""
        k, ws, geom = self.k, w.ws, la.geom
        if la.kind == CONV2D:
            k.conv.forward[grid(rows * la.n), BLOCK](
                ws, la.in_off, la.z_off, la.a_off, params, la.w_off, la.b_off, la.has_bias,
                la.act, la.p0, la.p1, geom, rows)
        elif la.kind == MAXPOOL:
            k.pool.max_forward[grid(rows * la.n), BLOCK](ws, la.in_off, la.a_off, la.aux_off,
                                                         geom, rows)
        elif la.kind == AVGPOOL:
            k.pool.avg_forward[grid(rows * la.n), BLOCK](ws, la.in_off, la.a_off, geom, rows)
        elif la.kind == GLOBAL_AVGPOOL:
            k.pool.global_forward[grid(rows * la.n), BLOCK](ws, la.in_off, la.a_off, geom,
                                                            rows)
        elif training:  # batchnorm per channel: a block per channel
            c = la.n // la.hw
            k.bn.forward_train_2d[min(c, MAX_BLOCKS), RED_THREADS](
                ws, la.in_off, la.a_off, la.aux_off, la.stat_off, rows, c, la.hw, params,
                la.w_off, la.b_off, la.affine, la.eps)
        else:
            k.bn.forward_eval_2d[grid(rows * la.n), BLOCK](
                ws, la.in_off, la.a_off, rows, la.n // la.hw, la.hw, params, la.w_off,
                la.b_off, la.affine, buffers, la.rm_off, la.rv_off, la.eps)

    def _image_backward(self, w: Work, la: LayerRow, code: int, rows: int, params: Any,
                        grad: Any, g: Any, gx: Any, gx_off: int) -> None:
        """A conv2d or pool node's gradients, given dL/d(output) (dL/dz if code is linear) in
        g: a conv2d's g <- dL/dz in place and its parameter gradients into grad; dL/dx into
        gx at gx_off (gx None: not needed)."""
        k, ws, geom = self.k, w.ws, la.geom
        if la.kind == CONV2D:
            if code != A_LINEAR:
                k.act.backward[grid(rows * la.n), BLOCK](code, la.p0, la.p1, ws, la.z_off,
                                                         la.a_off, g, rows, la.n)
            k.conv.weight_grad[min(la.n_par, MAX_BLOCKS), RED_THREADS](
                ws, la.in_off, g, grad, la.w_off, la.b_off, la.has_bias, geom, rows)
            if gx is not None:
                k.conv.input_grad[grid(rows * la.n_in), BLOCK](params, g, la.w_off, gx, gx_off,
                                                               geom, rows)
        elif gx is None:
            return
        elif la.kind == MAXPOOL:
            k.pool.max_backward[grid(rows * la.n_in), BLOCK](g, ws, la.aux_off, gx, gx_off,
                                                             geom, rows)
        elif la.kind == AVGPOOL:
            k.pool.avg_backward[grid(rows * la.n_in), BLOCK](g, gx, gx_off, geom, rows)
        else:
            k.pool.global_backward[grid(rows * la.n_in), BLOCK](g, gx, gx_off, geom, rows)

    @staticmethod
    def _act_grid(code: int, rows: int, n: int) -> int:
        return grid(rows) if code in ROWWISE_ACTS else grid(rows * n)

    def _dense_backward(self, w: Work, la: LayerRow, code: int, rows: int, params: Any,
                        grad: Any, g: Any, gx: Any, gx_off: int) -> None:
        """A dense layer's gradients, given dL/d(output) (dL/dz if code is linear) in g:
        g <- dL/dz in place, dL/dbias, dL/dw into grad, dL/dx into gx at gx_off (gx None:
        not needed)."""
        k, ws, n = self.k, w.ws, la.n
        if code in ROWWISE_ACTS:
            k.act.backward[grid(rows), BLOCK](code, la.p0, la.p1, ws, la.z_off, la.a_off, g,
                                              rows, n)
            code = A_LINEAR
        if code != A_LINEAR or la.has_bias:
            dense.launch_bias_grad(k.dense, code, la.p0, la.p1, ws, la.z_off, la.a_off, g,
                                   grad, la.b_off, la.has_bias, rows, n)
        # gw = gz.T @ x: A(o, r) = gz[r, o], B = x (rows, n_in)
        self.gemm(g, 0, 1, n, ws, la.in_off, la.n_in, 1, grad, la.w_off, la.n_in, n, la.n_in,
                  rows)
        if gx is not None:  # gx = gz @ w
            self.gemm(g, 0, n, 1, params, la.w_off, la.n_in, 1, gx, gx_off, la.n_in, rows,
                      la.n_in, n)

    def _embedding_backward(self, w: Work, la: LayerRow, rows: int, grad: Any, g: Any,
                            g_off: int) -> None:
        """dL/dw of an embedding (its table's rows scatter-added) from dL/d(output) at g."""
        k, dim = self.k, la.n // la.n_in
        k.emb.zero_grad[grid(la.vocab * dim), BLOCK](grad, la.w_off, la.vocab * dim)
        k.emb.backward[grid(dim), BLOCK](w.ws, la.in_off, g, g_off, grad, la.w_off,
                                         rows * la.n_in, dim)

    def _elementwise_backward(self, w: Work, la: LayerRow, code: int, rows: int, params: Any,
                              grad: Any, g: Any, keep: Any, keep_base: int) -> None:
        """g <- dL/d(input) in place for an activation, dropout or batchnorm node (flatten:
        nothing to do); code is the activation whose derivative applies (linear: none)."""
        k, ws, n = self.k, w.ws, la.n
        if la.kind == ACTIVATION:
            if code != A_LINEAR:
                k.act.backward[self._act_grid(code, rows, n), BLOCK](
                    code, la.p0, la.p1, ws, la.in_off, la.a_off, g, rows, n)
        elif la.kind == DROPOUT:
            if la.rate > 0.0:
                k.drop.backward[grid(rows * n), BLOCK](
                    g, keep, keep_base + rows * la.keep_col, 1.0 / (1.0 - la.rate), rows * n)
        elif la.kind == BATCHNORM and la.geom is not None:  # per channel over the positions
            c = n // la.hw
            k.bn.backward_2d[min(c, MAX_BLOCKS), RED_THREADS](
                ws, g, la.aux_off, la.stat_off, rows, c, la.hw, params, grad, la.w_off,
                la.b_off, la.affine)
        elif la.kind == BATCHNORM:
            k.bn.backward[grid(n), BLOCK](ws, g, la.aux_off, la.stat_off, rows, n, params,
                                          grad, la.w_off, la.b_off, la.affine)

    def backward(self, w: Work, rows: int, params: Any, grad: Any, keep: Any,
                 keep_base: int) -> None:
        """A chain: dL/d(params) into grad, given dL/d(output) (dL/dz if fused) in w.g1."""
        cur, other = w.g1, w.g2
        last = len(w.layers) - 1
        fused = self.plan.fused != FUSED_NONE
        for i in range(last, -1, -1):
            la = w.layers[i]
            code = A_LINEAR if fused and i == last else la.act
            if la.kind == DENSE or (la.geom is not None and la.kind != BATCHNORM):
                back = self._dense_backward if la.kind == DENSE else self._image_backward
                back(w, la, code, rows, params, grad, cur, other if i > 0 else None, 0)
                cur, other = other, cur
            elif la.kind == EMBEDDING:
                self._embedding_backward(w, la, rows, grad, cur, 0)
            else:
                self._elementwise_backward(w, la, code, rows, params, grad, cur, keep,
                                           keep_base)

    def backward_graph(self, w: Work, rows: int, params: Any, grad: Any, keep: Any,
                       keep_base: int) -> None:
        """A graph: dL/d(params) into grad, given the outputs' seeds in their nodes' regions
        of w.gws (see the module docstring)."""
        blit, gws = self.k.blit, w.gws
        for i in range(len(w.layers) - 1, -1, -1):
            la = w.layers[i]
            if la.g_off < 0:
                continue
            n = la.n
            g = w.gview[i]
            code = A_LINEAR if la.seeded else la.act
            if la.kind == DENSE or (la.geom is not None and la.kind != BATCHNORM):
                back = self._dense_backward if la.kind == DENSE else self._image_backward
                e = la.edges[0]
                if e.mode == E_NONE:
                    back(w, la, code, rows, params, grad, g, None, 0)
                else:  # written straight into the input's region when first, else added
                    off = e.tgt if e.mode == E_WRITE else w.scratch_off
                    back(w, la, code, rows, params, grad, g, gws, off)
                    if e.mode == E_ADD:
                        blit[grid(rows * la.n_in), BLOCK](gws, off, la.n_in, gws, e.tgt,
                                                          la.n_in, rows, la.n_in, 1)
                continue
            if la.kind == EMBEDDING:  # reads the model's input: nothing to deliver
                self._embedding_backward(w, la, rows, grad, gws, la.g_off)
                continue
            if la.kind == CONCAT:  # columns [col, col + width) of g to each input
                for e in la.edges:
                    if e.mode == E_WRITE or e.mode == E_ADD:
                        blit[grid(rows * e.width), BLOCK](gws, la.g_off + e.col, n, gws, e.tgt,
                                                          e.width, rows, e.width,
                                                          int(e.mode == E_ADD))
                continue
            if la.kind != ADD:  # elementwise: g becomes dL/d(input) in place
                self._elementwise_backward(w, la, code, rows, params, grad, g, keep,
                                           keep_base)
            for e in la.edges:  # add: g to every input; elementwise: to its one input
                if e.mode == E_WRITE or e.mode == E_ADD:  # (E_ALIAS: g is that region)
                    blit[grid(rows * n), BLOCK](gws, la.g_off, n, gws, e.tgt, n, rows, n,
                                                int(e.mode == E_ADD))

    # one training batch -----------------------------------------------------------------
    def batch(self, w: Work, x: Any, y: Any, order: Any, b: int, r0: int, rows: int,
              lr: float, t: int, s: Any, keep: Any, keep_base: int) -> None:
        """Everything of batch b (rows order[r0:r0+rows]); `s` holds the executable's device
        buffers (params, grad, buffers, state, hyper, acc, ctl, terms, head_terms)."""
        plan, k = self.plan, self.k
        lay = w.layout
        n_out = plan.n_outputs
        k.gather[grid(rows * (plan.n_inputs + n_out)), BLOCK](
            x, y, order, r0, rows, plan.n_inputs, n_out, w.ws, lay.y_off)
        self.forward(w, rows, True, s.params, s.buffers, keep, keep_base)
        if lay.graph is None:
            k.loss.loss_grad[1, RED_THREADS](plan.loss, plan.loss_param, plan.fused, w.ws,
                                             lay.z_off, lay.out_off, lay.y_off, w.g1, rows,
                                             n_out, b, s.acc, s.ctl)
            self.backward(w, rows, s.params, s.grad, keep, keep_base)
        else:
            for o in w.outs:
                k.loss.loss_seed[1, RED_THREADS](plan.loss, plan.loss_param, o.fused, w.ws,
                                                 o.z_off, o.a_off, lay.y_off, o.g, rows, n_out,
                                                 b, s.acc, s.ctl, o.weight, o.add, o.slot)
            self.backward_graph(w, rows, s.params, s.grad, keep, keep_base)
        n = plan.n_params
        k.opt.sum_squares[RED_BLOCKS, RED_THREADS](s.grad, n, plan.clip_value, s.acc, s.ctl)
        s0, s1, s2 = optimizers.step_scalars(plan.optimizer, lr, t)
        self.step_kernel[grid(n), BLOCK](s.params, s.grad, s.state, n, s.hyper, s0, s1, s2,
                                         plan.clip_value, plan.clip_norm, b, rows, s.acc,
                                         s.ctl, s.terms)
        if len(w.outs) > 1:
            k.book_heads[1, 1](s.acc, s.ctl, s.head_terms, len(w.outs) - 1, rows)
        for la in w.layers:
            if la.kind == BATCHNORM:
                # over images: per channel, rows*hw values each (forward_train_2d)
                n, count = (la.n // la.hw, rows * la.hw) if la.geom is not None else (la.n, rows)
                k.bn.update_running[grid(n), BLOCK](w.ws, la.stat_off, count, n, la.momentum,
                                                    s.buffers, la.rm_off, la.rv_off, s.ctl)

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

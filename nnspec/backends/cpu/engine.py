"""backends.cpu.engine: layer tables + flat buffers -> trained parameters, all in compiled code.

One jitted interpreter of the plan (tables from backends/cpu/layout.py) runs a whole chunk
of mini-batches without returning to Python: per batch it gathers the rows order[kB:(k+1)B]
of x and y into the workspace, runs the forward pass, the loss, the backward pass into the
flat gradient buffer, checks that loss and gradients are finite, clips, updates the
batchnorm running statistics and applies the optimizer step to the flat parameters.
Compiled once per dtype (float32, float64) and cached on disk.

The entry points called from Python take packed arguments (backends/cpu/tables.py builds
them and names their members): `net` = (itab, ftab, conf, fconf, hyper), the read-only
layer tables (layout.py), the run's int and float scalars (columns C_*, F_*: workspace
offsets, loss, optimizer, clipping) and the optimizer's hyperparameters (H_*); `mem` =
(params, grad, buffers, state, ws, g1, g2), the buffers it reads and writes; `graph` below:

    train_chunk(x, y, order, start, end, t, lr, net, mem, terms, draws, graph, img)
    infer(x, y, out, net, mem, graph, img)      (evaluate and predict)

Each unpacks what it uses once at its top; the per-batch kernels below them (forward,
backward, graph_losses, graph_seeds, backward_graph, also called by nonfinite.py) take those
arrays and scalars themselves: handing them the whole packs measured ~2-3% slower per epoch
of the tiny benchmark case (presumably every call then passes all members of both tuples:
the reference counting in the compiled code was the same).

One compiled engine per dtype runs every plan (issue 18: compile once per installation).
Every argument always has the same type: `draws` is always a float64 array (dropout's
uniform draws for the call's batches, drawn by the caller with NumPy: empty without
dropout; a Generator passed in costs ~9 us to unbox per call), `graph` always the graph
tuple (a chain's tables are empty, see tables.graph) and `img` always the layout's
image-geometry table (all zeros without image layers, tables.img); what a plan uses is
decided from its tables at run time, per layer.
Earlier the engine took None for what a plan lacked, so that Numba pruned that code, and
compiled one variant per combination: up to 16 per dtype, each 10-40 s on first use, which
a learner paid again with each new kind of spec. A layer's new number is a new itab / ftab
column (layout.py), a new run-wide number a new C_* / F_* column (tables.py): neither
changes an entry point's signature, so neither adds a compiled variant.

A chain's backward uses two ping-pong buffers for dL/d(activation); the first layer's dL/dx
is never computed (nothing needs it), which saves the largest gemm of wide-input models.
A graph (any other plan) has merge nodes, run in the forward pass; every output's loss is
taken and seeded, and backward_graph delivers each node's gradient to its inputs' regions.
Image layers (conv2d.py, pool.py, batchnorm's *_2d) are dispatched by _image_forward /
_image_backward from their wtab rows.
"""

from __future__ import annotations

import math

import numpy as np

from nnspec.backends.cpu import (
    activations,
    batchnorm,
    conv2d,
    dense,
    dropout,
    embedding,
    fpu,
    losses,
    optimizers,
    pool,
    views,
)
from nnspec.backends.cpu.jit import kernel
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
    SPLIT,
    SRC,
    SRC_A,
    STAT_OFF,
    T_IN,
    T_OUT,
    TGT,
    VOCAB,
    W_C,
    W_HW,
    W_OFF,
    WIDTH,
    WT_OFF,
    Z_OFF,
)
from nnspec.backends.cpu.tables import (
    C_FAST,
    C_FUSED,
    C_K,
    C_LOSS,
    C_OPT,
    C_OUT_OFF,
    C_ROWS,
    C_STEP_PARTS,
    C_Y_OFF,
    C_Z_OFF,
    F_CLIP_NORM,
    F_CLIP_VALUE,
    F_LOSS_PARAM,
    GR_ETAB,
    GR_GTAB,
    GR_GWS,
    GR_HEADS,
    GR_OTAB,
    GR_OWT,
    GR_SCRATCH,
    GR_VALUES,
    M_BUFFERS,
    M_G1,
    M_G2,
    M_GRAD,
    M_PARAMS,
    M_STATE,
    M_WS,
    NET_CONF,
    NET_FCONF,
    NET_FTAB,
    NET_HYPER,
    NET_ITAB,
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
    FUSED_SOFTMAX_CCE,
    GLOBAL_AVGPOOL,
    L_CCE,
    MAXPOOL,
)

STATUS_OK, STATUS_NONFINITE_LOSS, STATUS_NONFINITE_GRAD = 0, 1, 2
NO_DRAWS = np.zeros(0, dtype=np.float64)  # the draws of a plan without dropout, and of evaluation


@kernel
def _mat(buf, off, rows, cols):  # type: ignore[no-untyped-def]
    """buf[off:off + rows * cols] as a (rows, cols) view (views.py: no reshape call)."""
    return views.matrix(buf, off, rows, cols)


@kernel
def _large(itab, layer):  # type: ignore[no-untyped-def]
    """Whether dense layer `layer` runs through dense.forward_t / backward_t: its gemms are
    split across threads or its input or output is transposed (layout.py)."""
    return itab[layer, SPLIT] > 0 or itab[layer, T_IN] != 0 or itab[layer, T_OUT] != 0


@kernel(inline=True)
def forward(rows, training, itab, ftab, params, buffers, ws, draws, d0, fast, gtab, etab,
            img):  # type: ignore[no-untyped-def]
    """All layers on the `rows` samples already gathered at the start of ws. In training,
    dropout layers take their uniform draws from draws[d0:] in layer order (rows * units
    each, as they would come from the Generator, dropout.py); returns how many were used.
    gtab / etab: the merge nodes' edges (a chain has none), `img` the image layers'
    geometry (tables.img). (Not the whole graph tuple: this call is made per batch, and
    each array argument is several machine words.)"""
    used = 0
    for layer in range(itab.shape[0]):
        if itab[layer, KIND] == CONCAT or itab[layer, KIND] == ADD:
            _merge(rows, itab, ws, gtab, etab, layer)
            continue
        if _image_kind(itab, img, layer):  # (tested here: the call is not inlined)
            _image_forward(rows, training, itab, ftab, params, buffers, ws, fast, img, layer)
            continue
        kind = itab[layer, KIND]
        n_in = itab[layer, N_IN]
        n = itab[layer, N_OUT]
        x = ws[itab[layer, IN_OFF]:itab[layer, IN_OFF] + rows * n_in]
        a = ws[itab[layer, A_OFF]:itab[layer, A_OFF] + rows * n]
        if kind == DENSE:
            w = _mat(params, itab[layer, W_OFF], n, n_in)
            bias = params[itab[layer, B_OFF]:itab[layer, B_OFF] + n]
            z = ws[itab[layer, Z_OFF]:itab[layer, Z_OFF] + rows * n]
            if _large(itab, layer):  # (activation included)
                dense.forward_t(x, params[itab[layer, W_OFF]:itab[layer, W_OFF] + n * n_in],
                                bias, itab[layer, HAS_BIAS] != 0, z, a, rows, n_in, n,
                                itab[layer, T_IN] != 0, itab[layer, T_OUT] != 0,
                                itab[layer, SPLIT], itab[layer, ACT], ftab[layer, P0],
                                ftab[layer, P1], fast)
            else:
                wt_off = itab[layer, WT_OFF]
                wt = _mat(ws, wt_off, n_in, n) if wt_off >= 0 else _mat(ws, 0, 0, n)
                dense.forward(_mat(x, 0, rows, n_in), w, bias, itab[layer, HAS_BIAS] != 0,
                              _mat(z, 0, rows, n), wt)
                if itab[layer, ACT] != A_LINEAR:  # linear: a is z (layout.py)
                    activations.forward(itab[layer, ACT], ftab[layer, P0], ftab[layer, P1], z,
                                        a, n, fast)
        elif kind == ACTIVATION:
            activations.forward(itab[layer, ACT], ftab[layer, P0], ftab[layer, P1], x, a, n, fast)
        elif kind == DROPOUT:
            rate = ftab[layer, RATE]
            if training and rate > 0.0:
                mask = ws[itab[layer, AUX_OFF]:itab[layer, AUX_OFF] + rows * n]
                dropout.forward(x, rate, draws[d0 + used:d0 + used + rows * n], mask, a)
                used += rows * n
            else:  # (element by element: see _deliver)
                for i in range(rows * n):
                    a[i] = x[i]
        elif kind == EMBEDDING:  # a gather of the rows of the ids (the model's input)
            dim = n // n_in
            w_off = itab[layer, W_OFF]
            embedding.forward(x, rows, n_in, dim,
                              params[w_off:w_off + itab[layer, VOCAB] * dim], a)
        elif kind == BATCHNORM:
            affine = itab[layer, AFFINE] != 0
            gamma = params[itab[layer, W_OFF]:itab[layer, W_OFF] + n] if affine else params[:0]
            beta = params[itab[layer, B_OFF]:itab[layer, B_OFF] + n] if affine else params[:0]
            if training:
                xh = ws[itab[layer, AUX_OFF]:itab[layer, AUX_OFF] + rows * n]
                stats = ws[itab[layer, STAT_OFF]:itab[layer, STAT_OFF] + 3 * n]
                batchnorm.forward_train(x, rows, n, gamma, beta, affine, ftab[layer, EPS], xh,
                                        stats, a)
            else:
                rmean = buffers[itab[layer, RM_OFF]:itab[layer, RM_OFF] + n]
                rvar = buffers[itab[layer, RV_OFF]:itab[layer, RV_OFF] + n]
                batchnorm.forward_eval(x, rows, n, gamma, beta, affine, ftab[layer, EPS], rmean,
                                       rvar, a)
    return used


# -- image layers (img is the layout's wtab; see layout.py) ---------------------------------


@kernel
def _image_kind(itab, img, layer):  # type: ignore[no-untyped-def]
    """Whether the node runs an image kernel (layout.is_image_node)."""
    kind = itab[layer, KIND]
    return (kind == CONV2D or kind == MAXPOOL or kind == AVGPOOL or kind == GLOBAL_AVGPOOL
            or (kind == BATCHNORM and img[layer, W_HW] > 1))


@kernel
def _image_forward(rows, training, itab, ftab, params, buffers, ws, fast, img, layer):  # type: ignore[no-untyped-def]
    """The forward pass of an image node (_image_kind)."""
    kind = itab[layer, KIND]
    x_off, a_off = itab[layer, IN_OFF], itab[layer, A_OFF]
    if kind == CONV2D:
        if itab[layer, SPLIT] > 1:
            conv2d.forward_parts(itab[layer, SPLIT], rows, itab, ftab, img, layer, params, ws,
                                 fast)
        else:
            conv2d.forward(rows, itab, ftab, img, layer, params, ws, fast)
    elif kind == MAXPOOL:
        if itab[layer, SPLIT] > 1:
            pool.pool_parts(itab[layer, SPLIT], pool.MAX_FORWARD, rows, img, layer, ws, x_off,
                            ws, a_off, ws, itab[layer, AUX_OFF])
        else:
            pool.max_forward(rows, img, layer, ws, x_off, ws, a_off, ws, itab[layer, AUX_OFF])
    elif kind == AVGPOOL:
        if itab[layer, SPLIT] > 1:
            pool.pool_parts(itab[layer, SPLIT], pool.AVG_FORWARD, rows, img, layer, ws, x_off,
                            ws, a_off, ws, 0)
        else:
            pool.avg_forward(rows, img, layer, ws, x_off, ws, a_off)
    elif kind == GLOBAL_AVGPOOL:
        pool.global_forward(rows, img, layer, ws, x_off, ws, a_off)
    else:  # batchnorm per channel over (C, H, W)
        c, hw = img[layer, W_C], img[layer, W_HW]
        n = c * hw
        affine = itab[layer, AFFINE] != 0
        gamma = params[itab[layer, W_OFF]:itab[layer, W_OFF] + c] if affine else params[:0]
        beta = params[itab[layer, B_OFF]:itab[layer, B_OFF] + c] if affine else params[:0]
        x = ws[x_off:x_off + rows * n]
        a = ws[a_off:a_off + rows * n]
        if training:
            batchnorm.forward_train_2d(x, rows, c, hw, gamma, beta, affine, ftab[layer, EPS],
                                       ws[itab[layer, AUX_OFF]:itab[layer, AUX_OFF] + rows * n],
                                       ws[itab[layer, STAT_OFF]:itab[layer, STAT_OFF] + 3 * c],
                                       a)
        else:
            batchnorm.forward_eval_2d(x, rows, c, hw, gamma, beta, affine, ftab[layer, EPS],
                                      buffers[itab[layer, RM_OFF]:itab[layer, RM_OFF] + c],
                                      buffers[itab[layer, RV_OFF]:itab[layer, RV_OFF] + c], a)


@kernel
def _image_backward(rows, skip_act, itab, ftab, params, grad, ws, gbuf, gxbuf, need_gx, squares,
                    img, layer, g_off, gx_off):  # type: ignore[no-untyped-def]
    """An image node's backward: dL/d(output) at gbuf[g_off:], dL/d(input) into
    gxbuf[gx_off:] when need_gx (batchnorm: in place in gbuf instead); parameter gradients
    into grad. Returns their check (as backward)."""
    kind = itab[layer, KIND]
    if kind == CONV2D:
        if itab[layer, SPLIT] > 1:
            return conv2d.backward_parts(itab[layer, SPLIT], rows, skip_act, itab, ftab, img,
                                         layer, params, grad, ws, gbuf, g_off, gxbuf, gx_off,
                                         need_gx, squares)
        return conv2d.backward(rows, skip_act, itab, ftab, img, layer, params, grad, ws, gbuf,
                               g_off, gxbuf, gx_off, need_gx, squares)
    if kind == BATCHNORM:
        c, hw = img[layer, W_C], img[layer, W_HW]
        affine = itab[layer, AFFINE] != 0
        w_off, b_off = itab[layer, W_OFF], itab[layer, B_OFF]
        gamma = params[w_off:w_off + c] if affine else params[:0]
        ggamma = grad[w_off:w_off + c] if affine else grad[:0]
        gbeta = grad[b_off:b_off + c] if affine else grad[:0]
        size = rows * c * hw
        batchnorm.backward_2d(gbuf[g_off:g_off + size], rows, c, hw, gamma, affine,
                              ws[itab[layer, AUX_OFF]:itab[layer, AUX_OFF] + size],
                              ws[itab[layer, STAT_OFF]:itab[layer, STAT_OFF] + 3 * c], ggamma,
                              gbeta)
        return optimizers.check(ggamma, squares) + optimizers.check(gbeta, squares)
    if need_gx:
        if kind == MAXPOOL and itab[layer, SPLIT] > 1:
            pool.pool_parts(itab[layer, SPLIT], pool.MAX_BACKWARD, rows, img, layer, gbuf,
                            g_off, ws, itab[layer, AUX_OFF], gxbuf, gx_off)
        elif kind == MAXPOOL:
            pool.max_backward(rows, img, layer, gbuf, g_off, ws, itab[layer, AUX_OFF], gxbuf,
                              gx_off)
        elif kind == AVGPOOL and itab[layer, SPLIT] > 1:
            pool.pool_parts(itab[layer, SPLIT], pool.AVG_BACKWARD, rows, img, layer, gbuf,
                            g_off, gxbuf, gx_off, gxbuf, 0)
        elif kind == AVGPOOL:
            pool.avg_backward(rows, img, layer, gbuf, g_off, gxbuf, gx_off)
        else:
            pool.global_backward(rows, img, layer, gbuf, g_off, gxbuf, gx_off)
    return 0.0


@kernel(inline=True)
def backward(rows, fused, itab, ftab, params, grad, ws, g1, g2, squares, img):  # type: ignore[no-untyped-def]
    """A chain's dL/d(params) into grad, given dL/d(output) (dL/dz if fused) in g1. Returns a
    float64 that is finite iff every gradient is (the engine's non-finite check), and is the
    sum of squares of all of grad when `squares` (the clip norm): optimizers.check of each
    layer's gradients, taken while they are in cache."""
    checked = 0.0
    cur, other = g1, g2
    last = itab.shape[0] - 1
    for layer in range(last, -1, -1):
        kind = itab[layer, KIND]
        n_in = itab[layer, N_IN]
        n = itab[layer, N_OUT]
        g = cur[:rows * n]
        skip_act = fused != FUSED_NONE and layer == last
        if _image_kind(itab, img, layer):
            checked += _image_backward(rows, skip_act, itab, ftab, params, grad, ws, cur,
                                       other, layer > 0, squares, img, layer, 0, 0)
            if kind != BATCHNORM:
                cur, other = other, cur
            continue
        if kind == DENSE:
            z = ws[itab[layer, Z_OFF]:itab[layer, Z_OFF] + rows * n]
            a = ws[itab[layer, A_OFF]:itab[layer, A_OFF] + rows * n]
            # with T_OUT, the next layer's backward_t applied the derivative already
            if not skip_act and itab[layer, T_OUT] == 0:
                activations.backward(itab[layer, ACT], ftab[layer, P0], ftab[layer, P1], z, a, g,
                                     n)
            x = ws[itab[layer, IN_OFF]:itab[layer, IN_OFF] + rows * n_in]
            w_off = itab[layer, W_OFF]
            b_off = itab[layer, B_OFF]
            has_bias = itab[layer, HAS_BIAS] != 0
            gb = grad[b_off:b_off + n] if has_bias else grad[:0]
            gx = other[:rows * n_in]
            if _large(itab, layer):
                prev = max(layer - 1, 0)  # with T_IN, the dense layer whose output x is
                checked += dense.backward_t(
                    x, params[w_off:w_off + n * n_in], g, grad[w_off:w_off + n * n_in], gb,
                    has_bias, gx, layer > 0, squares, rows, n_in, n, itab[layer, T_IN] != 0,
                    itab[layer, T_OUT] != 0, itab[layer, SPLIT],
                    itab[prev, ACT] if itab[layer, T_IN] != 0 else A_LINEAR, ftab[prev, P0],
                    ftab[prev, P1], ws[itab[prev, Z_OFF]:itab[prev, Z_OFF] + rows * n_in])
            else:
                checked += dense.backward(_mat(x, 0, rows, n_in),
                                          _mat(params, w_off, n, n_in), _mat(g, 0, rows, n),
                                          _mat(grad, w_off, n, n_in), gb, has_bias,
                                          _mat(gx, 0, rows, n_in), layer > 0, squares)
            cur, other = other, cur
        elif kind == ACTIVATION:
            if not skip_act:
                z = ws[itab[layer, IN_OFF]:itab[layer, IN_OFF] + rows * n]
                a = ws[itab[layer, A_OFF]:itab[layer, A_OFF] + rows * n]
                activations.backward(itab[layer, ACT], ftab[layer, P0], ftab[layer, P1], z, a, g,
                                     n)
        elif kind == EMBEDDING:  # the first layer: a scatter-add, no dL/d(ids)
            checked += _embedding_backward(rows, itab, grad, ws, g, layer, squares)
        elif kind == DROPOUT:
            if ftab[layer, RATE] > 0.0:
                dropout.backward(g, ws[itab[layer, AUX_OFF]:itab[layer, AUX_OFF] + rows * n])
        elif kind == BATCHNORM:
            affine = itab[layer, AFFINE] != 0
            w_off = itab[layer, W_OFF]
            b_off = itab[layer, B_OFF]
            gamma = params[w_off:w_off + n] if affine else params[:0]
            ggamma = grad[w_off:w_off + n] if affine else grad[:0]
            gbeta = grad[b_off:b_off + n] if affine else grad[:0]
            batchnorm.backward(g, rows, n, gamma, affine,
                               ws[itab[layer, AUX_OFF]:itab[layer, AUX_OFF] + rows * n],
                               ws[itab[layer, STAT_OFF]:itab[layer, STAT_OFF] + 3 * n], ggamma,
                               gbeta)
            checked += optimizers.check(ggamma, squares) + optimizers.check(gbeta, squares)
    return checked


@kernel
def _embedding_backward(rows, itab, grad, ws, g, layer, squares):  # type: ignore[no-untyped-def]
    """dL/dw of an embedding node (embedding.backward) from its dL/d(output) g; returns the
    gradient check (optimizers.check)."""
    n_in = itab[layer, N_IN]
    dim = itab[layer, N_OUT] // n_in
    w_off = itab[layer, W_OFF]
    gw = grad[w_off:w_off + itab[layer, VOCAB] * dim]
    embedding.backward(ws[itab[layer, IN_OFF]:itab[layer, IN_OFF] + rows * n_in], rows, n_in,
                       dim, g, gw)
    return optimizers.check(gw, squares)


# -- graphs ---------------------------------------------------------------------------------


@kernel
def _merge(rows, itab, ws, gtab, etab, node):  # type: ignore[no-untyped-def]
    """A merge node's output from its inputs (edges e of the node, in input order):
    concat  a[r, col_e + j] = in_e[r, j]          add  a[r, j] = sum_e in_e[r, j]"""
    n = itab[node, N_OUT]
    a_off = itab[node, A_OFF]
    e0 = gtab[node, E0]
    concat = itab[node, KIND] == CONCAT
    for e in range(e0, e0 + gtab[node, NE]):
        src = etab[e, SRC_A]
        w = etab[e, WIDTH]
        if concat:
            col = etab[e, COL]
            for r in range(rows):
                dst = a_off + r * n + col
                s = src + r * w
                for j in range(w):
                    ws[dst + j] = ws[s + j]
        elif e == e0:
            for i in range(rows * n):  # (not a slice assignment: see _deliver)
                ws[a_off + i] = ws[src + i]
        else:
            for i in range(rows * n):
                ws[a_off + i] += ws[src + i]


@kernel
def _deliver(gws, g, etab, e, rows):  # type: ignore[no-untyped-def]
    """Edge e's gradient g (rows x width, contiguous) to its input's region: written, added,
    or already there (E_ALIAS: g is that region)."""
    mode = etab[e, MODE]
    if mode == E_WRITE or mode == E_ADD:
        tgt = etab[e, TGT]
        size = rows * etab[e, WIDTH]
        if mode == E_WRITE:
            # element by element, as everywhere in the kernels: assigning an array to a
            # slice makes Numba compile its shape-mismatch message, string formatting
            # that cost ~2 s of the first compile (tests/cpu/test_cpu_one_engine.py)
            for i in range(size):
                gws[tgt + i] = g[i]
        else:
            for i in range(size):
                gws[tgt + i] += g[i]


@kernel
def _deliver_columns(gws, g, n, etab, e, rows):  # type: ignore[no-untyped-def]
    """A concat node's edge e: columns [col, col + width) of g (rows x n) to its input."""
    mode = etab[e, MODE]
    if mode == E_WRITE or mode == E_ADD:
        tgt = etab[e, TGT]
        w = etab[e, WIDTH]
        col = etab[e, COL]
        for r in range(rows):
            s = r * n + col
            d = tgt + r * w
            if mode == E_WRITE:
                for j in range(w):
                    gws[d + j] = g[s + j]
            else:
                for j in range(w):
                    gws[d + j] += g[s + j]


@kernel
def graph_losses(rows, k, loss_code, loss_param, ws, y_off, graph):  # type: ignore[no-untyped-def]
    """Every output's batch loss into graph[GR_VALUES] (the main output's first); returns
    whether all are finite."""
    otab = graph[GR_OTAB]
    values = graph[GR_VALUES]
    ok = True
    yb = ws[y_off:y_off + rows * k]
    for j in range(otab.shape[0]):
        z = ws[otab[j, O_Z]:otab[j, O_Z] + rows * k]
        a = ws[otab[j, O_A]:otab[j, O_A] + rows * k]
        values[j] = losses.finish(loss_code, losses.loss_sum(loss_code, loss_param,
                                                             otab[j, O_FUSED], z, a, yb, rows,
                                                             k), rows, k)
        ok = ok and math.isfinite(values[j])
    return ok


@kernel
def graph_seeds(rows, k, loss_code, loss_param, ws, y_off, graph):  # type: ignore[no-untyped-def]
    """Every output's weight x dL/d(its output) (dL/dz when fused) into its node's gradient
    region: written by the first output at a node, added by the others."""
    otab, owt, gws, values = graph[GR_OTAB], graph[GR_OWT], graph[GR_GWS], graph[GR_VALUES]
    scratch = gws[gws.shape[0] - graph[GR_SCRATCH]:]
    yb = ws[y_off:y_off + rows * k]
    size = rows * k
    for j in range(otab.shape[0]):
        g_off = otab[j, O_G]
        if g_off < 0:
            continue
        a = ws[otab[j, O_A]:otab[j, O_A] + size]
        g = gws[g_off:g_off + size]
        weight = owt[j]
        if otab[j, O_MODE] == E_WRITE and weight == 1.0:
            losses.loss_grad(loss_code, loss_param, otab[j, O_FUSED], a, yb, g, rows, k,
                             values[j])
        else:
            s = scratch[:size]
            losses.loss_grad(loss_code, loss_param, otab[j, O_FUSED], a, yb, s, rows, k,
                             values[j])
            w = g.dtype.type(weight)
            if otab[j, O_MODE] == E_WRITE:
                for i in range(size):
                    g[i] = w * s[i]
            else:
                for i in range(size):
                    g[i] += w * s[i]


@kernel(inline=True)
def backward_graph(rows, itab, ftab, params, grad, ws, squares, graph, img):  # type: ignore[no-untyped-def]
    """backward for a graph, the outputs' seeds in place (graph_seeds): nodes from the last
    back, each with a gradient region (layout: gtab G_OFF >= 0), its parameter gradients
    into grad and dL/d(input) delivered along its edges. Returns the check, as backward."""
    gtab, etab, gws = graph[GR_GTAB], graph[GR_ETAB], graph[GR_GWS]
    scratch = gws[gws.shape[0] - graph[GR_SCRATCH]:]
    checked = 0.0
    for layer in range(itab.shape[0] - 1, -1, -1):
        g_off = gtab[layer, G_OFF]
        if g_off < 0:
            continue
        kind = itab[layer, KIND]
        n_in = itab[layer, N_IN]
        n = itab[layer, N_OUT]
        g = gws[g_off:g_off + rows * n]
        e0 = gtab[layer, E0]
        skip_act = gtab[layer, SEEDED] != 0  # a fused output's seed is dL/dz already
        if _image_kind(itab, img, layer):
            if kind == BATCHNORM:  # in place, then delivered as any elementwise node
                checked += _image_backward(rows, skip_act, itab, ftab, params, grad, ws, gws,
                                           gws, False, squares, img, layer, g_off, 0)
                _deliver(gws, g, etab, e0, rows)
                continue
            mode = etab[e0, MODE]
            gx_off = etab[e0, TGT] if mode == E_WRITE else gws.shape[0] - graph[GR_SCRATCH]
            checked += _image_backward(rows, skip_act, itab, ftab, params, grad, ws, gws, gws,
                                       mode != E_NONE, squares, img, layer, g_off, gx_off)
            if mode == E_ADD:
                _deliver(gws, scratch[:rows * n_in], etab, e0, rows)
            continue
        if kind == DENSE:
            z = ws[itab[layer, Z_OFF]:itab[layer, Z_OFF] + rows * n]
            a = ws[itab[layer, A_OFF]:itab[layer, A_OFF] + rows * n]
            # with T_OUT, the reader's backward_t applied the derivative already
            if not skip_act and itab[layer, T_OUT] == 0:
                activations.backward(itab[layer, ACT], ftab[layer, P0], ftab[layer, P1], z, a, g,
                                     n)
            x = ws[itab[layer, IN_OFF]:itab[layer, IN_OFF] + rows * n_in]
            w_off = itab[layer, W_OFF]
            b_off = itab[layer, B_OFF]
            has_bias = itab[layer, HAS_BIAS] != 0
            gb = grad[b_off:b_off + n] if has_bias else grad[:0]
            mode = etab[e0, MODE]
            need_gx = mode != E_NONE
            # written straight into the input's region when first to arrive, else added
            gx = (gws[etab[e0, TGT]:etab[e0, TGT] + rows * n_in] if mode == E_WRITE
                  else scratch[:rows * n_in])
            if _large(itab, layer):
                prev = max(etab[e0, SRC], 0)  # with T_IN, the dense layer whose output x is
                checked += dense.backward_t(
                    x, params[w_off:w_off + n * n_in], g, grad[w_off:w_off + n * n_in], gb,
                    has_bias, gx, need_gx, squares, rows, n_in, n, itab[layer, T_IN] != 0,
                    itab[layer, T_OUT] != 0, itab[layer, SPLIT],
                    itab[prev, ACT] if itab[layer, T_IN] != 0 else A_LINEAR, ftab[prev, P0],
                    ftab[prev, P1], ws[itab[prev, Z_OFF]:itab[prev, Z_OFF] + rows * n_in])
            else:
                checked += dense.backward(_mat(x, 0, rows, n_in),
                                          _mat(params, w_off, n, n_in), _mat(g, 0, rows, n),
                                          _mat(grad, w_off, n, n_in), gb, has_bias,
                                          _mat(gx, 0, rows, n_in), need_gx, squares)
            if mode == E_ADD:
                _deliver(gws, gx, etab, e0, rows)
        elif kind == EMBEDDING:  # reads the model's input: nothing to deliver
            checked += _embedding_backward(rows, itab, grad, ws, g, layer, squares)
        elif kind == CONCAT:
            for e in range(e0, e0 + gtab[layer, NE]):
                _deliver_columns(gws, g, n, etab, e, rows)
        elif kind == ADD:
            for e in range(e0, e0 + gtab[layer, NE]):
                _deliver(gws, g, etab, e, rows)
        else:  # elementwise: g becomes dL/d(input) in place
            if kind == ACTIVATION:
                if not skip_act:
                    z = ws[itab[layer, IN_OFF]:itab[layer, IN_OFF] + rows * n]
                    a = ws[itab[layer, A_OFF]:itab[layer, A_OFF] + rows * n]
                    activations.backward(itab[layer, ACT], ftab[layer, P0], ftab[layer, P1], z,
                                         a, g, n)
            elif kind == DROPOUT:
                if ftab[layer, RATE] > 0.0:
                    dropout.backward(g, ws[itab[layer, AUX_OFF]:itab[layer, AUX_OFF] + rows * n])
            elif kind == BATCHNORM:
                affine = itab[layer, AFFINE] != 0
                w_off = itab[layer, W_OFF]
                b_off = itab[layer, B_OFF]
                gamma = params[w_off:w_off + n] if affine else params[:0]
                ggamma = grad[w_off:w_off + n] if affine else grad[:0]
                gbeta = grad[b_off:b_off + n] if affine else grad[:0]
                batchnorm.backward(g, rows, n, gamma, affine,
                                   ws[itab[layer, AUX_OFF]:itab[layer, AUX_OFF] + rows * n],
                                   ws[itab[layer, STAT_OFF]:itab[layer, STAT_OFF] + 3 * n],
                                   ggamma, gbeta)
                checked += optimizers.check(ggamma, squares) + optimizers.check(gbeta, squares)
            _deliver(gws, g, etab, e0, rows)
    return checked


# -- chunks of batches ----------------------------------------------------------------------


@kernel
def _gather(x, y, order, r0, rows, ws, y_off, k, ids):  # type: ignore[no-untyped-def]
    """The rows order[r0:r0 + rows] of x and y into the workspace: x at its start, the
    targets as (rows, k) at y_off (_targets), or when `ids` (y holds class ids, the loss
    takes them as they are: _sparse) the rows' ids at y_off."""
    n_in = x.shape[1]
    for r in range(rows):
        src = order[r0 + r]
        for j in range(n_in):
            ws[r * n_in + j] = x[src, j]
        if ids:
            ws[y_off + r] = y[src, 0]
        else:
            _targets(y, src, ws, y_off + r * k, k)


@kernel
def _sparse(itab, y, k, chain, loss_code, fused, loss_param):  # type: ignore[no-untyped-def]
    """Threads for losses.sparse_cce when a chain's targets are class ids its loss takes as
    they are (the unsmoothed fused softmax-crossentropy), the output layer's (1 when it is
    not split); else 0: the ids are expanded into one-hot rows (_targets)."""
    if not (chain and y.shape[1] != k and loss_code == L_CCE and fused == FUSED_SOFTMAX_CCE
            and loss_param == 0.0):
        return 0
    last = itab.shape[0] - 1
    return max(itab[last, SPLIT], 1) if itab[last, KIND] == DENSE else 1


@kernel
def _targets(y, src, ws, dst, k):  # type: ignore[no-untyped-def]
    """Row src of y as k target values at ws[dst:]: y's row itself, or, when y holds one
    class id per row (one column for k > 1 outputs: a multi-class task's targets stay N x 1
    rather than N x K one-hot rows, 5,000 values a sample for a 5,000-word vocabulary), the
    one-hot row of that id (the executable checked every id is in [0, k))."""
    d = np.uint64(dst)  # unsigned indices: the loops vectorise (no wraparound test)
    if y.shape[1] == k:
        for j in range(np.uint64(k)):
            ws[d + j] = y[src, j]
    else:
        for j in range(np.uint64(k)):
            ws[d + j] = 0
        ws[dst + int(y[src, 0])] = 1


@kernel
def _update_running(rows, itab, ftab, ws, buffers, img):  # type: ignore[no-untyped-def]
    for layer in range(itab.shape[0]):
        if itab[layer, KIND] == BATCHNORM:
            n = itab[layer, N_OUT]
            count = rows
            if img[layer, W_HW] > 1:  # per channel over the positions
                n = img[layer, W_C]
                count = rows * img[layer, W_HW]
            batchnorm.update_running(count, n, ftab[layer, MOMENTUM],
                                     ws[itab[layer, STAT_OFF]:itab[layer, STAT_OFF] + 3 * n],
                                     buffers[itab[layer, RM_OFF]:itab[layer, RM_OFF] + n],
                                     buffers[itab[layer, RV_OFF]:itab[layer, RV_OFF] + n])


@kernel
def train_chunk(x, y, order, start, end, t, lr, net, mem, terms, draws, graph, img):  # type: ignore[no-untyped-def]
    """Batches [start, end) of the epoch (batches of net's C_ROWS samples) at learning rate
    lr, t the step before the first; returns (loss_sum, samples, batches done, status, bad
    batch, step t after the last update); terms[k] = loss * rows of the k-th batch run (the
    main output's; a graph's heads' in graph[GR_HEADS][k]). Denormals are flushed meanwhile
    (fpu.py). One function, no wrapper: each compiled function is optimised and turned into
    machine code with everything it calls, so a wrapper doubles the largest compile."""
    saved = fpu.get_mxcsr()
    fpu.set_mxcsr(saved | fpu.FTZ_DAZ)
    itab, ftab, conf, fconf, hyper = (net[NET_ITAB], net[NET_FTAB], net[NET_CONF],
                                      net[NET_FCONF], net[NET_HYPER])
    params, grad, buffers, state = mem[M_PARAMS], mem[M_GRAD], mem[M_BUFFERS], mem[M_STATE]
    ws, g1, g2 = mem[M_WS], mem[M_G1], mem[M_G2]
    batch, y_off, out_off, z_off = conf[C_ROWS], conf[C_Y_OFF], conf[C_OUT_OFF], conf[C_Z_OFF]
    loss_code, fused, opt_code = conf[C_LOSS], conf[C_FUSED], conf[C_OPT]
    step_parts = conf[C_STEP_PARTS]
    fast = conf[C_FAST] != 0
    loss_param = fconf[F_LOSS_PARAM]
    clip_value, clip_norm = fconf[F_CLIP_VALUE], fconf[F_CLIP_NORM]
    n_total = x.shape[0]
    k = conf[C_K]  # outputs (y has k columns, or 1: class ids, _targets)
    s0, s1, s2 = optimizers.rows(state)
    loss_total = 0.0
    samples = 0
    done = 0
    status = STATUS_OK
    bad = -1
    drawn = 0  # dropout draws used
    # only clipping by norm alone uses the sum of squares (clip by value recomputes it)
    squares_wanted = clip_norm > 0 and clip_value <= 0
    gtab, etab = graph[GR_GTAB], graph[GR_ETAB]
    chain = gtab.shape[0] == 0  # tables.graph: a chain's tables are empty
    sparse = _sparse(itab, y, k, chain, loss_code, fused, loss_param)
    for b in range(start, end):
        r0 = b * batch
        rows = min(batch, n_total - r0)
        _gather(x, y, order, r0, rows, ws, y_off, k, sparse > 0)
        drawn += forward(rows, True, itab, ftab, params, buffers, ws, draws, drawn, fast, gtab,
                         etab, img)
        if sparse > 0:  # the loss and dL/dz in one pass (the gradient unused if not finite)
            loss = losses.finish(loss_code, losses.sparse_cce(
                sparse, ws[z_off:z_off + rows * k], ws[out_off:out_off + rows * k],
                ws[y_off:y_off + rows], g1[:rows * k], rows, k, True), rows, k)
            if not math.isfinite(loss):
                status, bad = STATUS_NONFINITE_LOSS, b
                break
            squares = backward(rows, fused, itab, ftab, params, grad, ws, g1, g2,
                               squares_wanted, img)
        elif chain:
            out = ws[out_off:out_off + rows * k]
            yb = ws[y_off:y_off + rows * k]
            z = ws[z_off:z_off + rows * k]
            loss = losses.finish(loss_code, losses.loss_sum(loss_code, loss_param, fused, z,
                                                            out, yb, rows, k), rows, k)
            if not math.isfinite(loss):
                status, bad = STATUS_NONFINITE_LOSS, b
                break
            g = g1[:rows * k]
            losses.loss_grad(loss_code, loss_param, fused, out, yb, g, rows, k, loss)
            squares = backward(rows, fused, itab, ftab, params, grad, ws, g1, g2,
                               squares_wanted, img)
        else:
            if not graph_losses(rows, k, loss_code, loss_param, ws, y_off, graph):
                status, bad = STATUS_NONFINITE_LOSS, b
                break
            loss = graph[GR_VALUES][0]
            graph_seeds(rows, k, loss_code, loss_param, ws, y_off, graph)
            squares = backward_graph(rows, itab, ftab, params, grad, ws, squares_wanted, graph,
                                     img)
        if not math.isfinite(squares):
            status, bad = STATUS_NONFINITE_GRAD, b
            break
        optimizers.clip(grad, clip_value, clip_norm, squares)
        _update_running(rows, itab, ftab, ws, buffers, img)
        t += 1
        if step_parts > 1:
            optimizers.step_parts(step_parts, opt_code, params, grad, s0, s1, s2, hyper, lr, t)
        else:
            optimizers.step_rows(opt_code, params, grad, s0, s1, s2, hyper, lr, t)
        terms[done] = loss * rows
        if not chain:
            values, heads = graph[GR_VALUES], graph[GR_HEADS]
            for h in range(1, values.shape[0]):
                heads[done, h - 1] = values[h] * rows
        loss_total += loss * rows
        samples += rows
        done += 1
    fpu.set_mxcsr(saved)
    return loss_total, samples, done, status, bad, t


@kernel
def _copy_rows(x, y, r0, rows, ws, y_off, k, ids):  # type: ignore[no-untyped-def]
    n_in = x.shape[1]
    for r in range(rows):
        for j in range(n_in):
            ws[r * n_in + j] = x[r0 + r, j]
    if y_off < 0:
        return
    for r in range(rows):
        if ids:
            ws[y_off + r] = y[r0 + r, 0]
        else:
            _targets(y, r0 + r, ws, y_off + r * k, k)


@kernel
def infer(x, y, out, net, mem, graph, img):  # type: ignore[no-untyped-def]
    """Every row of x in eval mode, C_ROWS rows at a time: returns the loss of the whole set
    against y (the main output's, its pre-activation at C_Z_OFF; terms summed chunk by chunk
    in float64) when y has rows, NaN otherwise; copies the outputs into out when out has
    rows. evaluate and predict in one entry point: one compiled copy of the forward pass
    instead of two (see train_chunk)."""
    itab, ftab, conf = net[NET_ITAB], net[NET_FTAB], net[NET_CONF]
    cap, y_off, out_off, z_off = conf[C_ROWS], conf[C_Y_OFF], conf[C_OUT_OFF], conf[C_Z_OFF]
    loss_code, fused, loss_param = conf[C_LOSS], conf[C_FUSED], net[NET_FCONF][F_LOSS_PARAM]
    fast = conf[C_FAST] != 0
    params, buffers, ws = mem[M_PARAMS], mem[M_BUFFERS], mem[M_WS]
    n_total = x.shape[0]
    k = out.shape[1]  # (out has no rows when not asked for)
    with_loss = y.shape[0] > 0
    with_out = out.shape[0] > 0
    s = 0.0
    # no dropout draws in eval mode; not NO_DRAWS itself: Numba makes a global array a
    # read-only constant, and forward (its whole subtree) then compiled a second time for a
    # read-only `draws` (measured: engine.forward had two cache entries per dtype)
    draws = np.empty(0, dtype=np.float64)
    sparse = _sparse(itab, y, k, graph[GR_GTAB].shape[0] == 0, loss_code, fused,
                     loss_param) if with_loss else 0
    for r0 in range(0, n_total, cap):
        rows = min(cap, n_total - r0)
        _copy_rows(x, y, r0, rows, ws, y_off if with_loss else -1, k, sparse > 0)
        forward(rows, False, itab, ftab, params, buffers, ws, draws, 0, fast,
                graph[GR_GTAB], graph[GR_ETAB], img)
        if sparse > 0:
            s += losses.sparse_cce(sparse, ws[z_off:z_off + rows * k],
                                   ws[out_off:out_off + rows * k], ws[y_off:y_off + rows],
                                   ws[:0], rows, k, False)
        elif with_loss:
            s += losses.loss_sum(loss_code, loss_param, fused, ws[z_off:z_off + rows * k],
                                 ws[out_off:out_off + rows * k], ws[y_off:y_off + rows * k],
                                 rows, k)
        if with_out:
            for r in range(rows):
                for j in range(k):
                    out[r0 + r, j] = ws[out_off + r * k + j]
    if not with_loss:
        return math.nan
    return losses.finish(loss_code, s, n_total, k)

"""memory.estimate: Plan + DataSize -> Estimate, the peak resident memory of a run (bytes).

Arithmetic only (no NumPy): `nnspec check`, `summary` and the language server call it. The
buffers counted are what the cpu engine and the training loop allocate (docs/runs.md,
"Memory"); each `Item` names one, with the statement whose numbers make it big (`owner`):

- the model (owner: the layer with the most parameters): parameters, gradients, batchnorm
  running statistics and the optimizer's moments (backends/cpu/executable.py), the copy the
  loop takes for a checkpoint (always at the end, Trainer.state_dict), the `restore_best`
  copy of the best epoch's weights, the copies made for weights.npz (run/restore.weights_of);
- the activations (owner: `batch`): one workspace per batch size the engine runs (training
  batches, evaluation chunks of up to EVAL_ROWS rows, a validation set that fits one chunk),
  each with its two backward buffers and, for a graph, its gradient workspace: exactly the
  sizes of backends/cpu/layout.py (`workspace_values` mirrors it; a test compares them),
  image layers included (a conv2d's im2col scratch per engine thread, a max pool's argmax);
- the data (owner: `source`): the splits in the run's dtype with their targets and row
  indices, class targets as the engine holds them (one index a sample, one-hot only per
  batch in the workspace), the epoch's sample order, the
  outputs predicted each epoch for the metrics;
- the history (owner: `epochs`): one row (a dict of floats) per epoch, kept until the end.

Three moments compete for the peak (PHASES): reading the data (the table as read, in
float64, and an .npz file held whole while it is parsed), splitting and scaling it (the
table, the splits and the float64 copies of the training rows the scaler and the data checks
make) and training (everything above). `Estimate.total` is the largest.

Not counted: the interpreter with NumPy and Numba and the compiled kernels (about the same
for every run, the benchmark subtracts it), allocator slack, BLAS thread buffers, and the memory
of a GPU (`device cuda`: the host side is estimated as for the cpu engine).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from nnspec.diagnostics import Span
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
    FLATTEN,
    GLOBAL_AVGPOOL,
    INPUT,
    MAXPOOL,
    LayerPlan,
    Plan,
)

# The moments that compete for the peak: reading the files (the table as read, and a file
# held whole while it is parsed), splitting and scaling it (the table, the splits and the
# copies the scaler makes), training (the model, the workspaces, the splits, the history).
PHASES = ("read", "scale", "train")
PHASE_WORDS = {"read": "while reading the data", "scale": "while splitting and scaling the data",
               "train": "while training"}
EVAL_ROWS = 1024  # backends/cpu/executable.EVAL_ROWS (a test checks they agree)
# backends/cpu/layout.transposed_forward: a dense layer keeps a transposed copy of a small w
WT_MIN_OUT, WT_MAX_SIZE = 16, 16384
IN_PLACE = (ACTIVATION, DROPOUT, BATCHNORM, FLATTEN)
# nodes whose backward writes dL/d(input) into a region of its own (layout.GX_KINDS)
GX_KINDS = (DENSE, CONV2D, MAXPOOL, AVGPOOL, GLOBAL_AVGPOOL)
# backends/cpu/layout.conv_parts: a conv2d of at least this many multiply-adds per batch
# runs its samples on every engine thread, each with its own im2col scratch
SPLIT_MIN_WORK = 1 << 20
# backends/cpu/layout: a conv2d keeps forward's im2col of the whole batch for backward when it
# holds at most this many values
KEEP_COLS_MAX = 1 << 23
# A history row: a dict of `c` floats, ~120 bytes + ~48 per column while training (measured
# with tracemalloc on CPython 3.12), and its text in history.json / history.csv at the end.
ROW_BYTES, COLUMN_BYTES = 120, 48 + 60
# Splitting and scaling: besides the table (float64) and the splits, the copies Scaler.fit,
# Scaler.apply and the data checks make of the training rows (`x[rows]`, `x - mean`, ...): at
# most about this many float64 (n_train, features) arrays at once. Measured: two (the peak
# resident memory of benchmarks/bench_memory.py's csv, generated and npz cases; tracemalloc,
# which counts requested bytes rather than resident pages, sees up to three).
LOAD_COPIES = 2


@dataclass(frozen=True)
class DataSize:
    """How much data a run reads, as far as it is known before reading it.

    samples: rows of the main source (None: unknown, e.g. a CSV that cannot be opened);
    validation / test: rows of separate sources (0: none; None: unknown); features and
    targets per row; `exact` False when rows were estimated (a CSV from its size); `raw`:
    extra bytes the reader holds while reading (an .npz file is read whole); `note`: how it
    was found, for messages."""

    samples: int | None
    features: int
    targets: int = 1
    validation: int | None = 0
    test: int | None = 0
    exact: bool = True
    raw: int = 0
    note: str = ""


@dataclass(frozen=True)
class Item:
    """One counted buffer (or group of buffers alive together)."""

    name: str  # e.g. "optimizer state"
    bytes: int
    owner: str  # "model" | "width" (the widest layer) | "batch" | "data" | "epochs"
    phases: tuple[str, ...] = ("train",)  # the moments (PHASES) it is alive at
    detail: str = ""  # e.g. "2 x 1,024 values"


@dataclass(frozen=True)
class Estimate:
    items: tuple[Item, ...]
    data: DataSize | None
    params: int
    biggest_layer: int | None  # index into Plan.layers of the layer with most parameters
    widest_layer: int | None = None  # ... of the layer with the widest output per sample
    notes: tuple[str, ...] = field(default=())

    def phase(self, phase: str) -> int:
        return sum(i.bytes for i in self.items if phase in i.phases)

    @property
    def total(self) -> int:
        """The estimated peak: the largest of its moments (PHASES)."""
        return max(self.phase(p) for p in PHASES)

    @property
    def peak_phase(self) -> str:
        return max(PHASES[::-1], key=self.phase)  # training wins a tie

    def by_owner(self) -> dict[str, int]:
        """Bytes of the peak phase per owner (what the error points at)."""
        out: dict[str, int] = {}
        for i in self.items:
            if self.peak_phase in i.phases:
                out[i.owner] = out.get(i.owner, 0) + i.bytes
        return out

    def get(self, name: str) -> int:
        return sum(i.bytes for i in self.items if i.name == name)


def itemsize(dtype: str) -> int:
    return 8 if dtype == "float64" else 4


def engine_threads() -> int:
    """The threads the cpu engine may split a conv2d across (layout.threads), at most: Numba's
    NUMBA_NUM_THREADS, by default one per core. Taken without importing Numba (check and the
    editor call the estimate), so it is an upper bound: the engine uses one thread where
    Numba's threading layer is the slow fallback."""
    env = os.environ.get("NUMBA_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return os.cpu_count() or 1


def conv_values(layer: LayerPlan, rows: int, threads: int) -> int:
    """A conv2d's workspace beyond its output (layout.py): per thread that runs it, the im2col
    scratch (K x P) and the padded sample (C x Hp x Wp), none for a direct 1x1 convolution;
    the batch's im2col kept for backward where it fits KEEP_COLS_MAX; and, split across
    threads, the other threads' partial weight and bias gradients."""
    c, h, w = layer.in_shape
    f, ho, wo = layer.out_shape
    win = layer.window
    k = c * win.kh * win.kw
    n = threads if threads > 1 and rows >= 2 and rows * f * k * ho * wo >= SPLIT_MIN_WORK else 0
    direct = (win.kh, win.kw, win.sh, win.sw, win.pt, win.pl, win.pb, win.pr) == (
        1, 1, 1, 1, 0, 0, 0, 0)
    hp = max(win.pt + h, (ho - 1) * win.sh + (win.kh - 1) * win.dh + 1)
    wp = max(win.pl + w, (wo - 1) * win.sw + (win.kw - 1) * win.dw + 1)
    scratch = 0 if direct else max(n, 1) * c * (win.kh * win.kw * ho * wo + hp * wp)
    kept = rows * k * ho * wo
    if not direct and kept <= KEEP_COLS_MAX:
        scratch += kept
    return scratch + (n - 1) * f * (k + 1) if n > 1 else scratch


def workspace_values(plan: Plan, rows: int, threads: int | None = None) -> int:
    """Values of one engine workspace for batches of `rows` samples: the forward workspace,
    the two backward buffers and (graphs) the gradient workspace, as backends/cpu/layout.py
    lays them out; `threads`: the engine's (engine_threads() when not given)."""
    threads = engine_threads() if threads is None else threads
    ws = rows * (plan.n_inputs + plan.n_outputs)
    widest = 1
    for layer in plan.layers:
        n = layer.n_out
        widest = max(widest, n, layer.n_in)
        if layer.kind == DENSE:
            ws += rows * n * (1 if layer.act == A_LINEAR else 2)
            if n >= WT_MIN_OUT and layer.n_in * n <= WT_MAX_SIZE:
                ws += layer.n_in * n
        elif layer.kind == ACTIVATION or layer.kind in (CONCAT, ADD):
            ws += rows * n
        elif layer.kind == DROPOUT:
            ws += 2 * rows * n
        elif layer.kind == BATCHNORM:  # xh, y; mu, var, inv per channel (feature)
            ws += 2 * rows * n + 3 * layer.channels
        elif layer.kind == FLATTEN:
            pass
        elif layer.kind == CONV2D:
            ws += rows * n * (1 if layer.act == A_LINEAR else 2) + conv_values(layer, rows,
                                                                                threads)
        elif layer.kind == MAXPOOL:  # the argmax and the output
            ws += 2 * rows * n
        else:  # embedding, avgpool, global_avgpool: the output
            ws += rows * n
    return ws + 2 * rows * widest + (0 if plan.is_chain else _gradient_workspace(plan, rows))


def _gradient_workspace(plan: Plan, rows: int) -> int:
    """layout._graph's gws_size: a region per node that needs a gradient (shared where a
    gradient is handed on in place), plus a scratch region of the widest input of a node
    that writes dL/d(input) (GX_KINDS)."""
    nodes = plan.layers
    readers: list[list[int]] = [[] for _ in nodes]
    for i, node in enumerate(nodes):
        for src in node.inputs:
            if src != INPUT:
                readers[src].append(i)
    upstream = [False] * len(nodes)
    for i, node in enumerate(nodes):
        upstream[i] = any(t.buffer == "params" for t in node.tensors) or any(
            upstream[s] for s in node.inputs if s != INPUT)
    live = [False] * len(nodes)
    for o in plan.outputs:
        if o.node != INPUT:
            live[o.node] = True
    for i in range(len(nodes) - 1, -1, -1):
        live[i] = live[i] or any(live[r] for r in readers[i])
    need = [live[i] and upstream[i] for i in range(len(nodes))]
    seeded = {o.node for o in plan.outputs if o.node != INPUT}
    first: dict[int, tuple[int, int]] = {}
    for i in range(len(nodes) - 1, -1, -1):
        if need[i]:
            for slot, src in enumerate(nodes[i].inputs):
                if src != INPUT and need[src] and src not in seeded and src not in first:
                    first[src] = (i, slot)
    size = 0
    aliased: set[int] = set()
    alias_of: set[int] = set()
    for i in range(len(nodes) - 1, -1, -1):
        node = nodes[i]
        if need[i] and i not in alias_of:
            size += rows * node.n_out
        for slot, src in enumerate(node.inputs):
            if not need[i] or src == INPUT or not need[src] or first.get(src) != (i, slot):
                continue
            if node.kind in IN_PLACE or (node.kind == ADD and i not in aliased):
                alias_of.add(src)
                aliased.add(i)
    widest = max([plan.n_outputs] + [n.n_in for n in nodes if n.kind in GX_KINDS])
    return size + rows * widest


def split_sizes(data: DataSize, validation: float, test: float) -> tuple[int, int, int]:
    """(train, validation, test) rows; a separate source's rows, else the split's share."""
    n = data.samples or 0
    n_val = round(n * validation) if validation else (data.validation or 0)
    n_test = round(n * test) if test else (data.test or 0)
    n_train = n - (round(n * validation) if validation else 0) - (round(n * test) if test else 0)
    return max(n_train, 0), n_val, n_test


def history_columns(plan: Plan, has_val: bool) -> int:
    """Columns of a history row: epoch, loss, lr, time, a loss per head, val_loss, and each
    metric for train (and validation)."""
    per_split = 1 + (1 if has_val else 0)
    return 4 + len(plan.heads) + (1 if has_val else 0) + len(plan.metrics) * per_split


def estimate(plan: Plan, data: DataSize | None, *, validation: float = 0.0,
             test: float = 0.0, epochs: int | None = None) -> Estimate:
    """The memory a run of `plan` on `data` needs at its peak (see the module docstring).
    validation / test: the split's fractions; epochs: the epochs planned (plan.epochs)."""
    d = itemsize(plan.dtype)
    p, b, s = plan.n_params, plan.n_buffers, plan.optimizer.n_state
    epochs = plan.epochs if epochs is None else epochs
    items: list[Item] = [
        Item("parameters", (p + b) * d, "model",
             detail=f"{p:,} parameters" + (f" + {b:,} running statistics" if b else "")),
        Item("gradients", p * d, "model"),
    ]
    if s:
        items.append(Item("optimizer state", s * p * d, "model",
                           detail=f"{s} x {p:,} ({plan.optimizer.name})"))
    items.append(Item("checkpoint copy", (p + b + s * p) * d, "model",
                      detail="parameters and optimizer state, as saved"))
    if plan.early_stop is not None and plan.early_stop.restore_best:
        items.append(Item("restore_best copy", (p + b) * d, "model",
                          detail="the best epoch's weights"))
    # weights.npz: run/restore.weights_of copies the flat buffers, then each tensor out of them
    items.append(Item("saved weights", 2 * (p + b) * d, "model",
                      detail="weights.npz at the end"))
    notes: list[str] = []
    if data is None or data.samples is None:
        rows = plan.batch or 0
        if rows:
            items.append(Item("activations", workspace_values(plan, rows) * d, "batch",
                              detail=f"one batch of {rows:,}"))
        notes.append("the data's size is unknown: " + (data.note if data and data.note else
                                                       "no data block")
                     + "; the data and the activations of a full batch are not counted")
        return Estimate(tuple(items), data, p, _biggest(plan), _widest(plan), tuple(notes))

    n_train, n_val, n_test = split_sizes(data, validation, test)
    f, k = data.features, plan.n_outputs
    multiclass = plan.task == "multiclass"
    # the workspaces the engine builds: one per distinct row count it runs, the training
    # batch's (blamed on `batch`) and the evaluation chunks' (on the widest layer)
    batch = plan.batch_size(n_train) if n_train else 0
    if batch:
        items.append(Item("activations", workspace_values(plan, batch) * d, "batch",
                          detail=f"batches of {batch:,}"))
    chunks = sorted({min(EVAL_ROWS, n) for n in (n_train, n_val, n_test) if n} - {batch})
    if chunks:
        items.append(Item("evaluation activations",
                          sum(workspace_values(plan, r) for r in chunks) * d, "width",
                          detail=f"chunks of {', '.join(f'{r:,}' for r in chunks)} rows"))
    n_all = n_train + n_val + n_test
    y_bytes = 8 if multiclass else k * d  # class indices (int64) or float targets
    splits = n_all * (f * d + y_bytes + 8)  # x, y, the rows' indices
    items.append(Item("data splits", splits, "data", phases=("scale", "train"),
                      detail=f"{n_all:,} samples x {f:,} features ({plan.dtype})"))
    if multiclass:  # the engine's copy: one class index a sample (one-hot per batch)
        items.append(Item("class targets", n_all * d, "data"))
    per_epoch = 2 * 8 * n_train  # the epoch's order (a permutation and its int64 copy)
    if plan.metrics:
        per_epoch += max(n_train, n_val) * k * (d + 8)  # outputs for the metrics
    items.append(Item("per epoch", per_epoch, "data", detail="sample order, outputs for metrics"))
    table = (data.samples or 0) * (f + data.targets) * 8
    items.append(Item("data as read", table, "data", phases=("read", "scale"),
                      detail=f"{data.samples:,} rows x {f + data.targets} columns (float64)"
                      + (f", {data.note}" if data.note else "")))
    for name, n in (("validation", data.validation), ("test", data.test)):
        if n:
            items.append(Item(f"{name} data as read", n * (f + data.targets) * 8, "data",
                              phases=("read", "scale")))
    if data.raw:
        items.append(Item("file held while reading", data.raw, "data", phases=("read",)))
    items.append(Item("scaling copies", LOAD_COPIES * n_train * f * 8, "data", phases=("scale",),
                      detail="training rows in float64 for the scaler"))
    cols = history_columns(plan, n_val > 0)
    items.append(Item("history", epochs * (ROW_BYTES + COLUMN_BYTES * cols), "epochs",
                      detail=f"{epochs:,} row{'' if epochs == 1 else 's'} of {cols} columns"))
    if not data.exact:
        notes.append(f"the number of samples is estimated ({data.note})")
    return Estimate(tuple(items), data, p, _biggest(plan), _widest(plan), tuple(notes))


def _biggest(plan: Plan) -> int | None:
    best, most = None, -1
    for i, layer in enumerate(plan.layers):
        n = sum(t.size for t in layer.tensors)
        if n > most:
            best, most = i, n
    return best


def _widest(plan: Plan) -> int | None:
    widths = [layer.n_out for layer in plan.layers]
    return widths.index(max(widths)) if widths else None


def layer_span(plan: Plan, index: int | None) -> Span | None:
    return plan.layers[index].span if index is not None else None

"""backends.cpu.nonfinite: a batch whose loss or gradient went NaN/inf -> the E411 diagnostic.

Slow and thorough, run once after a chunk stopped (backends/base.nonfinite_error): replays
the bad batch with the compiled CPU kernels in the plan dtype (so a float32 overflow happens
again exactly as in training), from the executable's parameters as they were before the bad
update, with the same dropout masks when the chunk carries its generator state. It then
looks at the tensors in the order they were computed: parameters, the batch's inputs and
targets, each layer's pre-activation and output, the loss, and the parameter gradients from
the last layer back; the first one holding a NaN or inf is what the diagnostic names.
"""

from __future__ import annotations

import math

import numpy as np

from nnspec.backends.base import EpochChunk, Executable, as_inputs, as_targets
from nnspec.backends.cpu import engine, losses
from nnspec.backends.cpu.executable import _Work, dropout_draws
from nnspec.backends.cpu.layout import A_OFF, HAS_Z, O_A, O_G, SPLIT, Z_OFF
from nnspec.backends.cpu.tables import GR_ETAB, GR_GTAB
from nnspec.diagnostics import DiagnosticError, Span, error


def _bad(a: np.ndarray) -> str | None:
    """'NaN' or 'inf' when a holds one (NaN first), else None."""
    if np.isnan(a).any():
        return "NaN"
    if np.isinf(a).any():
        return "inf"
    return None


def locate(exe: Executable, x: np.ndarray, y: np.ndarray, order: np.ndarray,
           chunk: EpochChunk) -> tuple[str, str, int | None]:
    """(what, 'NaN'|'inf', layer index or None) of the first non-finite tensor of the bad
    batch; layer -1 stands for the loss; what is '' when the replay stays finite."""
    plan = exe.plan
    dtype = np.dtype(plan.dtype)
    params = np.ascontiguousarray(exe.get_params(), dtype=dtype)
    buffers = np.ascontiguousarray(exe.get_buffers(), dtype=dtype)
    for slot in plan.tensors:
        src = params if slot.buffer == "params" else buffers
        kind = _bad(src[slot.offset:slot.offset + slot.size])
        if kind:
            return (f"parameter `{slot.key}` of {plan.layers[slot.layer].label}", kind,
                    slot.layer)
    x, y = as_inputs(plan, x), np.asarray(y)  # (class indices stay so: N x K is large)
    n = x.shape[0]
    size = plan.batch_size(n)
    idx = np.asarray(order, dtype=np.int64)[chunk.bad_batch * size:(chunk.bad_batch + 1) * size]
    rows = len(idx)
    xb, yb = x[idx], as_targets(plan, y[idx])
    if kind := _bad(xb):
        return "input data of the batch", kind, None
    if kind := _bad(yb):
        return "targets of the batch", kind, None

    draws = engine.NO_DRAWS
    if chunk.rng_state is not None:
        rng = np.random.default_rng(0)
        rng.bit_generator.state = chunk.rng_state
        # skip the draws of the chunk's batches before the bad one (all full batches)
        skipped = dropout_draws(plan, size) * (chunk.bad_batch - chunk.start_batch)
        if skipped:
            rng.random(skipped)
        draws = rng.random(dropout_draws(plan, rows))
    work = _Work(plan, rows)
    lay = work.layout
    lay.itab[:, SPLIT] = 0  # a one-off replay: serial gemms, no BLAS thread limit needed
    k = plan.n_outputs
    work.ws[:rows * plan.n_inputs] = xb.ravel()
    work.ws[lay.y_off:lay.y_off + rows * k] = yb.ravel()
    graph = work.graph()
    engine.forward(rows, True, lay.itab, lay.ftab, params, buffers, work.ws, draws, 0,
                   dtype == np.float32, graph[GR_GTAB], graph[GR_ETAB], work.img)
    for i, layer in enumerate(plan.layers):
        n_out = layer.n_out
        if layer.kind in HAS_Z:
            z_off = int(lay.itab[i, Z_OFF])
            if kind := _bad(work.ws[z_off:z_off + rows * n_out]):
                return f"pre-activation of {layer.label}", kind, i
        a_off = int(lay.itab[i, A_OFF])
        if kind := _bad(work.ws[a_off:a_off + rows * n_out]):
            return f"output of {layer.label}", kind, i

    out = work.ws[lay.out_off:lay.out_off + rows * k]
    ys = work.ws[lay.y_off:lay.y_off + rows * k]
    grad = np.zeros(plan.n_params, dtype=dtype)
    if lay.graph is None:
        loss = losses.finish(plan.loss, losses.loss_sum(
            plan.loss, plan.loss_param, plan.fused, work.ws[lay.z_off:lay.z_off + rows * k],
            out, ys, rows, k), rows, k)
        values = [loss]
    else:
        engine.graph_losses(rows, k, plan.loss, plan.loss_param, work.ws, lay.y_off, graph)
        values = work.values.tolist()
    for j, loss in enumerate(values):
        if not math.isfinite(loss):
            o = plan.outputs[j] if plan.outputs else None
            a_off = lay.out_off if lay.graph is None else int(lay.graph.otab[j, O_A])
            at = work.ws[a_off:a_off + rows * k]
            biggest = float(np.abs(at).max()) if at.size else 0.0
            kind = "NaN" if math.isnan(loss) else "inf"
            which = "the loss" if o is None or j == 0 else f"the loss of head `{o.name}`"
            return (f"the outputs are finite (largest magnitude {biggest:.3g}) but {which} "
                    f"is {kind}", kind, -1)
    if lay.graph is None:
        losses.loss_grad(plan.loss, plan.loss_param, plan.fused, out, ys, work.g1[:rows * k],
                         rows, k, values[0])
        if kind := _bad(work.g1[:rows * k]):
            return "gradient of the loss", kind, -1
        engine.backward(rows, plan.fused, lay.itab, lay.ftab, params, grad, work.ws, work.g1,
                        work.g2, False, work.img)
    else:
        engine.graph_seeds(rows, k, plan.loss, plan.loss_param, work.ws, lay.y_off, graph)
        for g_off in lay.graph.otab[:, O_G].tolist():
            if g_off >= 0 and (kind := _bad(work.gws[g_off:g_off + rows * k])):
                return "gradient of the loss", kind, -1
        engine.backward_graph(rows, lay.itab, lay.ftab, params, grad, work.ws, False, graph,
                              work.img)
    for slot in reversed(plan.tensors):
        if slot.buffer == "params":
            if kind := _bad(grad[slot.offset:slot.offset + slot.size]):
                return (f"gradient of `{slot.key}` of {plan.layers[slot.layer].label}", kind,
                        slot.layer)
    return "", "", None


def nonfinite_error(exe: Executable, x: np.ndarray, y: np.ndarray, order: np.ndarray,
                    epoch: int, chunk: EpochChunk, lr: float, path: str | None = None
                    ) -> DiagnosticError:
    """The E411 diagnostic for `chunk` (see backends/base.nonfinite_error)."""
    plan = exe.plan
    what, kind, layer = locate(exe, x, y, order, chunk)
    stage = "loss" if chunk.status == 1 else "gradient"
    where = f"epoch {epoch + 1}, batch {chunk.bad_batch + 1}"
    notes = [f"learning rate {lr:g}, optimizer {plan.optimizer.name}, dtype {plan.dtype}"]
    span: Span | None = None
    label = None
    if layer is not None and layer >= 0:
        span = plan.layers[layer].span
        label = f"{kind} first appears here"
        message = f"{stage} became {kind} in {where}: the first non-finite tensor is the {what}"
    elif layer == -1:
        # the loss has its own span when check() gave it one; else point at the output layer
        span, label = plan.loss_span, f"{kind} here"
        if span is None and plan.layers:
            span = plan.layers[-1].span
        message = f"{stage} became {kind} in {where}: {what}"
    elif what:
        message = f"{stage} became {kind} in {where}: the {what} hold {kind}"
    else:
        message = f"{stage} became non-finite in {where}"
        notes.append("replaying the batch did not reproduce it")
    if what.startswith(("input", "targets")):
        hints = ["the data holds NaN or inf values: clean or impute them before training"]
    elif what.startswith("parameter") and plan.init_from:
        hints = ["the weights were already non-finite before this batch: check the file of "
                 "`init from`"]
    elif what.startswith("parameter"):
        # without `init from`, only an earlier update can have made them non-finite
        hints = [f"an earlier update overflowed the weights: the learning rate is likely too "
                 f"high; try a smaller one (e.g. lr={lr / 10:g}) or add gradient clipping "
                 f"(`clip norm=1.0`)"]
    else:
        hints = [f"the learning rate is likely too high: try a smaller one "
                 f"(e.g. lr={lr / 10:g}) or add gradient clipping (`clip norm=1.0`)"]
    return DiagnosticError(error("E411", message, span, path=path or plan.spec_path,
                                 label=label, notes=notes, hints=hints))

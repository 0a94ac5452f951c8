"""memory: ir.Spec -> the run's estimated peak memory and, against the machine's, diagnostics.

`run_estimate(spec)` lowers the spec and sizes its data (memory.datasize) and counts what a
run allocates (memory.estimate); `memory_diagnostics` compares that with the memory the
machine allows (memory.limit): E311 over it, W107 over half of it, each at the statement that
asks for the most (the layer holding most parameters, the `source`, `batch` or `epochs`).
`pipeline.diagnose()` calls it, so `check`, `run`, `summary` and the language server agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nnspec import ir
from nnspec.diagnostics import Diagnostic, Span, error, warning
from nnspec.lower.plan import Plan
from nnspec.memory.estimate import PHASE_WORDS, PHASES, Estimate, estimate
from nnspec.memory.limit import Limit, machine_limit, show_count, show_size
from nnspec.syntax import Document

__all__ = ["Estimate", "memory_diagnostics", "memory_lines", "run_estimate"]


def run_estimate(spec: ir.Spec, facts: Mapping[str, Any] | None = None, *,
                 read: bool = True) -> tuple[Estimate, Plan]:
    """(the estimate, the Plan it was computed from) for a checked spec; `facts` and `read`:
    see memory.datasize.data_size."""
    from nnspec.lower import lower
    from nnspec.memory.datasize import data_size

    plan = lower(spec)
    targets = plan.n_outputs if plan.task == "regression" else 1
    data = data_size(spec, plan.n_inputs, targets, facts, read=read)
    split = spec.data.split if spec.data is not None else None
    return estimate(plan, data, validation=split.validation if split else 0.0,
                    test=split.test if split else 0.0), plan


def memory_diagnostics(spec: ir.Spec, doc: Document | None = None,
                       limit: Limit | None = None, facts: Mapping[str, Any] | None = None,
                       *, read: bool = True) -> list[Diagnostic]:
    """E311 when the run needs more memory than `limit` (default: machine_limit()), W107
    when it needs more than half of it; nothing otherwise. `facts`, `read`: see
    memory.datasize.data_size."""
    limit = limit or machine_limit()
    est, plan = run_estimate(spec, facts, read=read)
    total = est.total
    if 2 * total <= limit.bytes:
        return []
    owners = est.by_owner()
    owner = max(owners, key=lambda k: owners[k])
    span, message = _blame(owner, owners[owner], est, plan, spec, doc)
    notes = [f"the run needs about {show_size(total)} at its peak: {breakdown(est)}",
             *est.notes]
    hints = ["if this machine can give more, say how much with `--max-memory SIZE` "
             "(or NNSPEC_MAX_MEMORY)"]
    if total > limit.bytes:
        return [error("E311", f"{message}; {limit.words}", span, path=spec.path,
                      label=f"needs about {show_size(owners[owner])}", notes=notes,
                      hints=[_shrink(owner, plan.dtype), *hints])]
    return [warning("W107", f"{message}; the run needs about {show_size(total)}, more than "
                    f"half of the {show_size(limit.bytes)} {limit.who} allows", span,
                    path=spec.path,
                    label=f"needs about {show_size(owners[owner])}", notes=notes,
                    hints=[_shrink(owner, plan.dtype)])]


def breakdown(est: Estimate, top: int = 4) -> str:
    """The biggest items of the peak phase: `parameters 4 GB, gradients 4 GB, ...`."""
    phase = est.peak_phase
    items = sorted((i for i in est.items if phase in i.phases),
                   key=lambda i: -i.bytes)
    shown = [f"{i.name} {show_size(i.bytes)}" for i in items[:top] if i.bytes]
    rest = sum(i.bytes for i in items[top:])
    if rest:
        shown.append(f"the rest {show_size(rest)}")
    return ", ".join(shown) + f" ({PHASE_WORDS[phase]})"


def _blame(owner: str, share: int, est: Estimate, plan: Plan, spec: ir.Spec,
           doc: Document | None) -> tuple[Span | None, str]:
    about = f"about {show_size(share)}"
    if owner == "model" and est.biggest_layer is not None:
        layer = plan.layers[est.biggest_layer]
        n = sum(t.size for t in layer.tensors)
        state = plan.optimizer.n_state
        what = "gradients" + (f" and {plan.optimizer.name}'s state" if state else "")
        also = "" if n >= 0.9 * est.params else f" (the model has {show_count(est.params)})"
        return layer.span, (f"{layer.title}: {show_count(n)} parameters{also}, {about} with "
                            f"{what} and the copies a run saves")
    if owner == "width" and est.widest_layer is not None:
        layer = plan.layers[est.widest_layer]
        detail = next((i.detail for i in est.items if i.name == "evaluation activations"), "")
        return layer.span, (f"{layer.title}: {layer.n_out:,} values per sample, {about} of "
                            f"activations when evaluating ({detail})")
    if owner == "data" and spec.data is not None and est.data is not None:
        src = spec.data.source
        n = est.data.samples or 0
        return src.span, (f"`source {src.kind}`: {show_count(n)} samples x "
                          f"{est.data.features:,} features, {about} as read, split and scaled")
    if owner == "batch":
        rows = est.items
        detail = next((i.detail for i in rows if i.name == "activations"), "")
        st = _statement(doc, "train", "batch")
        return (st or _source_span(spec)), f"batch {_batch(plan)}: activations ({detail}), {about}"
    if owner == "epochs":
        st = _statement(doc, "train", "epochs")
        return (st or spec.train.span), (f"epochs {plan.epochs:,}: the history keeps a row per "
                                         f"epoch, {about}")
    return spec.span, f"this run needs {about}"


def _batch(plan: Plan) -> str:
    return "full" if plan.batch is None else f"{plan.batch:,}"


def _source_span(spec: ir.Spec) -> Span | None:
    return spec.data.source.span if spec.data is not None else spec.train.span


def _statement(doc: Document | None, block: str, keyword: str) -> Span | None:
    if doc is None:
        return None
    for b in doc.blocks:
        if b.kind.value == block:
            for st in b.statements:
                if st.keyword.value == keyword:
                    return st.span
    return None


def _shrink(owner: str, dtype: str) -> str:
    return {"model": "use fewer or narrower layers, or an optimizer with less state (sgd)",
            "data": "use fewer samples" + (", or train in float32 (`dtype float32`)"
                                           if dtype == "float64" else ""),
            "batch": "use a smaller batch",
            "width": "use narrower layers",
            "epochs": "use fewer epochs (early_stop ends a run when it stops improving)"}[owner]


def memory_lines(spec: ir.Spec, limit: Limit | None = None) -> list[str]:
    """`nnspec summary`'s memory section: the peak, then each counted buffer."""
    limit = limit or machine_limit()
    est, _ = run_estimate(spec)
    lines = [f"memory (estimated peak, cpu engine): about {show_size(est.total)} "
             f"{PHASE_WORDS[est.peak_phase]}; "
             f"{limit.words}"]
    width = max(len(i.name) for i in est.items)
    for phase_name in PHASES[::-1]:
        title = PHASE_WORDS[phase_name]
        items = [i for i in est.items if phase_name in i.phases]
        if not any(i.bytes for i in items):
            continue
        lines.append(f"  {title}: {show_size(est.phase(phase_name))}")
        for i in items:
            detail = f"  ({i.detail})" if i.detail else ""
            lines.append(f"    {i.name:<{width}}  {show_size(i.bytes):>9}{detail}")
    lines += [f"  note: {n}" for n in est.notes]
    return lines

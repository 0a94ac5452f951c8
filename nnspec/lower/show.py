"""lower.show: Plan -> text, the lowered model as a reviewable listing (`nnspec plan`).

Every node with its explicit inputs, shapes, activation, kernel numbers and tensors (where
each lives in the flat buffers, its shape and how it starts), then the optimizer and the
training plan. Golden files of the example specs' listings (tests/lower/golden/) make any
change to lowering show as a diff.
"""

from __future__ import annotations

from nnspec.lower.plan import (
    FUSED_NAMES,
    INPUT,
    RULE_CODES,
    LayerPlan,
    OptimizerPlan,
    Plan,
    TensorSlot,
)
from nnspec.ops.layers import show_shape
from nnspec.ops.optimizers import HYPER


def _num(v: float) -> str:
    return f"{v:g}"


def _init(slot: TensorSlot) -> str:
    if slot.init is None:
        return "zeros"
    opts = ", ".join(f"{k}={_num(v)}" for k, v in slot.init.options)
    return slot.init.kind + (f"({opts})" if opts else "")


def _inputs(node: LayerPlan, plan: Plan) -> str:
    return ", ".join("input" if i == INPUT else plan.layers[i].name for i in node.inputs)


def _node(node: LayerPlan, plan: Plan, width: int) -> list[str]:
    head = (f"{node.name:<{width}} {node.title:<24} <- {_inputs(node, plan):<{width}} "
            f"{show_shape(node.in_shape)} -> {show_shape(node.out_shape)}")
    extra = []
    if node.act_name != "linear":
        params = (node.act_p0, node.act_p1)
        extra.append(f"act {node.act_name}" + (
            f"({_num(params[0])}, {_num(params[1])})" if any(params) else ""))
    extra += [f"{k} {_num(v)}" for k, v in node.attrs]
    lines = [head + (f"  [{', '.join(extra)}]" if extra else "")]
    for t in node.tensors:
        where = f"{t.buffer}[{t.offset}:{t.offset + t.size}]"
        lines.append(f"{'':12}{t.name:<13} {where:<22} {show_shape(t.shape):<10} {_init(t)} "
                     f"(fan {t.fan_in} -> {t.fan_out})")
    return lines


def _optimizer(opt: OptimizerPlan) -> str:
    changed = [f"{k} {_num(v)}" for k, v in opt.hyper if v != HYPER[k]]
    decay = ", decoupled decay" if opt.decoupled else ""
    rule = next(name for name, code in RULE_CODES.items() if code == opt.code)
    return (f"optimizer {opt.name} (rule {rule}, {opt.n_state} state buffer(s){decay}): "
            f"lr {_num(opt.lr)}" + "".join(f", {c}" for c in changed))


def format_plan(plan: Plan) -> str:
    """The Plan as text: one block per node, then the loss, optimizer and training plan."""
    lines = [f"plan {plan.model_name}: input {show_shape(plan.input_shape)}, {plan.dtype}, "
             f"{plan.n_params} params, {plan.n_buffers} buffer values, "
             f"{plan.n_outputs} output(s)"]
    width = max([10, *(len(n.name) for n in plan.layers)])
    for node in plan.layers:
        lines += _node(node, plan, width)
    if plan.heads:
        lines.append("outputs: " + ", ".join(
            ("main " if not o.name else f"head {o.name} (weight {_num(o.weight)}) ")
            + plan.layers[o.node].name + (f" fused {FUSED_NAMES[o.fused]}" if o.fused else "")
            for o in plan.outputs))
    fused = f", fused {FUSED_NAMES[plan.fused]}" if plan.fused else ""
    param = f"({_num(plan.loss_param)})" if plan.loss_param else ""
    lines.append(f"loss {plan.loss_name}{param} (task {plan.task}{fused})")
    lines.append(_optimizer(plan.optimizer))
    clip = [f"norm {_num(plan.clip_norm)}"] if plan.clip_norm else []
    clip += [f"value {_num(plan.clip_value)}"] if plan.clip_value else []
    batch = "full" if plan.batch is None else str(plan.batch)
    lines.append(f"train: epochs {plan.epochs}, batch {batch}, shuffle {plan.shuffle}, "
                 f"drop_last {plan.drop_last}, seed {plan.seed}"
                 + (f", clip {' '.join(clip)}" if clip else "")
                 + (f", init from {plan.init_from}" if plan.init_from else ""))
    schedule = (f"{plan.warmup} then " if plan.warmup is not None else "") + str(plan.schedule)
    lines.append(f"schedule {schedule}")
    es = plan.early_stop
    if es is not None:
        lines.append(f"early stop: {es.monitor} {es.mode}, patience {es.patience}, min_delta "
                     f"{_num(es.min_delta)}" + (", restore best" if es.restore_best else ""))
    if not plan.stop_on_nonfinite:
        lines.append("non-finite batches are skipped")
    if plan.metrics:
        lines.append("metrics " + ", ".join(str(m) for m in plan.metrics))
    cp = plan.checkpoint
    if cp.every is not None:
        lines.append("checkpoint " + (f"every {cp.every} epoch(s)" if cp.every else "off"))
    else:
        lines.append(f"checkpoint at most every {_num(cp.seconds or 0.0)} s")
    return "\n".join(lines) + "\n"

"""lower: ir.Spec -> Plan.

Generic over op kinds: each layer op states its shape rule, tensors (with initializers and
fans) and kernel numbers (ops/layers.py), each optimizer its state count, hyperparameters
and kind of weight decay (ops/optimizers.py); lower only lays them out. It resolves every
default the backends need (the fused output+loss form, the task), assigns each tensor its
offset in the flat parameter and buffer arrays, wires every node to its inputs and turns op
names into the int codes of lower/plan.py.
"""

from __future__ import annotations

import os

from nnspec import ir
from nnspec.lower.plan import (
    A_LINEAR,
    A_LOG_SOFTMAX,
    A_SIGMOID,
    A_SOFTMAX,
    ACT_CODES,
    FUSED_LOG_SOFTMAX_CCE,
    FUSED_NONE,
    FUSED_SIGMOID_BCE,
    FUSED_SOFTMAX_CCE,
    INPUT,
    L_BCE,
    L_CCE,
    LAYER_CODES,
    LOSS_CODES,
    RULE_CODES,
    InitPlan,
    LayerPlan,
    OptimizerPlan,
    Plan,
    TensorSlot,
)
from nnspec.ops.layers import Layer
from nnspec.ops.optimizers import Optimizer


def init_plan(op: object) -> InitPlan:
    """An initializer op as the Plan carries it (name and numeric options)."""
    opts = tuple((k, float(v)) for k, v in op.model_dump(exclude={"kind"}).items())  # type: ignore[attr-defined]
    return InitPlan(kind=op.kind, options=opts)  # type: ignore[attr-defined]


def optimizer_plan(opt: Optimizer) -> OptimizerPlan:
    """An optimizer op as the Plan carries it: what the op states about itself."""
    return OptimizerPlan(code=RULE_CODES[opt.update_rule()], name=opt.kind, lr=float(opt.lr),  # type: ignore[attr-defined]
                         n_state=opt.n_state(), decoupled=type(opt).decoupled_decay,
                         hyper=tuple(opt.hyper().items()))


def _fused(layers: list[LayerPlan], loss: int) -> int:
    """Which fused form applies: the LAST layer's activation with a matching loss."""
    if not layers:
        return FUSED_NONE
    act = layers[-1].act
    if loss == L_BCE and act == A_SIGMOID:
        return FUSED_SIGMOID_BCE
    if loss == L_CCE and act == A_SOFTMAX:
        return FUSED_SOFTMAX_CCE
    if loss == L_CCE and act == A_LOG_SOFTMAX:
        return FUSED_LOG_SOFTMAX_CCE
    return FUSED_NONE


class _Buffers:
    """Offsets handed out in the two flat buffers, in declaration order."""

    def __init__(self) -> None:
        self.size = {"params": 0, "buffers": 0}
        self.slots: list[TensorSlot] = []

    def node(self, index: int, layer: Layer, in_shape: tuple[int, ...]) -> tuple[TensorSlot, ...]:
        mine = []
        for t in layer.tensors(in_shape):
            where = "params" if t.trained else "buffers"
            slot = TensorSlot(f"layers.{index}.{t.name}", index, where, self.size[where],
                              t.shape, init_plan(t.init), t.fan_in, t.fan_out)
            self.size[where] += slot.size
            mine.append(slot)
        self.slots += mine
        return tuple(mine)


def node_plan(index: int, layer: Layer, inputs: tuple[int, ...], in_shape: tuple[int, ...],
              out_shape: tuple[int, ...], tensors: tuple[TensorSlot, ...]) -> LayerPlan:
    """A layer op as a Plan node: generic (no case per kind)."""
    activation = getattr(layer, "activation", None)
    act, p0, p1 = A_LINEAR, 0.0, 0.0
    if activation is not None:
        act = ACT_CODES[activation.kind]
        p0, p1 = activation.params()
    return LayerPlan(index=index, kind=LAYER_CODES[layer.kind], kind_name=layer.kind,  # type: ignore[attr-defined]
                     inputs=inputs, in_shape=in_shape, out_shape=out_shape,
                     title=layer.describe(), act=act, act_p0=p0, act_p1=p1,
                     attrs=tuple(layer.attrs().items()), tensors=tensors, span=layer.span)


def lower(spec: ir.Spec) -> Plan:
    """Resolve a checked spec into a Plan (see lower/plan.py for the layouts)."""
    model, train = spec.model, spec.train
    buffers = _Buffers()
    layers: list[LayerPlan] = []
    for i, (layer, (x, y)) in enumerate(zip(model.layers, model.shapes(), strict=True)):
        inputs = (i - 1,) if i > 0 else (INPUT,)  # a chain: each layer reads the one before
        layers.append(node_plan(i, layer, inputs, x, y, buffers.node(i, layer, x)))

    loss = train.loss
    loss_code = LOSS_CODES[loss.kind]
    loss_param = float(getattr(loss, "delta", getattr(loss, "label_smoothing", 0.0)))
    task = {L_BCE: "binary", L_CCE: "multiclass"}.get(loss_code, "regression")
    clip = train.clip
    init_from = model.init_from
    if init_from is not None and spec.path and not os.path.isabs(init_from):
        init_from = os.path.join(os.path.dirname(spec.path), init_from)

    return Plan(
        model_name=model.name,
        input_shape=model.input,
        layers=tuple(layers),
        tensors=tuple(buffers.slots),
        n_params=buffers.size["params"],
        n_buffers=buffers.size["buffers"],
        n_outputs=layers[-1].n_out if layers else model.features,
        task=task,
        loss=loss_code,
        loss_name=loss.kind,
        loss_param=loss_param,
        fused=_fused(layers, loss_code),
        optimizer=optimizer_plan(train.optimizer),
        clip_norm=float(clip.norm) if clip and clip.norm else 0.0,
        clip_value=float(clip.value) if clip and clip.value else 0.0,
        dtype=train.dtype,
        batch=None if train.batch == "full" else int(train.batch),
        shuffle=train.shuffle,
        drop_last=train.drop_last,
        seed=train.seed,
        epochs=train.epochs,
        init_from=init_from,
        spec_path=spec.path,
        loss_span=loss.span,
        init_span=model.span,
    )

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
    CheckpointPlan,
    EarlyStopPlan,
    InitPlan,
    LayerPlan,
    OpRef,
    OptimizerPlan,
    OutputPlan,
    Plan,
    TensorSlot,
)
from nnspec.ops.layers import Add, Concat, Head, Layer, Residual, Shape
from nnspec.ops.metrics import monitor_mode
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


def early_stop_plan(es: ir.EarlyStop | None) -> EarlyStopPlan | None:
    if es is None:
        return None
    return EarlyStopPlan(monitor=es.monitor, mode=monitor_mode(es.monitor, es.mode),
                         patience=es.patience, min_delta=float(es.min_delta),
                         restore_best=es.restore_best)


def checkpoint_plan(output: ir.Output) -> CheckpointPlan:
    if output.checkpoint_every is not None:
        return CheckpointPlan(every=output.checkpoint_every, seconds=None)
    return CheckpointPlan(every=None,
                          seconds=float(output.checkpoint_seconds or ir.CHECKPOINT_SECONDS))


def _fused(node: LayerPlan | None, loss: int) -> int:
    """Which fused form applies at an output: its node's activation with a matching loss."""
    if node is None:
        return FUSED_NONE
    act = node.act
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

    def node(self, index: int, name: str, layer: Layer, in_shape: tuple[int, ...]
             ) -> tuple[TensorSlot, ...]:
        mine = []
        for t in layer.tensors(in_shape):
            where = "params" if t.trained else "buffers"
            slot = TensorSlot(f"{name}.{t.name}", index, where, self.size[where],
                              t.shape, init_plan(t.init), t.fan_in, t.fan_out)
            self.size[where] += slot.size
            mine.append(slot)
        self.slots += mine
        return tuple(mine)


def node_plan(index: int, name: str, layer: Layer, inputs: tuple[int, ...],
              in_shape: tuple[int, ...], out_shape: tuple[int, ...],
              tensors: tuple[TensorSlot, ...]) -> LayerPlan:
    """A layer op as a Plan node: generic (no case per kind)."""
    activation = getattr(layer, "activation", None)
    act, p0, p1 = A_LINEAR, 0.0, 0.0
    if activation is not None:
        act = ACT_CODES[activation.kind]
        p0, p1 = activation.params()
    return LayerPlan(index=index, kind=LAYER_CODES[layer.kind], kind_name=layer.kind,  # type: ignore[attr-defined]
                     inputs=inputs, name=name, in_shape=in_shape, out_shape=out_shape,
                     title=layer.describe(), act=act, act_p0=p0, act_p1=p1,
                     attrs=tuple(layer.attrs().items()), tensors=tensors, span=layer.span)


class _Graph:
    """Nodes in an order where each comes after its inputs, wired by index."""

    def __init__(self) -> None:
        self.buffers = _Buffers()
        self.nodes: list[LayerPlan] = []
        self.heads: list[tuple[int, Head]] = []  # (output node, head)

    def merge(self, kind: str, name: str, layer: Layer, inputs: list[tuple[int, Shape]],
              out_shape: Shape) -> tuple[int, Shape]:
        """A merge node (kind concat or add) for `layer` (kind_name: its own kind)."""
        i = len(self.nodes)
        node = LayerPlan(index=i, kind=LAYER_CODES[kind], kind_name=layer.kind,  # type: ignore[attr-defined]
                         inputs=tuple(n for n, _ in inputs), name=name,
                         in_shape=inputs[0][1], out_shape=out_shape, title=layer.describe(),
                         span=layer.span)
        self.nodes.append(node)
        return i, out_shape

    def chain(self, layers: tuple[Layer, ...], x: tuple[int, Shape], prefix: str
              ) -> tuple[int, Shape]:
        """Emit a chain of layers reading x; the (node, shape) it ends at."""
        for k, layer in enumerate(layers):
            x = self.layer(layer, x, f"{prefix}.{k}")
        return x

    def layer(self, layer: Layer, x: tuple[int, Shape], name: str) -> tuple[int, Shape]:
        if isinstance(layer, (Concat, Add)):
            ends = [self.chain(chain, x, f"{name}.{part}") for part, chain in layer.parts()]
            return self.merge(layer.kind, name, layer, ends, layer.out_shape(x[1]))
        if isinstance(layer, Residual):
            end = self.chain(layer.body, x, f"{name}.body")
            return self.merge("add", name, layer, [x, end], x[1])
        if isinstance(layer, Head):
            end = self.chain(layer.body, x, f"{name}.body")
            self.heads.append((end[0], layer))
            return x  # the main path goes on from the head's input
        i = len(self.nodes)
        out = layer.out_shape(x[1])
        self.nodes.append(node_plan(i, name, layer, (x[0],), x[1], out,
                                    self.buffers.node(i, name, layer, x[1])))
        return i, out


def lower(spec: ir.Spec) -> Plan:
    """Resolve a checked spec into a Plan (see lower/plan.py for the layouts)."""
    model, train = spec.model, spec.train
    graph = _Graph()
    main, _ = graph.chain(model.layers, (INPUT, model.input), "layers")
    layers, buffers = graph.nodes, graph.buffers

    loss = train.loss
    loss_code = LOSS_CODES[loss.rule]  # a loss computed by another's kernels gets its code
    main_node = layers[main] if main != INPUT else None
    outputs = (OutputPlan(main, "", 1.0, _fused(main_node, loss_code)),
               *(OutputPlan(node, head.name, float(head.weight),
                            _fused(layers[node] if node != INPUT else None, loss_code),
                            span=head.span)
                 for node, head in graph.heads))
    loss_param = float(getattr(loss, "delta", getattr(loss, "label_smoothing", 0.0)))
    task = ir.task_of(model, train)
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
        n_outputs=main_node.n_out if main_node is not None else model.features,
        task=task,
        loss=loss_code,
        loss_name=loss.kind,
        loss_param=loss_param,
        fused=outputs[0].fused,
        optimizer=optimizer_plan(train.optimizer),
        clip_norm=float(clip.norm) if clip and clip.norm else 0.0,
        clip_value=float(clip.value) if clip and clip.value else 0.0,
        dtype=train.dtype,
        batch=None if train.batch == "full" else int(train.batch),
        shuffle=train.shuffle,
        drop_last=train.drop_last,
        seed=train.seed,
        epochs=train.epochs,
        outputs=outputs,
        schedule=OpRef.of(train.schedule),
        warmup=OpRef.of(train.warmup) if train.warmup is not None else None,
        early_stop=early_stop_plan(train.early_stop),
        stop_on_nonfinite=train.early_stop.stop_on_nonfinite if train.early_stop else True,
        metrics=tuple(OpRef.of(m) for m in train.metrics),
        checkpoint=checkpoint_plan(spec.output),
        trajectory_every=spec.output.trajectory_every or 0,
        init_from=init_from,
        spec_path=spec.path,
        loss_span=loss.span,
        data_span=spec.data.span if spec.data is not None else None,
        optimizer_span=train.optimizer.span,
        init_span=model.span,
    )

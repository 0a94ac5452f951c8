"""lower: ir.Spec -> Plan.

Resolves every default the backends need (the initializer implied by an activation, the
fused output+loss form, the task), assigns each tensor its offset in the flat parameter and
buffer arrays, and turns op names into the int codes of lower/plan.py.
"""

from __future__ import annotations

import os
from typing import Any

from nnspec import ir
from nnspec.lower.plan import (
    A_LOG_SOFTMAX,
    A_SIGMOID,
    A_SOFTMAX,
    ACT_CODES,
    FUSED_LOG_SOFTMAX_CCE,
    FUSED_NONE,
    FUSED_SIGMOID_BCE,
    FUSED_SOFTMAX_CCE,
    L_BCE,
    L_CCE,
    LAYER_CODES,
    LOSS_CODES,
    OPT_CODES,
    InitPlan,
    LayerPlan,
    OptimizerPlan,
    Plan,
    TensorSlot,
)
from nnspec.ops.activations import Activation, Elu, Gelu, LeakyRelu, Softplus
from nnspec.ops.initializers import INITIALIZERS
from nnspec.ops.layers import ActivationLayer, BatchNorm, Dense, Dropout
from nnspec.ops.optimizers import Adagrad, Adam, Rmsprop, Sgd


def _act_params(act: Activation) -> tuple[float, float]:
    if isinstance(act, (LeakyRelu, Elu)):
        return float(act.alpha), 0.0
    if isinstance(act, Gelu):
        return (1.0 if act.approximate == "tanh" else 0.0), 0.0
    if isinstance(act, Softplus):
        return float(act.beta), float(act.threshold)
    return 0.0, 0.0


def _init_plan(op: object) -> InitPlan:
    opts = tuple((k, float(v)) for k, v in op.model_dump(exclude={"kind"}).items())  # type: ignore[attr-defined]
    return InitPlan(kind=op.kind, options=opts)  # type: ignore[attr-defined]


def _default_init(act: Activation) -> InitPlan:
    return _init_plan(INITIALIZERS[type(act).default_init]())


def _optimizer(opt: object) -> OptimizerPlan:
    name = opt.kind  # type: ignore[attr-defined]
    code = OPT_CODES[name]
    if isinstance(opt, Sgd):
        return OptimizerPlan(code, name, opt.lr, momentum=opt.momentum, dampening=opt.dampening,
                             nesterov=opt.nesterov, weight_decay=opt.weight_decay)
    if isinstance(opt, Rmsprop):
        return OptimizerPlan(code, name, opt.lr, momentum=opt.momentum, alpha=opt.alpha,
                             eps=opt.eps, centered=opt.centered, weight_decay=opt.weight_decay)
    if isinstance(opt, Adam):  # adamw is a subclass
        return OptimizerPlan(code, name, opt.lr, beta1=opt.betas[0], beta2=opt.betas[1],
                             eps=opt.eps, weight_decay=opt.weight_decay, amsgrad=opt.amsgrad)
    if isinstance(opt, Adagrad):
        return OptimizerPlan(code, name, opt.lr, lr_decay=opt.lr_decay, eps=opt.eps,
                             weight_decay=opt.weight_decay,
                             initial_accumulator_value=opt.initial_accumulator_value)
    raise AssertionError(f"unknown optimizer {name}")


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


def lower(spec: ir.Spec) -> Plan:
    """Resolve a checked spec into a Plan (see lower/plan.py for the layouts)."""
    model, train = spec.model, spec.train
    layers: list[LayerPlan] = []
    tensors: list[TensorSlot] = []
    n_params = n_buffers = 0

    def param(i: int, name: str, shape: tuple[int, ...]) -> int:
        nonlocal n_params
        slot = TensorSlot(f"layers.{i}.{name}", i, "params", n_params, shape)
        tensors.append(slot)
        n_params += slot.size
        return slot.offset

    def buffer(i: int, name: str, shape: tuple[int, ...]) -> int:
        nonlocal n_buffers
        slot = TensorSlot(f"layers.{i}.{name}", i, "buffers", n_buffers, shape)
        tensors.append(slot)
        n_buffers += slot.size
        return slot.offset

    shapes = ir.layer_shapes(model)
    for i, (layer, (n_in, n_out)) in enumerate(zip(model.layers, shapes, strict=True)):
        common: dict[str, Any] = dict(index=i, kind=LAYER_CODES[layer.kind],
                                      kind_name=layer.kind, n_in=n_in, n_out=n_out,
                                      span=layer.span)
        if isinstance(layer, Dense):
            p0, p1 = _act_params(layer.activation)
            w = param(i, "weight", (n_out, n_in))
            b = param(i, "bias", (n_out,)) if layer.bias else -1
            winit = _init_plan(layer.init) if layer.init else _default_init(layer.activation)
            layers.append(LayerPlan(
                **common, act=ACT_CODES[layer.activation.kind], act_name=layer.activation.kind,
                act_p0=p0, act_p1=p1, bias=layer.bias, w_offset=w, b_offset=b, w_init=winit,
                b_init=_init_plan(layer.bias_init) if layer.bias else None))
        elif isinstance(layer, ActivationLayer):
            p0, p1 = _act_params(layer.activation)
            layers.append(LayerPlan(**common, act=ACT_CODES[layer.activation.kind],
                                    act_name=layer.activation.kind, act_p0=p0, act_p1=p1))
        elif isinstance(layer, Dropout):
            layers.append(LayerPlan(**common, rate=float(layer.rate)))
        elif isinstance(layer, BatchNorm):
            w = param(i, "weight", (n_out,)) if layer.affine else -1
            b = param(i, "bias", (n_out,)) if layer.affine else -1
            rm = buffer(i, "running_mean", (n_out,))
            rv = buffer(i, "running_var", (n_out,))
            layers.append(LayerPlan(**common, w_offset=w, b_offset=b, bn_momentum=layer.momentum,
                                    bn_eps=layer.eps, bn_affine=layer.affine, rm_offset=rm,
                                    rv_offset=rv))
        else:  # pragma: no cover - the IR union is closed
            raise AssertionError(f"unknown layer {layer.kind}")

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
        n_inputs=model.input,
        layers=tuple(layers),
        tensors=tuple(tensors),
        n_params=n_params,
        n_buffers=n_buffers,
        n_outputs=layers[-1].n_out if layers else model.input,
        task=task,
        loss=loss_code,
        loss_name=loss.kind,
        loss_param=loss_param,
        fused=_fused(layers, loss_code),
        optimizer=_optimizer(train.optimizer),
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
    )


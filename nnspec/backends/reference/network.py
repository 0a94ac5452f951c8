"""backends.reference.network: Plan + flat params + a batch -> outputs, loss and flat gradient.

A whole network, layer by layer with the op functions of this package, in float64. The flat
layouts are lower/plan.py's: a dense weight (out, in) row-major then its bias; batchnorm
gamma then beta; running statistics in a separate buffer. When `plan.fused` is set, the last
layer's activation is folded into the loss: the loss is computed from that layer's
pre-activation z and the backward pass starts from dL/dz.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import TypeAdapter

from nnspec.backends.reference import activations, batchnorm, dense, dropout, losses
from nnspec.lower.plan import (
    A_GELU,
    A_LOG_SOFTMAX,
    ACTIVATION,
    BATCHNORM,
    DENSE,
    DROPOUT,
    FLATTEN,
    FUSED_NAMES,
    FUSED_NONE,
    L_CCE,
    L_HUBER,
    LayerPlan,
    Plan,
)
from nnspec.ops.activations import AnyActivation
from nnspec.ops.losses import AnyLoss

_ACTIVATION = TypeAdapter(AnyActivation)
_LOSS = TypeAdapter(AnyLoss)


def activation_op(layer: LayerPlan) -> AnyActivation:
    """The registry activation of a layer, options rebuilt from (act_p0, act_p1)."""
    name = layer.act_name
    options: dict[str, Any] = {}
    if name in ("leaky_relu", "elu"):
        options = {"alpha": layer.act_p0}
    elif layer.act == A_GELU:
        options = {"approximate": "tanh" if layer.act_p0 == 1.0 else "none"}
    elif name == "softplus":
        options = {"beta": layer.act_p0, "threshold": layer.act_p1}
    return _ACTIVATION.validate_python({"kind": name, **options})


def loss_op(plan: Plan) -> AnyLoss:
    options: dict[str, Any] = {}
    if plan.loss == L_HUBER:
        options = {"delta": plan.loss_param}
    elif plan.loss_name in ("binary_crossentropy", "categorical_crossentropy"):
        options = {"label_smoothing": plan.loss_param}
    return _LOSS.validate_python({"kind": plan.loss_name, **options})


def _view(params: np.ndarray, offset: int, shape: tuple[int, ...]) -> np.ndarray:
    n = int(np.prod(shape))
    return params[offset:offset + n].reshape(shape)


def tensors(layer: LayerPlan, params: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(weight, bias) views into the flat params: dense (out, in) and (out,), batchnorm gamma
    and beta (n,), None where the layer has no such tensor."""
    if layer.kind == DENSE:
        w = _view(params, layer.w_offset, (layer.n_out, layer.n_in))
        b = _view(params, layer.b_offset, (layer.n_out,)) if layer.bias else None
        return w, b
    if layer.kind == BATCHNORM and layer.bn_affine:
        return (_view(params, layer.w_offset, (layer.n_out,)),
                _view(params, layer.b_offset, (layer.n_out,)))
    return None, None


@dataclass
class Forward:
    """Everything one forward pass produced; `out` is the network output."""

    inputs: list[np.ndarray] = field(default_factory=list)  # x of each layer
    pre: list[Any] = field(default_factory=list)  # z (dense/activation), Cache (bn), mask
    outputs: list[np.ndarray] = field(default_factory=list)  # y of each layer

    @property
    def out(self) -> np.ndarray:
        return self.outputs[-1]


def forward(plan: Plan, params: np.ndarray, buffers: np.ndarray, x: np.ndarray, train: bool,
            rng: np.random.Generator | None = None,
            masks: list[np.ndarray] | None = None) -> Forward:
    """Run the layers. Training: batch statistics, and dropout masks from `masks` (one per
    dropout layer with rate > 0, in order) or drawn from `rng` (backends/base.py convention).
    Evaluation: running statistics, no dropout. Running statistics are not updated here."""
    f = Forward()
    h = np.asarray(x, dtype=np.float64)
    mask_i = 0
    for layer in plan.layers:
        f.inputs.append(h)
        if layer.kind in (DENSE, ACTIVATION):
            if layer.kind == DENSE:
                w, b = tensors(layer, params)
                assert w is not None
                z = dense.forward(h, w, b)
            else:
                z = h
            h = activations.forward(activation_op(layer), z)
            f.pre.append(z)
        elif layer.kind == DROPOUT:
            if train and layer.rate > 0:
                if masks is not None:
                    mask = masks[mask_i]
                else:
                    assert rng is not None, "training with dropout needs a Generator"
                    mask = dropout.make_mask(rng, h.shape, layer.rate)
                mask_i += 1
                h = dropout.forward(h, mask, layer.rate)
                f.pre.append(mask)
            else:
                f.pre.append(None)
        elif layer.kind == BATCHNORM:
            gamma, beta = tensors(layer, params)
            if train:
                h, cache = batchnorm.forward_train(h, gamma, beta, layer.bn_eps)
                f.pre.append(cache)
            else:
                rm = buffers[layer.rm_offset:layer.rm_offset + layer.n_out]
                rv = buffers[layer.rv_offset:layer.rv_offset + layer.n_out]
                h = batchnorm.forward_eval(h, gamma, beta, layer.bn_eps, rm, rv)
                f.pre.append(None)
        elif layer.kind == FLATTEN:  # a sample is stored row-major: its values stay as they are
            h = h.reshape(h.shape[0], layer.n_out)
            f.pre.append(None)
        else:  # pragma: no cover - the plan's layer kinds are closed
            raise AssertionError(layer.kind_name)
        f.outputs.append(h)
    if not plan.layers:
        f.outputs.append(h)
    return f


def loss_and_output_grad(plan: Plan, f: Forward, y: np.ndarray) -> tuple[float, np.ndarray]:
    """(batch loss, gradient to start the backward pass from): dL/dz of the last layer when
    fused, else dL/d(output)."""
    loss = loss_op(plan)
    if plan.fused != FUSED_NONE:
        act = FUSED_NAMES[plan.fused].split("+")[0]
        return losses.fused_value_grad(loss, act, f.pre[-1], y)
    log_probs = plan.loss == L_CCE and bool(plan.layers) and plan.layers[-1].act == A_LOG_SOFTMAX
    return (losses.value(loss, f.out, y, log_probs=log_probs),
            losses.grad(loss, f.out, y, log_probs=log_probs))


def backward(plan: Plan, params: np.ndarray, f: Forward, g: np.ndarray) -> np.ndarray:
    """The flat gradient dL/dparams given g from `loss_and_output_grad`."""
    grad = np.zeros_like(params)
    for i in range(len(plan.layers) - 1, -1, -1):
        layer = plan.layers[i]
        fused_here = i == len(plan.layers) - 1 and plan.fused != FUSED_NONE
        if layer.kind in (DENSE, ACTIVATION):
            z = f.pre[i]
            if not fused_here:  # g is dL/da; turn it into dL/dz
                g = activations.backward(activation_op(layer), z, f.outputs[i], g)
            if layer.kind == DENSE:
                w, _ = tensors(layer, params)
                gw_view, gb_view = tensors(layer, grad)
                assert w is not None and gw_view is not None
                g, gw, gb = dense.backward(f.inputs[i], w, g, layer.bias)
                gw_view[...] = gw
                if gb_view is not None:
                    gb_view[...] = gb
        elif layer.kind == DROPOUT:
            if f.pre[i] is not None:
                g = dropout.backward(g, f.pre[i], layer.rate)
        elif layer.kind == BATCHNORM:
            gamma, _ = tensors(layer, params)
            g, ggamma, gbeta = batchnorm.backward(g, gamma, f.pre[i])
            if layer.bn_affine:
                gg_view, gbeta_view = tensors(layer, grad)
                assert gg_view is not None and gbeta_view is not None
                gg_view[...] = ggamma
                gbeta_view[...] = gbeta
    return grad


def update_running(plan: Plan, buffers: np.ndarray, f: Forward) -> None:
    """In place: every batchnorm layer's running statistics from this training pass."""
    for i, layer in enumerate(plan.layers):
        if layer.kind == BATCHNORM:
            rm = buffers[layer.rm_offset:layer.rm_offset + layer.n_out]
            rv = buffers[layer.rv_offset:layer.rv_offset + layer.n_out]
            batchnorm.update_running(rm, rv, f.pre[i], f.inputs[i].shape[0], layer.bn_momentum)


def loss_and_grad(plan: Plan, params: np.ndarray, buffers: np.ndarray, x: np.ndarray,
                  y: np.ndarray, masks: list[np.ndarray] | None = None,
                  rng: np.random.Generator | None = None) -> tuple[float, np.ndarray]:
    """(training-mode batch loss, flat gradient): the function gradient checks look at."""
    f = forward(plan, params, buffers, x, True, rng=rng, masks=masks)
    value, g = loss_and_output_grad(plan, f, y)
    return value, backward(plan, params, f, g)

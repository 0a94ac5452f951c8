"""backends.reference.network: Plan + flat params + a batch -> outputs, loss and flat gradient.

A whole network, layer by layer with the op functions of this package, in float64. The flat
layouts are lower/plan.py's: a dense weight (out, in) row-major then its bias; a conv2d
weight (filters, C, kh, kw) then its bias; batchnorm gamma then beta (per channel); running
statistics in a separate buffer. Between nodes a batch is kept as (B, values per sample),
a (C, H, W) sample row-major; the image kernels (conv2d, pooling, batchnorm per channel)
see it as (B, C, H, W). When `plan.fused` is set, the last
layer's activation is folded into the loss: the loss is computed from that layer's
pre-activation z and the backward pass starts from dL/dz.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import TypeAdapter

from nnspec.backends.reference import (
    activations,
    avgpool,
    batchnorm,
    conv2d,
    dense,
    dropout,
    embedding,
    global_avgpool,
    losses,
    maxpool,
)
from nnspec.lower.plan import (
    A_GELU,
    A_LOG_SOFTMAX,
    ACTIVATION,
    AVGPOOL,
    BATCHNORM,
    CONCAT,
    CONV2D,
    DENSE,
    DROPOUT,
    EMBEDDING,
    FLATTEN,
    FUSED_NAMES,
    FUSED_NONE,
    GLOBAL_AVGPOOL,
    INPUT,
    L_CCE,
    L_HUBER,
    MAXPOOL,
    MERGES,
    LayerPlan,
    OutputPlan,
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
    elif plan.loss_name in ("binary_crossentropy", "categorical_crossentropy",
                            "sparse_categorical_crossentropy"):
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
    if layer.kind == CONV2D:
        weight = layer.slot("weight")
        assert weight is not None
        w = _view(params, weight.offset, weight.shape)
        b = _view(params, layer.b_offset, (weight.shape[0],)) if layer.bias else None
        return w, b
    if layer.kind == EMBEDDING:
        weight = layer.slot("weight")
        assert weight is not None
        return _view(params, weight.offset, weight.shape), None
    if layer.kind == BATCHNORM and layer.bn_affine:
        return (_view(params, layer.w_offset, (layer.channels,)),
                _view(params, layer.b_offset, (layer.channels,)))
    return None, None


def running(layer: LayerPlan, buffers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A batchnorm node's (running_mean, running_var) views, one value per channel."""
    n = layer.channels
    return (buffers[layer.rm_offset:layer.rm_offset + n],
            buffers[layer.rv_offset:layer.rv_offset + n])


def _hw(layer: LayerPlan) -> tuple[int, int]:
    """(H, W) of an image node's input."""
    return layer.in_shape[1], layer.in_shape[2]


def _image(h: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A (B, values) batch as (B, *shape): (B, C, H, W) for an image, (B, F) for a row."""
    return h.reshape(h.shape[0], *shape)


@dataclass
class Forward:
    """Everything one forward pass produced, per node of the graph (Plan.layers order):
    `inputs[i]` the node's input (a list of them for a merge node), `pre[i]` its z
    (dense/conv2d/activation), batchnorm Cache, dropout mask or maxpool argmax,
    `outputs[i]` its value; `saved[i]` conv2d's windows (im2col) for its backward pass.
    `out` is the main output; `value(node)` reads a node's value, or the model's input for
    INPUT. Values are (B, values per sample)."""

    x: np.ndarray | None = None
    main: int = -1
    inputs: list[Any] = field(default_factory=list)
    pre: list[Any] = field(default_factory=list)
    outputs: list[np.ndarray] = field(default_factory=list)
    saved: dict[int, Any] = field(default_factory=dict)

    def value(self, node: int) -> np.ndarray:
        if node == INPUT:
            assert self.x is not None
            return self.x
        return self.outputs[node]

    @property
    def out(self) -> np.ndarray:
        return self.value(self.main)


def _main(plan: Plan) -> int:
    return plan.outputs[0].node if plan.outputs else len(plan.layers) - 1


def forward(plan: Plan, params: np.ndarray, buffers: np.ndarray, x: np.ndarray, train: bool,
            rng: np.random.Generator | None = None,
            masks: list[np.ndarray] | None = None) -> Forward:
    """Run the nodes in order, each on its inputs. Training: batch statistics, and dropout
    masks from `masks` (one per dropout node with rate > 0, in node order) or drawn from `rng`
    (backends/base.py convention). Evaluation: running statistics, no dropout. Running
    statistics are not updated here."""
    x = np.asarray(x)  # token ids stay integers
    f = Forward(x=x if np.issubdtype(x.dtype, np.integer) else x.astype(np.float64),
                main=_main(plan))
    f.x = f.x.reshape(f.x.shape[0], -1)
    mask_i = 0
    for layer in plan.layers:
        if layer.kind in MERGES:
            parts = [f.value(i) for i in layer.inputs]
            f.inputs.append(parts)
            f.pre.append(None)
            f.outputs.append(np.concatenate(parts, axis=1) if layer.kind == CONCAT
                             else np.sum(parts, axis=0))
            continue
        h = f.value(layer.inputs[0])
        f.inputs.append(h)
        if layer.kind in (DENSE, CONV2D, ACTIVATION):
            if layer.kind == DENSE:
                w, b = tensors(layer, params)
                assert w is not None
                z = dense.forward(h, w, b)
            elif layer.kind == CONV2D:
                w, b = tensors(layer, params)
                assert w is not None
                z4, f.saved[layer.index] = conv2d.forward(_image(h, layer.in_shape), w, b,
                                                          layer.window)
                z = z4.reshape(h.shape[0], layer.n_out)
            else:
                z = h
            h = activations.forward(activation_op(layer), z)
            f.pre.append(z)
        elif layer.kind == MAXPOOL:
            y, arg = maxpool.forward(_image(h, layer.in_shape), layer.window)
            h = y.reshape(h.shape[0], layer.n_out)
            f.pre.append(arg)
        elif layer.kind == AVGPOOL:
            h = avgpool.forward(_image(h, layer.in_shape), layer.window)
            h = h.reshape(h.shape[0], layer.n_out)
            f.pre.append(None)
        elif layer.kind == GLOBAL_AVGPOOL:
            h = global_avgpool.forward(_image(h, layer.in_shape))
            f.pre.append(None)
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
            x4 = _image(h, layer.in_shape)  # per channel: (B, C, H, W), or (B, F)
            if train:
                y, cache = batchnorm.forward_train(x4, gamma, beta, layer.bn_eps)
                f.pre.append(cache)
            else:
                rm, rv = running(layer, buffers)
                y = batchnorm.forward_eval(x4, gamma, beta, layer.bn_eps, rm, rv)
                f.pre.append(None)
            h = y.reshape(h.shape[0], layer.n_out)
        elif layer.kind == EMBEDDING:
            w, _ = tensors(layer, params)
            assert w is not None
            ids = embedding.token_ids(h, w.shape[0])
            h = embedding.forward(ids, w).reshape(h.shape[0], layer.n_out)
            f.pre.append(ids)
        elif layer.kind == FLATTEN:  # a sample is stored row-major: its values stay as they are
            h = h.reshape(h.shape[0], layer.n_out)
            f.pre.append(None)
        else:  # pragma: no cover - the plan's layer kinds are closed
            raise AssertionError(layer.kind_name)
        f.outputs.append(h)
    return f


def output_value_grad(plan: Plan, output: OutputPlan, f: Forward, y: np.ndarray
                      ) -> tuple[float, np.ndarray]:
    """(loss at one output, the gradient its backward pass starts from): dL/dz of its node
    when fused, else dL/d(output)."""
    loss = loss_op(plan)
    node = plan.layers[output.node] if output.node != INPUT else None
    if output.fused != FUSED_NONE:
        act = FUSED_NAMES[output.fused].split("+")[0]
        return losses.fused_value_grad(loss, act, f.pre[output.node], y)
    log_probs = plan.loss == L_CCE and node is not None and node.act == A_LOG_SOFTMAX
    out = f.value(output.node)
    return (losses.value(loss, out, y, log_probs=log_probs),
            losses.grad(loss, out, y, log_probs=log_probs))


def outputs_of(plan: Plan) -> tuple[OutputPlan, ...]:
    return plan.outputs or (OutputPlan(len(plan.layers) - 1, "", 1.0, plan.fused),)


def objective(plan: Plan, f: Forward, y: np.ndarray
              ) -> tuple[float, list[float], dict[int, np.ndarray]]:
    """(main loss, each head's loss, the gradient seeds per output node): the objective is
    main + sum of weight * head loss, and each seed is weight * dL_o/d(its start)."""
    values, seeds = [], {}
    for o in outputs_of(plan):
        value, g = output_value_grad(plan, o, f, y)
        values.append(value)
        seeds[o.node] = seeds.get(o.node, 0.0) + o.weight * g
    return values[0], values[1:], seeds


def loss_and_output_grad(plan: Plan, f: Forward, y: np.ndarray) -> tuple[float, np.ndarray]:
    """(main loss, gradient at the main output) for a model without heads."""
    return output_value_grad(plan, outputs_of(plan)[0], f, y)


def _add(grads: dict[int, np.ndarray], node: int, g: np.ndarray) -> None:
    if node != INPUT:
        grads[node] = grads[node] + g if node in grads else g


def backward(plan: Plan, params: np.ndarray, f: Forward,
             seeds: np.ndarray | dict[int, np.ndarray]) -> np.ndarray:
    """The flat gradient dL/dparams. `seeds`: the gradient at the main output (an array),
    or per output node (objective()). Nodes run in reverse order; a node read by several
    others receives the sum of their gradients; a fused output's seed is dL/dz already."""
    grads = dict(seeds) if isinstance(seeds, dict) else {outputs_of(plan)[0].node: seeds}
    fused_at = {o.node for o in outputs_of(plan) if o.fused != FUSED_NONE}
    grad = np.zeros_like(params)
    for i in range(len(plan.layers) - 1, -1, -1):
        layer = plan.layers[i]
        g = grads.pop(i, None)
        if g is None:
            continue  # nothing downstream reads it
        if layer.kind in MERGES:
            if layer.kind == CONCAT:
                start = 0
                for node, part in zip(layer.inputs, f.inputs[i], strict=True):
                    _add(grads, node, g[:, start:start + part.shape[1]])
                    start += part.shape[1]
            else:
                for node in layer.inputs:
                    _add(grads, node, g)
            continue
        batch = g.shape[0]
        if layer.kind in (DENSE, CONV2D, ACTIVATION):
            z = f.pre[i]
            if i not in fused_at:  # g is dL/da; turn it into dL/dz
                g = activations.backward(activation_op(layer), z, f.outputs[i], g)
            if layer.kind in (DENSE, CONV2D):
                w, _ = tensors(layer, params)
                gw_view, gb_view = tensors(layer, grad)
                assert w is not None and gw_view is not None
                if layer.kind == DENSE:
                    g, gw, gb = dense.backward(f.inputs[i], w, g, layer.bias)
                else:
                    g, gw, gb = conv2d.backward(f.saved[i], w, _image(g, layer.out_shape),
                                                layer.window, _hw(layer), layer.bias)
                    g = g.reshape(batch, layer.n_in)
                gw_view[...] = gw
                if gb_view is not None:
                    gb_view[...] = gb
        elif layer.kind == MAXPOOL:
            g = maxpool.backward(_image(g, layer.out_shape), f.pre[i], layer.window,
                                 _hw(layer)).reshape(batch, layer.n_in)
        elif layer.kind == AVGPOOL:
            g = avgpool.backward(_image(g, layer.out_shape), layer.window,
                                 _hw(layer)).reshape(batch, layer.n_in)
        elif layer.kind == GLOBAL_AVGPOOL:
            g = global_avgpool.backward(g, _hw(layer)).reshape(batch, layer.n_in)
        elif layer.kind == DROPOUT:
            if f.pre[i] is not None:
                g = dropout.backward(g, f.pre[i], layer.rate)
        elif layer.kind == EMBEDDING:
            gw_view, _ = tensors(layer, grad)
            assert gw_view is not None
            gw_view[...] = embedding.backward(f.pre[i], _image(g, layer.out_shape),
                                              gw_view.shape[0])
            continue  # the ids get no gradient (an embedding reads the model's input)
        elif layer.kind == BATCHNORM:
            gamma, _ = tensors(layer, params)
            g, ggamma, gbeta = batchnorm.backward(_image(g, layer.in_shape), gamma, f.pre[i])
            g = g.reshape(batch, layer.n_in)
            if layer.bn_affine:
                gg_view, gbeta_view = tensors(layer, grad)
                assert gg_view is not None and gbeta_view is not None
                gg_view[...] = ggamma
                gbeta_view[...] = gbeta
        _add(grads, layer.inputs[0], g)
    return grad


def update_running(plan: Plan, buffers: np.ndarray, f: Forward) -> None:
    """In place: every batchnorm layer's running statistics from this training pass."""
    for i, layer in enumerate(plan.layers):
        if layer.kind == BATCHNORM:
            rm, rv = running(layer, buffers)
            batchnorm.update_running(rm, rv, f.pre[i], f.pre[i].count, layer.bn_momentum)


def loss_and_grad(plan: Plan, params: np.ndarray, buffers: np.ndarray, x: np.ndarray,
                  y: np.ndarray, masks: list[np.ndarray] | None = None,
                  rng: np.random.Generator | None = None) -> tuple[float, np.ndarray]:
    """(training-mode objective: main loss + weighted head losses, flat gradient): the
    function gradient checks look at."""
    f = forward(plan, params, buffers, x, True, rng=rng, masks=masks)
    main, heads, seeds = objective(plan, f, y)
    value = main + sum(o.weight * h for o, h in zip(outputs_of(plan)[1:], heads, strict=True))
    return value, backward(plan, params, f, seeds)

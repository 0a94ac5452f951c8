"""Whole networks through reference/network.py: finite differences of every parameter."""

from __future__ import annotations

import numpy as np
import pytest
from plan_nets import data, make_plan
from ref_gradcheck import assert_grad
from ref_nets import NETS

from nnspec.backends.base import as_targets, init_rng
from nnspec.backends.reference import dropout, network
from nnspec.lower import init_buffers, init_params
from nnspec.lower.plan import DROPOUT


@pytest.mark.parametrize("name", list(NETS))
def test_network_gradient(name):
    layers, loss, n_in = NETS[name]
    plan = make_plan(layers, loss, n_in=n_in)
    params = init_params(plan, init_rng(1))
    # non-trivial batchnorm parameters, so their gradients are not special cases
    params += np.random.default_rng(2).normal(0, 0.1, size=params.shape)
    buffers = init_buffers(plan)
    x, y = data(plan, 6)
    y = as_targets(plan, y)
    masks = [dropout.make_mask(np.random.default_rng(3), (6, layer.n_in), layer.rate)
             for layer in plan.layers if layer.kind == DROPOUT]

    def f():
        return network.loss_and_grad(plan, params, buffers, x, y, masks=masks)[0]

    _, grad = network.loss_and_grad(plan, params, buffers, x, y, masks=masks)
    assert_grad(f, params, grad)
    assert np.any(grad != 0)


def test_nets_cover_every_fused_form_and_loss():
    from nnspec.ops.activations import ACTIVATIONS
    from nnspec.ops.losses import LOSSES

    plans = [make_plan(*NETS[name][:2], n_in=NETS[name][2]) for name in NETS]
    assert {p.fused for p in plans} == {0, 1, 2, 3}
    assert {p.loss_name for p in plans} == set(LOSSES)
    acts = {layer.act_name for p in plans for layer in p.layers}
    assert acts == set(ACTIVATIONS)
    from nnspec.ops.layers import LAYERS

    kinds = {layer.kind_name for p in plans for layer in p.layers}
    assert kinds | {"head" for p in plans if p.heads} == set(LAYERS)


def test_heads_add_their_weighted_loss_to_the_objective():
    """loss_and_grad's value is main + weight * head loss, each computed at its own output;
    evaluate-style main loss is the first term."""
    layers, loss, n_in = NETS["head-residual-bce"]
    plan = make_plan(layers, loss, n_in=n_in)
    params = init_params(plan, init_rng(1))
    buffers = init_buffers(plan)
    x, y = data(plan, 5)
    y = as_targets(plan, y)
    f = network.forward(plan, params, buffers, x, True)
    main, heads, _ = network.objective(plan, f, y)
    (head,) = plan.heads
    assert head.name == "side" and head.weight == 0.7 and len(heads) == 1
    value, _ = network.loss_and_grad(plan, params, buffers, x, y)
    assert value == pytest.approx(main + 0.7 * heads[0], rel=1e-14)
    p = f.value(head.node)  # the head ends with sigmoid
    by_hand = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert heads[0] == pytest.approx(by_hand, rel=1e-12)

"""reference optimizers and clipping: torch.optim step for step, and hand-computed steps."""

from __future__ import annotations

import numpy as np
import pytest

from nnspec.backends.reference import optimizers as O
from nnspec.lower.lower import optimizer_plan
from nnspec.ops.optimizers import OPTIMIZERS, Clip

CASES = [
    OPTIMIZERS["sgd"](lr=0.1),
    OPTIMIZERS["sgd"](lr=0.1, momentum=0.9),
    OPTIMIZERS["sgd"](lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.01),
    OPTIMIZERS["sgd"](lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1),
    OPTIMIZERS["rmsprop"](lr=0.01),
    OPTIMIZERS["rmsprop"](lr=0.01, centered=True, weight_decay=0.1),
    OPTIMIZERS["rmsprop"](lr=0.01, momentum=0.9, alpha=0.9),
    OPTIMIZERS["rmsprop"](lr=0.01, momentum=0.5, centered=True, eps=1e-3),
    OPTIMIZERS["adam"](lr=0.01),
    OPTIMIZERS["adam"](lr=0.01, betas=(0.8, 0.99), weight_decay=0.1),
    OPTIMIZERS["adam"](lr=0.01, amsgrad=True, eps=1e-4),
    OPTIMIZERS["adamw"](lr=0.01),
    OPTIMIZERS["adamw"](lr=0.01, weight_decay=0.2, amsgrad=True),
    OPTIMIZERS["adagrad"](lr=0.1),
    OPTIMIZERS["adagrad"](lr=0.1, lr_decay=0.05, weight_decay=0.1,
                          initial_accumulator_value=0.3),
]
IDS = [f"{op.kind}-{i}" for i, op in enumerate(CASES)]
N, STEPS = 7, 6


def _grads(seed: int = 0):
    """A gradient per step, changing sign and scale, so moments and amsgrad's max matter."""
    r = np.random.default_rng(seed)
    return [r.normal(0, 1.0 + (t % 3), size=N) for t in range(STEPS)]


def _torch_optimizer(op, param, lr_fn):
    torch = pytest.importorskip("torch")
    k, lr = op.kind, lr_fn(0)
    if k == "sgd":
        return torch.optim.SGD([param], lr=lr, momentum=op.momentum, dampening=op.dampening,
                               nesterov=op.nesterov, weight_decay=op.weight_decay, foreach=False)
    if k == "rmsprop":
        return torch.optim.RMSprop([param], lr=lr, alpha=op.alpha, eps=op.eps,
                                   momentum=op.momentum, centered=op.centered,
                                   weight_decay=op.weight_decay, foreach=False)
    if k in ("adam", "adamw"):
        cls = torch.optim.Adam if k == "adam" else torch.optim.AdamW
        return cls([param], lr=lr, betas=op.betas, eps=op.eps, weight_decay=op.weight_decay,
                   amsgrad=op.amsgrad, foreach=False)
    return torch.optim.Adagrad([param], lr=lr, lr_decay=op.lr_decay,
                               weight_decay=op.weight_decay,
                               initial_accumulator_value=op.initial_accumulator_value,
                               eps=op.eps, foreach=False)


@pytest.mark.torch
@pytest.mark.parametrize("op", CASES, ids=IDS)
def test_matches_torch_optim(op):
    torch = pytest.importorskip("torch")
    w0 = np.random.default_rng(1).normal(size=N)

    def lr_fn(t):  # a changing learning rate, as a schedule gives
        return op.lr * (1.0 - 0.1 * t)

    param = torch.nn.Parameter(torch.tensor(w0.copy()))
    opt = _torch_optimizer(op, param, lr_fn)
    w, state = w0.copy(), O.init_state(op, N)
    for t, g in enumerate(_grads(), start=1):
        for group in opt.param_groups:
            group["lr"] = lr_fn(t - 1)
        param.grad = torch.tensor(g.copy())
        opt.step()
        g_before = g.copy()
        O.step(op, w, g, state, lr_fn(t - 1), t)
        assert np.array_equal(g, g_before), "the caller's gradient must not change"
        np.testing.assert_allclose(w, param.detach().numpy(), rtol=1e-13, atol=1e-15)


def test_all_optimizers_covered():
    assert {op.kind for op in CASES} == set(OPTIMIZERS)


@pytest.mark.parametrize("op", CASES, ids=IDS)
def test_plan_and_registry_forms_agree(op):
    """The backends pass the Plan's OptimizerPlan; the result must be the same."""
    plan = optimizer_plan(op)
    w1, w2 = np.ones(N), np.ones(N)
    s1, s2 = O.init_state(op, N), O.init_state(plan, N)
    assert s1.shape == s2.shape == (plan.n_state, N)
    for t, g in enumerate(_grads(2), start=1):
        O.step(op, w1, g, s1, 0.01, t)
        O.step(plan, w2, g, s2, 0.01, t)
    assert np.array_equal(w1, w2) and np.array_equal(s1, s2)


def test_hand_computed_steps():
    g = np.array([1.0, -2.0])
    # sgd with momentum: v1 = g, v2 = 0.9 v1 + g
    op = OPTIMIZERS["sgd"](lr=0.1, momentum=0.9)
    w, s = np.zeros(2), O.init_state(op, 2)
    O.step(op, w, g, s, 0.1, 1)
    O.step(op, w, g, s, 0.1, 2)
    np.testing.assert_allclose(w, -0.1 * g - 0.1 * 1.9 * g, rtol=1e-15)
    # adam's first step moves every weight by lr * g/(|g| + eps') ~ lr*sign(g)
    op = OPTIMIZERS["adam"](lr=0.01)
    w, s = np.zeros(2), O.init_state(op, 2)
    O.step(op, w, g, s, 0.01, 1)
    np.testing.assert_allclose(w, [-0.01, 0.01], rtol=1e-7)
    # adamw: decay 1 - lr*wd applied to w before the (zero-gradient) Adam step
    op = OPTIMIZERS["adamw"](lr=0.1, weight_decay=0.5)
    w, s = np.array([2.0]), O.init_state(op, 1)
    O.step(op, w, np.zeros(1), s, 0.1, 1)
    assert w[0] == pytest.approx(2.0 * 0.95, rel=1e-15)
    # adagrad: s = 0.5 + g^2, w -= lr*g/(sqrt(s) + eps)
    op = OPTIMIZERS["adagrad"](lr=0.1, initial_accumulator_value=0.5)
    w, s = np.zeros(2), O.init_state(op, 2)
    O.step(op, w, g, s, 0.1, 1)
    np.testing.assert_allclose(w, -0.1 * g / (np.sqrt(0.5 + g * g) + 1e-10), rtol=1e-15)
    # rmsprop: s = (1-alpha) g^2
    op = OPTIMIZERS["rmsprop"](lr=0.01, alpha=0.9)
    w, s = np.zeros(2), O.init_state(op, 2)
    O.step(op, w, g, s, 0.01, 1)
    np.testing.assert_allclose(w, -0.01 * g / (np.sqrt(0.1) * np.abs(g) + 1e-8), rtol=1e-14)


def test_clip_hand_values():
    g = np.array([3.0, 4.0])  # norm 5
    assert O.clip_gradients(g, norm=10.0) == 5.0
    np.testing.assert_array_equal(g, [3.0, 4.0])  # coef >= 1: untouched
    O.clip_gradients(g, norm=1.0)
    np.testing.assert_allclose(g, np.array([3.0, 4.0]) / (5.0 + 1e-6), rtol=1e-15)
    g = np.array([3.0, -4.0, 0.5])
    O.clip_gradients(g, value=1.0)
    np.testing.assert_array_equal(g, [1.0, -1.0, 0.5])
    g = np.array([3.0, -4.0])  # value first: [1, -1], norm sqrt 2 > 1
    O.clip_gradients(g, norm=1.0, value=1.0)
    np.testing.assert_allclose(g, np.array([1.0, -1.0]) / (np.sqrt(2) + 1e-6), rtol=1e-15)


@pytest.mark.torch
@pytest.mark.parametrize("clip", [Clip(norm=0.5), Clip(norm=100.0), Clip(value=0.3),
                                  Clip(norm=0.5, value=0.3)], ids=str)
def test_clip_matches_torch(clip):
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(3)
    parts = [r.normal(size=(3, 4)), r.normal(size=3)]
    params = [torch.nn.Parameter(torch.zeros(p.shape, dtype=torch.float64)) for p in parts]
    for p, g in zip(params, parts, strict=True):
        p.grad = torch.tensor(g)
    if clip.value:
        torch.nn.utils.clip_grad_value_(params, clip.value)
    if clip.norm:
        torch.nn.utils.clip_grad_norm_(params, clip.norm)
    flat = np.concatenate([p.ravel() for p in parts])
    O.clip_gradients(flat, clip.norm, clip.value)
    expected = np.concatenate([p.grad.numpy().ravel() for p in params])
    np.testing.assert_allclose(flat, expected, rtol=1e-14)

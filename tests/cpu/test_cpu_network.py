"""The CPU executable against the reference backend (the oracle): gradients, whole training
epochs with every layer, activation, loss and optimizer, predict and evaluate; float64 to
rounding, float32 within a stated tolerance; chains and graphs (branches, merges, heads)."""

from __future__ import annotations

import numpy as np
import pytest
from cpu_nets import GRAPH_NETS, IMAGE_GRAPH_NETS, NETS
from plan_nets import OPT, OPTIMIZER_CASES, data, make_plan, order

from nnspec.backends import compile as compile_backend
from nnspec.backends import cpu, reference
from nnspec.backends.base import Executable, as_targets, dropout_rng
from nnspec.backends.reference import network
from nnspec.ops.optimizers import Clip

N, BATCH = 14, 4  # 4 batches, the last one of 2 rows
ALL = {**NETS, **GRAPH_NETS, **IMAGE_GRAPH_NETS}


def pair(plan):
    """A CPU and a reference executable starting from the same parameters."""
    c, r = cpu.compile(plan), reference.compile(plan)
    r.set_params(c.get_params().astype(np.float64))
    return c, r


def test_is_an_executable_and_registered():
    plan = make_plan(*NETS["tanh-sigmoid-bce"][:2])
    exe = compile_backend(plan, "cpu")
    assert isinstance(exe, Executable) and isinstance(exe, cpu.CpuExecutable)
    assert exe.get_params().dtype == np.float64 and exe.step == 0
    assert cpu.compile(make_plan(*NETS["tanh-sigmoid-bce"][:2], dtype="float32")
                       ).get_params().dtype == np.float32


@pytest.mark.parametrize("name", list(ALL))
def test_gradient_matches_reference(name):
    """One batch with lr -> tiny: the CPU gradient buffer equals the reference gradient (of
    main loss + weight x each head's loss)."""
    layers, loss, n_in = ALL[name]
    plan = make_plan(layers, loss, n_in=n_in, batch=N)
    x, y = data(plan, N)
    c = cpu.compile(plan)
    params = c.get_params()
    chunk = c.train_epoch(x, y, np.arange(N), 1e-300, 0, 1, dropout_rng(1))
    assert chunk.ok and chunk.n_batches == 1
    value, grad = network.loss_and_grad(plan, params, reference.compile(plan).get_buffers(), x,
                                        as_targets(plan, y), rng=dropout_rng(1))
    heads = [o.weight * h for o, h in zip(plan.heads, chunk.head_terms[0], strict=True)] \
        if plan.heads else []
    assert (chunk.loss_sum + sum(heads)) / N == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(c.grad, grad, rtol=1e-10, atol=1e-13)


def _same_heads(a, b, rel):
    """The chunks' per-batch head terms agree (both None without heads)."""
    assert (a.head_terms is None) == (b.head_terms is None)
    if a.head_terms is not None:
        assert a.head_terms.shape == b.head_terms.shape == (a.n_batches, len(a.head_terms[0]))
        np.testing.assert_allclose(a.head_terms, b.head_terms, rtol=rel)


@pytest.mark.parametrize("name", list(ALL))
def test_training_matches_reference_float64(name):
    layers, loss, n_in = ALL[name]
    plan = make_plan(layers, loss, n_in=n_in, batch=BATCH,
                     optimizer=OPT["adam"](lr=0.01, weight_decay=0.01))
    x, y = data(plan, N)
    c, r = pair(plan)
    rc, rr = dropout_rng(0), dropout_rng(0)
    for epoch in range(3):
        a = c.train_epoch(x, y, order(N, epoch), 0.01, 0, 99, rc)
        b = r.train_epoch(x, y, order(N, epoch), 0.01, 0, 99, rr)
        assert (a.n_batches, a.n_samples, a.ok) == (b.n_batches, b.n_samples, True)
        assert a.loss_sum == pytest.approx(b.loss_sum, rel=1e-10)
        _same_heads(a, b, 1e-10)
    assert c.step == r.step == 12
    np.testing.assert_allclose(c.get_params(), r.get_params(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(c.get_buffers(), r.get_buffers(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(c.state_dict()["opt_state"], r.state_dict()["opt_state"],
                               rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(c.predict(x), r.predict(x), rtol=1e-9, atol=1e-12)
    assert c.evaluate(x, y) == pytest.approx(r.evaluate(x, y), rel=1e-10)


@pytest.mark.parametrize("opt", list(OPTIMIZER_CASES))
@pytest.mark.parametrize("clip", [None, Clip(norm=0.05), Clip(value=0.01, norm=0.5)],
                         ids=["noclip", "norm", "value+norm"])
def test_every_optimizer_and_clip_matches_reference(opt, clip):
    layers, loss, n_in = NETS["softplus-leaky-mse"]
    plan = make_plan(layers, loss, n_in=n_in, batch=BATCH, optimizer=OPTIMIZER_CASES[opt],
                     clip=clip)
    x, y = data(plan, N)
    c, r = pair(plan)
    lr = plan.optimizer.lr
    for epoch in range(2):
        a = c.train_epoch(x, y, order(N, epoch), lr, 0, 99, dropout_rng(0))
        b = r.train_epoch(x, y, order(N, epoch), lr, 0, 99, dropout_rng(0))
        assert a.loss_sum == pytest.approx(b.loss_sum, rel=1e-10)
    np.testing.assert_allclose(c.get_params(), r.get_params(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(c.state_dict()["opt_state"], r.state_dict()["opt_state"],
                               rtol=1e-8, atol=1e-14)


# float32 against the float64 oracle: the CPU computes in float32 (with the tanh/sigmoid
# approximations, ~3e-7), so after a few updates parameters agree to about 1e-4 relative.
F32_RTOL, F32_ATOL = 2e-4, 2e-5


@pytest.mark.parametrize("name", list(ALL))
def test_training_matches_reference_float32(name):
    layers, loss, n_in = ALL[name]
    plan = make_plan(layers, loss, n_in=n_in, batch=BATCH, dtype="float32",
                     optimizer=OPT["sgd"](lr=0.05, momentum=0.9))
    x, y = data(plan, N)
    c, r = pair(plan)
    a = c.train_epoch(x, y, order(N), 0.05, 0, 99, dropout_rng(0))
    b = r.train_epoch(x, y, order(N), 0.05, 0, 99, dropout_rng(0))
    assert a.loss_sum == pytest.approx(b.loss_sum, rel=1e-5)
    _same_heads(a, b, 1e-5)
    np.testing.assert_allclose(c.get_params(), r.get_params(), rtol=F32_RTOL, atol=F32_ATOL)
    np.testing.assert_allclose(c.predict(x), r.predict(x), rtol=F32_RTOL, atol=F32_ATOL)
    assert c.evaluate(x, y) == pytest.approx(r.evaluate(x, y), rel=1e-5)


def test_targets_as_indices_or_one_hot_rows_agree():
    layers, loss, n_in = NETS["activation-softmax-cce"]
    plan = make_plan(layers, loss, n_in=n_in, batch=BATCH)
    x, y = data(plan, N)
    a, b = cpu.compile(plan), cpu.compile(plan)
    one_hot = np.eye(3)[y]
    ca = a.train_epoch(x, y, order(N), 0.1, 0, 99, dropout_rng(0))
    cb = b.train_epoch(x, one_hot, order(N), 0.1, 0, 99, dropout_rng(0))
    assert ca.loss_sum == cb.loss_sum
    np.testing.assert_array_equal(a.get_params(), b.get_params())


def test_batch_full_and_drop_last():
    layers, loss, n_in = NETS["gelu-silu-huber"]
    full = cpu.compile(make_plan(layers, loss, n_in=n_in, batch="full"))
    chunk = full.train_epoch(*data(full.plan, N), order(N), 0.1, 0, 99, dropout_rng(0))
    assert (chunk.n_batches, chunk.n_samples) == (1, N)
    drop = cpu.compile(make_plan(layers, loss, n_in=n_in, batch=BATCH, drop_last=True))
    chunk = drop.train_epoch(*data(drop.plan, N), order(N), 0.1, 0, 99, dropout_rng(0))
    assert (chunk.n_batches, chunk.n_samples, drop.step) == (3, 12, 3)

"""The CPU executable's own guarantees: bit-identical runs, chunked epochs, checkpoint resume,
evaluation mode, and the non-finite stop with its E411 diagnostic."""

from __future__ import annotations

import numpy as np
import pytest
from cpu_nets import GRAPH_NETS, NETS
from plan_nets import LOSS, OPT, data, dense, make_plan, order

from nnspec.backends import cpu
from nnspec.backends.base import STATUS_NONFINITE_GRAD, STATUS_NONFINITE_LOSS, dropout_rng
from nnspec.diagnostics import Span, render
from nnspec.ops.layers import BatchNorm, Dense, Dropout
from nnspec.train.nonfinite import nonfinite_error as base_nonfinite_error

N, BATCH = 30, 8
DROPNET = "relu-bn-dropout-softmax-cce"
GRAPHNET = "head-bn-dropout-cce"  # a head, batchnorm and dropout after a fan-out
ALL = {**NETS, **GRAPH_NETS}


def _run(plan, epochs, x, y, chunks=None):
    """(executable, per epoch the main loss sum and then each head's)."""
    exe = cpu.compile(plan)
    rng = dropout_rng(plan.seed)
    losses = []
    for e in range(epochs):
        total, heads = 0.0, [0.0] * len(plan.heads)
        bounds = chunks or [(0, 99)]
        for start, end in bounds:
            chunk = exe.train_epoch(x, y, order(N, e), 0.05, start, end, rng)
            total, heads = chunk.add_to(total), chunk.add_heads_to(heads)
        losses.append((total, *heads))
    return exe, losses


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", [DROPNET, "tanh-sigmoid-bce", GRAPHNET])
def test_same_plan_and_seed_are_bit_identical(name, dtype):
    layers, loss, n_in = ALL[name]
    plan = make_plan(layers, loss, n_in=n_in, batch=BATCH, dtype=dtype, seed=3,
                     optimizer=OPT["adam"](lr=0.05))
    x, y = data(plan, N)
    a, la = _run(plan, 3, x, y)
    b, lb = _run(plan, 3, x, y)
    assert la == lb
    np.testing.assert_array_equal(a.get_params(), b.get_params())
    np.testing.assert_array_equal(a.get_buffers(), b.get_buffers())
    np.testing.assert_array_equal(a.predict(x), b.predict(x))
    other = make_plan(layers, loss, n_in=n_in, batch=BATCH, dtype=dtype, seed=4,
                      optimizer=OPT["adam"](lr=0.05))
    assert not np.array_equal(cpu.compile(other).get_params(), a.get_params())


@pytest.mark.parametrize("name", [DROPNET, GRAPHNET])
@pytest.mark.parametrize("seed", [2, 5])  # seeds where total + loss_sum differs in the last bit
def test_an_epoch_in_chunks_equals_one_call(seed, name):
    layers, loss, n_in = ALL[name]
    plan = make_plan(layers, loss, n_in=n_in, batch=BATCH, dtype="float32", seed=seed)
    x, y = data(plan, N, seed)
    a, la = _run(plan, 2, x, y)
    b, lb = _run(plan, 2, x, y, chunks=[(0, 1), (1, 3), (3, 99)])
    np.testing.assert_array_equal(a.get_params(), b.get_params())
    assert la == lb  # add_to: the epoch loss does not depend on the chunking, to the bit
    assert a.step == b.step == 8


def test_resume_from_state_dict_is_bit_identical():
    layers, loss, n_in = NETS[DROPNET]
    plan = make_plan(layers, loss, n_in=n_in, batch=BATCH, dtype="float32",
                     optimizer=OPT["adam"](lr=0.01, amsgrad=True))
    x, y = data(plan, N)
    straight, _ = _run(plan, 3, x, y)
    first = cpu.compile(plan)
    rng = dropout_rng(plan.seed)
    for e in range(2):
        first.train_epoch(x, y, order(N, e), 0.05, 0, 99, rng)
    saved, rng_state = first.state_dict(), rng.bit_generator.state
    resumed = cpu.compile(make_plan(layers, loss, n_in=n_in, batch=BATCH, dtype="float32",
                                    optimizer=OPT["adam"](lr=0.01, amsgrad=True), seed=9))
    resumed.load_state_dict({k: v.copy() for k, v in saved.items()})
    rng2 = np.random.default_rng()
    rng2.bit_generator.state = rng_state
    resumed.train_epoch(x, y, order(N, 2), 0.05, 0, 99, rng2)
    np.testing.assert_array_equal(resumed.get_params(), straight.get_params())
    np.testing.assert_array_equal(resumed.get_buffers(), straight.get_buffers())
    assert resumed.step == straight.step == 12
    with pytest.raises(ValueError, match="params"):
        cpu.compile(make_plan([dense(2)], LOSS["mse"]())).load_state_dict(saved)


def test_dropout_is_off_and_running_stats_used_at_evaluation():
    plan = make_plan([Dense(units=6), BatchNorm(), Dropout(rate=0.5), Dense(units=1)],
                     LOSS["mse"](), batch=BATCH)
    x, y = data(plan, N)
    exe = cpu.compile(plan)
    exe.train_epoch(x, y, order(N), 0.05, 0, 99, dropout_rng(0))
    p = exe.get_params()
    rm, rv = exe.get_buffers()[:6], exe.get_buffers()[6:]
    assert not np.allclose(rm, 0) and not np.allclose(rv, 1)  # running stats moved
    h = x @ p[:18].reshape(6, 3).T + p[18:24]
    h = (h - rm) / np.sqrt(rv + 1e-5) * p[24:30] + p[30:36]
    expect = h @ p[36:42] + p[42]
    np.testing.assert_allclose(exe.predict(x)[:, 0], expect, rtol=1e-12)
    np.testing.assert_array_equal(exe.predict(x), exe.predict(x))
    assert exe.evaluate(x, y) == pytest.approx(np.mean((expect - y[:, 0]) ** 2), rel=1e-12)


def test_predict_and_evaluate_in_many_chunks():
    layers, loss, n_in = NETS["gelu-silu-huber"]
    plan = make_plan(layers, loss, n_in=n_in)
    exe = cpu.compile(plan)
    r = np.random.default_rng(0)
    x, y = r.normal(size=(2500, 3)), r.normal(size=(2500, 2))  # 3 chunks of EVAL_ROWS
    whole = exe.predict(x)
    np.testing.assert_array_equal(whole[2000:], exe.predict(x[2000:]))
    e = whole - y
    expect = np.mean(np.where(np.abs(e) <= 0.5, 0.5 * e**2, 0.5 * (np.abs(e) - 0.25)))
    assert exe.evaluate(x, y) == pytest.approx(expect, rel=1e-12)


SPAN = Span(line=4, col=5, end_line=4, end_col=20)
SPAN1 = Span(line=5, col=5, end_line=5, end_col=12)
LOSS_SPAN = Span(line=8, col=10, end_line=8, end_col=13)


def _nonfinite_plan(dtype, lr):
    from nnspec import ir
    from nnspec.lower import lower
    from nnspec.ops.activations import Relu

    spec = ir.Spec(path="model.nn", model=ir.Model(input=3, layers=(
        Dense(units=16, activation=Relu(), span=SPAN), Dense(units=1, span=SPAN1))),
        train=ir.Train(loss=LOSS["mse"](span=LOSS_SPAN), optimizer=OPT["sgd"](lr=lr), batch=BATCH,
                       dtype=dtype))
    return lower(spec)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_huge_learning_rate_stops_with_e411_naming_a_layer(dtype):
    plan = _nonfinite_plan(dtype, 1e6)
    x, y = data(plan, N)
    y = y * 100
    exe = cpu.compile(plan)
    chunk = None
    for e in range(20):
        before = exe.get_params()
        chunk = exe.train_epoch(x, y, order(N, e), 1e6, 0, 99, dropout_rng(0))
        if not chunk.ok:
            break
    assert chunk is not None and not chunk.ok
    assert chunk.status in (STATUS_NONFINITE_LOSS, STATUS_NONFINITE_GRAD)
    assert 0 <= chunk.bad_batch < 4 and chunk.n_batches == chunk.bad_batch
    if chunk.bad_batch == 0:  # nothing was applied in this chunk
        np.testing.assert_array_equal(before, exe.get_params())
    assert np.isfinite(exe.get_params()).all()  # the bad update was not applied
    err = base_nonfinite_error(exe, x, y, order(N, e), e, chunk, 1e6)
    (d,) = err.diagnostics
    assert d.code == "E411" and d.path == "model.nn"
    assert f"epoch {e + 1}, batch {chunk.bad_batch + 1}" in d.message
    # the first non-finite tensor is a layer's (at its span) or the loss itself (at its span)
    assert ("layer 0 (dense 16 relu)" in d.message and d.span == SPAN) or (
        "layer 1 (dense 1)" in d.message and d.span == SPAN1) or (
        "the loss is" in d.message and d.span == LOSS_SPAN), d.message
    assert any("learning rate" in h for h in d.hints)
    assert "error[E411]" in render(d)


def test_nan_in_the_data_is_named():
    plan = _nonfinite_plan("float32", 0.01)
    x, y = data(plan, N)
    x[order(N)[BATCH + 2], 1] = np.nan  # a row of the second batch
    exe = cpu.compile(plan)
    chunk = exe.train_epoch(x, y, order(N), 0.01, 0, 99, dropout_rng(0))
    assert chunk.status == STATUS_NONFINITE_LOSS and chunk.bad_batch == 1
    assert chunk.n_batches == 1 and exe.step == 1
    (d,) = base_nonfinite_error(exe, x, y, order(N), 0, chunk, 0.01).diagnostics
    assert "input data" in d.message and "NaN" in d.message
    assert any("data" in h for h in d.hints)


def test_nonfinite_parameter_is_named_with_its_layer():
    plan = _nonfinite_plan("float64", 0.01)
    x, y = data(plan, N)
    exe = cpu.compile(plan)
    p = exe.get_params()
    p[3] = np.inf  # layers.0.weight
    exe.set_params(p)
    chunk = exe.train_epoch(x, y, order(N), 0.01, 0, 99, dropout_rng(0))
    assert not chunk.ok and chunk.bad_batch == 0
    (d,) = base_nonfinite_error(exe, x, y, order(N), 0, chunk, 0.01).diagnostics
    assert "`layers.0.weight`" in d.message and d.span == SPAN
    # issue 18: no `init from` in this spec, so the hint must not send the user to one
    assert not any("init from" in h for h in d.hints), d.hints
    assert any("learning rate" in h for h in d.hints), d.hints


def test_nonfinite_parameter_with_init_from_points_at_its_file():
    import dataclasses

    plan = dataclasses.replace(_nonfinite_plan("float64", 0.01), init_from="w.npz")
    x, y = data(plan, N)
    exe = cpu.compile(plan)
    p = exe.get_params()
    p[3] = np.inf
    exe.set_params(p)
    chunk = exe.train_epoch(x, y, order(N), 0.01, 0, 99, dropout_rng(0))
    (d,) = base_nonfinite_error(exe, x, y, order(N), 0, chunk, 0.01).diagnostics
    assert any("`init from`" in h for h in d.hints), d.hints


def test_denormals_are_flushed_inside_a_chunk_only():
    """fpu.py: flush-to-zero while training (denormals are 10-100x slower), IEEE outside."""
    from nnspec.backends.cpu import fpu

    plan = make_plan([dense(2)], LOSS["mse"](), batch=BATCH, dtype="float32")
    exe = cpu.compile(plan)
    x, y = data(plan, N)
    exe.train_epoch(x, y, order(N), 0.01, 0, 99, dropout_rng(0))
    tiny = np.array([1e-39], dtype=np.float32)
    assert (tiny * np.float32(0.5))[0] != 0  # the caller's floating-point mode is restored
    if fpu.X86:
        p = exe.get_params()
        p[:] = 1e-39  # denormal weights: w - lr*g reads them as 0 and writes 0
        exe.set_params(p)
        exe.train_epoch(x, y, order(N), 1e-40, 0, 1, dropout_rng(0))  # lr denormal too
        assert not np.any(exe.get_params())


def test_nonfinite_in_a_branch_is_named_by_the_node_label():
    """A graph's replay names the first non-finite node by its label (a branch's dense)."""
    layers, loss, n_in = GRAPH_NETS["concat-fanout-cce"]
    plan = make_plan(layers, loss, n_in=n_in, batch=BATCH, dtype="float32")
    x, y = data(plan, N)
    exe = cpu.compile(plan)
    node = next(la for la in plan.layers if la.name.endswith("branches.0.0"))
    p = exe.get_params()
    # finite weights and bias whose products overflow float32 in z
    p[node.w_offset:node.w_offset + node.n_in * node.n_out] = 3e38
    p[node.b_offset:node.b_offset + node.n_out] = 3e38
    exe.set_params(p)
    chunk = exe.train_epoch(x, y, order(N), 0.0, 0, 99, dropout_rng(0))
    assert not chunk.ok
    (d,) = base_nonfinite_error(exe, x, y, order(N), 0, chunk, 0.01).diagnostics
    assert f"pre-activation of {node.label}" in d.message, d.message
    assert node.label == "layers.1.branches.0.0 (dense 3 relu)"


def test_nonfinite_head_loss_stops_the_chunk():
    """A head's loss going non-finite stops a chunk like the main loss (before the update)."""
    layers, loss, n_in = GRAPH_NETS["input-concat-dropout-heads-mse"]
    plan = make_plan(layers, loss, n_in=n_in, batch=BATCH, dtype="float64")
    x, y = data(plan, N)
    exe = cpu.compile(plan)
    head = plan.layers[plan.heads[1].node]  # head b: dense 2, linear
    p = exe.get_params()
    p[head.w_offset:head.w_offset + head.n_in * head.n_out] = 1e300
    exe.set_params(p)
    before = exe.get_params()
    chunk = exe.train_epoch(x, y, order(N), 0.01, 0, 99, dropout_rng(0))
    assert chunk.status == STATUS_NONFINITE_LOSS and chunk.bad_batch == 0
    np.testing.assert_array_equal(exe.get_params(), before)
    (d,) = base_nonfinite_error(exe, x, y, order(N), 0, chunk, 0.01).diagnostics
    assert "head `b`" in d.message or head.label in d.message, d.message

"""The cpu engine's image kernels (backends/cpu/conv2d.py, pool.py, batchnorm.py's *_2d)
against the reference backend, op by op: strides, padding (`same` with an even kernel),
dilation, odd sizes, 1 and 3 channels, rectangular windows, a 1x1 convolution read
directly; the max pool's ties; the multi-threaded conv2d (blocks of samples, an empty
block in a last batch of one row) against the serial one; float32; the workspace layout
(flatten after a conv2d moves nothing); non-finite values inside a conv net named (E411).
Whole networks and graphs of image layers are in cpu_nets.py (test_cpu_network.py)."""

from __future__ import annotations

import numpy as np
import pytest
from cpu_nets import conv
from plan_nets import LOSS, OPT, data, dense, make_plan, order
from window_cases import CONV_CASES, POOL_CASES

from nnspec.backends import cpu, reference
from nnspec.backends.base import as_targets, dropout_rng
from nnspec.backends.cpu import layout as cpu_layout
from nnspec.backends.reference import network
from nnspec.ops.layers import AvgPool2D, BatchNorm, Flatten, GlobalAvgPool, MaxPool2D

N = 5

# CONV_CASES, POOL_CASES: tests/support/window_cases.py (shared with the reference tests)


def _grad_vs_reference(plan, x, y, rtol=1e-10):
    """One batch of N rows at a negligible lr: the cpu gradient buffer and the loss equal
    the reference's."""
    c = cpu.compile(plan)
    params = c.get_params()
    chunk = c.train_epoch(x, y, np.arange(len(x)), 1e-300, 0, 1, dropout_rng(1))
    assert chunk.ok and chunk.n_batches == 1
    value, grad = network.loss_and_grad(plan, params, reference.compile(plan).get_buffers(), x,
                                        as_targets(plan, y), rng=dropout_rng(1))
    assert chunk.loss_sum / len(x) == pytest.approx(value, rel=1e-12)
    assert np.abs(grad).max() > 0
    np.testing.assert_allclose(c.grad, grad, rtol=rtol, atol=1e-13)
    r = reference.compile(plan)
    r.set_params(params)
    r.set_buffers(c.get_buffers())
    np.testing.assert_allclose(c.predict(x), r.predict(x), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("has_bias", [True, False])
@pytest.mark.parametrize("name", list(CONV_CASES))
def test_conv2d_matches_reference(name, has_bias):
    """The case's conv2d after a 1x1 conv2d (so its dL/dx is checked, through the first
    layer's weight gradient), before a dense layer."""
    c, h, w, k, s, p, d = CONV_CASES[name]
    layers = [conv(c, 1, "tanh"), conv(3, k, "relu", stride=s, padding=p, dilation=d,
                                       bias=has_bias), Flatten(), dense(2)]
    plan = make_plan(layers, LOSS["mse"](), n_in=(c, h, w), batch=N)
    _grad_vs_reference(plan, *data(plan, N))


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("kind", [MaxPool2D, AvgPool2D])
@pytest.mark.parametrize("name", list(POOL_CASES))
def test_pool_matches_reference(name, kind, split, monkeypatch):
    """Serial, and split (pool_parts: blocks of the batch's samples on 3 threads, the
    threshold lowered; a block of 1 sample of 5)."""
    if split:
        monkeypatch.setattr(cpu_layout, "POOL_SPLIT_MIN", 1)
        monkeypatch.setattr(cpu_layout, "_THREADS", 3)
    c, h, w, k, s, p = POOL_CASES[name]
    layers = [conv(c, 1, "tanh"), kind(kernel=k, stride=s, padding=p), Flatten(), dense(2)]
    plan = make_plan(layers, LOSS["mse"](), n_in=(c, h, w), batch=N)
    assert (cpu_layout.layout(plan, N).itab[1, cpu_layout.SPLIT] == 3) == split
    _grad_vs_reference(plan, *data(plan, N))


def test_global_avgpool_and_batchnorm_per_channel_match_reference():
    layers = [conv(3, 2, "elu"), BatchNorm(momentum=0.3), GlobalAvgPool(), dense(2)]
    plan = make_plan(layers, LOSS["mse"](), n_in=(2, 5, 3), batch=N)
    _grad_vs_reference(plan, *data(plan, N))


def test_maxpool_ties_take_the_first_maximum():
    """A 1-channel 1x1 conv2d keeps the input's ties exactly (w*x + b for every value): the
    weight gradient then depends on which tied position the pool chose (PyTorch's rule, the
    first in row-major window order, as the reference)."""
    layers = [conv(1, 1), MaxPool2D(kernel=2), Flatten(), dense(1)]
    plan = make_plan(layers, LOSS["mse"](), n_in=(1, 4, 4), batch=N)
    r = np.random.default_rng(3)
    x = r.integers(0, 2, size=(N, 16)).astype(float)  # many ties among 0s and 1s
    _grad_vs_reference(plan, x, r.normal(size=(N, 1)))


@pytest.mark.parametrize("kernel, stride", [(2, None), (2, 1), (3, 2), ((2, 3), (1, 2))])
def test_maxpool_keeps_the_rule_with_nans_and_ties_on_threads(kernel, stride):
    """The max pool against its rule written out: the first maximum in row-major window
    order, a NaN the first NaN; argmax the input offset within the sample; on 1 thread and
    on 3 (pool_parts: blocks of samples, each thread's outputs where they belong). 2x2
    windows inside the input have kernels of their own (stride 2, other strides)."""
    from nnspec.backends.cpu import pool

    c, h, w, rows = 2, 7, 8, 3
    plan = make_plan([MaxPool2D(kernel=kernel, stride=stride), Flatten(), dense(1)],
                     LOSS["mse"](), n_in=(c, h, w))
    img = cpu_layout.layout(plan, rows).wtab
    kh, kw, sh, sw, ho, wo = (int(img[0, col]) for col in (
        cpu_layout.W_KH, cpu_layout.W_KW, cpu_layout.W_SH, cpu_layout.W_SW, cpu_layout.W_HO,
        cpu_layout.W_WO))
    r = np.random.default_rng(7)
    x = r.integers(0, 3, size=(rows, c, h, w)).astype(np.float32)  # many ties
    x[0, 0, 0, 1] = x[1, 1, 3, 3] = x[1, 1, 3, 4] = x[2, 0, 5, 6] = np.nan
    want_y, want_arg = [], []
    for s in range(rows):
        for ch in range(c):
            for i in range(ho):
                for j in range(wo):
                    best, at = None, None
                    for u in range(kh):
                        for v in range(kw):
                            val = x[s, ch, i * sh + u, j * sw + v]
                            if best is None or (not val <= best and best == best):
                                best, at = val, (ch * h + i * sh + u) * w + j * sw + v
                    want_y.append(best)
                    want_arg.append(at)
    n = c * ho * wo
    for parts in (1, 3):
        ws = np.full(rows * (c * h * w + 2 * n) + 5, -7.0, np.float32)
        ws[2:2 + x.size] = x.ravel()
        y_off, a_off = 2 + x.size, 2 + x.size + rows * n
        if parts == 1:
            pool.max_forward(rows, img, 0, ws, 2, ws, y_off, ws, a_off)
        else:
            pool.pool_parts(parts, pool.MAX_FORWARD, rows, img, 0, ws, 2, ws, y_off, ws, a_off)
        np.testing.assert_array_equal(ws[y_off:y_off + rows * n], want_y)
        np.testing.assert_array_equal(ws[a_off:a_off + rows * n], want_arg)
        assert (ws[:2] == -7).all() and (ws[a_off + rows * n:] == -7).all()


def test_flatten_after_conv_moves_nothing():
    plan = make_plan([conv(2, 3), Flatten(), dense(1)], LOSS["mse"](), n_in=(1, 4, 4))
    lay = cpu_layout.layout(plan, 8)
    assert lay.itab[1, cpu_layout.A_OFF] == lay.itab[0, cpu_layout.A_OFF]
    assert lay.wtab is not None and lay.wtab[0, cpu_layout.W_DIRECT] == 0
    dense_only = make_plan([dense(2), dense(1)], LOSS["mse"]())
    assert cpu_layout.layout(dense_only, 8).wtab is None  # the engine gets img=None


def _split_plan(dtype="float64", batch=16):
    """A conv2d whose batch is worth splitting across threads (layout.conv_parts)."""
    layers = [conv(8, 3, "relu", padding=1), conv(16, 3, "tanh", padding=1), MaxPool2D(kernel=2),
              conv(16, 1, "relu"), GlobalAvgPool(), dense(3, "softmax")]
    return make_plan(layers, LOSS["categorical_crossentropy"](), n_in=(3, 12, 12),
                     batch=batch, dtype=dtype,
                     optimizer=OPT["adam"](lr=0.01))


@pytest.fixture
def split_everything(monkeypatch):
    """Every conv2d and pool split across the threads (the thresholds lowered), when there
    are some."""
    if cpu_layout.threads() < 2:
        pytest.skip("one Numba thread: no split path")
    monkeypatch.setattr(cpu_layout, "SPLIT_MIN_WORK", 1)
    monkeypatch.setattr(cpu_layout, "POOL_SPLIT_MIN", 1)


def test_split_conv_matches_reference_and_serial(split_everything, monkeypatch):
    """Blocks of samples on the threads, their partial gradients summed after: float64
    training over 2 epochs of 3 batches (the last of 1 row: one thread's block is empty)
    equals the reference, and the serial engine."""
    plan = _split_plan()
    n = 33
    lay = cpu_layout.layout(plan, 16)
    conv_nodes = [i for i, node in enumerate(plan.layers)
                  if node.kind_name in ("conv2d", "maxpool")]
    assert all(lay.itab[i, cpu_layout.SPLIT] > 1 for i in conv_nodes) and lay.split
    assert lay.wtab is not None and lay.wtab[3, cpu_layout.W_DIRECT] == 1
    x, y = data(plan, n)
    c = cpu.compile(plan)
    r = reference.compile(plan)
    r.set_params(c.get_params())
    monkeypatch.setattr(cpu_layout, "SPLIT_MIN_WORK", 1 << 60)
    monkeypatch.setattr(cpu_layout, "POOL_SPLIT_MIN", 1 << 60)
    s = cpu.compile(plan)
    assert not cpu_layout.layout(plan, 16).split
    for epoch in range(2):
        a = c.train_epoch(x, y, order(n, epoch), 0.01, 0, 99, dropout_rng(0))
        b = r.train_epoch(x, y, order(n, epoch), 0.01, 0, 99, dropout_rng(0))
        e = s.train_epoch(x, y, order(n, epoch), 0.01, 0, 99, dropout_rng(0))
        assert a.ok and (a.n_batches, b.n_batches, e.n_batches) == (3, 3, 3)
        assert a.loss_sum == pytest.approx(b.loss_sum, rel=1e-10)
        assert a.loss_sum == pytest.approx(e.loss_sum, rel=1e-12)
    np.testing.assert_allclose(c.get_params(), r.get_params(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(c.get_params(), s.get_params(), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(c.predict(x), r.predict(x), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("split", [False, True])
def test_conv_im2col_kept_or_recomputed_is_the_same(split, monkeypatch):
    """Backward reads forward's im2col when the batch's fits layout.KEEP_COLS_MAX and runs
    im2col again when it does not: the same products of the same values, so float64
    training over 2 epochs is the same to the last bit (serial and split), and matches the
    reference."""
    if split:
        if cpu_layout.threads() < 2:
            pytest.skip("one Numba thread: no split path")
        monkeypatch.setattr(cpu_layout, "SPLIT_MIN_WORK", 1)
    plan = _split_plan()
    n = 33
    x, y = data(plan, n)
    runs = []
    for keep_max in (cpu_layout.KEEP_COLS_MAX, 0):
        monkeypatch.setattr(cpu_layout, "KEEP_COLS_MAX", keep_max)
        exe = cpu.compile(plan)
        losses = [exe.train_epoch(x, y, order(n, epoch), 0.01, 0, 99, dropout_rng(0)).loss_sum
                  for epoch in range(2)]
        kept = exe._get_work(16).layout.wtab[[0, 1, 3], cpu_layout.W_KEEP]  # (the engine's)
        assert (kept[:2] >= 0).all() == (keep_max > 0) and kept[2] == -1  # (3: 1x1, direct)
        runs.append((exe.get_params(), losses, exe.predict(x)))
    (p1, l1, o1), (p2, l2, o2) = runs
    np.testing.assert_array_equal(p1, p2)
    assert l1 == l2
    np.testing.assert_array_equal(o1, o2)
    r = reference.compile(plan)
    r.set_params(cpu.compile(plan).get_params())
    for epoch in range(2):
        r.train_epoch(x, y, order(n, epoch), 0.01, 0, 99, dropout_rng(0))
    np.testing.assert_allclose(p1, r.get_params(), rtol=1e-9, atol=1e-12)


def test_split_conv_float32_and_bit_identical(split_everything):
    plan = _split_plan("float32")
    x, y = data(plan, 32)
    runs = []
    for _ in range(2):
        c = cpu.compile(plan)
        c.train_epoch(x, y, order(32), 0.01, 0, 99, dropout_rng(0))
        runs.append(c.get_params())
    np.testing.assert_array_equal(runs[0], runs[1])
    r = reference.compile(plan)
    r.set_params(cpu.compile(plan).get_params().astype(np.float64))
    r.train_epoch(x, y, order(32), 0.01, 0, 99, dropout_rng(0))
    np.testing.assert_allclose(runs[0], r.get_params(), rtol=2e-4, atol=2e-5)


def test_nonfinite_in_a_conv_net_is_named():
    """A NaN in one image of a batch: the cpu engine stops (E411 names the input data)."""
    from nnspec.train.nonfinite import nonfinite_error

    plan = make_plan([conv(2, 3, "relu", padding=1), MaxPool2D(kernel=2), Flatten(), dense(1)],
                     LOSS["mse"](), n_in=(1, 4, 4), batch=4)
    x, y = data(plan, 8)
    x[5, 7] = np.nan
    exe = cpu.compile(plan)
    chunk = exe.train_epoch(x, y, np.arange(8), 0.1, 0, 99, dropout_rng(0))
    assert not chunk.ok and chunk.bad_batch == 1
    (d,) = nonfinite_error(exe, x, y, np.arange(8), 0, chunk, 0.1).diagnostics
    assert d.code == "E411" and "input data" in d.message, d.message

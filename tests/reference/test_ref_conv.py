"""reference conv2d, maxpool, avgpool, global_avgpool, batchnorm per channel: finite
differences over strides, padding, dilation, odd sizes, 1 and 3 channels; PyTorch for the
forward values, the gradients and the conventions (max-pool ties, `same` padding with an
even kernel, count_include_pad, BatchNorm2d running statistics)."""

from __future__ import annotations

import numpy as np
import pytest
from ref_gradcheck import assert_grad
from window_cases import CONV_CASES, POOL_CASES

from nnspec.backends.reference import avgpool, conv2d, global_avgpool, maxpool, windows
from nnspec.backends.reference import batchnorm as BN
from nnspec.ops.layers import Window

rng = np.random.default_rng

# CONV_CASES, POOL_CASES: tests/support/window_cases.py (shared with the cpu tests)


def conv_window(case) -> tuple[tuple[int, int, int], Window]:  # type: ignore[no-untyped-def]
    c, h, w, k, s, p, d = case
    return (c, h, w), Window.of(k, s, p, d)


def pool_window(case) -> tuple[tuple[int, int, int], Window]:  # type: ignore[no-untyped-def]
    c, h, w, k, s, p = case
    return (c, h, w), Window.of(k, k if s is None else s, p)


@pytest.mark.parametrize("has_bias", [True, False])
@pytest.mark.parametrize("name", list(CONV_CASES))
def test_conv2d_gradients(name, has_bias):
    (c, h, w), win = conv_window(CONV_CASES[name])
    r = rng(0)
    x = r.normal(size=(2, c, h, w))
    wt = r.normal(size=(3, c, win.kh, win.kw))
    b = r.normal(size=3)
    bias = b if has_bias else None
    z, cols = conv2d.forward(x, wt, bias, win)
    g = r.normal(size=z.shape)

    def f():
        return float(np.sum(g * conv2d.forward(x, wt, bias, win)[0]))

    gx, gw, gb = conv2d.backward(cols, wt, g, win, (h, w), has_bias)
    assert gx.shape == x.shape and gw.shape == wt.shape
    assert_grad(f, x, gx)
    assert_grad(f, wt, gw)
    if has_bias:
        assert_grad(f, b, gb)
    else:
        assert gb is None


def test_conv2d_by_hand():
    """A 1x3x3 image, one 2x2 filter, stride 1, no padding: each output is the window's sum
    weighted by w (a cross-correlation, not flipped)."""
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    w = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    z, _ = conv2d.forward(x, w, np.array([0.5]), Window.of(2, 1, 0))
    expected = [[0 + 2 + 9 + 16, 1 + 4 + 12 + 20], [3 + 8 + 18 + 28, 4 + 10 + 21 + 32]]
    np.testing.assert_array_equal(z[0, 0], np.array(expected) + 0.5)


@pytest.mark.parametrize("name", list(POOL_CASES))
def test_pool_gradients(name):
    (c, h, w), win = pool_window(POOL_CASES[name])
    r = rng(1)
    x = r.normal(size=(2, c, h, w))
    y, arg = maxpool.forward(x, win)
    g = r.normal(size=y.shape)
    assert_grad(lambda: float(np.sum(g * maxpool.forward(x, win)[0])), x,
                maxpool.backward(g, arg, win, (h, w)))
    ya = avgpool.forward(x, win)
    assert ya.shape == y.shape
    assert_grad(lambda: float(np.sum(g * avgpool.forward(x, win))), x,
                avgpool.backward(g, win, (h, w)))


@pytest.mark.parametrize("shape", [(1, 3, 3), (3, 5, 4)])
def test_global_avgpool_gradient(shape):
    r = rng(2)
    x = r.normal(size=(2, *shape))
    g = r.normal(size=(2, shape[0]))
    assert_grad(lambda: float(np.sum(g * global_avgpool.forward(x))), x,
                global_avgpool.backward(g, shape[1:]))
    np.testing.assert_allclose(global_avgpool.forward(x), x.mean(axis=(2, 3)))


def test_maxpool_ties_go_to_the_first_maximum():
    """A window of equal values: the maximum is the first in row-major order; a padded
    border (-inf) is never chosen."""
    x = np.ones((1, 1, 2, 2))
    y, arg = maxpool.forward(x, Window.of(2, 2, 0))
    assert y[0, 0, 0, 0] == 1.0 and arg[0, 0, 0, 0] == 0
    gx = maxpool.backward(np.array([[[[5.0]]]]), arg, Window.of(2, 2, 0), (2, 2))
    np.testing.assert_array_equal(gx[0, 0], [[5.0, 0.0], [0.0, 0.0]])
    neg = -np.ones((1, 1, 2, 2))
    yp, _ = maxpool.forward(neg, Window.of(2, 1, 1))
    np.testing.assert_array_equal(yp, -np.ones((1, 1, 3, 3)))


def test_avgpool_counts_padding():
    """count_include_pad: a corner window of a padded 2x2 ones image holds one 1 in four."""
    y = avgpool.forward(np.ones((1, 1, 2, 2)), Window.of(2, 2, 1))
    np.testing.assert_array_equal(y[0, 0], [[0.25, 0.25], [0.25, 0.25]])


def test_windows_out_hw_matches_the_shape_rule():
    from nnspec.ops.layers import Conv2D

    for name, (c, h, w, k, s, p, d) in CONV_CASES.items():
        op = Conv2D(filters=1, kernel=k, stride=s, padding=p, dilation=d)
        assert op.out_shape((c, h, w))[1:] == windows.out_hw(h, w, op.window()), name


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", [(1, 3, 3), (3, 2, 5)])
def test_batchnorm_per_channel_gradients(shape, affine):
    r = rng(3)
    c = shape[0]
    x = r.normal(1.0, 2.0, size=(4, *shape))
    gamma = r.normal(1.0, 0.3, size=c) if affine else None
    beta = r.normal(size=c) if affine else None
    g = r.normal(size=x.shape)

    def f():
        return float(np.sum(g * BN.forward_train(x, gamma, beta, 1e-5)[0]))

    y, cache = BN.forward_train(x, gamma, beta, 1e-5)
    assert cache.count == 4 * shape[1] * shape[2]
    gx, ggamma, gbeta = BN.backward(g, gamma, cache)
    assert gx.shape == x.shape and ggamma.shape == (c,)
    assert_grad(f, x, gx)
    if affine:
        assert_grad(f, gamma, ggamma)
        assert_grad(f, beta, gbeta)
    # without affine, each channel of y has mean 0 and (biased) variance ~1
    if not affine:
        np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0.0, atol=1e-12)


# --- PyTorch -------------------------------------------------------------------------------


@pytest.fixture
def torch():
    t = pytest.importorskip("torch")
    old = t.get_num_threads()
    t.set_num_threads(1)
    yield t
    t.set_num_threads(old)


@pytest.mark.torch
@pytest.mark.parametrize("name", list(CONV_CASES))
def test_conv2d_matches_torch(torch, name):
    c, h, w, k, s, p, d = CONV_CASES[name]
    (_, _, _), win = conv_window(CONV_CASES[name])
    r = rng(4)
    x = r.normal(size=(2, c, h, w))
    wt = r.normal(size=(3, c, win.kh, win.kw))
    b = r.normal(size=3)
    xt = torch.tensor(x, requires_grad=True)
    wtt = torch.tensor(wt, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    import warnings

    with warnings.catch_warnings():  # torch warns that `same` with an even kernel copies x
        warnings.simplefilter("ignore")
        zt = torch.nn.functional.conv2d(xt, wtt, bt, stride=s, padding=p, dilation=d)
    z, cols = conv2d.forward(x, wt, b, win)
    np.testing.assert_allclose(z, zt.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = r.normal(size=z.shape)
    (zt * torch.tensor(g)).sum().backward()
    gx, gw, gb = conv2d.backward(cols, wt, g, win, (h, w))
    np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gw, wtt.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gb, bt.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.torch
@pytest.mark.parametrize("name", list(POOL_CASES))
def test_pools_match_torch(torch, name):
    c, h, w, k, s, p = POOL_CASES[name]
    (_, _, _), win = pool_window(POOL_CASES[name])
    r = rng(5)
    # rounded values: ties inside windows, which max pooling breaks as PyTorch does
    x = np.round(r.normal(size=(2, c, h, w)), 0)
    F = torch.nn.functional
    for pool, ours in ((F.max_pool2d, "max"), (F.avg_pool2d, "avg")):
        xt = torch.tensor(x, requires_grad=True)
        yt = pool(xt, k, stride=s, padding=p)
        if ours == "max":
            y, arg = maxpool.forward(x, win)
        else:
            y = avgpool.forward(x, win)
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-14, atol=0)
        g = r.normal(size=y.shape)
        (yt * torch.tensor(g)).sum().backward()
        gx = (maxpool.backward(g, arg, win, (h, w)) if ours == "max"
              else avgpool.backward(g, win, (h, w)))
        np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.torch
def test_batchnorm2d_matches_torch(torch):
    r = rng(6)
    c, momentum, eps = 3, 0.3, 1e-3
    bn = torch.nn.BatchNorm2d(c, eps=eps, momentum=momentum).double()
    gamma, beta = r.normal(1.0, 0.3, size=c), r.normal(size=c)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor(gamma))
        bn.bias.copy_(torch.tensor(beta))
    rm, rv = np.zeros(c), np.ones(c)
    for step in range(3):
        x = r.normal(step, 1.0 + step, size=(4, c, 3, 5))
        g = r.normal(size=x.shape)
        xt = torch.tensor(x, requires_grad=True)
        bn.train()
        bn.zero_grad()
        yt = bn(xt)
        (yt * torch.tensor(g)).sum().backward()
        y, cache = BN.forward_train(x, gamma, beta, eps)
        BN.update_running(rm, rv, cache, cache.count, momentum)
        gx, ggamma, gbeta = BN.backward(g, gamma, cache)
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ggamma, bn.weight.grad.numpy(), rtol=1e-12)
        np.testing.assert_allclose(gbeta, bn.bias.grad.numpy(), rtol=1e-12)
        np.testing.assert_allclose(rm, bn.running_mean.numpy(), rtol=1e-12)
        np.testing.assert_allclose(rv, bn.running_var.numpy(), rtol=1e-12)
    bn.eval()
    x = r.normal(size=(2, c, 3, 5))
    np.testing.assert_allclose(BN.forward_eval(x, gamma, beta, eps, rm, rv),
                               bn(torch.tensor(x)).detach().numpy(), rtol=1e-12, atol=1e-13)

"""reference dense, dropout, batchnorm: finite differences, PyTorch, hand values."""

from __future__ import annotations

import numpy as np
import pytest
from ref_gradcheck import assert_grad

from nnspec.backends.reference import batchnorm as BN
from nnspec.backends.reference import dense, dropout

rng = np.random.default_rng


@pytest.mark.parametrize("has_bias", [True, False])
def test_dense_gradients(has_bias):
    r = rng(0)
    x, w, b = r.normal(size=(4, 3)), r.normal(size=(2, 3)), r.normal(size=2)
    g = r.normal(size=(4, 2))
    bias = b if has_bias else None

    def f():
        return float(np.sum(g * dense.forward(x, w, bias)))

    gx, gw, gb = dense.backward(x, w, g, has_bias)
    assert_grad(f, x, gx)
    assert_grad(f, w, gw)
    if has_bias:
        assert_grad(f, b, gb)
    else:
        assert gb is None


def test_dense_layout_is_out_by_in():
    x = np.array([[1.0, 2.0, 3.0]])
    w = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])  # (out=2, in=3)
    np.testing.assert_array_equal(dense.forward(x, w, np.array([10.0, 20.0])), [[11.0, 25.0]])


def test_dropout_with_fixed_mask():
    r = rng(1)
    x, g = r.normal(size=(5, 4)), r.normal(size=(5, 4))
    mask = (r.random((5, 4)) >= 0.3).astype(float)

    def f():
        return float(np.sum(g * dropout.forward(x, mask, 0.3)))

    assert_grad(f, x, dropout.backward(g, mask, 0.3))
    np.testing.assert_allclose(dropout.forward(x, mask, 0.3), x * mask / 0.7)


def test_dropout_mask_convention():
    # u = rng.random(shape), keep where u >= rate: the convention of backends/base.py.
    u = rng(3).random((2, 3))
    m = dropout.make_mask(rng(3), (2, 3), 0.4)
    np.testing.assert_array_equal(m, (u >= 0.4).astype(float))
    big = dropout.make_mask(rng(4), (200, 500), 0.25)
    assert big.mean() == pytest.approx(0.75, abs=0.01)
    assert np.all(dropout.make_mask(rng(5), (10, 10), 0.0) == 1.0)


@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm_train_gradients(affine):
    r = rng(2)
    x = r.normal(1.0, 2.0, size=(6, 3))
    gamma = r.normal(1.0, 0.3, size=3) if affine else None
    beta = r.normal(size=3) if affine else None
    g = r.normal(size=(6, 3))

    def f():
        return float(np.sum(g * BN.forward_train(x, gamma, beta, 1e-5)[0]))

    _, cache = BN.forward_train(x, gamma, beta, 1e-5)
    gx, ggamma, gbeta = BN.backward(g, gamma, cache)
    assert_grad(f, x, gx)
    if affine:
        assert_grad(f, gamma, ggamma)
        assert_grad(f, beta, gbeta)


def test_batchnorm_hand_values():
    x = np.array([[1.0], [3.0]])  # mean 2, biased var 1, unbiased var 2
    y, cache = BN.forward_train(x, None, None, 0.0)
    np.testing.assert_allclose(y, [[-1.0], [1.0]])
    rm, rv = np.zeros(1), np.ones(1)
    BN.update_running(rm, rv, cache, count=2, momentum=0.1)
    np.testing.assert_allclose(rm, [0.2])
    np.testing.assert_allclose(rv, [0.9 + 0.1 * 2.0])
    # one row (PyTorch refuses it): normalizes to 0, unbiased variance taken as 0
    y1, cache1 = BN.forward_train(x[:1], None, None, 1e-5)
    np.testing.assert_array_equal(y1, [[0.0]])
    BN.update_running(rm, rv, cache1, count=1, momentum=0.5)
    np.testing.assert_allclose(rv, [0.5 * 1.1])


@pytest.mark.torch
@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm_matches_torch(affine):
    torch = pytest.importorskip("torch")
    r = rng(6)
    n_feat, momentum, eps = 4, 0.3, 1e-3
    bn = torch.nn.BatchNorm1d(n_feat, eps=eps, momentum=momentum, affine=affine).double()
    gamma = r.normal(1.0, 0.3, size=n_feat) if affine else None
    beta = r.normal(size=n_feat) if affine else None
    if affine:
        with torch.no_grad():
            bn.weight.copy_(torch.tensor(gamma))
            bn.bias.copy_(torch.tensor(beta))
    rm, rv = np.zeros(n_feat), np.ones(n_feat)
    for step in range(3):  # a few training batches: outputs, gradients, running stats
        x = r.normal(step, 1.0 + step, size=(7, n_feat))
        g = r.normal(size=(7, n_feat))
        xt = torch.tensor(x, requires_grad=True)
        bn.train()
        if affine:
            bn.zero_grad()
        yt = bn(xt)
        (yt * torch.tensor(g)).sum().backward()
        y, cache = BN.forward_train(x, gamma, beta, eps)
        BN.update_running(rm, rv, cache, 7, momentum)
        gx, ggamma, gbeta = BN.backward(g, gamma, cache)
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-10, atol=1e-13)
        if affine:
            np.testing.assert_allclose(ggamma, bn.weight.grad.numpy(), rtol=1e-12)
            np.testing.assert_allclose(gbeta, bn.bias.grad.numpy(), rtol=1e-12)
        np.testing.assert_allclose(rm, bn.running_mean.numpy(), rtol=1e-14)
        np.testing.assert_allclose(rv, bn.running_var.numpy(), rtol=1e-14)
    bn.eval()
    x = r.normal(size=(3, n_feat))
    np.testing.assert_allclose(BN.forward_eval(x, gamma, beta, eps, rm, rv),
                               bn(torch.tensor(x)).detach().numpy(), rtol=1e-13)


def test_embedding_gathers_rows_and_scatter_adds_repeated_ids():
    from nnspec.backends.reference import embedding

    w = np.arange(12.0).reshape(4, 3)
    ids = embedding.token_ids(np.array([[1.0, 3.0], [1.0, 1.0]]), 4)
    assert ids.dtype == np.int64
    y = embedding.forward(ids, w)
    assert np.array_equal(y, np.array([[w[1], w[3]], [w[1], w[1]]]))
    g = np.random.default_rng(0).normal(size=(2, 2, 3))
    gw = embedding.backward(ids, g, 4)
    assert np.allclose(gw[1], g[0, 0] + g[1, 0] + g[1, 1])  # id 1 three times: summed
    assert np.allclose(gw[3], g[0, 1])
    assert not gw[0].any() and not gw[2].any()  # rows not used: a zero (dense) gradient
    for bad in (np.array([[0.5, 1.0]]), np.array([[4.0, 0.0]]), np.array([[-1.0, 0.0]])):
        with pytest.raises(ValueError):
            embedding.token_ids(bad, 4)

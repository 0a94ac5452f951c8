"""reference losses: finite differences, fused vs plain forms, PyTorch and hand values."""

from __future__ import annotations

import numpy as np
import pytest
from ref_gradcheck import assert_grad

from nnspec.backends.reference import activations as A
from nnspec.backends.reference import losses as L
from nnspec.ops.activations import ACTIVATIONS
from nnspec.ops.losses import LOSSES

B, K = 5, 3
RNG = np.random.default_rng(7)


def _data(kind: str, onehot: bool = True):
    """(p, y) in the domain of the loss: probabilities for crossentropies."""
    rng = np.random.default_rng(11)
    if kind == "binary_crossentropy":
        p = rng.uniform(0.05, 0.95, size=(B, K))
        return p, (rng.random((B, K)) < 0.5).astype(float)
    if kind in ("categorical_crossentropy", "sparse_categorical_crossentropy"):
        p = A.softmax(rng.normal(size=(B, K)))
        idx = rng.integers(0, K, size=B)
        sparse = kind == "sparse_categorical_crossentropy"  # class indices only
        return p, (np.eye(K)[idx] if onehot and not sparse else idx)
    p = rng.normal(size=(B, K))
    y = p + rng.normal(0, 1.5, size=(B, K))
    return p, y


PLAIN = [cls() for cls in LOSSES.values()] + [
    LOSSES["huber"](delta=0.3),
    LOSSES["binary_crossentropy"](label_smoothing=0.2),
    LOSSES["categorical_crossentropy"](label_smoothing=0.1),
    LOSSES["sparse_categorical_crossentropy"](label_smoothing=0.1),
]


@pytest.mark.parametrize("loss", PLAIN, ids=lambda op: f"{op.kind}")
def test_plain_gradient(loss):
    p, y = _data(loss.kind)
    if loss.kind in ("mae", "huber"):
        # keep |p - y| away from the kinks at 0 and delta
        e = p - y
        p[np.abs(e) < 0.05] += 0.1
        p[np.abs(np.abs(p - y) - getattr(loss, "delta", 9)) < 0.05] += 0.1
    assert_grad(lambda: L.value(loss, p, y), p, L.grad(loss, p, y))


def test_all_losses_covered():
    assert {op.kind for op in PLAIN} == set(LOSSES)


FUSED = [
    (LOSSES["binary_crossentropy"](), "sigmoid"),
    (LOSSES["binary_crossentropy"](label_smoothing=0.3), "sigmoid"),
    (LOSSES["categorical_crossentropy"](), "softmax"),
    (LOSSES["categorical_crossentropy"](label_smoothing=0.2), "softmax"),
    (LOSSES["categorical_crossentropy"](), "log_softmax"),
    (LOSSES["categorical_crossentropy"](label_smoothing=0.2), "log_softmax"),
    (LOSSES["sparse_categorical_crossentropy"](), "softmax"),
    (LOSSES["sparse_categorical_crossentropy"](label_smoothing=0.2), "softmax"),
    (LOSSES["sparse_categorical_crossentropy"](), "log_softmax"),
]
FUSED_IDS = [f"{act}+{loss.kind}-s{getattr(loss, 'label_smoothing', 0)}" for loss, act in FUSED]


def _logits_targets(loss, onehot=True):
    rng = np.random.default_rng(5)
    z = rng.normal(0, 2, size=(B, K))
    if loss.kind == "binary_crossentropy":
        return z, (rng.random((B, K)) < 0.5).astype(float)
    idx = rng.integers(0, K, size=B)
    return z, (np.eye(K)[idx] if onehot else idx)


@pytest.mark.parametrize(("loss", "act"), FUSED, ids=FUSED_IDS)
def test_fused_gradient(loss, act):
    z, y = _logits_targets(loss)
    _, dz = L.fused_value_grad(loss, act, z, y)
    assert_grad(lambda: L.fused_value_grad(loss, act, z, y)[0], z, dz)


@pytest.mark.parametrize(("loss", "act"), FUSED, ids=FUSED_IDS)
def test_fused_equals_plain_composition(loss, act):
    """The fused form is the plain loss of the activation's output, value and chain rule."""
    z, y = _logits_targets(loss)
    op = ACTIVATIONS[act]()
    a = A.forward(op, z)
    log_probs = act == "log_softmax"
    value, dz = L.fused_value_grad(loss, act, z, y)
    assert value == pytest.approx(L.value(loss, a, y, log_probs=log_probs), rel=1e-13)
    chained = A.backward(op, z, a, L.grad(loss, a, y, log_probs=log_probs))
    np.testing.assert_allclose(dz, chained, rtol=1e-10, atol=1e-15)


def test_integer_targets_equal_onehot():
    loss = LOSSES["categorical_crossentropy"](label_smoothing=0.1)
    z, idx = _logits_targets(loss, onehot=False)
    onehot = np.eye(K)[idx]
    v1, g1 = L.fused_value_grad(loss, "softmax", z, idx)
    v2, g2 = L.fused_value_grad(loss, "softmax", z, onehot)
    assert v1 == v2 and np.array_equal(g1, g2)
    p = A.softmax(z)
    assert L.value(loss, p, idx[:, None]) == L.value(loss, p, onehot)


def test_fused_is_stable_for_huge_logits():
    z = np.array([[1000.0, -1000.0, 0.0]])
    for loss, act in FUSED:
        y = np.array([[0.0, 1.0, 0.0]])
        with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
            v, g = L.fused_value_grad(loss, act, z, y)
        assert np.isfinite(v) and np.all(np.isfinite(g))


def test_hand_values():
    p = np.array([[1.0, 2.0], [3.0, 5.0]])
    y = np.array([[1.0, 0.0], [1.0, 7.0]])  # errors 0, 2, 2, -2
    assert L.value(LOSSES["mse"](), p, y) == 3.0
    assert L.value(LOSSES["rmse"](), p, y) == pytest.approx(np.sqrt(3.0), rel=1e-15)
    assert L.value(LOSSES["mae"](), p, y) == 1.5
    assert L.value(LOSSES["huber"](delta=1.0), p, y) == (0 + 1.5 * 3) / 4
    np.testing.assert_array_equal(L.grad(LOSSES["mse"](), p, y), [[0, 1], [1, -1]])
    # BCE of p = 0.5 is log 2 whatever the target; CCE of a uniform softmax is log K.
    assert L.value(LOSSES["binary_crossentropy"](), np.full((2, 1), 0.5),
                   np.array([0, 1])) == pytest.approx(np.log(2), rel=1e-15)
    v, g = L.fused_value_grad(LOSSES["categorical_crossentropy"](), "softmax",
                              np.zeros((2, 4)), np.array([1, 3]))
    assert v == pytest.approx(np.log(4), rel=1e-15)
    np.testing.assert_allclose(g, [[0.125, -0.375, 0.125, 0.125],
                                   [0.125, 0.125, 0.125, -0.375]])
    # BCE clamps the logarithm at -100 like torch.nn.BCELoss
    assert L.value(LOSSES["binary_crossentropy"](), np.array([[0.0]]), np.array([1.0])) == 100


@pytest.mark.torch
@pytest.mark.parametrize("loss", PLAIN, ids=lambda op: f"{op.kind}")
def test_plain_matches_torch(loss):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    p, y = _data(loss.kind)
    pt = torch.tensor(p, requires_grad=True)
    yt = torch.tensor(L.smoothed_targets(loss, y, K) if loss.kind == "binary_crossentropy"
                      else np.eye(K)[y] if loss.kind == "sparse_categorical_crossentropy"
                      else y)
    k = loss.kind
    if k == "mse":
        out = F.mse_loss(pt, yt)
    elif k == "rmse":
        out = torch.sqrt(F.mse_loss(pt, yt))
    elif k == "mae":
        out = F.l1_loss(pt, yt)
    elif k == "huber":
        out = F.huber_loss(pt, yt, delta=loss.delta)
    elif k == "binary_crossentropy":
        out = F.binary_cross_entropy(pt, yt)
    elif k == "sparse_categorical_crossentropy":  # torch.nn.NLLLoss of log p
        s = loss.label_smoothing
        out = (1 - s) * F.nll_loss(torch.log(pt), torch.tensor(y, dtype=torch.long)) \
            - s / K * torch.log(pt).sum(dim=1).mean()
    else:  # CCE on probabilities: torch autograd of -mean_b sum_k y'_k log p_k
        s = loss.label_smoothing
        out = -((yt * (1 - s) + s / K) * torch.log(pt)).sum(dim=1).mean()
    out.backward()
    assert L.value(loss, p, y) == pytest.approx(out.item(), rel=1e-13)
    np.testing.assert_allclose(L.grad(loss, p, y), pt.grad.numpy(), rtol=1e-12, atol=1e-16)


# Binary targets are always (B, K); categorical ones also come as class indices.
FUSED_TARGETS = [(loss, act, onehot) for loss, act in FUSED for onehot in (True, False)
                 if (onehot and loss.kind != "sparse_categorical_crossentropy")
                 or (not onehot and loss.kind != "binary_crossentropy")]


@pytest.mark.torch
@pytest.mark.parametrize(("loss", "act", "onehot"), FUSED_TARGETS,
                         ids=[f"{act}-s{getattr(loss, 'label_smoothing', 0)}-"
                              f"{'onehot' if oh else 'index'}" for loss, act, oh in FUSED_TARGETS])
def test_fused_matches_torch(loss, act, onehot):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    z, y = _logits_targets(loss, onehot=onehot)
    zt = torch.tensor(z, requires_grad=True)
    if loss.kind == "binary_crossentropy":
        out = F.binary_cross_entropy_with_logits(zt, torch.tensor(L.smoothed_targets(loss, y, K)))
    else:
        yt = torch.tensor(y) if onehot else torch.tensor(y, dtype=torch.long)
        logits = F.log_softmax(zt, dim=1) if act == "log_softmax" else zt
        out = F.cross_entropy(logits, yt, label_smoothing=loss.label_smoothing)
    out.backward()
    v, dz = L.fused_value_grad(loss, act, z, y)
    assert v == pytest.approx(out.item(), rel=1e-13)
    np.testing.assert_allclose(dz, zt.grad.numpy(), rtol=1e-11, atol=1e-16)


@pytest.mark.parametrize("act", ["softmax", "log_softmax"])
def test_fused_gradient_with_soft_targets_not_summing_to_one(act):
    """dL/dz = softmax(z) * sum_k y'_k - y': exact even when a target row does not sum to 1."""
    loss = LOSSES["categorical_crossentropy"](label_smoothing=0.1)
    z = np.random.default_rng(2).normal(size=(B, K))
    y = np.random.default_rng(3).random((B, K))  # rows sum to anything in (0, 3)
    _, dz = L.fused_value_grad(loss, act, z, y)
    assert_grad(lambda: L.fused_value_grad(loss, act, z, y)[0], z, dz)

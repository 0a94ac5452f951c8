"""reference activations: finite differences for every kind, and PyTorch for values."""

from __future__ import annotations

import numpy as np
import pytest
from ref_gradcheck import assert_grad

from nnspec.backends.reference import activations as A
from nnspec.ops.activations import ACTIVATIONS

# Every kind, plus the non-default options.
CASES = [cls() for cls in ACTIVATIONS.values()] + [
    ACTIVATIONS["leaky_relu"](alpha=0.2),
    ACTIVATIONS["elu"](alpha=0.5),
    ACTIVATIONS["gelu"](approximate="tanh"),
    ACTIVATIONS["softplus"](beta=2.0, threshold=3.0),
]
IDS = [f"{op.kind}-{i}" for i, op in enumerate(CASES)]


def _z(seed: int = 0) -> np.ndarray:
    z = np.random.default_rng(seed).normal(0.0, 2.0, size=(4, 5))
    # Keep away from kinks (relu at 0, softplus at its threshold) where FD is meaningless.
    z[np.abs(z) < 0.05] += 0.2
    z[np.abs(z - 1.5) < 0.05] += 0.2  # softplus beta=2, threshold=3 switches at z=1.5
    return z


@pytest.mark.parametrize("op", CASES, ids=IDS)
def test_activation_gradient(op):
    z = _z()
    g = np.random.default_rng(1).normal(size=z.shape)
    a = A.forward(op, z)
    analytic = A.backward(op, z, a, g)
    assert_grad(lambda: float(np.sum(g * A.forward(op, z))), z, analytic)


def test_all_kinds_covered():
    assert {op.kind for op in CASES} == set(ACTIVATIONS)


@pytest.mark.parametrize("op", CASES, ids=IDS)
def test_forward_is_stable_for_large_inputs(op):
    z = np.array([[-800.0, -30.0, 0.0, 30.0, 800.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        a = A.forward(op, z)
        A.backward(op, z, a, np.ones_like(z))
    assert np.all(np.isfinite(a))


def test_hand_values():
    z = np.array([[-1.0, 0.0, 2.0]])
    np.testing.assert_allclose(A.forward(ACTIVATIONS["relu"](), z), [[0, 0, 2]])
    np.testing.assert_allclose(A.forward(ACTIVATIONS["leaky_relu"](alpha=0.1), z),
                               [[-0.1, 0, 2]])
    np.testing.assert_allclose(A.forward(ACTIVATIONS["sigmoid"](), z),
                               [[1 / (1 + np.e), 0.5, 1 / (1 + np.exp(-2))]], rtol=1e-15)
    e = np.exp([-1.0, 0.0, 2.0])
    np.testing.assert_allclose(A.forward(ACTIVATIONS["softmax"](), z), [e / e.sum()],
                               rtol=1e-15)
    np.testing.assert_allclose(A.forward(ACTIVATIONS["elu"](), z), [[np.expm1(-1), 0, 2]])
    # gelu(1) = Phi(1) = 0.8413447460685429 (standard normal CDF)
    np.testing.assert_allclose(A.forward(ACTIVATIONS["gelu"](), np.array([[1.0]])),
                               [[0.8413447460685429]], rtol=1e-15)


def _torch_fn(op):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    k = op.kind
    return {
        "linear": lambda t: t,
        "relu": F.relu,
        "leaky_relu": lambda t: F.leaky_relu(t, op.alpha),
        "elu": lambda t: F.elu(t, op.alpha),
        "selu": F.selu,
        "gelu": lambda t: F.gelu(t, approximate=getattr(op, "approximate", "none")),
        "silu": F.silu,
        "softplus": lambda t: F.softplus(t, getattr(op, "beta", 1.0),
                                         getattr(op, "threshold", 20.0)),
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "softmax": lambda t: F.softmax(t, dim=1),
        "log_softmax": lambda t: F.log_softmax(t, dim=1),
    }[k]


@pytest.mark.torch
@pytest.mark.parametrize("op", CASES, ids=IDS)
def test_matches_torch(op):
    torch = pytest.importorskip("torch")
    z = _z(3)
    g = np.random.default_rng(4).normal(size=z.shape)
    zt = torch.tensor(z, requires_grad=True)
    at = _torch_fn(op)(zt)
    (at * torch.tensor(g)).sum().backward()
    a = A.forward(op, z)
    np.testing.assert_allclose(a, at.detach().numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(A.backward(op, z, a, g), zt.grad.numpy(), rtol=1e-12,
                               atol=1e-15)

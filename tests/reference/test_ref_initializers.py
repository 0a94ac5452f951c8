"""reference initializers: statistics of large draws, bounds, and agreement with lower."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnspec.lower.plan import InitPlan
from nnspec.ops.initializers import INITIALIZERS, initialize

FAN_IN, FAN_OUT = 300, 200
SHAPE = (FAN_OUT, FAN_IN)  # 60 000 draws: the sample std is within ~0.5% of the true one

# (op, expected mean, expected std, bound or None)
a_glorot = math.sqrt(6 / (FAN_IN + FAN_OUT))
a_he = math.sqrt(6 / FAN_IN)
CASES = [
    (INITIALIZERS["zeros"](), 0.0, 0.0, 0.0),
    (INITIALIZERS["ones"](), 1.0, 0.0, None),
    (INITIALIZERS["constant"](value=-0.7), -0.7, 0.0, None),
    (INITIALIZERS["uniform"](), 0.0, 0.1 / math.sqrt(12), 0.05),
    (INITIALIZERS["uniform"](low=1.0, high=3.0), 2.0, 2 / math.sqrt(12), None),
    (INITIALIZERS["normal"](), 0.0, 0.05, None),
    (INITIALIZERS["normal"](mean=1.0, std=0.2), 1.0, 0.2, None),
    (INITIALIZERS["glorot_uniform"](), 0.0, a_glorot / math.sqrt(3), a_glorot),
    (INITIALIZERS["glorot_uniform"](gain=2.0), 0.0, 2 * a_glorot / math.sqrt(3), 2 * a_glorot),
    (INITIALIZERS["glorot_normal"](), 0.0, math.sqrt(2 / (FAN_IN + FAN_OUT)), None),
    (INITIALIZERS["glorot_normal"](gain=0.5), 0.0, 0.5 * math.sqrt(2 / (FAN_IN + FAN_OUT)),
     None),
    (INITIALIZERS["he_uniform"](), 0.0, a_he / math.sqrt(3), a_he),
    (INITIALIZERS["he_normal"](), 0.0, math.sqrt(2 / FAN_IN), None),
    (INITIALIZERS["lecun_normal"](), 0.0, math.sqrt(1 / FAN_IN), None),
]
IDS = [f"{c[0].kind}-{i}" for i, c in enumerate(CASES)]


@pytest.mark.parametrize(("op", "mean", "std", "bound"), CASES, ids=IDS)
def test_statistics(op, mean, std, bound):
    w = initialize(op, SHAPE, FAN_IN, FAN_OUT, np.random.default_rng(0))
    assert w.shape == SHAPE and w.dtype == np.float64
    if std == 0:
        assert np.all(w == mean)
        return
    assert w.mean() == pytest.approx(mean, abs=4 * std / math.sqrt(w.size))
    assert w.std() == pytest.approx(std, rel=0.02)
    if bound is not None:
        assert np.all(np.abs(w - mean) <= bound)
        assert np.abs(w - mean).max() > 0.99 * bound  # the whole range is used
    if op.kind == "uniform" and op.low == 1.0:
        assert w.min() >= 1.0 and w.max() < 3.0


def test_all_initializers_covered():
    assert {c[0].kind for c in CASES} == set(INITIALIZERS)


@pytest.mark.parametrize(("op", "mean", "std", "bound"), CASES, ids=IDS)
def test_init_plan_and_lower_agree(op, mean, std, bound):
    """lower draws initial parameters from an InitPlan (through these very functions): an
    InitPlan must give exactly what the registry op gives."""
    plan = InitPlan(kind=op.kind, options=tuple(
        (k, float(v)) for k, v in op.model_dump(exclude={"kind"}).items()))
    ours = initialize(op, (4, 3), 3, 4, np.random.default_rng(9))
    np.testing.assert_array_equal(ours, initialize(plan, (4, 3), 3, 4,
                                                   np.random.default_rng(9)))


def test_constant_initializers_draw_nothing():
    rng = np.random.default_rng(5)
    initialize(INITIALIZERS["zeros"](), (3, 3), 3, 3, rng)
    assert rng.random() == np.random.default_rng(5).random()


@pytest.mark.torch
@pytest.mark.parametrize("kind", ["glorot_uniform", "glorot_normal", "he_uniform", "he_normal"])
def test_scale_matches_torch(kind):
    """Same distribution as torch.nn.init (compared through the sample std of big draws)."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    t = torch.empty(SHAPE, dtype=torch.float64)
    init = torch.nn.init
    {"glorot_uniform": init.xavier_uniform_, "glorot_normal": init.xavier_normal_,
     "he_uniform": lambda x: init.kaiming_uniform_(x, nonlinearity="relu"),
     "he_normal": lambda x: init.kaiming_normal_(x, nonlinearity="relu")}[kind](t)
    w = initialize(INITIALIZERS[kind](), SHAPE, FAN_IN, FAN_OUT, np.random.default_rng(1))
    assert w.std() == pytest.approx(float(t.std()), rel=0.02)
    if kind.endswith("uniform"):
        assert np.abs(w).max() == pytest.approx(float(t.abs().max()), rel=0.01)

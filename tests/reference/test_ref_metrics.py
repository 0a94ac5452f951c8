"""reference metrics against scikit-learn on random data, and a few hand values."""

from __future__ import annotations

import numpy as np
import pytest

from nnspec.backends.reference.metrics import compute_metric
from nnspec.ops.metrics import METRICS

skm = pytest.importorskip("sklearn.metrics")

N = 200


def _binary(seed):
    r = np.random.default_rng(seed)
    y = (r.random(N) < 0.4).astype(float)
    p = np.clip(0.3 * y + r.random(N) * 0.7, 0, 1)[:, None]  # (N, 1) sigmoid outputs
    return p, y, (p[:, 0] >= 0.5).astype(int), y.astype(int)


def _multiclass(seed, k=4):
    r = np.random.default_rng(seed)
    y = r.integers(0, k, size=N)
    z = r.normal(size=(N, k))
    z[np.arange(N), y] += 1.0  # better than chance
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return p, y, p.argmax(axis=1), y


SK = {"precision": skm.precision_score, "recall": skm.recall_score, "f1": skm.f1_score}


AVERAGED = [(kind, average) for kind in ("precision", "recall", "f1")
            for average in ("auto", "binary", "macro", "micro")]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("kind", "average"), AVERAGED)
def test_binary_one_unit(seed, kind, average):
    p, y, pred, true = _binary(seed)
    metric = METRICS[kind](average=average)
    sk_avg = "binary" if average == "auto" else average
    expected = SK[kind](true, pred, average=sk_avg, zero_division=0)
    for targets in (y, y[:, None]):
        assert compute_metric(metric, p, targets, "binary") == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("k", [2, 3, 5])
@pytest.mark.parametrize(("kind", "average"), AVERAGED)
def test_multiclass(seed, k, kind, average):
    p, y, pred, true = _multiclass(seed, k)
    metric = METRICS[kind](average=average)
    sk_avg = ("binary" if k == 2 else "macro") if average == "auto" else average
    if sk_avg == "binary" and k > 2:
        # sklearn refuses binary averaging for more classes; we score class 1 against the rest
        sk_avg, labels = None, [1]
    else:
        labels = None
    expected = SK[kind](true, pred, average=sk_avg, labels=labels, zero_division=0)
    expected = float(np.ravel(expected)[0]) if labels else expected
    for targets in (y, np.eye(k)[y]):  # class indices or one-hot rows
        got = compute_metric(metric, p, targets, "multiclass")
        assert got == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [1, 2, 4])
def test_accuracy(seed, k):
    p, y, pred, true = _binary(seed) if k == 1 else _multiclass(seed, k)
    expected = skm.accuracy_score(true, pred)
    assert compute_metric(METRICS["accuracy"](), p, y, "binary" if k == 1 else "multiclass") \
        == pytest.approx(expected, abs=1e-15)


def test_zero_division_is_zero():
    p = np.zeros((4, 1))  # nothing predicted positive
    y = np.array([0.0, 1.0, 0.0, 1.0])
    for kind in ("precision", "recall", "f1"):
        assert compute_metric(METRICS[kind](), p, y, "binary") == 0.0
    assert compute_metric(METRICS["accuracy"](), p, y, "binary") == 0.5


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("kind", ["mae", "mse", "rmse", "r2"])
def test_regression(seed, k, kind):
    r = np.random.default_rng(seed)
    y = r.normal(size=(N, k))
    p = y + r.normal(0, 0.5, size=(N, k))
    expected = {"mae": skm.mean_absolute_error, "mse": skm.mean_squared_error,
                "rmse": lambda a, b: np.sqrt(skm.mean_squared_error(a, b)),
                "r2": skm.r2_score}[kind](y, p)
    got = compute_metric(METRICS[kind](), p, y if k > 1 else y[:, 0], "regression")
    assert got == pytest.approx(expected, rel=1e-12)


def test_r2_constant_target_like_sklearn():
    y = np.ones((5, 1))
    assert compute_metric(METRICS["r2"](), y.copy(), y, "regression") == 1.0
    assert compute_metric(METRICS["r2"](), y + 0.1, y, "regression") == \
        skm.r2_score(y, y + 0.1) == 0.0


def test_all_metrics_covered():
    tested = {"accuracy", "precision", "recall", "f1", "mae", "mse", "rmse", "r2",
              "top5_accuracy", "perplexity"}
    assert tested == set(METRICS)


@pytest.mark.parametrize("seed", [0, 1])
def test_top5_accuracy_and_perplexity_against_sklearn_and_torch_formula(seed):
    p, y, _, _ = _multiclass(seed, k=9)
    top5 = compute_metric(METRICS["top5_accuracy"](), p, y, "multiclass")
    assert top5 == pytest.approx(skm.top_k_accuracy_score(y, p, k=5, labels=np.arange(9)))
    ppl = compute_metric(METRICS["perplexity"](), p, y, "multiclass")
    assert ppl == pytest.approx(np.exp(skm.log_loss(y, p, labels=np.arange(9))), rel=1e-12)


def test_top5_accuracy_and_perplexity_hand_values():
    uniform = np.full((4, 10), 0.1)
    y = np.array([0, 3, 7, 9])
    assert compute_metric(METRICS["perplexity"](), uniform, y, "multiclass") == \
        pytest.approx(10.0, rel=1e-12)  # a uniform guess over K classes scores K
    p = np.tile(np.arange(10, dtype=float)[::-1], (4, 1))  # class 0 highest ... 9 lowest
    p /= p.sum(axis=1, keepdims=True)
    assert compute_metric(METRICS["top5_accuracy"](), p, y, "multiclass") == 0.5
    one_hot = np.eye(10)[y]  # targets as rows work too
    assert compute_metric(METRICS["top5_accuracy"](), p, one_hot, "multiclass") == 0.5

"""The per-epoch scoring: `Scorer` gives split_metrics' values bit for bit, and a backend's
`evaluate_outputs` gives evaluate's loss and predict's outputs from one forward pass."""

from __future__ import annotations

import numpy as np
import pytest

from nnspec.backends import compile as compile_plan
from nnspec.backends.base import evaluate_outputs
from nnspec.lower import lower
from nnspec.ops.metrics import F1, R2, Accuracy, Mae, Precision, Recall, Rmse
from nnspec.pipeline import diagnose
from nnspec.train.evaluation import Scorer, split_metrics

CLASSIFY = (Accuracy(), Precision(), Recall(average="macro"), F1(average="micro"))


def _cases():
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        p = rng.random((57, 1)).astype(dtype)
        p[3, 0] = 0.5  # the threshold itself counts as class 1
        yield "binary", CLASSIFY, p, (rng.random(57) > 0.5).astype(np.int64)
        yield "binary", CLASSIFY, p, (rng.random((57, 1)) > 0.5).astype(dtype)
        logits = rng.random((40, 4)).astype(dtype)
        logits[5, :] = 0.25  # a tie: the first index, as argmax
        yield "multiclass", CLASSIFY, logits, rng.integers(0, 4, 40)
        yield "multiclass", CLASSIFY, logits, np.eye(4, dtype=dtype)[rng.integers(0, 4, 40)]
        yield "regression", (Mae(), Rmse(), R2()), rng.random((30, 2)).astype(dtype), \
            rng.random((30, 2))
        nan = p.copy()
        nan[7, 0] = np.nan
        yield "binary", CLASSIFY, nan, (rng.random(57) > 0.5).astype(np.int64)


@pytest.mark.parametrize("task, metrics, outputs, targets", list(_cases()))
def test_scorer_matches_split_metrics_exactly(task, metrics, outputs, targets):
    scorer = Scorer(metrics, task, targets, outputs.shape[1])
    want = split_metrics(metrics, task, targets, outputs)
    got = scorer(outputs)
    assert list(got) == list(want)
    for key in want:
        assert (np.isnan(want[key]) and np.isnan(got[key])) or got[key] == want[key], key
        assert type(got[key]) is float


SPEC = """model m {{
    input 3
    dense 5 tanh
    dense {k} {act}
}}
train {{
    loss {loss}
    dtype {dtype}
}}
"""


@pytest.mark.parametrize("backend", ["cpu", "reference"])
@pytest.mark.parametrize("k, act, loss", [(1, "sigmoid", "binary_crossentropy"),
                                          (4, "softmax", "categorical_crossentropy"),
                                          (2, "linear", "mse")])
@pytest.mark.parametrize("n", [1, 200, 1500])  # 1500: more rows than one eval chunk (cpu)
def test_evaluate_outputs_is_evaluate_and_predict(backend, k, act, loss, n):
    spec, diags = diagnose(SPEC.format(k=k, act=act, loss=loss, dtype="float32"))
    assert spec is not None, diags
    exe = compile_plan(lower(spec), backend)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = (rng.integers(0, k, n) if k > 1 and loss != "mse" else
         rng.random((n, k)) > 0.5 if act == "sigmoid" else rng.normal(size=(n, k)))
    loss_value, outputs = evaluate_outputs(exe, x, y)
    assert loss_value == exe.evaluate(x, y)
    assert np.array_equal(outputs, exe.predict(x))
    kept = outputs.copy()
    exe.predict(x[::-1].copy())  # the same rows reversed: the workspace is overwritten
    assert np.array_equal(outputs, kept)  # the outputs returned are not a view of it

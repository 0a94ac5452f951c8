"""train.evaluation: (metrics, outputs, targets) -> {name: value} for one split.

Metrics are computed on predictions in NumPy, outside compiled code, for every backend
(backends/reference/metrics.py is the single definition). Non-finite outputs (a diverged
model) give NaN metrics rather than an exception, so the history still gets written.
`Scorer` does the same for a split scored every epoch, with what does not change between
epochs (the target classes) worked out once, and accuracy counted directly: the same values,
bit for bit, as `split_metrics` (tests/train/test_evaluation.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nnspec.backends.reference.metrics import compute_metric, target_classes


def split_metrics(metrics: Sequence[Any], task: str, targets: np.ndarray,
                  outputs: np.ndarray) -> dict[str, float]:
    finite = bool(np.all(np.isfinite(outputs)))
    # metrics: ops.metrics ops (the AnyMetric union); Any keeps mypy from widening to Metric.
    out: dict[str, float] = {}
    for metric in metrics:
        out[metric.kind] = (float(compute_metric(metric, outputs, targets, task)) if finite
                            else float("nan"))
    return out


class Scorer:
    """`split_metrics` of one split's targets, for outputs of k columns, called every epoch."""

    def __init__(self, metrics: Sequence[Any], task: str, targets: np.ndarray, k: int):
        self.metrics, self.task, self.targets, self.k = tuple(metrics), task, targets, k
        self.true = target_classes(targets, k) if any(
            m.task == "classification" for m in self.metrics) and task != "regression" else None

    def __call__(self, outputs: np.ndarray) -> dict[str, float]:
        if not np.isfinite(outputs).all():
            return {m.kind: float("nan") for m in self.metrics}
        out: dict[str, float] = {}
        for metric in self.metrics:
            if metric.kind == "accuracy" and self.true is not None and outputs.ndim == 2 \
                    and outputs.shape[1] == self.k and len(outputs):
                # compute_metric's float(np.mean(pred == true)): a sum of ones / n, exact
                pred = outputs[:, 0] >= 0.5 if self.k == 1 else outputs.argmax(axis=1)
                out["accuracy"] = int(np.count_nonzero(pred == self.true)) / len(outputs)
            else:
                out[metric.kind] = float(compute_metric(metric, outputs, self.targets, self.task))
        return out

"""train.evaluation: (metrics, outputs, targets) -> {name: value} for one split.

Metrics are computed on predictions in NumPy, outside compiled code, for every backend
(backends/reference/metrics.py is the single definition). Non-finite outputs (a diverged
model) give NaN metrics rather than an exception, so the history still gets written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nnspec.backends.reference.metrics import compute_metric


def split_metrics(metrics: Sequence[Any], task: str, targets: np.ndarray,
                  outputs: np.ndarray) -> dict[str, float]:
    finite = bool(np.all(np.isfinite(outputs)))
    # metrics: ops.metrics ops (the AnyMetric union); Any keeps mypy from widening to Metric.
    out: dict[str, float] = {}
    for metric in metrics:
        out[metric.kind] = (float(compute_metric(metric, outputs, targets, task)) if finite
                            else float("nan"))
    return out

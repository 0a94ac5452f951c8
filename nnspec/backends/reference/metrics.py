"""backends.reference.metrics: (metric op, outputs, targets, task) -> float, NumPy.

Used by the training loop for every backend (metrics are computed on predictions, outside the
compiled code). outputs are the network outputs (N, K) after the output activation;
targets are (N, K) rows, or class indices (N,) / (N, 1) for classification.

Classification: with one output unit the predicted class is [p >= 0.5] and the target class
[y >= 0.5]; with K > 1 units both are argmax (or the index). Averaging as scikit-learn with
zero_division=0: `binary` scores class 1; `macro` is the unweighted mean over the classes
present in targets or predictions; `micro` pools TP/FP/FN over those classes; `auto` is
binary with two classes (one unit or K = 2) and macro otherwise. Regression metrics average
over every output; r2 is computed per output column and averaged (scikit-learn's
uniform_average), 1.0 for a constant column predicted exactly and 0.0 otherwise.
"""

from __future__ import annotations

import numpy as np

from nnspec.ops.metrics import F1, AnyMetric, Precision, Recall


def predicted_classes(outputs: np.ndarray) -> np.ndarray:
    outputs = np.asarray(outputs, dtype=np.float64).reshape(len(outputs), -1)
    if outputs.shape[1] == 1:
        return (outputs[:, 0] >= 0.5).astype(np.int64)
    return outputs.argmax(axis=1)


def target_classes(targets: np.ndarray, k: int) -> np.ndarray:
    targets = np.asarray(targets)
    if targets.ndim == 2 and targets.shape[1] == k and k > 1:
        return targets.argmax(axis=1)
    flat = targets.reshape(-1)
    if k == 1:
        return (flat >= 0.5).astype(np.int64)
    return flat.astype(np.int64)


def _counts(pred: np.ndarray, true: np.ndarray, c: int) -> tuple[int, int, int]:
    tp = int(np.sum((pred == c) & (true == c)))
    fp = int(np.sum((pred == c) & (true != c)))
    fn = int(np.sum((pred != c) & (true == c)))
    return tp, fp, fn


def _score(kind: str, tp: int, fp: int, fn: int) -> float:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    if kind == "precision":
        return precision
    if kind == "recall":
        return recall
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _averaged(metric: Precision | Recall | F1, pred: np.ndarray, true: np.ndarray, k: int) -> float:
    average = metric.average
    if average == "auto":
        average = "binary" if k <= 2 else "macro"
    if average == "binary":
        return _score(metric.kind, *_counts(pred, true, 1))
    classes = np.union1d(pred, true)
    counts = np.array([_counts(pred, true, c) for c in classes])
    if average == "micro":
        return _score(metric.kind, *(int(x) for x in counts.sum(axis=0)))
    return float(np.mean([_score(metric.kind, *(int(x) for x in row)) for row in counts]))


def _r2(p: np.ndarray, y: np.ndarray) -> float:
    scores = []
    for j in range(p.shape[1]):
        ss_res = np.sum((y[:, j] - p[:, j]) ** 2)
        ss_tot = np.sum((y[:, j] - y[:, j].mean()) ** 2)
        if ss_tot == 0:
            scores.append(1.0 if ss_res == 0 else 0.0)
        else:
            scores.append(1.0 - ss_res / ss_tot)
    return float(np.mean(scores))


def top_k_accuracy(outputs: np.ndarray, true: np.ndarray, k: int) -> float:
    """Fraction of rows whose target class is among the k highest outputs (ties: the lower
    index first, a stable sort of -outputs)."""
    if len(true) == 0:
        return float("nan")
    top = np.argsort(-outputs, axis=1, kind="stable")[:, :k]
    return float(np.mean(np.any(top == true[:, None], axis=1)))


def perplexity(outputs: np.ndarray, true: np.ndarray) -> float:
    """exp(-mean log p[b, y_b]), p the softmax outputs, log p clamped at -100 as the loss."""
    if len(true) == 0:
        return float("nan")
    p = outputs[np.arange(len(true)), true]
    safe = np.where(p > 0, p, 1.0)
    log_p = np.where(p > 0, np.maximum(np.log(safe), -100.0), -100.0)
    return float(np.exp(-np.mean(log_p)))


def compute_metric(metric: AnyMetric, outputs: np.ndarray, targets: np.ndarray,
                   task: str = "regression") -> float:
    """The metric's value over all N samples. `task` (regression | binary | multiclass |
    classification) only matters for error checking: the metric's own task decides."""
    outputs = np.asarray(outputs, dtype=np.float64)
    outputs = outputs.reshape(len(outputs), -1)
    k = outputs.shape[1]
    if metric.task == "classification":
        if task == "regression":
            raise ValueError(f"metric {metric.kind} needs a classification task")
        pred, true = predicted_classes(outputs), target_classes(targets, k)
        if metric.kind == "accuracy":
            return float(np.mean(pred == true))
        if metric.kind == "top5_accuracy":
            return top_k_accuracy(outputs, true, 5)
        if metric.kind == "perplexity":
            return perplexity(outputs, true)
        assert isinstance(metric, (Precision, Recall, F1))
        return _averaged(metric, pred, true, k)
    y = np.asarray(targets, dtype=np.float64).reshape(outputs.shape)
    e = outputs - y
    if metric.kind == "mae":
        return float(np.mean(np.abs(e)))
    if metric.kind == "mse":
        return float(np.mean(e**2))
    if metric.kind == "rmse":
        return float(np.sqrt(np.mean(e**2)))
    if metric.kind == "r2":
        return _r2(outputs, y)
    raise ValueError(f"unknown metric {metric.kind!r}")

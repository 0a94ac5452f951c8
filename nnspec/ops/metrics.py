"""ops.metrics: what is reported each epoch (on the training data and on each split).

Classification: predicted class = argmax (multi-class) or p >= 0.5 (one sigmoid unit).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from nnspec.ops.base import Op, registry, union


class Metric(Op):
    family: ClassVar[str] = "metric"
    task: ClassVar[str] = "regression"  # or "classification"
    higher_is_better: ClassVar[bool] = False


class Accuracy(Metric):
    """fraction of samples whose predicted class equals the target class (one sigmoid
    unit: p >= 0.5, whatever the loss; several units: the argmax)."""

    kind: Literal["accuracy"] = "accuracy"
    task: ClassVar[str] = "classification"
    higher_is_better: ClassVar[bool] = True


class Top5Accuracy(Metric):
    """fraction of samples whose target class is among the 5 highest outputs (ties broken by
    the lower class index, as a stable argsort); 1.0 with 5 classes or fewer."""

    kind: Literal["top5_accuracy"] = "top5_accuracy"
    task: ClassVar[str] = "classification"
    higher_is_better: ClassVar[bool] = True


class Perplexity(Metric):
    """exp(-mean_b log p[b, y_b]): the exponential of the cross-entropy of the softmax
    outputs p at the target classes (log p clamped at -100, as the loss), so a uniform guess
    over K classes scores K. Needs a softmax output over K >= 2 classes."""

    kind: Literal["perplexity"] = "perplexity"
    task: ClassVar[str] = "classification"


class _Averaged(Metric):
    task: ClassVar[str] = "classification"
    higher_is_better: ClassVar[bool] = True
    average: Literal["auto", "binary", "macro", "micro"] = Field(
        "auto", description="auto: binary for two classes, macro otherwise")


class Precision(_Averaged):
    """TP/(TP+FP) (0 when nothing is predicted positive)."""

    kind: Literal["precision"] = "precision"


class Recall(_Averaged):
    """TP/(TP+FN) (0 when there are no positives)."""

    kind: Literal["recall"] = "recall"


class F1(_Averaged):
    """2*precision*recall/(precision+recall) (0 when both are 0)."""

    kind: Literal["f1"] = "f1"


class Mae(Metric):
    """mean |p - y|."""

    kind: Literal["mae"] = "mae"


class Mse(Metric):
    """mean (p - y)^2."""

    kind: Literal["mse"] = "mse"


class Rmse(Metric):
    """sqrt(mean (p - y)^2)."""

    kind: Literal["rmse"] = "rmse"


class R2(Metric):
    """1 - sum (y - p)^2 / sum (y - mean y)^2 (coefficient of determination)."""

    kind: Literal["r2"] = "r2"
    higher_is_better: ClassVar[bool] = True


METRICS = registry(Accuracy, Precision, Recall, F1, Mae, Mse, Rmse, R2, Top5Accuracy,
                   Perplexity)
AnyMetric = union(METRICS)


def monitor_mode(monitor: str, mode: str = "auto") -> Literal["min", "max"]:
    """`min` or `max` for a monitored history column (early stopping, reduce_on_plateau):
    `auto` is `max` when the column, without its `val_` / `test_` prefix, is a metric whose
    higher values are better (accuracy, precision, recall, f1, r2), `min` otherwise (the loss
    and the error metrics)."""
    if mode in ("min", "max"):
        return mode  # type: ignore[return-value]
    base = monitor
    for prefix in ("val_", "test_"):
        base = base.removeprefix(prefix)
    cls = METRICS.get(base)
    return "max" if cls is not None and getattr(cls, "higher_is_better", False) else "min"

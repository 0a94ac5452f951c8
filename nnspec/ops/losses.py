"""ops.losses: scalar training objectives, averaged over the batch.

p is the network output (B x K), y the target. Fused forms: binary_crossentropy after a
sigmoid output and categorical_crossentropy after softmax are computed from the logits z
(log-sum-exp), with dL/dz = (p - y)/B (times the smoothing-adjusted target).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from nnspec.ops.base import Op, registry, union


class Loss(Op):
    family: ClassVar[str] = "loss"
    # What the loss needs from the last layer / the data: "regression" or "classification".
    task: ClassVar[str] = "regression"
    # The loss whose kernels compute this one (lower/ gives the plan that loss's code).
    computed_as: ClassVar[str | None] = None

    @property
    def rule(self) -> str:
        """The kind whose kernels compute this loss (its own, unless `computed_as`)."""
        return self.computed_as or str(self.kind)  # type: ignore[attr-defined]


class Mse(Loss):
    """L = mean_{b,k} (p - y)^2;  dL/dp = 2(p - y)/(B*K)."""

    kind: Literal["mse"] = "mse"


class Rmse(Loss):
    """L = sqrt(mean_{b,k} (p - y)^2);  dL/dp = (p - y)/(B*K*L)."""

    kind: Literal["rmse"] = "rmse"


class Mae(Loss):
    """L = mean_{b,k} |p - y|;  dL/dp = sign(p - y)/(B*K)."""

    kind: Literal["mae"] = "mae"


class Huber(Loss):
    """e = p - y; l = e^2/2 if |e| <= delta else delta*(|e| - delta/2); L = mean l;
    dL/dp = clip(e, -delta, delta)/(B*K)."""

    kind: Literal["huber"] = "huber"
    delta: float = Field(1.0, gt=0.0, description="where the loss turns from quadratic to linear")


class BinaryCrossentropy(Loss):
    """y in {0,1} (smoothed: y' = y*(1-s) + s/2);
    L = -mean_{b,k} [y' log p + (1-y') log(1-p)]. After a sigmoid output it is computed
    from the logit z as mean(max(z,0) - z*y' + log(1+exp(-|z|))), dL/dz = (p - y')/(B*K)."""

    kind: Literal["binary_crossentropy"] = "binary_crossentropy"
    task: ClassVar[str] = "classification"
    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0, description="target smoothing s")


class CategoricalCrossentropy(Loss):
    """Targets are class indices or one-hot rows; y' = y*(1-s) + s/K;
    L = -mean_b sum_k y'_k log p_k. After softmax: log p = z - logsumexp(z),
    dL/dz = (p - y')/B. After log_softmax the outputs are taken as log p."""

    kind: Literal["categorical_crossentropy"] = "categorical_crossentropy"
    task: ClassVar[str] = "classification"
    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0, description="target smoothing s")


class SparseCategoricalCrossentropy(Loss):
    """Targets are integer class indices only (never one-hot rows), as next-token ids;
    y' = onehot(y)*(1-s) + s/K; L = -mean_b sum_k y'_k log p_k, as torch cross_entropy with
    index targets. After softmax: log p = z - logsumexp(z), dL/dz = (p - y')/B. Computed
    by categorical_crossentropy's kernels; it differs in what it accepts from the data."""

    kind: Literal["sparse_categorical_crossentropy"] = "sparse_categorical_crossentropy"
    task: ClassVar[str] = "classification"
    computed_as: ClassVar[str | None] = "categorical_crossentropy"
    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0, description="target smoothing s")


LOSSES = registry(Mse, Rmse, Mae, Huber, BinaryCrossentropy, CategoricalCrossentropy,
                  SparseCategoricalCrossentropy)
AnyLoss = union(LOSSES)

"""ops.schedules: the learning rate of each epoch, stepped once per epoch as PyTorch's
schedulers are when `scheduler.step()` is called after every epoch.

lr0 is the optimizer's lr, e the zero-based epoch, E the number of epochs. A `warmup`
in front (`warmup(epochs=W) then cosine(...)`) behaves like torch SequentialLR(
[LinearLR(start_factor, 1.0, total_iters=W), main], milestones=[W]): the main schedule
starts counting at epoch W.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, field_validator

from nnspec.ops.base import Op, registry


class Schedule(Op):
    family: ClassVar[str] = "schedule"


class Constant(Schedule):
    """lr(e) = lr0."""

    kind: Literal["constant"] = "constant"


class Step(Schedule):
    """lr(e) = lr0 * gamma^floor(e/every) (torch StepLR)."""

    kind: Literal["step"] = "step"
    every: int = Field(gt=0, description="epochs between decays")
    gamma: float = Field(0.1, gt=0.0, description="decay factor")


class Multistep(Schedule):
    """lr(e) = lr0 * gamma^(number of milestones <= e) (torch MultiStepLR)."""

    kind: Literal["multistep"] = "multistep"
    milestones: tuple[int, ...] = Field(description="epochs at which the lr is multiplied by gamma")
    gamma: float = Field(0.1, gt=0.0, description="decay factor")

    @field_validator("milestones")
    @classmethod
    def _increasing(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not v or any(m <= 0 for m in v) or list(v) != sorted(set(v)):
            raise ValueError("milestones must be positive, increasing epochs")
        return v


class Exponential(Schedule):
    """lr(e) = lr0 * gamma^e (torch ExponentialLR)."""

    kind: Literal["exponential"] = "exponential"
    gamma: float = Field(gt=0.0, description="decay factor per epoch")


class Cosine(Schedule):
    """Without restarts (torch CosineAnnealingLR, T = period or the epochs left after warmup):
    lr(e) = min_lr + (lr0 - min_lr)*(1 + cos(pi*e/T))/2.
    With `restart_every=T0` (torch CosineAnnealingWarmRestarts, T_mult=mult): the same curve
    within each cycle, cycles of T0, T0*mult, T0*mult^2, ... epochs."""

    kind: Literal["cosine"] = "cosine"
    min_lr: float = Field(0.0, ge=0.0, description="the lowest learning rate")
    period: int | None = Field(None, gt=0, description="epochs of the half cosine "
                               "(default: all epochs after warmup)")
    restart_every: int | None = Field(None, gt=0, description="restart the cosine every T0 "
                                      "epochs (SGDR)")
    mult: int = Field(1, ge=1, description="factor by which each restart cycle grows")


class Warmup(Schedule):
    """Linear warmup: lr(e) = lr0 * (f + (1-f)*min(e, W)/W), f = start_factor, W = epochs
    (torch LinearLR). Written first and chained with `then`."""

    kind: Literal["warmup"] = "warmup"
    epochs: int = Field(gt=0, description="length of the warmup in epochs")
    start_factor: float = Field(0.1, gt=0.0, le=1.0, description="lr multiplier at epoch 0")


class ReduceOnPlateau(Schedule):
    """After each epoch, if the monitored value has not improved by more than
    threshold (relative) for `patience` epochs, lr = max(lr*factor, min_lr)
    (torch ReduceLROnPlateau, threshold_mode=rel, cooldown as given)."""

    kind: Literal["reduce_on_plateau"] = "reduce_on_plateau"
    monitor: str = Field("val_loss", description="metric to watch (e.g. val_loss, loss)")
    mode: Literal["auto", "min", "max"] = Field("auto", description="auto: max for accuracy-"
                                                "like metrics, min otherwise")
    factor: float = Field(0.1, gt=0.0, lt=1.0, description="lr multiplier on a plateau")
    patience: int = Field(10, ge=0, description="epochs without improvement before reducing")
    threshold: float = Field(1e-4, ge=0.0, description="relative improvement that counts")
    cooldown: int = Field(0, ge=0, description="epochs to wait after a reduction")
    min_lr: float = Field(0.0, ge=0.0, description="the lowest learning rate")


class OneCycle(Schedule):
    """1cycle (torch OneCycleLR, anneal cos, stepped per epoch with total_steps = epochs):
    from max_lr/div_factor up to max_lr over pct_start of the epochs, then down to
    max_lr/(div_factor*final_div_factor). Replaces the optimizer's lr."""

    kind: Literal["one_cycle"] = "one_cycle"
    max_lr: float = Field(gt=0.0, description="peak learning rate")
    pct_start: float = Field(0.3, gt=0.0, lt=1.0, description="fraction of epochs spent rising")
    div_factor: float = Field(25.0, gt=0.0, description="initial lr = max_lr/div_factor")
    final_div_factor: float = Field(1e4, gt=0.0, description="final lr = initial/final_div_factor")


AnySchedule = Annotated[
    Constant | Step | Multistep | Exponential | Cosine | ReduceOnPlateau | OneCycle,
    Field(discriminator="kind"),
]

# warmup is listed for name lookup; it is only valid first in a `then` chain.
SCHEDULES = registry(Constant, Step, Multistep, Exponential, Cosine, Warmup, ReduceOnPlateau,
                     OneCycle)

"""ops.optimizers: parameter updates, PyTorch's formulas and defaults (torch.optim).

t counts steps from 1; g is the gradient after clipping; weight_decay adds wd*w to g (L2),
except where `decoupled_decay` (adamw), which decays w directly. All state lives in flat
buffers. Each class states its facts: `n_state()` (moment buffers of n_params values),
`decoupled_decay`, and `hyper()`, every hyperparameter as a number under the names the
Plan's OptimizerPlan and the kernels use (HYPER).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from nnspec.ops.base import Op, registry, union

# Every hyperparameter a kernel reads, by name, with the value an optimizer that has no such
# option gives it (its `hyper()` fills what it has).
HYPER = {"momentum": 0.0, "dampening": 0.0, "nesterov": 0.0, "weight_decay": 0.0,
         "alpha": 0.99, "centered": 0.0, "beta1": 0.9, "beta2": 0.999, "amsgrad": 0.0,
         "eps": 1e-8, "lr_decay": 0.0, "initial_accumulator_value": 0.0}


class Optimizer(Op):
    family: ClassVar[str] = "optimizer"
    # weight decay applied to w directly (w -= lr*wd*w) instead of added to g as L2
    decoupled_decay: ClassVar[bool] = False
    # the update kernels it runs (`step_<rule>` in each backend); default: its own kind
    rule: ClassVar[str | None] = None

    @classmethod
    def update_rule(cls) -> str:
        return cls.rule or cls.model_fields["kind"].default

    def n_state(self) -> int:
        """How many flat moment buffers of n_params values the optimizer keeps."""
        raise NotImplementedError

    def hyper(self) -> dict[str, float]:
        """Every HYPER value, this optimizer's options filled in (booleans as 0/1)."""
        out = dict(HYPER)
        for name, value in self.model_dump(exclude={"kind", "lr"}).items():
            if name == "betas":
                out["beta1"], out["beta2"] = float(value[0]), float(value[1])
            else:
                out[name] = float(value)
        return out


class Sgd(Optimizer):
    """g += wd*w; if momentum: v = momentum*v + (1-dampening)*g (v = g at t=1);
    step = g + momentum*v if nesterov else v; w -= lr*step."""

    kind: Literal["sgd"] = "sgd"
    lr: float = Field(0.01, gt=0.0, description="learning rate")
    momentum: float = Field(0.0, ge=0.0, lt=1.0, description="momentum factor")
    nesterov: bool = Field(False, description="Nesterov momentum (needs momentum > 0)")
    dampening: float = Field(0.0, ge=0.0, le=1.0, description="dampening for momentum")
    weight_decay: float = Field(0.0, ge=0.0, description="L2 penalty added to the gradient")

    def n_state(self) -> int:
        return 1 if self.momentum > 0 else 0  # the velocity

    @model_validator(mode="after")
    def _nesterov(self) -> Sgd:
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("nesterov needs momentum > 0 and dampening = 0")
        return self


class Rmsprop(Optimizer):
    """g += wd*w; s = alpha*s + (1-alpha)*g^2; if centered: m = alpha*m + (1-alpha)*g,
    d = s - m^2 else d = s; if momentum: b = momentum*b + g/(sqrt(d)+eps), w -= lr*b;
    else w -= lr*g/(sqrt(d)+eps)."""

    kind: Literal["rmsprop"] = "rmsprop"
    lr: float = Field(0.01, gt=0.0, description="learning rate")
    alpha: float = Field(0.99, ge=0.0, lt=1.0, description="smoothing constant")
    eps: float = Field(1e-8, gt=0.0, description="added to the denominator")
    momentum: float = Field(0.0, ge=0.0, lt=1.0, description="momentum factor")
    centered: bool = Field(False, description="normalize by the estimated variance")
    weight_decay: float = Field(0.0, ge=0.0, description="L2 penalty added to the gradient")

    def n_state(self) -> int:
        return 3  # square average, gradient average (centered), momentum buffer


class Adam(Optimizer):
    """g += wd*w; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2; mh = m/(1-b1^t);
    vh = v/(1-b2^t) (amsgrad: vmax = max(vmax, v), vh = vmax/(1-b2^t));
    w -= lr*mh/(sqrt(vh)+eps)."""

    kind: Literal["adam"] = "adam"
    lr: float = Field(0.001, gt=0.0, description="learning rate")
    betas: tuple[float, float] = Field((0.9, 0.999), description="decay rates of the moments")
    eps: float = Field(1e-8, gt=0.0, description="added to the denominator")
    weight_decay: float = Field(0.0, ge=0.0, description="L2 penalty added to the gradient")
    amsgrad: bool = Field(False, description="use the running maximum of v (AMSGrad)")

    def n_state(self) -> int:
        return 3  # m, v, vmax (amsgrad)

    @model_validator(mode="after")
    def _betas(self) -> Adam:
        if not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError("betas must be in [0, 1)")
        return self


class Adamw(Adam):
    """As adam, but decoupled weight decay: w -= lr*wd*w before the Adam step, and g is not
    changed (Loshchilov & Hutter; torch.optim.AdamW)."""

    kind: Literal["adamw"] = "adamw"  # type: ignore[assignment]
    weight_decay: float = Field(0.01, ge=0.0, description="decoupled weight decay")
    decoupled_decay: ClassVar[bool] = True
    rule: ClassVar[str | None] = "adam"  # Adam's update after the decoupled decay


class Adagrad(Optimizer):
    """g += wd*w; clr = lr/(1+(t-1)*lr_decay); s += g^2; w -= clr*g/(sqrt(s)+eps)."""

    kind: Literal["adagrad"] = "adagrad"
    lr: float = Field(0.01, gt=0.0, description="learning rate")
    lr_decay: float = Field(0.0, ge=0.0, description="learning-rate decay per step")
    weight_decay: float = Field(0.0, ge=0.0, description="L2 penalty added to the gradient")
    initial_accumulator_value: float = Field(0.0, ge=0.0, description="start value of s")
    eps: float = Field(1e-10, gt=0.0, description="added to the denominator")

    def n_state(self) -> int:
        return 1  # the sum of squares


OPTIMIZERS = registry(Sgd, Rmsprop, Adam, Adamw, Adagrad)
AnyOptimizer = union(OPTIMIZERS)


class Clip(Op):
    """Gradient clipping before the optimizer step. norm: if ||g||_2 (all parameters
    together) > norm, g *= norm/(||g|| + 1e-6) (torch clip_grad_norm_); value:
    g = clip(g, -value, value). Both may be given; value is applied first."""

    kind: Literal["clip"] = "clip"
    norm: float | None = Field(None, gt=0.0, description="maximum global L2 norm")
    value: float | None = Field(None, gt=0.0, description="maximum absolute value")

    @model_validator(mode="after")
    def _something(self) -> Clip:
        if self.norm is None and self.value is None:
            raise ValueError("clip needs `norm=` or `value=`")
        return self

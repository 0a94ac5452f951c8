"""ops.initializers: how a dense layer's weight (out, in) and bias start.

fan_in = in_features, fan_out = out_features. Draws come from the spec-seeded
numpy.random.Generator, layer by layer, weight before bias.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Union

from pydantic import Field, model_validator

from nnspec.ops.base import Op, registry


class Initializer(Op):
    family: ClassVar[str] = "initializer"


class Zeros(Initializer):
    """w = 0."""

    kind: Literal["zeros"] = "zeros"


class Ones(Initializer):
    """w = 1."""

    kind: Literal["ones"] = "ones"


class Constant(Initializer):
    """w = value."""

    kind: Literal["constant"] = "constant"
    value: float = Field(0.0, description="the constant")


class Uniform(Initializer):
    """w ~ U(low, high)."""

    kind: Literal["uniform"] = "uniform"
    low: float = Field(-0.05, description="lower bound")
    high: float = Field(0.05, description="upper bound")

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if not self.low < self.high:
            raise ValueError("`low` must be less than `high`")
        return self


class Normal(Initializer):
    """w ~ N(mean, std^2)."""

    kind: Literal["normal"] = "normal"
    mean: float = Field(0.0, description="mean")
    std: float = Field(0.05, gt=0.0, description="standard deviation")


class GlorotUniform(Initializer):
    """w ~ U(-a, a), a = gain*sqrt(6/(fan_in+fan_out)) (Glorot & Bengio 2010; torch
    xavier_uniform_)."""

    kind: Literal["glorot_uniform"] = "glorot_uniform"
    gain: float = Field(1.0, gt=0.0, description="scale factor")


class GlorotNormal(Initializer):
    """w ~ N(0, s^2), s = gain*sqrt(2/(fan_in+fan_out)) (torch xavier_normal_; not truncated)."""

    kind: Literal["glorot_normal"] = "glorot_normal"
    gain: float = Field(1.0, gt=0.0, description="scale factor")


class HeUniform(Initializer):
    """w ~ U(-a, a), a = sqrt(6/fan_in) (He et al. 2015; torch kaiming_uniform_ with relu)."""

    kind: Literal["he_uniform"] = "he_uniform"


class HeNormal(Initializer):
    """w ~ N(0, s^2), s = sqrt(2/fan_in) (torch kaiming_normal_ with relu; not truncated)."""

    kind: Literal["he_normal"] = "he_normal"


class LecunNormal(Initializer):
    """w ~ N(0, s^2), s = sqrt(1/fan_in) (the init SELU is designed for)."""

    kind: Literal["lecun_normal"] = "lecun_normal"


AnyInitializer = Annotated[
    Union[Zeros, Ones, Constant, Uniform, Normal, GlorotUniform, GlorotNormal, HeUniform,
          HeNormal, LecunNormal],
    Field(discriminator="kind"),
]

INITIALIZERS = registry(Zeros, Ones, Constant, Uniform, Normal, GlorotUniform, GlorotNormal,
                        HeUniform, HeNormal, LecunNormal)

"""ops.initializers: how a dense layer's weight (out, in) and bias start.

fan_in = in_features, fan_out = out_features. Draws come from the spec-seeded
numpy.random.Generator, layer by layer, weight before bias.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, model_validator

from nnspec.ops.base import Op, registry, union

if TYPE_CHECKING:
    import numpy as np


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


INITIALIZERS = registry(Zeros, Ones, Constant, Uniform, Normal, GlorotUniform, GlorotNormal,
                        HeUniform, HeNormal, LecunNormal)
AnyInitializer = union(INITIALIZERS)


# The one implementation of the formulas above: lower/init.py calls it to create the initial
# parameters, so every backend starts from the same numbers. Draws come from the spec-seeded
# numpy.random.Generator (rng.uniform / rng.normal with the whole shape at once); constant
# initializers draw nothing, so they do not shift the generator.


def _option(op: Any, name: str) -> float:
    """An option of a registry op, or of the Plan's InitPlan (registry default when absent)."""
    if isinstance(op, Initializer):
        return float(getattr(op, name))
    return float(op.get(name, INITIALIZERS[op.kind].model_fields[name].default))


def initialize(op: Any, shape: tuple[int, ...], fan_in: int, fan_out: int,
               rng: np.random.Generator) -> np.ndarray:
    """Initial values of the given shape for `op` (a registry initializer or an InitPlan).
    numpy is imported here, not with the module: `nnspec check` never needs it."""
    import numpy as np

    kind = op.kind
    if kind == "zeros":
        return np.zeros(shape)
    if kind == "ones":
        return np.ones(shape)
    if kind == "constant":
        return np.full(shape, float(_option(op, "value")))
    if kind == "uniform":
        return rng.uniform(_option(op, "low"), _option(op, "high"), size=shape)
    if kind == "normal":
        return rng.normal(_option(op, "mean"), _option(op, "std"), size=shape)
    if kind == "glorot_uniform":
        a = _option(op, "gain") * math.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-a, a, size=shape)
    if kind == "glorot_normal":
        s = _option(op, "gain") * math.sqrt(2.0 / (fan_in + fan_out))
        return rng.normal(0.0, s, size=shape)
    if kind == "he_uniform":
        a = math.sqrt(6.0 / fan_in)
        return rng.uniform(-a, a, size=shape)
    if kind == "he_normal":
        return rng.normal(0.0, math.sqrt(2.0 / fan_in), size=shape)
    if kind == "lecun_normal":
        return rng.normal(0.0, math.sqrt(1.0 / fan_in), size=shape)
    raise ValueError(f"unknown initializer {kind!r}")

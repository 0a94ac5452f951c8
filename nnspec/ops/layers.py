"""ops.layers: the layer statements of a `model` block.

Shapes are per sample: every layer maps (features,) -> (features,). x is the layer input
(batch B x in), y its output.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Union

from pydantic import Field

from nnspec.ops.activations import AnyActivation, Linear
from nnspec.ops.base import Op, registry
from nnspec.ops.initializers import AnyInitializer, Zeros


class Layer(Op):
    family: ClassVar[str] = "layer"


class Dense(Layer):
    """Fully connected: y[b, o] = act(sum_i x[b, i] * w[o, i] + bias[o]).

    w has shape (units, in_features) (PyTorch layout), saved as `layers.<i>.weight`;
    bias has shape (units,), saved as `layers.<i>.bias`.
    Written `dense UNITS [ACTIVATION] [init=...] [bias=true|false] [bias_init=...]`.
    """

    kind: Literal["dense"] = "dense"
    units: int = Field(gt=0, description="number of output features (neurons)")
    activation: AnyActivation = Field(default_factory=Linear,
                                      description="applied to the affine output")
    init: AnyInitializer | None = Field(
        None, description="weight initializer; default depends on the activation "
        "(he_normal for the relu family, lecun_normal for selu, glorot_uniform otherwise)")
    bias: bool = Field(True, description="whether the layer adds a learned bias")
    bias_init: AnyInitializer = Field(default_factory=Zeros, description="bias initializer")


class Dropout(Layer):
    """Training: y = x * m / (1-rate), m[b, i] ~ Bernoulli(1-rate) drawn from the seeded
    generator; evaluation: y = x. dL/dx = g * m / (1-rate)."""

    kind: Literal["dropout"] = "dropout"
    rate: float = Field(ge=0.0, lt=1.0, description="fraction of inputs zeroed while training")


class BatchNorm(Layer):
    """Training: mu = mean_b x, var = mean_b (x-mu)^2 (biased), xh = (x-mu)/sqrt(var+eps),
    y = gamma*xh + beta; running stats r <- (1-momentum)*r + momentum*batch stat (running_var
    uses the unbiased batch variance, as PyTorch). Evaluation uses the running stats.
    Saved as layers.<i>.weight (gamma), .bias (beta), .running_mean, .running_var."""

    kind: Literal["batchnorm"] = "batchnorm"
    momentum: float = Field(0.1, gt=0.0, le=1.0,
                            description="weight of the batch statistic in the running average "
                            "(PyTorch convention)")
    eps: float = Field(1e-5, gt=0.0, description="added to the variance for stability")
    affine: bool = Field(True, description="learn a scale (gamma) and shift (beta)")


class ActivationLayer(Layer):
    """A standalone activation: y = act(x). Written `activation NAME`."""

    kind: Literal["activation"] = "activation"
    activation: AnyActivation = Field(description="the function applied")


AnyLayer = Annotated[Union[Dense, Dropout, BatchNorm, ActivationLayer],
                     Field(discriminator="kind")]

LAYERS = registry(Dense, Dropout, BatchNorm, ActivationLayer)

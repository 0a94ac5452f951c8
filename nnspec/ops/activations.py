"""ops.activations: elementwise (and row-wise softmax) nonlinearities.

Notation: z is the pre-activation, a = f(z) the output, g = dL/da the incoming gradient;
each docstring gives f and dL/dz.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from nnspec.ops.base import Op, registry, union


class Activation(Op):
    family: ClassVar[str] = "activation"
    # Initializer used for a dense layer with this activation when the spec names none.
    default_init: ClassVar[str] = "glorot_uniform"

    def params(self) -> tuple[float, float]:
        """The two numbers the kernels read (p0, p1); (0, 0) for activations without options.
        leaky_relu, elu: (alpha, 0); gelu: (1 for the tanh form else 0, 0); softplus:
        (beta, threshold)."""
        return 0.0, 0.0


class Linear(Activation):
    """a = z;  dL/dz = g."""

    kind: Literal["linear"] = "linear"


class Relu(Activation):
    """a = max(z, 0);  dL/dz = g * [z > 0]."""

    kind: Literal["relu"] = "relu"
    default_init: ClassVar[str] = "he_normal"


class LeakyRelu(Activation):
    """a = z if z > 0 else alpha*z;  dL/dz = g * (1 if z > 0 else alpha)."""

    kind: Literal["leaky_relu"] = "leaky_relu"
    alpha: float = Field(0.01, ge=0.0, description="slope for negative inputs")
    default_init: ClassVar[str] = "he_normal"

    def params(self) -> tuple[float, float]:
        return float(self.alpha), 0.0


class Elu(Activation):
    """a = z if z > 0 else alpha*(exp(z)-1);  dL/dz = g * (1 if z > 0 else alpha*exp(z))."""

    kind: Literal["elu"] = "elu"
    alpha: float = Field(1.0, gt=0.0, description="saturation value for negative inputs")
    default_init: ClassVar[str] = "he_normal"

    def params(self) -> tuple[float, float]:
        return float(self.alpha), 0.0


class Selu(Activation):
    """a = scale*(z if z > 0 else alpha*(exp(z)-1)), alpha=1.6732632423543772,
    scale=1.0507009873554805;  dL/dz = g*scale*(1 if z > 0 else alpha*exp(z))."""

    kind: Literal["selu"] = "selu"
    default_init: ClassVar[str] = "lecun_normal"


class Gelu(Activation):
    """approximate=none: a = z*Phi(z), Phi(z) = (1+erf(z/sqrt 2))/2,
    dL/dz = g*(Phi(z) + z*phi(z)), phi the standard normal density.
    approximate=tanh: a = z/2*(1+tanh(u)), u = sqrt(2/pi)*(z+0.044715 z^3)."""

    kind: Literal["gelu"] = "gelu"
    approximate: Literal["none", "tanh"] = Field("none", description="exact (erf) or tanh form")
    default_init: ClassVar[str] = "he_normal"

    def params(self) -> tuple[float, float]:
        return (1.0 if self.approximate == "tanh" else 0.0), 0.0


class Silu(Activation):
    """a = z*sigmoid(z);  dL/dz = g*(s + z*s*(1-s)), s = sigmoid(z)."""

    kind: Literal["silu"] = "silu"
    default_init: ClassVar[str] = "he_normal"


class Softplus(Activation):
    """a = log(1+exp(beta*z))/beta (= z when beta*z > threshold);
    dL/dz = g*sigmoid(beta*z) (= g above the threshold)."""

    kind: Literal["softplus"] = "softplus"
    beta: float = Field(1.0, gt=0.0, description="sharpness")
    threshold: float = Field(20.0, gt=0.0, description="beta*z above which the output is linear")
    default_init: ClassVar[str] = "he_normal"

    def params(self) -> tuple[float, float]:
        return float(self.beta), float(self.threshold)


class Tanh(Activation):
    """a = tanh(z);  dL/dz = g*(1-a^2)."""

    kind: Literal["tanh"] = "tanh"


class Sigmoid(Activation):
    """a = 1/(1+exp(-z));  dL/dz = g*a*(1-a)."""

    kind: Literal["sigmoid"] = "sigmoid"


class Softmax(Activation):
    """Row-wise over features: a_j = exp(z_j - m)/sum_k exp(z_k - m), m = max_k z_k;
    dL/dz_j = a_j*(g_j - sum_k g_k a_k)."""

    kind: Literal["softmax"] = "softmax"


class LogSoftmax(Activation):
    """Row-wise: a_j = z_j - m - log(sum_k exp(z_k - m));
    dL/dz_j = g_j - softmax(z)_j * sum_k g_k."""

    kind: Literal["log_softmax"] = "log_softmax"


ACTIVATIONS = registry(Linear, Relu, LeakyRelu, Elu, Selu, Gelu, Silu, Softplus, Tanh, Sigmoid,
                       Softmax, LogSoftmax)
AnyActivation = union(ACTIVATIONS)

"""ops.layers: the layer statements of a `model` block, each owning its facts.

Shapes are per sample (the batch dimension is never written): `input 2` is (2,), `input 1 28
28` is (1, 28, 28), stored row-major, so a (C, H, W) sample and its flattened row are the same
values in the same order. x is the layer input (batch B x in_shape), y its output.

A layer class is its registration (the registry below is derived from the classes). Besides
its options, it states everything backend-independent about itself:
- `out_shape(x)`: the shape rule (a `ShapeError` when it cannot take x: check/ turns it into
  an E305 at the statement, with the error's label and hints);
- `tensors(x)`: its parameters and buffers, with shapes, fans and initializers, in the order
  they are laid out and drawn (PyTorch's state_dict names: weight, bias, running_mean, ...);
- `flops(x)`: one forward pass of one sample at evaluation time (`nnspec summary`);
- `attrs()`: the numbers its kernels read (lower/ puts them in the Plan); an `activation`
  field is lowered generically (code and parameters);
- `describe()`: how messages and `summary` name it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

from pydantic import Field

from nnspec.ops.activations import AnyActivation, Linear
from nnspec.ops.base import Op, registry, union
from nnspec.ops.initializers import AnyInitializer, Initializer, Ones, Zeros

Shape = tuple[int, ...]


def size(shape: Shape) -> int:
    """Values in one sample of this shape."""
    return math.prod(shape)


def show_shape(shape: Shape) -> str:
    """`(16,)`, `(1, 28, 28)`: as PyTorch prints a shape (per sample)."""
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


class ShapeError(ValueError):
    """A layer that cannot take its input shape (check/ reports it as E305 at the layer).
    `at` is the innermost layer that raised it (set on the way out of `chain_shape`)."""

    def __init__(self, message: str, label: str, hints: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message, self.label, self.hints = message, label, hints
        self.at: Op | None = None


@dataclass(frozen=True)
class TensorDecl:
    """One named tensor of a layer: `trained` ones live in the flat parameter buffer, the
    others (running statistics) in the buffer of non-trained values."""

    name: str  # the state_dict suffix: weight | bias | running_mean | running_var
    shape: Shape
    init: Initializer
    fan_in: int
    fan_out: int
    trained: bool = True


def flat_input(x: Shape, what: str) -> int:
    """The feature count of a flat input; a ShapeError (hint: `flatten`) otherwise."""
    if len(x) != 1:
        raise ShapeError(f"`{what}` takes a flat row of features, but its input has shape "
                         f"{show_shape(x)}", f"input {show_shape(x)}",
                         (f"add `flatten` before this layer (it gives ({size(x)},))",))
    return x[0]


class Layer(Op):
    family: ClassVar[str] = "layer"

    def out_shape(self, x: Shape) -> Shape:
        """The output shape per sample for input shape x (elementwise layers: x)."""
        return x

    def tensors(self, x: Shape) -> tuple[TensorDecl, ...]:
        """Parameters and buffers, in layout and draw order (none by default)."""
        return ()

    def flops(self, x: Shape) -> int:
        """FLOPs of one sample's forward pass in evaluation (elementwise layers: 0)."""
        return 0

    def attrs(self) -> dict[str, float]:
        """The numbers the kernels read (besides shapes, tensors and the activation)."""
        return {}

    def describe(self) -> str:
        return str(self.kind)  # type: ignore[attr-defined]


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

    def out_shape(self, x: Shape) -> Shape:
        flat_input(x, "dense")
        return (self.units,)

    def tensors(self, x: Shape) -> tuple[TensorDecl, ...]:
        n_in = flat_input(x, "dense")
        init = self.init if self.init is not None else _default_init(self.activation)
        w = TensorDecl("weight", (self.units, n_in), init, n_in, self.units)
        if not self.bias:
            return (w,)
        return w, TensorDecl("bias", (self.units,), self.bias_init, n_in, self.units)

    def flops(self, x: Shape) -> int:
        return 2 * size(x) * self.units + (self.units if self.bias else 0)

    def describe(self) -> str:
        act = "" if self.activation.kind == "linear" else f" {self.activation.kind}"
        return f"dense {self.units}{act}" + ("" if self.bias else " bias=false")


class Dropout(Layer):
    """Training: y = x * m / (1-rate), m[b, i] ~ Bernoulli(1-rate) drawn from the seeded
    generator; evaluation: y = x. dL/dx = g * m / (1-rate)."""

    kind: Literal["dropout"] = "dropout"
    rate: float = Field(ge=0.0, lt=1.0, description="fraction of inputs zeroed while training")

    def attrs(self) -> dict[str, float]:
        return {"rate": float(self.rate)}

    def describe(self) -> str:
        return f"dropout {self.rate:g}"


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

    def out_shape(self, x: Shape) -> Shape:
        flat_input(x, "batchnorm")
        return x

    def tensors(self, x: Shape) -> tuple[TensorDecl, ...]:
        n = flat_input(x, "batchnorm")
        stats = (TensorDecl("running_mean", (n,), Zeros(), n, n, trained=False),
                 TensorDecl("running_var", (n,), Ones(), n, n, trained=False))
        if not self.affine:
            return stats
        return (TensorDecl("weight", (n,), Ones(), n, n),
                TensorDecl("bias", (n,), Zeros(), n, n), *stats)

    def flops(self, x: Shape) -> int:
        return (4 if self.affine else 2) * size(x)

    def attrs(self) -> dict[str, float]:
        return {"momentum": float(self.momentum), "eps": float(self.eps),
                "affine": float(self.affine)}

    def describe(self) -> str:
        return "batchnorm" + ("" if self.affine else " affine=false")


class ActivationLayer(Layer):
    """A standalone activation: y = act(x). Written `activation NAME`."""

    kind: Literal["activation"] = "activation"
    activation: AnyActivation = Field(description="the function applied")

    def out_shape(self, x: Shape) -> Shape:
        if self.activation.kind in ROWWISE and len(x) != 1:
            flat_input(x, self.activation.kind)
        return x

    def describe(self) -> str:
        return f"activation {self.activation.kind}"


class Flatten(Layer):
    """y[b, :] = x[b] read row-major: (C, H, W) -> (C*H*W,), as torch.nn.Flatten. The values
    and their order do not change (every engine stores a sample row-major), so forward and
    backward move nothing: dL/dx = dL/dy reshaped."""

    kind: Literal["flatten"] = "flatten"

    def out_shape(self, x: Shape) -> Shape:
        return (size(x),)


# Activations that act on a whole row (not elementwise): their input must be flat.
ROWWISE = ("softmax", "log_softmax")


def _default_init(activation: object) -> Initializer:
    from nnspec.ops.activations import ACTIVATIONS
    from nnspec.ops.initializers import INITIALIZERS

    return INITIALIZERS[ACTIVATIONS[activation.kind].default_init]()  # type: ignore[attr-defined, return-value]


def chain_shape(x: Shape, layers: tuple[Layer, ...]) -> Shape:
    """The shape after a chain of layers; a ShapeError (`at` = the innermost culprit)."""
    for layer in layers:
        try:
            x = layer.out_shape(x)
        except ShapeError as exc:
            if exc.at is None:
                exc.at = layer
            raise
    return x


def shapes(input_shape: Shape, layers: tuple[Layer, ...]) -> list[tuple[Shape, Shape]]:
    """(in_shape, out_shape) of each layer of a chain; a ShapeError at the first that cannot
    take its input (`index` = that top-level layer's position, `at` = the innermost layer)."""
    out: list[tuple[Shape, Shape]] = []
    x = input_shape
    for i, layer in enumerate(layers):
        try:
            y = chain_shape(x, (layer,))
        except ShapeError as exc:
            exc.index = i  # type: ignore[attr-defined]
            raise
        out.append((x, y))
        x = y
    return out


# ---------------------------------------------------------------------------------------------
# Branches, merges and heads: layers made of layers. Their children are named as PyTorch names
# nested modules: `layers.<i>.branches.<j>.<k>.weight` (concat, add: `branches` is a
# ModuleList of Sequentials) and `layers.<i>.body.<k>.weight` (residual, head: `body` is a
# Sequential). They own no tensors themselves.
# ---------------------------------------------------------------------------------------------


class Branch(Op):
    """`branch { layers }`: one path of a `concat` or an `add`, reading the statement's input.
    An empty branch (`branch {}`) passes its input through unchanged."""

    family: ClassVar[str] = "branch"
    kind: Literal["branch"] = "branch"
    layers: tuple[AnyLayer, ...] = Field((), description="the branch's layers, in order")


class Composite(Layer):
    """A layer made of chains of layers (`parts`), each reading the composite's input."""

    # the field filled from the statement's `{ }` body (not an option written as key=value)
    nested: ClassVar[tuple[str, ...]] = ()

    def parts(self) -> list[tuple[str, tuple[Layer, ...]]]:
        """(name prefix, layers) of each inner chain: `branches.<j>` or `body`."""
        raise NotImplementedError

    def flops(self, x: Shape) -> int:
        total = 0
        for _, layers in self.parts():
            for (a, _), layer in zip(shapes(x, layers), layers, strict=True):
                total += layer.flops(a)
        return total + self.merge_flops(x)

    def merge_flops(self, x: Shape) -> int:
        return 0


def _branch_shapes(x: Shape, branches: tuple[Branch, ...]) -> list[Shape]:
    return [chain_shape(x, b.layers) for b in branches]


def _listing(found: list[Shape]) -> str:
    items = [show_shape(s) for s in found]
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else items[0]


class Concat(Composite):
    """y = [f_1(x), f_2(x), ...]: every branch reads the same x; their outputs are joined
    along the first dimension of a sample (the features of a flat row, the channels of a
    (C, H, W) sample, whose other dimensions must agree), as torch.cat(dim=1). dL/dx is the
    sum of what each branch passes back. Written `concat { branch { ... } branch { ... } }`."""

    kind: Literal["concat"] = "concat"
    nested: ClassVar[tuple[str, ...]] = ("branches",)
    branches: tuple[Branch, ...] = Field((), description="the parallel paths (`branch { }`)")

    def parts(self) -> list[tuple[str, tuple[Layer, ...]]]:
        return [(f"branches.{j}", b.layers) for j, b in enumerate(self.branches)]

    def out_shape(self, x: Shape) -> Shape:
        found = _branch_shapes(x, self.branches)
        rest = {s[1:] for s in found}
        if len(rest) > 1 or any(len(s) == 0 for s in found):
            raise ShapeError(f"the branches give {_listing(found)}; `concat` joins them along "
                             "the first dimension, so the others must be equal",
                             "branches that do not line up",
                             ("flatten the branches first, or make their other dimensions "
                              "equal",))
        return (sum(s[0] for s in found), *found[0][1:])

    def describe(self) -> str:
        return f"concat of {len(self.branches)} branches"


class Add(Composite):
    """y = f_1(x) + f_2(x) + ...: every branch reads the same x and gives the same shape;
    each receives dL/dy. Written `add { branch { ... } branch { ... } }`."""

    kind: Literal["add"] = "add"
    nested: ClassVar[tuple[str, ...]] = ("branches",)
    branches: tuple[Branch, ...] = Field((), description="the paths summed (`branch { }`)")

    def parts(self) -> list[tuple[str, tuple[Layer, ...]]]:
        return [(f"branches.{j}", b.layers) for j, b in enumerate(self.branches)]

    def out_shape(self, x: Shape) -> Shape:
        found = _branch_shapes(x, self.branches)
        if len(set(found)) > 1:
            widths = sorted({s[0] for s in found if len(s) == 1})
            hint = (f"give the short branch a projection, e.g. end it with `dense {widths[-1]}`"
                    if len(widths) > 1 else "make every branch end with the same shape")
            raise ShapeError(f"the branches give {_listing(found)}; `add` needs equal shapes",
                             "branches of different shapes", (hint,))
        return found[0]

    def merge_flops(self, x: Shape) -> int:
        return (len(self.branches) - 1) * size(self.out_shape(x))

    def describe(self) -> str:
        return f"add of {len(self.branches)} branches"


class Residual(Composite):
    """y = x + f(x), f the body (He et al., 2016): the body must give x's shape back;
    dL/dx = dL/dy + what the body passes back. Written `residual { dense 64 relu; dense 64 }`."""

    kind: Literal["residual"] = "residual"
    nested: ClassVar[tuple[str, ...]] = ("body",)
    body: tuple[AnyLayer, ...] = Field((), description="f, the layers added to the input")

    def parts(self) -> list[tuple[str, tuple[Layer, ...]]]:
        return [("body", self.body)]

    def out_shape(self, x: Shape) -> Shape:
        y = chain_shape(x, self.body)
        if y != x:
            hint = (f"end the body with `dense {x[0]}`" if len(x) == 1 and len(y) == 1 else
                    "make the body give its input's shape back")
            raise ShapeError(f"the body gives {show_shape(y)} but its input is {show_shape(x)}; "
                             "`residual` adds them, so they must be equal",
                             f"x is {show_shape(x)}, f(x) is {show_shape(y)}", (hint,))
        return x

    def merge_flops(self, x: Shape) -> int:
        return size(x)

    def describe(self) -> str:
        return "residual"


class Head(Composite):
    """An auxiliary output (a side classifier, as in GoogLeNet), trained on the same target
    with the same loss: the objective becomes main + weight * head loss, so that "the loss
    reaches the first layers". The main path goes on from the head's input (y = x). Left out
    of predictions, evaluation and the saved model's outputs; shown in the history as
    `<name>_loss`. Written `head aux weight=0.3 { dense 10 softmax }`."""

    kind: Literal["head"] = "head"
    nested: ClassVar[tuple[str, ...]] = ("body",)
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                      description="the head's name (its history column is `<name>_loss`)")
    weight: float = Field(0.3, gt=0.0, description="its loss's weight in the objective "
                          "(0.3 as GoogLeNet's auxiliary classifiers)")
    body: tuple[AnyLayer, ...] = Field((), description="the head's layers; the last one is "
                                       "its output")

    def parts(self) -> list[tuple[str, tuple[Layer, ...]]]:
        return [("body", self.body)]

    def out_shape(self, x: Shape) -> Shape:
        self.head_shape(x)
        return x

    def head_shape(self, x: Shape) -> Shape:
        """The head's own output shape (a flat row, as a loss needs)."""
        y = chain_shape(x, self.body)
        if len(y) != 1:
            raise ShapeError(f"head `{self.name}` outputs {show_shape(y)}, but a loss takes a "
                             "flat row of values per sample", f"output {show_shape(y)}",
                             ("end the head with `flatten` and a `dense` layer",))
        return y

    def describe(self) -> str:
        return f"head {self.name} weight={self.weight:g}"


def param_count(layer: Layer, x: Shape) -> int:
    """Trained values of a layer on input shape x (a composite's: its children's)."""
    if isinstance(layer, Composite):
        return sum(param_count(inner, a) for _, chain in layer.parts()
                   for inner, (a, _) in zip(chain, shapes(x, chain), strict=True))
    return sum(size(t.shape) for t in layer.tensors(x) if t.trained)


LAYERS = registry(Dense, Dropout, BatchNorm, ActivationLayer, Flatten, Concat, Add, Residual,
                  Head)
AnyLayer = union(LAYERS)
for _cls in (Branch, Concat, Add, Residual, Head):
    _cls.model_rebuild()

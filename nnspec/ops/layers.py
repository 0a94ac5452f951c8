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

from pydantic import Field, model_validator

from nnspec.ops.activations import AnyActivation, Linear
from nnspec.ops.base import Op, registry, union
from nnspec.ops.initializers import AnyInitializer, Initializer, Normal, Ones, Zeros

Shape = tuple[int, ...]


def size(shape: Shape) -> int:
    """Values in one sample of this shape."""
    return math.prod(shape)


def show_shape(shape: Shape) -> str:
    """`(16,)`, `(1, 28, 28)`: as PyTorch prints a shape (per sample)."""
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


class ShapeError(ValueError):
    """A layer that cannot take its input shape (check/ reports it as E305 at the layer, or
    as `code` where a limit other than the shape rule says no: E516, a max pool's input too
    large for the engines' argmax). `at` is the innermost layer that raised it (set on the
    way out of `chain_shape`)."""

    def __init__(self, message: str, label: str, hints: tuple[str, ...] = (),
                 code: str = "E305") -> None:
        super().__init__(message)
        self.message, self.label, self.hints, self.code = message, label, hints, code
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


class Embedding(Layer):
    """A table of learned vectors, one per token id (torch.nn.Embedding): the input is T
    integer ids per sample, ids[b, t] in [0, vocab); y[b, t, d] = w[ids[b, t], d], a gather.
    dL/dw[v, d] = sum_{b, t: ids[b, t] = v} dL/dy[b, t, d], a scatter-add (an id used twice
    in a batch gets both gradients summed; rows not used get 0, a dense gradient as PyTorch's
    default `sparse=False`, so every optimizer treats it as any weight). The ids get no
    gradient, so an embedding reads the model's input directly (it is the first layer).

    w has shape (vocab, dim), saved as `layers.<i>.weight`, drawn from N(0, 1) as PyTorch.
    The output (T, dim) is flattened by `flatten` to the T*dim concatenated vectors.
    Written `embedding DIM [vocab=K] [init=INIT]`; without `vocab` the vocabulary size comes
    from the data (a `text(...)` source).
    """

    kind: Literal["embedding"] = "embedding"
    dim: int = Field(gt=0, description="length of each token's vector")
    vocab: int | None = Field(None, gt=0, description="number of token ids (default: the "
                              "vocabulary size of the data source)")
    init: AnyInitializer = Field(default_factory=lambda: Normal(mean=0.0, std=1.0),
                                 description="weight initializer (PyTorch: normal, std 1)")

    def out_shape(self, x: Shape) -> Shape:
        return (flat_input(x, "embedding"), self.dim)

    def tensors(self, x: Shape) -> tuple[TensorDecl, ...]:
        flat_input(x, "embedding")
        if self.vocab is None:
            raise ShapeError("`embedding` needs the vocabulary size: the data source does "
                             "not give one", "vocabulary unknown",
                             ("write `embedding DIM vocab=K`, or read the data with "
                              "`text(...)`, which counts it",))
        return (TensorDecl("weight", (self.vocab, self.dim), self.init, self.vocab,
                           self.dim),)

    def flops(self, x: Shape) -> int:
        return 0  # a gather: no arithmetic

    def describe(self) -> str:
        return f"embedding {self.dim}" + ("" if self.vocab is None else f" vocab={self.vocab}")


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
    """Normalizes each channel over the batch (PyTorch BatchNorm1d on a flat (F,) sample, one
    channel per feature; BatchNorm2d on a (C, H, W) sample, one channel per C, its statistics
    over the batch and every position). With m values per channel (B for a flat sample,
    B*H*W for an image), training: mu = mean x, var = mean (x-mu)^2 (biased),
    xh = (x-mu)/sqrt(var+eps), y = gamma*xh + beta; running stats r <- (1-momentum)*r +
    momentum*batch stat (running_var uses the unbiased batch variance var*m/(m-1), as
    PyTorch). Evaluation uses the running stats.
    dL/dx = gamma*inv_std/m * (m*g - sum g - xh * sum g*xh), sums per channel.
    Saved as layers.<i>.weight (gamma), .bias (beta), .running_mean, .running_var, each
    (C,)."""

    kind: Literal["batchnorm"] = "batchnorm"
    momentum: float = Field(0.1, gt=0.0, le=1.0,
                            description="weight of the batch statistic in the running average "
                            "(PyTorch convention)")
    eps: float = Field(1e-5, gt=0.0, description="added to the variance for stability")
    affine: bool = Field(True, description="learn a scale (gamma) and shift (beta)")

    def tensors(self, x: Shape) -> tuple[TensorDecl, ...]:
        n = x[0]  # channels: the features of a flat sample, C of a (C, H, W) one
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


# ---------------------------------------------------------------------------------------------
# Convolution and pooling over (C, H, W) samples (PyTorch's NCHW layout per sample). A window
# option (kernel, stride, padding, dilation) is one integer for both axes or a list [h, w].
# Output size per axis: out = floor((n + pad_lo + pad_hi - dilation*(k-1) - 1) / stride) + 1.
# ---------------------------------------------------------------------------------------------

Pair = int | tuple[int, int]


def pair(v: Pair) -> tuple[int, int]:
    """A window option as (h, w): `3` -> (3, 3), `[3, 5]` -> (3, 5)."""
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def show_pair(v: Pair) -> str:
    """`3` -> `3`, `[3, 5]` -> `[3, 5]`: as written in a spec."""
    return str(v) if isinstance(v, int) else f"[{v[0]}, {v[1]}]"


def _positive(layer: Op, names: tuple[str, ...]) -> None:
    for name in names:
        v = getattr(layer, name)
        if min(pair(v)) <= 0:
            raise ValueError(f"{name} must be greater than 0, found {show_pair(v)}")


def image_input(x: Shape, what: str) -> Shape:
    """(C, H, W) of an image input; a ShapeError (hint: `input C H W`) otherwise."""
    if len(x) != 3:
        raise ShapeError(f"`{what}` takes (C, H, W) images, but its input has shape "
                         f"{show_shape(x)}", f"input {show_shape(x)}",
                         ("give the model an image input, `input C H W` (e.g. `input 1 8 8` "
                          "for one 8x8 channel), and keep convolutions and pooling before "
                          "`flatten`",))
    return x


@dataclass(frozen=True)
class Window:
    """A sliding window's geometry, per axis (h, w): kernel, stride, dilation and the zero
    (or -inf, for max pooling) padding before (top, left) and after (bottom, right)."""

    kh: int
    kw: int
    sh: int = 1
    sw: int = 1
    pt: int = 0
    pl: int = 0
    pb: int = 0
    pr: int = 0
    dh: int = 1
    dw: int = 1

    @classmethod
    def of(cls, kernel: Pair, stride: Pair, padding: Pair | str, dilation: Pair = 1
           ) -> Window:
        (kh, kw), (sh, sw), (dh, dw) = pair(kernel), pair(stride), pair(dilation)
        if padding == "valid":
            pads = (0, 0, 0, 0)
        elif padding == "same":
            # PyTorch: total d*(k-1) per axis, the odd one out after (bottom, right)
            th, tw = dh * (kh - 1), dw * (kw - 1)
            pads = (th // 2, tw // 2, th - th // 2, tw - tw // 2)
        else:
            ph, pw = pair(padding)  # type: ignore[arg-type]
            pads = (ph, pw, ph, pw)
        return cls(kh, kw, sh, sw, *pads, dh, dw)

    def attrs(self) -> dict[str, float]:
        return {k: float(v) for k, v in vars(self).items()}

    def out_hw(self, x: Shape, what: str) -> tuple[int, int]:
        """(H_out, W_out) for a (C, H, W) input; a ShapeError when the window does not fit."""
        _, h, w = x
        span_h, span_w = self.dh * (self.kh - 1) + 1, self.dw * (self.kw - 1) + 1
        ph, pw = h + self.pt + self.pb, w + self.pl + self.pr
        if span_h > ph or span_w > pw:
            padded = "" if (ph, pw) == (h, w) else f" ({ph}x{pw} with its padding)"
            covers = f"{span_h}x{span_w}"
            dilated = (f" ({self.kh}x{self.kw} dilated)"
                       if (self.dh, self.dw) != (1, 1) else "")
            raise ShapeError(f"the {covers} window{dilated} of `{what}` is larger than its "
                             f"input {h}x{w}{padded}", f"input {show_shape(x)}",
                             ("use a smaller kernel, pad the input (`padding=`), or "
                              "downsample less before this layer",))
        return (ph - span_h) // self.sh + 1, (pw - span_w) // self.sw + 1


class Conv2D(Layer):
    """2-D convolution (cross-correlation, as torch.nn.Conv2d), x (C, H, W) -> y (F, Ho, Wo):
    z[b, f, i, j] = bias[f] + sum_{c, u, v} w[f, c, u, v] *
        xp[b, c, i*sh + u*dh, j*sw + v*dw],  y = act(z),
    xp the input zero-padded. dL/dw[f, c, u, v] = sum_{b, i, j} dL/dz[b, f, i, j] *
    xp[b, c, i*sh + u*dh, j*sw + v*dw]; dL/dx is the same sum scattered back (col2im).

    w has shape (filters, in_channels, kh, kw) (PyTorch layout), fan_in = in_channels*kh*kw,
    fan_out = filters*kh*kw; bias has shape (filters,). `padding=same` keeps H and W (the odd
    extra row or column goes after, as PyTorch) and needs stride 1, as PyTorch requires.
    Written `conv2d FILTERS KERNEL [ACTIVATION] [stride=S] [padding=same|valid|P]
    [dilation=D] [bias=BOOL] [init=INIT] [bias_init=INIT]`.
    """

    kind: Literal["conv2d"] = "conv2d"
    filters: int = Field(gt=0, description="number of output channels (filters)")
    kernel: Pair = Field(description="kernel size: one integer or [height, width]")
    activation: AnyActivation = Field(default_factory=Linear,
                                      description="applied to the convolution's output")
    stride: Pair = Field(1, description="step between windows: one integer or [h, w]")
    padding: Literal["same", "valid"] | Pair = Field(
        0, description="zeros added around the input: `valid` (none, as 0), `same` (output "
        "size = input size; stride 1 only), one integer or [h, w]")
    dilation: Pair = Field(1, description="spacing between kernel elements: one integer or "
                           "[h, w]")
    init: AnyInitializer | None = Field(
        None, description="weight initializer; default depends on the activation "
        "(he_normal for the relu family, lecun_normal for selu, glorot_uniform otherwise)")
    bias: bool = Field(True, description="whether the layer adds a learned bias per filter")
    bias_init: AnyInitializer = Field(default_factory=Zeros, description="bias initializer")

    @model_validator(mode="after")
    def _window(self) -> Conv2D:
        _positive(self, ("kernel", "stride", "dilation"))
        if not isinstance(self.padding, str) and min(pair(self.padding)) < 0:
            raise ValueError(f"padding must be at least 0, found {show_pair(self.padding)}")
        if self.padding == "same" and pair(self.stride) != (1, 1):
            raise ValueError("padding `same` needs stride 1 (as PyTorch); with a stride, "
                             "give the padding as a number, e.g. `padding=1` for a 3x3 kernel")
        return self

    def window(self) -> Window:
        return Window.of(self.kernel, self.stride, self.padding, self.dilation)

    def out_shape(self, x: Shape) -> Shape:
        image_input(x, "conv2d")
        if self.activation.kind in ROWWISE:
            raise ShapeError(f"{self.activation.kind} acts on a flat row, but `conv2d` gives "
                             "(C, H, W) images", f"{self.activation.kind} on an image",
                             ("apply it after `flatten` and a `dense` layer",))
        return (self.filters, *self.window().out_hw(x, "conv2d"))

    def tensors(self, x: Shape) -> tuple[TensorDecl, ...]:
        c = image_input(x, "conv2d")[0]
        kh, kw = pair(self.kernel)
        fan_in, fan_out = c * kh * kw, self.filters * kh * kw
        init = self.init if self.init is not None else _default_init(self.activation)
        w = TensorDecl("weight", (self.filters, c, kh, kw), init, fan_in, fan_out)
        if not self.bias:
            return (w,)
        return w, TensorDecl("bias", (self.filters,), self.bias_init, fan_in, fan_out)

    def flops(self, x: Shape) -> int:
        kh, kw = pair(self.kernel)
        out = size(self.out_shape(x))
        return 2 * x[0] * kh * kw * out + (out if self.bias else 0)

    def attrs(self) -> dict[str, float]:
        return self.window().attrs()

    def describe(self) -> str:
        kh, kw = pair(self.kernel)
        parts = [f"conv2d {self.filters} {kh}x{kw}"]
        if self.activation.kind != "linear":
            parts.append(self.activation.kind)
        if pair(self.stride) != (1, 1):
            parts.append(f"stride={show_pair(self.stride)}")
        if self.padding not in (0, "valid"):
            shown = self.padding if isinstance(self.padding, str) else show_pair(self.padding)
            parts.append(f"padding={shown}")
        if pair(self.dilation) != (1, 1):
            parts.append(f"dilation={show_pair(self.dilation)}")
        if not self.bias:
            parts.append("bias=false")
        return " ".join(parts)


# A max pool keeps the position of each maximum (its input offset within the sample) in the
# engines' float workspace (backends/cpu/layout.py, cuda/pool.py): exact as float32 below
# 2**24, so its input holds fewer values per sample than this (check: E516).
MAXPOOL_INPUT_LIMIT = 1 << 24


class Pool2D(Layer):
    """Shared by max and average pooling: a window per channel, stride = kernel by default."""

    kernel: Pair = Field(description="window size: one integer or [height, width]")
    stride: Pair | None = Field(None, description="step between windows: one integer or "
                                "[h, w]; default: the kernel size (as PyTorch)")
    padding: Pair = Field(0, description="padding around the input, at most half the kernel "
                          "(as PyTorch): one integer or [h, w]")

    @model_validator(mode="after")
    def _window(self) -> Pool2D:
        _positive(self, ("kernel",) if self.stride is None else ("kernel", "stride"))
        (kh, kw), (ph, pw) = pair(self.kernel), pair(self.padding)
        if min(ph, pw) < 0:
            raise ValueError(f"padding must be at least 0, found {show_pair(self.padding)}")
        if ph > kh // 2 or pw > kw // 2:
            raise ValueError(f"padding must be at most half the kernel (as PyTorch), found "
                             f"{show_pair(self.padding)} for kernel {show_pair(self.kernel)}")
        return self

    def window(self) -> Window:
        stride = self.kernel if self.stride is None else self.stride
        return Window.of(self.kernel, stride, self.padding)

    def out_shape(self, x: Shape) -> Shape:
        what = str(self.kind)  # type: ignore[attr-defined]
        image_input(x, what)
        return (x[0], *self.window().out_hw(x, what))

    def flops(self, x: Shape) -> int:
        kh, kw = pair(self.kernel)
        return kh * kw * size(self.out_shape(x))

    def attrs(self) -> dict[str, float]:
        return self.window().attrs()

    def describe(self) -> str:
        kh, kw = pair(self.kernel)
        parts = [f"{self.kind} {kh}x{kw}"]  # type: ignore[attr-defined]
        if self.stride is not None and pair(self.stride) != (kh, kw):
            parts.append(f"stride={show_pair(self.stride)}")
        if pair(self.padding) != (0, 0):
            parts.append(f"padding={show_pair(self.padding)}")
        return " ".join(parts)


class MaxPool2D(Pool2D):
    """Max pooling per channel (torch.nn.MaxPool2d, padding with -inf):
    y[b, c, i, j] = max_{u, v} xp[b, c, i*sh + u, j*sw + v]. The position of the maximum is
    kept (ties: the first in row-major window order, as PyTorch); dL/dx receives dL/dy at
    that position (summed where windows overlap). Its input holds fewer than 2^24 values per
    sample (E516). Written `maxpool KERNEL [stride=S] [padding=P]`."""

    kind: Literal["maxpool"] = "maxpool"

    def out_shape(self, x: Shape) -> Shape:
        y = super().out_shape(x)
        if size(x) >= MAXPOOL_INPUT_LIMIT:
            raise ShapeError(
                f"`maxpool`'s input has {size(x)} values per sample {show_shape(x)}; the cpu "
                f"and cuda engines keep the position of each maximum as a float32 integer, "
                f"exact below 2^24 = {MAXPOOL_INPUT_LIMIT} values", f"input {show_shape(x)}",
                ("make the input smaller before it (a strided `conv2d`, an `avgpool`, fewer "
                 "channels or a smaller `input` size)",), code="E516")
        return y


class AvgPool2D(Pool2D):
    """Average pooling per channel (torch.nn.AvgPool2d, count_include_pad=True: padded zeros
    count): y[b, c, i, j] = sum_{u, v} xp[b, c, i*sh + u, j*sw + v] / (kh*kw);
    dL/dx[window] += dL/dy / (kh*kw). Written `avgpool KERNEL [stride=S] [padding=P]`."""

    kind: Literal["avgpool"] = "avgpool"


class GlobalAvgPool(Layer):
    """The mean of each channel: (C, H, W) -> (C,), y[b, c] = sum_{i, j} x[b, c, i, j]/(H*W),
    as torch.nn.AdaptiveAvgPool2d(1) then flatten; dL/dx[b, c, i, j] = dL/dy[b, c]/(H*W).
    Written `global_avgpool`."""

    kind: Literal["global_avgpool"] = "global_avgpool"

    def out_shape(self, x: Shape) -> Shape:
        return (image_input(x, "global_avgpool")[0],)

    def flops(self, x: Shape) -> int:
        return size(x)


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
                  Head, Conv2D, MaxPool2D, AvgPool2D, GlobalAvgPool, Embedding)
AnyLayer = union(LAYERS)
for _cls in (Branch, Concat, Add, Residual, Head):
    _cls.model_rebuild()

"""lower.plan: ir.Spec -> Plan, the type: what a backend needs to build and train a model.

A Plan is a frozen dataclass of ints, floats, strings and tuples (no pydantic, no Lark), so a
backend can turn it into int/float arrays for compiled code without looking at the IR. Op
names are kept next to their int codes (codes for kernels, names for messages).

Parameter layout: every trainable value lives in ONE flat buffer of `n_params` values, layer
by layer; a dense layer stores its weight (out, in) row-major (PyTorch layout), then its bias;
a batchnorm layer stores gamma (weight) then beta (bias) when affine. Batchnorm running
statistics are not trained: they live in a second flat buffer of `n_buffers` values
(running_mean then running_var per batchnorm layer). `tensors` lists every named slot with
its `.npz` / PyTorch state_dict key `layers.<i>.<name>`, i = position among layer statements.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nnspec.diagnostics import Span

# Layer kinds.
DENSE, DROPOUT, BATCHNORM, ACTIVATION = 0, 1, 2, 3
LAYER_CODES = {"dense": DENSE, "dropout": DROPOUT, "batchnorm": BATCHNORM,
               "activation": ACTIVATION}

# Activations. Parameters (act_p0, act_p1): leaky_relu (alpha, 0), elu (alpha, 0),
# gelu (0 = erf form | 1 = tanh form, 0), softplus (beta, threshold); others (0, 0).
(A_LINEAR, A_RELU, A_LEAKY_RELU, A_ELU, A_SELU, A_GELU, A_SILU, A_SOFTPLUS, A_TANH,
 A_SIGMOID, A_SOFTMAX, A_LOG_SOFTMAX) = range(12)
ACT_CODES = {"linear": A_LINEAR, "relu": A_RELU, "leaky_relu": A_LEAKY_RELU, "elu": A_ELU,
             "selu": A_SELU, "gelu": A_GELU, "silu": A_SILU, "softplus": A_SOFTPLUS,
             "tanh": A_TANH, "sigmoid": A_SIGMOID, "softmax": A_SOFTMAX,
             "log_softmax": A_LOG_SOFTMAX}
ROWWISE_ACTS = (A_SOFTMAX, A_LOG_SOFTMAX)

# Losses. loss_param: huber delta, crossentropy label_smoothing, else 0.
L_MSE, L_RMSE, L_MAE, L_HUBER, L_BCE, L_CCE = range(6)
LOSS_CODES = {"mse": L_MSE, "rmse": L_RMSE, "mae": L_MAE, "huber": L_HUBER,
              "binary_crossentropy": L_BCE, "categorical_crossentropy": L_CCE}

# Fused output activation + loss, computed from the logits z of the last layer.
FUSED_NONE, FUSED_SIGMOID_BCE, FUSED_SOFTMAX_CCE, FUSED_LOG_SOFTMAX_CCE = range(4)
FUSED_NAMES = ("none", "sigmoid+binary_crossentropy", "softmax+categorical_crossentropy",
               "log_softmax+categorical_crossentropy")

# Optimizers.
O_SGD, O_RMSPROP, O_ADAM, O_ADAMW, O_ADAGRAD = range(5)
OPT_CODES = {"sgd": O_SGD, "rmsprop": O_RMSPROP, "adam": O_ADAM, "adamw": O_ADAMW,
             "adagrad": O_ADAGRAD}


@dataclass(frozen=True)
class InitPlan:
    """An initializer: its registry name and its options (see nnspec/ops/initializers.py)."""

    kind: str
    options: tuple[tuple[str, float], ...] = ()

    def get(self, name: str, default: float = 0.0) -> float:
        return dict(self.options).get(name, default)


@dataclass(frozen=True)
class TensorSlot:
    """One named tensor of the model: where it lives and its saved name."""

    key: str  # "layers.<i>.weight" | .bias | .running_mean | .running_var
    layer: int  # index into Plan.layers
    buffer: str  # "params" (trained) or "buffers" (batchnorm running statistics)
    offset: int  # start in that flat buffer
    shape: tuple[int, ...]

    @property
    def size(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n


@dataclass(frozen=True)
class LayerPlan:
    """One layer statement. Offsets are -1 where the layer has no such tensor."""

    index: int  # position among the model's layer statements (npz key layers.<index>.*)
    kind: int  # DENSE | DROPOUT | BATCHNORM | ACTIVATION
    kind_name: str
    n_in: int
    n_out: int
    act: int = A_LINEAR  # activation applied by the layer (dense, activation); linear otherwise
    act_name: str = "linear"
    act_p0: float = 0.0
    act_p1: float = 0.0
    bias: bool = False  # dense: whether it has a bias
    w_offset: int = -1  # dense weight (n_out, n_in) | batchnorm gamma (n_out,), in params
    b_offset: int = -1  # dense bias (n_out,) | batchnorm beta (n_out,), in params
    w_init: InitPlan | None = None  # dense only
    b_init: InitPlan | None = None  # dense with bias only
    rate: float = 0.0  # dropout rate
    bn_momentum: float = 0.1
    bn_eps: float = 1e-5
    bn_affine: bool = True
    rm_offset: int = -1  # batchnorm running_mean (n_out,), in buffers
    rv_offset: int = -1  # batchnorm running_var (n_out,), in buffers
    span: Span | None = field(default=None, compare=False, repr=False)

    @property
    def label(self) -> str:
        """How messages name the layer, e.g. `layer 2 (dense 16 relu)`."""
        if self.kind == DENSE:
            what = f"dense {self.n_out}" + ("" if self.act == A_LINEAR else f" {self.act_name}")
        elif self.kind == DROPOUT:
            what = f"dropout {self.rate:g}"
        elif self.kind == ACTIVATION:
            what = f"activation {self.act_name}"
        else:
            what = "batchnorm"
        return f"layer {self.index} ({what})"


@dataclass(frozen=True)
class OptimizerPlan:
    """Optimizer code and every hyperparameter (unused ones stay at their defaults).

    weight_decay is L2 added to the gradient, except for adamw where it is decoupled.
    `n_state` is how many flat moment buffers of n_params values the optimizer keeps:
    sgd: 1 with momentum (velocity) else 0; rmsprop: 3 (square avg, grad avg when centered,
    momentum buffer); adam/adamw: 3 (m, v, vmax when amsgrad); adagrad: 1 (sum of squares).
    """

    code: int
    name: str
    lr: float
    momentum: float = 0.0
    dampening: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0
    alpha: float = 0.99  # rmsprop
    centered: bool = False  # rmsprop
    beta1: float = 0.9  # adam
    beta2: float = 0.999  # adam
    amsgrad: bool = False  # adam
    eps: float = 1e-8
    lr_decay: float = 0.0  # adagrad
    initial_accumulator_value: float = 0.0  # adagrad

    @property
    def n_state(self) -> int:
        if self.code == O_SGD:
            return 1 if self.momentum > 0 else 0
        if self.code == O_ADAGRAD:
            return 1
        return 3


@dataclass(frozen=True)
class Plan:
    """Everything a backend needs, resolved: see the module docstring for the layouts."""

    model_name: str
    n_inputs: int
    layers: tuple[LayerPlan, ...]
    tensors: tuple[TensorSlot, ...]
    n_params: int
    n_buffers: int
    n_outputs: int
    task: str  # "regression" | "binary" | "multiclass" (from the loss)
    loss: int
    loss_name: str
    loss_param: float  # huber delta | label_smoothing | 0
    fused: int  # FUSED_* : the last layer's activation is folded into the loss
    optimizer: OptimizerPlan
    clip_norm: float  # 0 = no norm clipping
    clip_value: float  # 0 = no value clipping
    dtype: str  # "float32" | "float64"
    batch: int | None  # None = full batch (resolved from N at run time)
    shuffle: bool
    drop_last: bool
    seed: int
    epochs: int
    init_from: str | None = None  # resolved path of an `init from` .npz, if any
    spec_path: str | None = None
    loss_span: Span | None = field(default=None, compare=False, repr=False)

    def batch_size(self, n: int) -> int:
        """Samples per batch for a training set of n samples (`full` = n)."""
        return max(1, n if self.batch is None else min(self.batch, n))

    def n_batches(self, n: int) -> int:
        """Batches per epoch over n samples (the smaller last batch dropped if drop_last)."""
        b = self.batch_size(n)
        return n // b if self.drop_last else -(-n // b)

    def slot(self, key: str) -> TensorSlot:
        for t in self.tensors:
            if t.key == key:
                return t
        raise KeyError(key)

    @property
    def has_dropout(self) -> bool:
        return any(layer.kind == DROPOUT and layer.rate > 0 for layer in self.layers)

    @property
    def has_batchnorm(self) -> bool:
        return any(layer.kind == BATCHNORM for layer in self.layers)

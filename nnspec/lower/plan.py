"""lower.plan: ir.Spec -> Plan, the type: what a backend needs to build and train a model.

A Plan is a frozen dataclass of ints, floats, strings and tuples (no pydantic, no Lark), so a
backend can turn it into int/float arrays for compiled code without looking at the IR. Op
names are kept next to their int codes (codes for kernels, names for messages); the codes
are derived from the op registries (nnspec/ops/), never listed a second time.

The model is a graph of nodes (`Plan.layers`, in an order where every node comes after its
inputs). A node names its inputs explicitly (`inputs`: node indices, -1 for the model's
input), its input and output shapes per sample, the numbers its kernels read (`attrs`, from
the op's `attrs()`, plus the activation code and parameters) and its tensors.

Parameter layout: every trainable value lives in ONE flat buffer of `n_params` values, node
by node, each node's tensors in the order its op declares them (dense: weight (out, in)
row-major, PyTorch layout, then bias; conv2d: weight (filters, in_channels, kh, kw)
row-major, PyTorch layout, then bias; batchnorm: gamma (weight) then beta (bias), one per
channel, when affine). A (C, H, W) sample is stored row-major (NCHW per batch). Values that
are not trained (batchnorm running statistics) live in a second flat buffer of `n_buffers`
values. `tensors` lists every named slot with its `.npz` / PyTorch
state_dict key `layers.<i>.<name>`, i = position among layer statements.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nnspec.diagnostics import Span
from nnspec.ops.activations import ACTIVATIONS
from nnspec.ops.layers import LAYERS, Window
from nnspec.ops.losses import LOSSES
from nnspec.ops.optimizers import HYPER, OPTIMIZERS

# Int codes, in registry order (the kernels compare against the named constants below).
LAYER_CODES = {kind: code for code, kind in enumerate(LAYERS)}
DENSE, DROPOUT, BATCHNORM, ACTIVATION, FLATTEN, CONCAT, ADD = (
    LAYER_CODES[k] for k in ("dense", "dropout", "batchnorm", "activation", "flatten", "concat",
                             "add"))
CONV2D, MAXPOOL, AVGPOOL, GLOBAL_AVGPOOL = (
    LAYER_CODES[k] for k in ("conv2d", "maxpool", "avgpool", "global_avgpool"))
EMBEDDING = LAYER_CODES["embedding"]
LAYER_NAMES = tuple(LAYER_CODES)  # code -> kind (a residual's node is an `add`)
# Merge nodes (several inputs): concat joins its inputs per sample, add sums them (a
# `residual` is an add of its input and its body). `head` makes no node of its own: its body's
# last node is an extra output (Plan.outputs).
MERGES = (CONCAT, ADD)

# Activations. Parameters (act_p0, act_p1): Activation.params() (ops/activations.py).
ACT_CODES = {kind: code for code, kind in enumerate(ACTIVATIONS)}
ACT_NAMES = tuple(ACTIVATIONS)
(A_LINEAR, A_RELU, A_LEAKY_RELU, A_ELU, A_SELU, A_GELU, A_SILU, A_SOFTPLUS, A_TANH,
 A_SIGMOID, A_SOFTMAX, A_LOG_SOFTMAX) = (ACT_CODES[k] for k in (
     "linear", "relu", "leaky_relu", "elu", "selu", "gelu", "silu", "softplus", "tanh",
     "sigmoid", "softmax", "log_softmax"))
ROWWISE_ACTS = (A_SOFTMAX, A_LOG_SOFTMAX)

# Losses. loss_param: huber delta, crossentropy label_smoothing, else 0.
LOSS_CODES = {kind: code for code, kind in enumerate(LOSSES)}
L_MSE, L_RMSE, L_MAE, L_HUBER, L_BCE, L_CCE = (LOSS_CODES[k] for k in (
    "mse", "rmse", "mae", "huber", "binary_crossentropy", "categorical_crossentropy"))

# Fused output activation + loss, computed from the logits z of the last layer.
FUSED_NONE, FUSED_SIGMOID_BCE, FUSED_SOFTMAX_CCE, FUSED_LOG_SOFTMAX_CCE = range(4)
FUSED_NAMES = ("none", "sigmoid+binary_crossentropy", "softmax+categorical_crossentropy",
               "log_softmax+categorical_crossentropy")

# Optimizer update rules (OptimizerPlan.code): the distinct `update_rule()`s of the optimizer
# registry, in registry order (adamw runs adam's rule after its decoupled decay).
RULE_CODES = {rule: code for code, rule in enumerate(dict.fromkeys(
    cls.update_rule() for cls in OPTIMIZERS.values()))}
O_SGD, O_RMSPROP, O_ADAM, O_ADAGRAD = (RULE_CODES[k] for k in (
    "sgd", "rmsprop", "adam", "adagrad"))

INPUT = -1  # the model's input, in LayerPlan.inputs


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
    init: InitPlan | None = None  # how it starts (lower/init.py); None: zeros
    fan_in: int = 0
    fan_out: int = 0

    @property
    def name(self) -> str:
        """The op's name for it: weight, bias, running_mean, running_var."""
        return self.key.rsplit(".", 1)[1]

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class LayerPlan:
    """One node of the model graph (a layer statement). What a kernel needs, generically: the
    kind, the explicit inputs, shapes, the activation, `attrs` (the op's numbers) and the
    tensors. The properties below read those, for the backends' convenience; offsets are -1
    where the node has no such tensor."""

    index: int  # position in Plan.layers (the node's id; for a chain, its statement's index)
    kind: int  # LAYER_CODES
    kind_name: str
    inputs: tuple[int, ...]  # node indices read, in order; INPUT (-1) is the model's input
    in_shape: tuple[int, ...]  # per sample (a merge node: its first input's)
    out_shape: tuple[int, ...]
    name: str = ""  # its modules' path: layers.2 | layers.2.branches.1.0 | layers.3.body.0
    title: str = ""  # the op's description, e.g. `dense 16 relu`
    act: int = A_LINEAR  # activation applied by the node (dense, activation) else linear
    act_p0: float = 0.0
    act_p1: float = 0.0
    attrs: tuple[tuple[str, float], ...] = ()
    tensors: tuple[TensorSlot, ...] = ()  # in layout order (params and buffers)
    span: Span | None = field(default=None, compare=False, repr=False)

    @property
    def n_in(self) -> int:
        return math.prod(self.in_shape)

    @property
    def n_out(self) -> int:
        return math.prod(self.out_shape)

    @property
    def act_name(self) -> str:
        return ACT_NAMES[self.act]

    def attr(self, name: str, default: float = 0.0) -> float:
        for key, value in self.attrs:
            if key == name:
                return value
        return default

    def slot(self, name: str) -> TensorSlot | None:
        for t in self.tensors:
            if t.name == name:
                return t
        return None

    def _offset(self, name: str) -> int:
        t = self.slot(name)
        return -1 if t is None else t.offset

    @property
    def w_offset(self) -> int:
        """dense weight (n_out, n_in) | batchnorm gamma (n_out,), in params."""
        return self._offset("weight")

    @property
    def b_offset(self) -> int:
        """dense bias (n_out,) | batchnorm beta (n_out,), in params."""
        return self._offset("bias")

    @property
    def rm_offset(self) -> int:
        return self._offset("running_mean")

    @property
    def rv_offset(self) -> int:
        return self._offset("running_var")

    @property
    def bias(self) -> bool:
        return self.slot("bias") is not None

    @property
    def rate(self) -> float:
        return self.attr("rate")

    @property
    def bn_momentum(self) -> float:
        return self.attr("momentum", 0.1)

    @property
    def bn_eps(self) -> float:
        return self.attr("eps", 1e-5)

    @property
    def bn_affine(self) -> bool:
        return bool(self.attr("affine", 1.0))

    @property
    def window(self) -> Window:
        """conv2d, maxpool, avgpool: the window's geometry (ops.layers.Window) from `attrs`."""
        return Window(**{k: int(self.attr(k)) for k in Window.__dataclass_fields__})

    @property
    def channels(self) -> int:
        """The channels of the input: C of a (C, H, W) sample, the features of a flat one
        (batchnorm's statistics are per channel)."""
        return self.in_shape[0]

    @property
    def label(self) -> str:
        """How messages name the layer: `layer 2 (dense 16 relu)` for a statement of the model
        block, `layers.2.branches.1.0 (dense 16 relu)` inside a branch, residual or head."""
        what = self.title or self.kind_name
        top = self.name.split(".")
        if len(top) == 2 and top[1].isdigit():
            return f"layer {top[1]} ({what})"
        return f"{self.name} ({what})"


@dataclass(frozen=True)
class OutputPlan:
    """An output the loss is computed at: the main one (outputs[0], weight 1) or a head."""

    node: int  # index into Plan.layers
    name: str  # "" for the main output, else the head's name (history column <name>_loss)
    weight: float  # its loss's weight in the objective
    fused: int  # FUSED_*: its node's activation folded into the loss
    span: Span | None = field(default=None, compare=False, repr=False)  # the head statement


@dataclass(frozen=True)
class OptimizerPlan:
    """The optimizer as its op states it (ops/optimizers.py): the code of its update rule
    (RULE_CODES: the kernels to run), its name, base learning rate,
    how many flat moment buffers of n_params values it keeps (`n_state`), whether its weight
    decay is decoupled, and every hyperparameter as a number (`hyper`, the names of
    ops.optimizers.HYPER, also readable as attributes: `opt.beta1`)."""

    code: int
    name: str
    lr: float
    n_state: int
    decoupled: bool = False
    hyper: tuple[tuple[str, float], ...] = ()

    def __getattr__(self, name: str) -> float:
        if name in HYPER:
            return dict(self.__dict__.get("hyper", ())).get(name, HYPER[name])
        raise AttributeError(name)


@dataclass(frozen=True)
class OpRef:
    """A configured op as plain data: its registry name and its options as the checked spec
    has them (defaults filled in), so the Plan holds no pydantic object; `build(registry)`
    makes the op again (the training loop does this for schedules and metrics)."""

    kind: str
    options: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, op: Any) -> OpRef:
        dumped = op.model_dump(exclude={"kind", "span"})
        return cls(op.kind, tuple((k, tuple(v) if isinstance(v, list) else v)
                                  for k, v in dumped.items()))

    def build(self, ops: Mapping[str, Any]) -> Any:
        return ops[self.kind](**dict(self.options))

    def __str__(self) -> str:
        opts = ", ".join(f"{k}={v}" for k, v in self.options if v is not None)
        return f"{self.kind}({opts})"


@dataclass(frozen=True)
class EarlyStopPlan:
    """`early_stop(...)` resolved: `mode` is min or max (ops.metrics.monitor_mode)."""

    monitor: str
    mode: str
    patience: int
    min_delta: float = 0.0
    restore_best: bool = False


@dataclass(frozen=True)
class CheckpointPlan:
    """When the loop offers a periodic checkpoint (train/cadence.py): after every `every`-th
    epoch, or (`every` None) at most once per `seconds` of wall time; `every` 0: none.
    A checkpoint is always offered at the end, on interruption and on early stop."""

    every: int | None = None
    seconds: float | None = 30.0


@dataclass(frozen=True)
class Plan:
    """Everything a backend and the training loop need, resolved: see the module docstring
    for the layouts. After `lower()` nothing reads the IR: the model, the objective, the
    optimizer and the training plan (epochs, seed, batching, schedule, early stopping,
    metrics, checkpoints) are all here."""

    model_name: str
    input_shape: tuple[int, ...]  # one sample
    layers: tuple[LayerPlan, ...]  # the graph's nodes, each after its inputs
    tensors: tuple[TensorSlot, ...]
    n_params: int
    n_buffers: int
    n_outputs: int
    task: str  # "regression" | "binary" | "multiclass" (from the loss)
    loss: int
    loss_name: str
    loss_param: float  # huber delta | label_smoothing | 0
    fused: int  # FUSED_* of the main output (outputs[0].fused)
    optimizer: OptimizerPlan
    clip_norm: float  # 0 = no norm clipping
    clip_value: float  # 0 = no value clipping
    dtype: str  # "float32" | "float64"
    batch: int | None  # None = full batch (resolved from N at run time)
    shuffle: bool
    drop_last: bool
    seed: int
    epochs: int
    outputs: tuple[OutputPlan, ...] = ()  # the main output (the last node) first, then heads
    schedule: OpRef = OpRef("constant")  # ops.schedules; its lr0 is optimizer.lr
    warmup: OpRef | None = None  # a `warmup` before the schedule
    early_stop: EarlyStopPlan | None = None
    stop_on_nonfinite: bool = True  # stop at a non-finite loss or gradient (else skip the batch)
    metrics: tuple[OpRef, ...] = ()  # ops.metrics, reported every epoch
    checkpoint: CheckpointPlan = CheckpointPlan()
    trajectory_every: int = 0  # record the parameters every N optimizer steps; 0: not at all
    init_from: str | None = None  # resolved path of an `init from` .npz, if any
    spec_path: str | None = None
    loss_span: Span | None = field(default=None, compare=False, repr=False)
    data_span: Span | None = field(default=None, compare=False, repr=False)  # the data block
    init_span: Span | None = field(default=None, compare=False, repr=False)  # the model
    optimizer_span: Span | None = field(default=None, compare=False, repr=False)

    @property
    def n_inputs(self) -> int:
        """Values per input sample."""
        return math.prod(self.input_shape)

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
    def heads(self) -> tuple[OutputPlan, ...]:
        return self.outputs[1:]

    def graph_span(self) -> Span | None:
        """Where the spec first leaves a plain chain (a head, branch or merge), if it does."""
        for o in self.heads:
            return o.span
        for i, node in enumerate(self.layers):
            if node.inputs != ((i - 1,) if i else (INPUT,)):
                return node.span
        return None

    @functools.cached_property
    def token_input(self) -> bool:
        """The model's input holds token ids (an embedding reads it): int64 end to end.
        (Cached: asked on every engine call, ~1 us a time over the layers.)"""
        return any(n.kind == EMBEDDING and INPUT in n.inputs for n in self.layers)

    @property
    def vocab_size(self) -> int:
        """The number of token ids the model's input takes (its embeddings' smallest table);
        0 without token input."""
        sizes = [n.tensors[0].shape[0] for n in self.layers
                 if n.kind == EMBEDDING and INPUT in n.inputs]
        return min(sizes) if sizes else 0

    @property
    def is_chain(self) -> bool:
        """Every node reads the one before it (the first, the input), nothing else reads it,
        and the only output is the last node: what the chain-only engine paths assume."""
        return not self.heads and all(
            node.inputs == ((i - 1,) if i else (INPUT,)) for i, node in enumerate(self.layers))

    @property
    def has_dropout(self) -> bool:
        return any(layer.kind == DROPOUT and layer.rate > 0 for layer in self.layers)

    @property
    def has_batchnorm(self) -> bool:
        return any(layer.kind == BATCHNORM for layer in self.layers)

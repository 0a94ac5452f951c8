"""ir: the typed, validated spec that check() produces and lower() consumes.

Every default of the language is stated once, here or in the op registry (nnspec/ops/).
Every node keeps the span it was written at (excluded from dumps: compare IRs with
`model_dump()`), so that run-time errors can point at the spec. Field descriptions are the
documentation users see (docs/language.md, `nnspec schema`, editor hover).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from nnspec.ops.base import Op
from nnspec.ops.layers import AnyLayer, Shape, shapes, size
from nnspec.ops.losses import AnyLoss
from nnspec.ops.metrics import AnyMetric
from nnspec.ops.optimizers import AnyOptimizer, Clip, Sgd
from nnspec.ops.schedules import AnySchedule, Constant, Warmup
from nnspec.ops.sources import AnySource


class Node(Op):
    """An IR node (same base as ops: frozen, spanned, no unknown fields)."""


class Model(Node):
    """`model NAME { input DIMS...; [init from "w.npz"]; layers... }`."""

    name: str = Field("model", description="the model's name (used for the run directory)")
    input: tuple[int, ...] = Field(
        description="the shape of one sample: `input 2` is 2 features, `input 1 28 28` is one "
        "channel of 28 x 28 (C, H, W, row-major), `input 3 tokens` is 3 integer token ids "
        "(read by an `embedding`)")
    tokens: bool = Field(False, description="`input N tokens`: a sample is N integer token "
                         "ids, which the first layer (an `embedding`) looks up; a model whose "
                         "first layer is an embedding reads ids even when `tokens` is not "
                         "written (checked specs carry it)")
    init_from: str | None = Field(None, description="`.npz` of saved weights to start from "
                                  "(keys layers.<i>.weight / .bias), relative to the spec")
    layers: tuple[AnyLayer, ...] = Field(description="the layers, in order")

    @field_validator("input", mode="before")
    @classmethod
    def _one_dim(cls, value: object) -> object:
        return (value,) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("input")
    @classmethod
    def _positive(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(d <= 0 for d in value):
            raise ValueError("every input dimension must be greater than 0")
        return value

    @property
    def features(self) -> int:
        """Values per sample (the product of the input shape)."""
        return size(self.input)

    def shapes(self) -> list[tuple[Shape, Shape]]:
        """(in_shape, out_shape) of every layer (ops.layers.shapes: ShapeError if one
        cannot take its input; a Model from check() never raises)."""
        return shapes(self.input, self.layers)

    @property
    def output_shape(self) -> Shape:
        found = self.shapes()
        return found[-1][1] if found else self.input


class Split(Node):
    """`split validation=F, test=F, stratify=BOOL`: seeded random split of the source."""

    validation: float = Field(0.0, ge=0.0, lt=1.0, description="fraction held out for validation")
    test: float = Field(0.0, ge=0.0, lt=1.0, description="fraction held out for the final test")
    stratify: bool = Field(False, description="keep class proportions equal in every split")
    seed: int | None = Field(None, ge=0, description="split seed (default: the spec's seed)")

    @model_validator(mode="after")
    def _fractions(self) -> Split:
        if self.validation + self.test >= 1.0:
            raise ValueError("validation + test must leave some data for training")
        return self


class Data(Node):
    """`data { source ...; split ...; standardize | normalize; validation ...; test ... }`."""

    source: AnySource = Field(description="the training data (or all data, before the split)")
    split: Split = Field(default_factory=Split, description="held-out fractions")
    validation: AnySource | None = Field(None, description="a separate validation set "
                                         "(instead of split validation=)")
    test: AnySource | None = Field(None, description="a separate test set (instead of split test=)")
    scale: Literal["none", "standardize", "normalize"] = Field(
        "none", description="feature scaling fitted on the training split only: standardize "
        "(zero mean, unit variance) or normalize (min-max to [0, 1])")


class EarlyStop(Node):
    """`early_stop(monitor=val_loss, patience=10, ...)`: stop when the monitor stops improving."""

    monitor: str = Field("val_loss", description="loss, val_loss, or a declared metric "
                         "(e.g. accuracy, val_accuracy)")
    mode: Literal["auto", "min", "max"] = Field(
        "auto", description="auto: max for accuracy, precision, recall, f1, r2; min otherwise")
    patience: int = Field(10, ge=0, description="epochs without improvement before stopping")
    min_delta: float = Field(0.0, ge=0.0, description="smallest change that counts as improvement")
    restore_best: bool = Field(False, description="end with the weights of the best epoch")
    stop_on_nonfinite: bool = Field(True, description="stop when the loss becomes NaN or inf")


class Train(Node):
    """`train { loss ...; optimizer ...; ... }`."""

    loss: AnyLoss = Field(description="the objective minimized")
    optimizer: AnyOptimizer = Field(default_factory=Sgd, description="the update rule")
    warmup: Warmup | None = Field(None, description="linear warmup before the schedule "
                                  "(`schedule warmup(epochs=5) then cosine()`)")
    schedule: AnySchedule = Field(default_factory=Constant,
                                  description="learning rate per epoch")
    clip: Clip | None = Field(None, description="gradient clipping (`clip norm=1.0`)")
    epochs: int = Field(10, gt=0, description="passes over the training data")
    batch: int | Literal["full"] = Field(
        32, description="samples per gradient step: 1 = stochastic, full = full-batch")
    shuffle: bool = Field(True, description="reshuffle the training data every epoch (seeded)")
    drop_last: bool = Field(False, description="skip the last batch when it is smaller")
    dtype: Literal["float32", "float64"] = Field("float32", description="floating-point precision")
    seed: int = Field(0, ge=0, description="seed of every random choice (init, shuffle, "
                      "dropout, split, generated data)")
    device: Literal["cpu", "cuda", "auto"] = Field(
        "auto", description="where to train: auto uses a GPU when one is available")
    early_stop: EarlyStop | None = Field(None, description="stop when a monitor stops improving")
    metrics: tuple[AnyMetric, ...] = Field((), description="reported every epoch")

    # A field validator, not a model one: pydantic skips model validators when a field
    # failed, so `epochs 0` would hide `batch 0` until it was fixed (issue 18).
    @field_validator("batch")
    @classmethod
    def _batch(cls, batch: int | str) -> int | str:
        if isinstance(batch, int) and batch <= 0:
            raise ValueError("batch must be a positive integer or `full`")
        return batch


Artifact = Literal["weights", "history", "metrics", "curves", "checkpoint"]
CHECKPOINT_SECONDS = 30.0  # the default policy: at most one periodic checkpoint per 30 s


class Output(Node):
    """`output { dir "runs/x"; checkpoint every=10; artifacts weights, history, curves }`.

    `checkpoint` takes one of `every=N` (epochs), `seconds=S` (wall time) or `off`; left out,
    periodic checkpoints are by wall time, at most one per 30 s."""

    dir: str | None = Field(None, description="run directory (default runs/<model>-<timestamp>)")
    checkpoint_every: int | None = Field(
        None, ge=0, description="epochs between periodic checkpoints (`checkpoint every=N`); "
        "0: none (`checkpoint off`); unset: by wall time (see checkpoint_seconds). A checkpoint "
        "is always written at the end, on Ctrl-C/SIGTERM and on early stop")
    checkpoint_seconds: float | None = Field(
        None, gt=0, description="at most one periodic checkpoint per this many seconds, taken "
        "between chunks of batches (`checkpoint seconds=S`); unset: "
        f"{CHECKPOINT_SECONDS:g} when checkpoint_every is unset too")
    artifacts: tuple[Artifact, ...] = Field(
        ("weights", "history", "metrics", "curves", "checkpoint"),
        description="which files to write into the run directory")
    trajectory_every: int | None = Field(
        None, ge=1, description="record the parameters after every N optimizer steps into "
        "trajectory.npz (`trajectory every=N`; `trajectory` alone: every step); unset: none. "
        "For `nnspec paths` and `nnspec landscape` (docs/pictures.md)")

    @model_validator(mode="after")
    def _one_checkpoint_policy(self) -> Output:
        if self.checkpoint_every is not None and self.checkpoint_seconds is not None:
            raise ValueError("give checkpoint_every or checkpoint_seconds, not both")
        return self


class Spec(Node):
    """A whole checked spec."""

    path: str | None = Field(None, exclude=True, description="the file it came from")
    model: Model
    data: Data | None = Field(None, description="the data block (required by `run`)")
    train: Train
    output: Output = Field(default_factory=Output)


def layer_shapes(model: Model) -> list[tuple[int, int]]:
    """(values in, values out) per sample of each layer, in order (Model.shapes, flattened)."""
    return [(size(a), size(b)) for a, b in model.shapes()]


def output_activation(layers: tuple) -> tuple[str, int | None]:
    """(the activation at the output, its units when a dense layer sets it); dropout is
    transparent, as in check.rules.output_layer."""
    from nnspec.ops.layers import ActivationLayer, Dense, Dropout

    for layer in reversed(layers):
        if isinstance(layer, Dropout):
            continue
        if isinstance(layer, Dense):
            return layer.activation.kind, layer.units
        if isinstance(layer, ActivationLayer):
            return layer.activation.kind, None
        return layer.kind, None
    return "linear", None


def task_of(model: Model, train: Train) -> str:
    """What the network is trained to do: binary | multiclass | regression.

    The classification losses say it. A regression loss (mse on 0/1 targets is in learners'
    notes) trains a classifier when the metrics ask for classes and the output layer gives
    them: a sigmoid output is binary (a class is p >= 0.5), a softmax over 2 or more units
    multi-class (the argmax); check() rejects classification metrics on any other output.
    """
    if train.loss.task == "classification":
        return "binary" if train.loss.kind == "binary_crossentropy" else "multiclass"
    if any(m.task == "classification" for m in train.metrics):
        act, _ = output_activation(model.layers)
        units = layer_shapes(model)[-1][1] if model.layers else model.features
        if act == "sigmoid":
            return "binary"
        if act in ("softmax", "log_softmax") and units >= 2:
            return "multiclass"
    return "regression"

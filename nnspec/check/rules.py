"""check.rules: checked blocks -> cross-block diagnostics (and the resolved monitors).

What one block cannot know alone: whether the data fits the model's input and output
(E305), whether the loss fits the last layer (E306) and the metrics fit the task (E307),
whether a `val_*` monitor has validation data (E407; a monitor left at its default falls
back to `loss` with W103 instead), warmup vs epochs (E408), and the suspicious-but-legal
warnings (W101, W102, W104, W105).
"""

from __future__ import annotations

from nnspec import ir
from nnspec.check.context import Ctx, did_you_mean
from nnspec.check.statements import all_args, find, option_span
from nnspec.diagnostics import Fix, Span
from nnspec.ops.layers import ActivationLayer, Composite, Dense, Dropout, Embedding, Head
from nnspec.ops.schedules import OneCycle, ReduceOnPlateau
from nnspec.ops.sources import Source
from nnspec.syntax import Block, Call

CLASSIFICATION_OUT = ("softmax", "log_softmax")


def output_layer(model: ir.Model | tuple) -> tuple[str, object | None]:
    """(activation at the output, the layer that sets it); dropout is transparent. A model,
    or a chain of layers (a head's body)."""
    layers = model if isinstance(model, tuple) else model.layers
    for layer in reversed(layers):
        if isinstance(layer, Dropout):
            continue
        if isinstance(layer, (Dense, ActivationLayer)):
            return layer.activation.kind, layer
        return layer.kind, layer
    return "linear", None


def _describe_layer(layer: object) -> str:
    if isinstance(layer, Dense):
        return f"`dense {layer.units} {layer.activation.kind}`"
    return f"`{getattr(layer, 'kind', 'layer')}`"


def _line(span: Span | None) -> str:
    return f"line {span.line}" if span else "the model"


def model_rules(ctx: Ctx, model: ir.Model) -> None:
    layers = model.layers
    if layers and isinstance(layers[-1], Dropout):
        ctx.warning("W104", "dropout is the last layer: it randomly zeroes the outputs while "
                    "training", layers[-1].span, label="output dropout",
                    hints=["move the dropout before the last dense layer"])
    for layer in layers:
        if isinstance(layer, Dropout) and layer.rate == 0:
            ctx.warning("W105", "dropout 0 does nothing", layer.span, label="rate 0")
    acts = [(layer.activation.kind, layer) for layer in layers
            if isinstance(layer, (Dense, ActivationLayer))]
    for (a, _), (b, later) in zip(acts, acts[1:], strict=False):
        if a == "sigmoid" and b in CLASSIFICATION_OUT:
            ctx.warning("W105", f"{b} after sigmoid squeezes the inputs into (0, 1) first, "
                        "so the classes barely separate", later.span,
                        label=f"{b} after sigmoid",
                        hints=["use a linear (or relu) layer before the softmax"])


def _embeddings(layers: tuple, top: bool = True) -> list[tuple[object, bool]]:
    """(embedding, whether it is the model's first layer) for every embedding, nested too."""
    out: list[tuple[object, bool]] = []
    for i, layer in enumerate(layers):
        if isinstance(layer, Embedding):
            out.append((layer, top and i == 0))
        elif isinstance(layer, Composite):
            for _, chain in layer.parts():
                out += _embeddings(chain, False)
    return out


def embedding_rules(ctx: Ctx, model: ir.Model, data: ir.Data | None,
                    blocks: dict[str, Block] | None = None) -> ir.Model | None:
    """E312: an embedding reads token ids, the model's input, so it is the first layer (the
    ids get no gradient and a computed value is no id); E313: its vocabulary size is given
    (`vocab=`) or the data source counts it, and agrees with the data's; E318: `input N
    tokens` with a first layer that is no embedding. Returns the model with the embedding's
    vocabulary size filled in from the data where not written, and `tokens` set when an
    embedding reads the input; None after an error (the model cannot be lowered)."""
    ok = True
    declared = data.source.declared_vocab() if data is not None else None
    for layer, first in _embeddings(model.layers):
        span = getattr(layer, "span", None)
        if not first:
            ok = False
            ctx.error("E312", "`embedding` must be the model's first layer: it looks up "
                      "token ids, which only the model's input holds", span,
                      label="not the first layer",
                      notes=["an embedding's input gets no gradient, and a value computed "
                             "by another layer is no token id"],
                      hints=["move the embedding to the top of the model, right after "
                             "`input N tokens`"])
        elif getattr(layer, "vocab", None) is None and declared is None:
            ok = False
            why = (f"`{data.source.kind}` does not count one" if data is not None
                   else "the spec has no data source that counts one")
            ctx.error("E313", f"the vocabulary size of `embedding` is unknown: {why}", span,
                      label="vocab=?",
                      hints=["write `embedding DIM vocab=K` (ids 0..K-1), or read the data "
                             "with `text(\"FILE\", ...)`, which builds the vocabulary"])
        elif declared is not None and getattr(layer, "vocab", None) not in (None, declared):
            ok = False
            ctx.error("E313", f"`embedding` has vocab={getattr(layer, 'vocab', None)} but "
                      f"`{data.source.kind}` gives {declared} token ids",  # type: ignore[union-attr]
                      span, label="vocabulary size",
                      hints=[f"leave `vocab=` out of the embedding (it is taken from the data), "
                             f"or write vocab={declared}"])
    top = model.layers[0] if model.layers else None
    if model.tokens and not isinstance(top, Embedding):
        ok = False
        st = find(blocks.get("model"), "input") if blocks else None
        words = all_args(st) if st is not None else []
        word = words[-1] if words else None
        ctx.error("E318", "`input N tokens` gives token ids, which only an `embedding` "
                  "reads, but the first layer is "
                  + (f"`{top.kind}`" if top is not None else "missing"),  # type: ignore[attr-defined]
                  getattr(word, "span", None) or model.span, label="token ids",
                  notes=["an id is a name for a token, not a quantity: a dense layer would "
                         "read id 7 as seven times id 1"],
                  hints=["add `embedding DIM` as the model's first layer (then `flatten` "
                         "before a `dense`), or leave `tokens` out for numeric features"])
    if not ok:
        return None
    if isinstance(top, Embedding) and top.vocab is None and declared is not None:
        top = top.model_copy(update={"vocab": declared})
        model = model.model_copy(update={"layers": (top, *model.layers[1:])})
    if isinstance(top, Embedding) and not model.tokens:  # what the model reads, said
        model = model.model_copy(update={"tokens": True})
    return model


def shape_rules(ctx: Ctx, model: ir.Model, data: ir.Data, blocks: dict[str, Block]) -> None:
    input_st = find(blocks.get("model"), "input")
    input_span = all_args(input_st)[0].span if input_st and all_args(input_st) else model.span
    declared = "input " + " ".join(str(d) for d in model.input)
    for part in ("source", "validation", "test"):
        src: Source | None = getattr(data, part)
        n = src.declared_features() if src is not None else None
        if n is None or n == model.features:
            continue
        features = f"{n} feature{'s' if n != 1 else ''}"
        if part == "source":
            assert src is not None
            flat = len(model.input) == 1 and input_st is not None and all_args(input_st)
            dims = " ".join(map(str, src.declared_shape() or (n,)))  # `1 16 16` for images
            # `input 3` -> `input 2`: certain when the source always gives 2 features, a guess
            # when it has a `features=` option (that may be the one to change)
            fixes = [Fix(span=input_span, replacement=dims, title=f"write `input {dims}`",
                         preferred="n_features" not in type(src).model_fields)
                     ] if flat and input_span is not None else []
            ctx.error("E305", f"the data has {features} but the model declares "
                      f"`{declared}`", input_span, label=f"expected {n}",
                      notes=[f"`{src.kind}` on {_line(src.span)} generates {features} per "
                             "sample"],
                      hints=[f"write `input {dims}`"] if len(model.input) == 1 else
                      [f"the input shape {declared[6:]} holds {model.features} values"],
                      fixes=fixes)
        else:
            ctx.error("E305", f"the {part} data has {features} but the model declares "
                      f"`{declared}`", src.span, label=f"{features}",
                      notes=[f"`{declared}` on {_line(input_span)}"])
    target = data.source.declared_target()
    if target is None or not model.layers:
        return
    units = ir.layer_shapes(model)[-1][1]
    kind, k = target
    ok = units in (1, 2) if kind == "binary" else units == k
    if not ok:
        want = "1 (sigmoid) or 2 (softmax)" if kind == "binary" else str(k)
        what = {"binary": "2 classes", "multiclass": f"{k} classes",
                "regression": f"{k} target value{'s' if k != 1 else ''}"}[kind]
        _, last = output_layer(model)
        ctx.error("E305", f"the model outputs {units} value{'s' if units != 1 else ''} per "
                  f"sample but the data has {what}", getattr(last, "span", None) or model.span,
                  label=f"expected {want} units",
                  notes=[f"`{data.source.kind}` on {_line(data.source.span)}"])


def loss_rules(ctx: Ctx, model: ir.Model | None, data: ir.Data | None, train: ir.Train,
               blocks: dict[str, Block]) -> None:
    loss = train.loss
    loss_st = find(blocks.get("train"), "loss")
    loss_span = all_args(loss_st)[0].span if loss_st and all_args(loss_st) else train.span
    target = data.source.declared_target() if data is not None else None
    act, last = output_layer(model) if model is not None else ("linear", None)
    if model is not None and last is not None:
        units = ir.layer_shapes(model)[-1][1]
        note = [f"the last layer is {_describe_layer(last)} on {_line(last.span)}"]
        if loss.rule == "categorical_crossentropy":  # and the sparse form, its kernels'
            if units == 1:
                ctx.error("E306", f"{loss.kind} needs one output unit per class, "
                          "but the last layer has 1 unit", loss_span, label="needs >= 2 units",
                          notes=note, hints=["for two classes use `binary_crossentropy` with "
                                             "`dense 1 sigmoid`, or end with `dense 2 softmax`"])
            elif act not in CLASSIFICATION_OUT:
                ctx.error("E306", f"{loss.kind} expects a softmax or log_softmax "
                          f"output, found {act}", loss_span, label="needs softmax outputs",
                          notes=note, hints=[f"end the model with `dense {units} softmax`"])
        elif loss.kind == "binary_crossentropy":
            if act in CLASSIFICATION_OUT:
                ctx.error("E306", f"binary_crossentropy after {act}: the outputs are "
                          "coupled class probabilities, not independent ones", loss_span,
                          label="needs sigmoid outputs", notes=note,
                          hints=["use `categorical_crossentropy`, or end with "
                                 "`dense 1 sigmoid`"])
            elif act != "sigmoid":
                ctx.error("E306", f"binary_crossentropy expects a sigmoid output, found {act}",
                          loss_span, label="needs sigmoid outputs", notes=note,
                          hints=[f"end the model with `dense {units} sigmoid`"])
        elif act in CLASSIFICATION_OUT and units == 1:
            always = "1.0" if act == "softmax" else "0.0"
            ctx.error("E306", f"{act} over 1 unit always outputs {always}: the model cannot "
                      "learn anything", getattr(last, "span", None)
                      or loss_span, label=f"{act} of a single value",
                      notes=[f"the loss is {loss.kind} on {_line(loss_span)}"],
                      hints=["for regression end with a linear `dense 1`; for two classes use "
                             "`dense 1 sigmoid` with binary_crossentropy"])
        elif act in CLASSIFICATION_OUT:
            ctx.warning("W105", f"regression loss {loss.kind} after {act}: the outputs are "
                        "probabilities that sum to 1", loss_span, label="after softmax",
                        notes=note, hints=["use `categorical_crossentropy`, or a linear "
                                           "output for regression"])
    if loss.task == "classification" and target is not None and target[0] == "regression":
        ctx.error("E306", f"{loss.kind} needs class labels but `{data.source.kind}` has "
                  "continuous targets", loss_span, label="classification loss",
                  hints=["use a regression loss such as `mse`"])
    if loss.kind == "binary_crossentropy" and target is not None and target[0] == "multiclass":
        ctx.error("E306", f"binary_crossentropy needs 0/1 targets but `{data.source.kind}` has "
                  f"{target[1]} classes", loss_span, label="two classes only",
                  hints=["use `categorical_crossentropy` with a softmax output"])
    if model is not None:
        _head_rules(ctx, model, loss.kind)
    _metric_rules(ctx, train, target, blocks, model)


def _head_rules(ctx: Ctx, model: ir.Model, loss: str) -> None:
    """A head is trained with the main output's loss: it must end as the main output ends."""
    act, last = output_layer(model)
    for layer in model.layers:
        if not isinstance(layer, Head):
            continue
        head_act, head_last = output_layer(layer.body)
        if head_act != act:
            ctx.error("E306", f"head `{layer.name}` ends with {head_act} but the main output "
                      f"with {act}; both are trained with {loss}",
                      getattr(head_last, "span", None) or layer.span,
                      label=f"needs {act} here",
                      notes=[f"the main output is {_describe_layer(last)} on "
                             f"{_line(getattr(last, 'span', None))}"] if last else [],
                      hints=[f"end the head with the main output's activation ({act})"])


def _metric_rules(ctx: Ctx, train: ir.Train, target, blocks: dict[str, Block],
                  model: ir.Model | None = None) -> None:
    regression_data = target is not None and target[0] == "regression"
    # a regression loss trains a classifier when the output gives classes (ir.task_of)
    classes_out = model is None or ir.task_of(model, train) != "regression"
    for metric in train.metrics:
        span = _metric_span(blocks, metric.kind) or train.span
        if metric.task == "classification" and regression_data:
            ctx.error("E307", f"{metric.kind} needs class labels, but the data has continuous "
                      "targets", span, label="classification metric",
                      hints=["use mae, mse, rmse or r2 for regression"])
        elif metric.task == "classification" and not classes_out:
            assert model is not None
            act, last = output_layer(model)
            ctx.error("E307", f"{metric.kind} needs predicted classes, but the model ends with "
                      f"{_describe_layer(last) if last else 'its input'} ({act} outputs) and "
                      f"the loss {train.loss.kind} is a regression loss", span,
                      label="classification metric",
                      notes=[f"the last layer is on {_line(getattr(last, 'span', None))}"],
                      hints=["for two classes end with `dense 1 sigmoid` (a class is "
                             "p >= 0.5; binary_crossentropy trains it best); for K classes "
                             "`dense K softmax` with categorical_crossentropy; for regression "
                             "use mae, mse, rmse or r2"])
        elif metric.kind in ("perplexity", "top5_accuracy") and model is not None and \
                output_layer(model)[0] != "softmax":
            act, last = output_layer(model)
            ctx.error("E314", f"{metric.kind} reads class probabilities, but the model ends "
                      f"with {act} outputs", span, label="needs softmax outputs",
                      notes=[f"the last layer is {_describe_layer(last)} on "
                             f"{_line(getattr(last, 'span', None))}"] if last else [],
                      hints=["end the model with `dense K softmax` (K classes)"])
        elif metric.task == "regression" and train.loss.task == "classification":
            ctx.error("E307", f"{metric.kind} is a regression metric but the loss "
                      f"{train.loss.kind} trains a classifier", span,
                      label="regression metric",
                      hints=["use accuracy, precision, recall or f1 for classification"])


def _metric_span(blocks: dict[str, Block], kind: str) -> Span | None:
    st = find(blocks.get("train"), "metrics")
    for a in all_args(st) if st else ():
        name = a.name if isinstance(a, Call) else a
        if getattr(name, "value", None) == kind:
            return a.span
    return None


def train_rules(ctx: Ctx, train: ir.Train, data: ir.Data | None,
                blocks: dict[str, Block], *, monitors: bool = True,
                failed: set[str] = frozenset()) -> ir.Train:  # type: ignore[assignment]
    """Warnings and limits on the train block; returns it with its monitors resolved
    (monitors=False skips the monitor checks, when the metrics they may name are unknown;
    `failed`: options already reported, whose defaults must not be judged)."""
    opt_st = find(blocks.get("train"), "optimizer")
    opt_args = all_args(opt_st) if opt_st else ()
    lr = getattr(train.optimizer, "lr", 0.0)
    if lr > 1:
        span = option_span(opt_args[0].args, "lr") if opt_args and isinstance(
            opt_args[0], Call) else None
        span = span or option_span(opt_args, "lr") or train.optimizer.span or train.span
        ctx.warning("W101", f"learning rate {lr:g} is above 1; training usually diverges",
                    span, label="large learning rate", hints=["try 0.1 or less"])
    if isinstance(train.schedule, OneCycle) and train.schedule.max_lr > 1:
        ctx.warning("W101", f"one_cycle max_lr {train.schedule.max_lr} is above 1",
                    train.schedule.span, label="large learning rate")
    if (train.warmup is not None and train.warmup.epochs >= train.epochs
            and not failed & {"epochs", "warmup", "schedule"}):
        ctx.error("E408", f"warmup lasts {train.warmup.epochs} epochs but training has only "
                  f"{train.epochs}", train.warmup.span, label="too long",
                  hints=[f"use fewer warmup epochs or more than {train.warmup.epochs} epochs"])
    return _monitors(ctx, train, data, blocks) if monitors else train


def _monitors(ctx: Ctx, train: ir.Train, data: ir.Data | None,
              blocks: dict[str, Block]) -> ir.Train:
    names = ["loss", "val_loss"]
    for m in train.metrics:
        names += [m.kind, "val_" + m.kind]
    has_val = None if data is None else (data.split.validation > 0 or
                                         data.validation is not None)
    updates = {}
    st = find(blocks.get("train"), "early_stop")
    if train.early_stop is not None and st is not None:
        new = _monitor(ctx, train.early_stop, option_span(all_args(st), "monitor"), names,
                       has_val, "early_stop")
        if new is not None:
            updates["early_stop"] = new
    if isinstance(train.schedule, ReduceOnPlateau):
        sched = find(blocks.get("train"), "schedule")
        call = next((a for a in all_args(sched) if isinstance(a, Call)), None) if sched else None
        span = option_span(call.args, "monitor") if call is not None else None
        new = _monitor(ctx, train.schedule, span, names, has_val, "reduce_on_plateau")
        if new is not None:
            updates["schedule"] = new
    return train.model_copy(update=updates) if updates else train


def _monitor(ctx: Ctx, owner, span: Span | None, names: list[str], has_val: bool | None,
             who: str):
    """Check one monitor; returns the owner with a resolved monitor, or None to keep it."""
    monitor = owner.monitor
    if span is None:  # not written: the default `val_loss`
        if has_val is False:
            ctx.warning("W103", f"{who} watches val_loss by default, but there is no validation "
                        "data: it will watch the training loss", owner.span,
                        label="monitors `loss`",
                        hints=["add `split validation=0.2` to the data block, or write "
                               "`monitor=loss` to silence this"])
            return owner.model_copy(update={"monitor": "loss"})
        return None
    if monitor not in names:
        # Without validation data a `val_` monitor is an error too: not offered as a fix.
        hint, fixes = did_you_mean(monitor, names, span, taken=[
            n for n in names if n.startswith("val_")] if has_val is False else [])
        ctx.error("E215", f"unknown monitor `{monitor}`", span, label="not a monitor",
                  hints=[hint], fixes=fixes)
    elif monitor.startswith("val_") and has_val is False:
        ctx.error("E407", f"{who} monitors `{monitor}` but there is no validation data", span,
                  label="needs a validation split",
                  hints=["add `split validation=0.2` (or a `validation` source) to the data "
                         f"block, or monitor `{monitor.removeprefix('val_')}`"])
    elif not monitor.startswith("val_") and who == "early_stop":
        ctx.warning("W102", f"early stopping on the training {monitor}: it keeps improving "
                    "while the model overfits", span, label="training metric",
                    hints=[f"monitor `val_{monitor}` with a validation split"])
    return None


def data_train_rules(ctx: Ctx, data: ir.Data, train: ir.Train,
                     blocks: dict[str, Block]) -> None:
    src = data.source
    samples = getattr(src, "samples", None)
    if samples is None or not isinstance(train.batch, int) or data.validation is not None:
        return
    n_train = int(samples * (1 - data.split.validation - data.split.test))
    if train.batch > n_train:
        what = "no batch is left per epoch (drop_last)" if train.drop_last else \
            "every step is one full batch"
        ctx.warning("W105", f"batch {train.batch} is larger than the training set "
                    f"({n_train} samples): {what}", _batch_span(train, blocks),
                    label="larger than the data",
                    hints=["use `batch full` to say so, or a smaller batch"])


def _batch_span(train: ir.Train, blocks: dict[str, Block]) -> Span | None:
    st = find(blocks.get("train"), "batch")
    return all_args(st)[0].span if st is not None and all_args(st) else train.span


def output_rules(ctx: Ctx, output: ir.Output, train: ir.Train | None,
                 blocks: dict[str, Block]) -> None:
    """W105 when `checkpoint` says something that will not happen as written: a checkpoint is
    always written at the end (and on interruption or early stop), so an interval longer than
    training leaves only that one; without the `checkpoint` artifact there are no periodic
    ones at all."""
    st = find(blocks.get("output"), "checkpoint")
    if st is None:
        return
    if "checkpoint" not in output.artifacts:
        ctx.warning("W105", "`artifacts` leaves out `checkpoint`, so no periodic checkpoint "
                    "will be written (one is still written on interruption, to resume)",
                    st.span, label="no effect", hints=["add `checkpoint` to `artifacts`"])
    elif train is not None and (output.checkpoint_every or 0) > train.epochs:
        ctx.warning("W105", f"checkpoint every {output.checkpoint_every} epochs, but training "
                    f"has {train.epochs}: the only checkpoint is the one written at the end",
                    st.span, label="longer than training")

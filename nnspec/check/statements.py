"""check.statements: the statements each block accepts (for dispatch, docs and completion).

The table is the one place that lists the language's statements: the block checkers
dispatch on it (an unknown keyword gets a did-you-mean from it), and docgen and editor
completion read it. The options of op-valued statements come from the op registry.
"""

from __future__ import annotations

from dataclasses import dataclass

from nnspec.check.context import Ctx, show
from nnspec.diagnostics import Span
from nnspec.syntax import Block, Call, ListValue, Name, Number, Option, Statement, String


@dataclass(frozen=True)
class StatementDoc:
    keyword: str
    syntax: str
    doc: str
    repeat: bool = False  # may appear more than once


BLOCKS: dict[str, list[StatementDoc]] = {
    "model": [
        StatementDoc("input", "input N | input C H W | input N tokens", "the shape of one "
                     "sample: N features, C x H x W values, or N token ids for an `embedding` "
                     "(required)"),
        StatementDoc("init", 'init from "weights.npz"',
                     "start from saved weights (keys layers.<i>.weight / .bias)"),
        StatementDoc("dense", "dense UNITS [ACTIVATION] [init=INIT] [bias=BOOL] "
                     "[bias_init=INIT]", "a fully connected layer", repeat=True),
        StatementDoc("dropout", "dropout RATE", "zero a fraction of the features while "
                     "training", repeat=True),
        StatementDoc("batchnorm", "batchnorm [momentum=F] [eps=F] [affine=BOOL]",
                     "batch normalization per feature (per channel of an image)", repeat=True),
        StatementDoc("activation", "activation ACTIVATION", "a standalone activation",
                     repeat=True),
        StatementDoc("flatten", "flatten", "a (C, H, W) sample as one flat row of features",
                     repeat=True),
        StatementDoc("conv2d", "conv2d FILTERS KERNEL [ACTIVATION] [stride=S] "
                     "[padding=same|valid|P] [dilation=D] [bias=BOOL] [init=INIT] "
                     "[bias_init=INIT]", "a 2-D convolution of a (C, H, W) image; KERNEL, S, "
                     "P, D: an integer or [h, w]", repeat=True),
        StatementDoc("maxpool", "maxpool KERNEL [stride=S] [padding=P]",
                     "the maximum of each window, per channel (stride: the kernel size)",
                     repeat=True),
        StatementDoc("avgpool", "avgpool KERNEL [stride=S] [padding=P]",
                     "the mean of each window, per channel (stride: the kernel size)",
                     repeat=True),
        StatementDoc("global_avgpool", "global_avgpool", "the mean of each channel: "
                     "(C, H, W) -> (C,)", repeat=True),
        StatementDoc("embedding", "embedding DIM [vocab=K] [init=INIT]", "a learned vector "
                     "per token id: (T,) ids -> (T, DIM); the first layer", repeat=True),
        StatementDoc("concat", "concat { branch { LAYERS } branch { LAYERS } ... }",
                     "parallel branches reading the same input, outputs joined", repeat=True),
        StatementDoc("add", "add { branch { LAYERS } branch { LAYERS } ... }",
                     "parallel branches reading the same input, outputs summed", repeat=True),
        StatementDoc("residual", "residual { LAYERS }", "x + f(x): the body's output added to "
                     "its input", repeat=True),
        StatementDoc("head", "head NAME [weight=F] { LAYERS }", "an auxiliary output trained "
                     "on the same target, its loss added with this weight", repeat=True),
    ],
    "data": [
        StatementDoc("source", "source SOURCE", "the training data, e.g. "
                     '`csv("iris.csv", target=species)` or `moons(samples=500)` (required)'),
        StatementDoc("split", "split validation=F, test=F, stratify=BOOL, seed=N",
                     "hold out random fractions of the source for validation and test"),
        StatementDoc("standardize", "standardize", "scale features to zero mean and unit "
                     "variance (fitted on the training split)"),
        StatementDoc("normalize", "normalize", "scale features to [0, 1] (fitted on the "
                     "training split)"),
        StatementDoc("validation", "validation SOURCE", "a separate validation set"),
        StatementDoc("test", "test SOURCE", "a separate test set"),
    ],
    "train": [
        StatementDoc("loss", "loss LOSS", "the objective, e.g. `mse` or "
                     "`categorical_crossentropy(label_smoothing=0.1)` (required)"),
        StatementDoc("optimizer", "optimizer OPTIMIZER", "the update rule, e.g. "
                     "`adam(lr=0.001)` (default sgd)"),
        StatementDoc("schedule", "schedule SCHEDULE | schedule warmup(...) then SCHEDULE",
                     "learning rate per epoch (default constant); a lone `warmup(...)` means "
                     "warmup, then constant"),
        StatementDoc("clip", "clip norm=F value=F", "gradient clipping (also `clip(norm=F)`)"),
        StatementDoc("epochs", "epochs N", "passes over the training data"),
        StatementDoc("batch", "batch N | batch full", "samples per gradient step"),
        StatementDoc("shuffle", "shuffle BOOL", "reshuffle the training data every epoch"),
        StatementDoc("drop_last", "drop_last BOOL", "skip the last, smaller batch"),
        StatementDoc("dtype", "dtype float32 | float64", "floating-point precision"),
        StatementDoc("seed", "seed N", "seed of every random choice"),
        StatementDoc("device", "device cpu | cuda | auto", "where to train"),
        StatementDoc("early_stop", "early_stop(monitor=val_loss, patience=10, ...)",
                     "stop when a monitor stops improving (also `early_stop patience=10`)"),
        StatementDoc("metrics", "metrics NAME, NAME(options), ...", "reported every epoch"),
    ],
    "output": [
        StatementDoc("dir", 'dir "runs/name"', "the run directory"),
        StatementDoc("checkpoint", "checkpoint every=N | seconds=S | off",
                     "periodic checkpoints: every N epochs, at most one per S seconds, or "
                     "none (one is always written at the end and on interruption)"),
        StatementDoc("artifacts", "artifacts NAME, ...", "files written to the run directory: "
                     "weights, history, metrics, curves, checkpoint"),
        StatementDoc("trajectory", "trajectory [every=N]", "record the parameters every N "
                     "optimizer steps (default 1) into trajectory.npz, for `nnspec paths` "
                     "and `nnspec landscape`"),
    ],
    # `nnspec sweep` runs the spec once per point (nnspec/sweep/); `nnspec run` ignores it
    "sweep": [
        StatementDoc("grid", "grid PATH = [VALUE, ...]", "try every value of a setting "
                     "(PATH as `--set` takes it, e.g. `train.optimizer.lr`); several grids "
                     "give every combination", repeat=True),
        StatementDoc("random", "random PATH = uniform(LOW, HIGH) | loguniform(LOW, HIGH) | "
                     "choice(VALUE, ...)", "draw a setting at random for each of `trials` "
                     "points (seeded: a rerun draws the same)", repeat=True),
        StatementDoc("trials", "trials N", "random points drawn per grid point (default 8 "
                     "with `random`)"),
        StatementDoc("seeds", "seeds K", "run every point with K seeds (train.seed, +1, ...): "
                     "the pictures show mean and spread"),
        StatementDoc("parallel", "parallel P", "trials run at once (default: the CPU cores)"),
        StatementDoc("metric", "metric NAME", "what ranks the trials and is drawn against "
                     "the setting (default val_loss, or loss without validation data)"),
    ],
}


def keywords(block: str) -> list[str]:
    return [s.keyword for s in BLOCKS[block]]


def all_args(st: Statement) -> tuple:
    """`early_stop(patience=5)` and `early_stop patience=5` mean the same."""
    return (*(st.call_args or ()), *st.args)


def first_line(span: Span | None) -> str:
    return f"line {span.line}" if span is not None else "earlier"


class Seen:
    """Reports a statement given twice in one block (E213)."""

    def __init__(self, ctx: Ctx, block: str) -> None:
        self.ctx, self.block, self.first = ctx, block, {}  # type: dict[str, Statement]

    def once(self, st: Statement, slot: str | None = None) -> bool:
        slot = slot or st.keyword.value
        prev = self.first.get(slot)
        if prev is None:
            self.first[slot] = st
            return True
        same = prev.keyword.value == st.keyword.value
        what = f"`{st.keyword.value}` is given twice" if same else \
            f"`{st.keyword.value}` conflicts with `{prev.keyword.value}`"
        self.ctx.error("E213", f"{what} in the `{self.block}` block", st.keyword.span,
                       label="already set", notes=[f"first set on {first_line(prev.span)}"])
        return False


def single_value(ctx: Ctx, st: Statement, what: str = "a value") -> object | None:
    """The one value of `epochs 10`, `dtype float64`...; None after reporting."""
    args = all_args(st)
    kw = st.keyword.value
    values = [a for a in args if not isinstance(a, Option)]
    for a in args:
        if isinstance(a, Option):
            ctx.error("E211", f"`{kw}` takes no options, found `{a.key.value}=`", a.key.span,
                      label="unexpected option", hints=[f"write `{kw} VALUE`"])
            return None
    if not values:
        ctx.error("E303", f"`{kw}` needs {what}", st.keyword.span, label=f"expected {what}")
        return None
    if len(values) > 1:
        extra = values[1].span.cover(values[-1].span)  # type: ignore[attr-defined]
        ctx.error("E304", f"`{kw}` takes one value, found {len(values)}", extra,
                  label="unexpected", hints=[f"write `{kw} {_text(values[0])}`"])
        return None
    return values[0]


def no_args(ctx: Ctx, st: Statement) -> bool:
    args = all_args(st)
    if args:
        span = args[0].span.cover(args[-1].span)
        ctx.error("E304", f"`{st.keyword.value}` takes no values, found {show(args[0])}", span,
                  label="unexpected")
        return False
    return True


def _text(node: object) -> str:
    if isinstance(node, (Name, String, Number)):
        return show(node).strip("`")
    if isinstance(node, Call):
        return node.name.value + "(...)"
    if isinstance(node, ListValue):
        return "[...]"
    return "..."


def find(block: Block | None, keyword: str) -> Statement | None:
    if block is None:
        return None
    return next((s for s in block.statements if s.keyword.value == keyword), None)


def option_span(args: tuple, key: str) -> Span | None:
    """The value span of `key=...` among args (nested calls are not searched)."""
    for a in args:
        if isinstance(a, Option) and a.key.value == key:
            return a.value.span
    return None


def scalar(ctx: Ctx, cls: type, key: str, st: Statement, given: dict, failed: set[str],
           what: str = "a value") -> None:
    """`epochs 10` -> given["epochs"], converted for the IR field (validated later)."""
    from nnspec.check.options import FAIL, convert, options

    node = single_value(ctx, st, what)
    value = FAIL if node is None else convert(ctx, key, key, options(cls)[key], node)
    if value is FAIL:
        failed.add(key)
    else:
        given[key] = (value, node.span, node)  # type: ignore[union-attr]

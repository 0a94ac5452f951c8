"""check.missing: a missing block or statement -> its minimal form as a Fix (an insertion).

Built beside the diagnostic that reports what is missing (check/__init__, check/model,
check/train), from what the checker already knows (the model's output, what a data source
declares), never from the hint's text. A fix is offered only where the form is determined:
preferred when it is the one right form, a guess (not preferred: offered in the editor,
applied by `nnspec check --fix` only with `--guesses`) where it is the likely one.
"""

from __future__ import annotations

from typing import Any

from nnspec import ir
from nnspec.diagnostics import Fix, Span
from nnspec.syntax import Block

INDENT = "    "  # as `nnspec fmt` writes it


def point(line: int, col: int, offset: int) -> Span:
    """A zero-width span: the fix inserts there."""
    return Span(line=line, col=col, end_line=line, end_col=col, start=offset, end=offset)


def after(span: Span) -> Span:
    return point(span.end_line, span.end_col, span.end)


def before(span: Span) -> Span:
    return point(span.line, span.col, span.start)


def first_statement(block: Block, statement: str, title: str, preferred: bool = True
                    ) -> Fix | None:
    """Insert `statement` as the first statement of `block` (on its own line)."""
    open_, close = block.open_brace, block.close_brace
    if open_ is None:
        return None
    if not block.statements and close is not None and close.line == open_.line:
        # `train {}`: the braces on one line (nothing else fits between them but spaces)
        span = Span(line=open_.end_line, col=open_.end_col, end_line=close.line,
                    end_col=close.col, start=open_.end, end=close.start)
        return Fix(span=span, replacement=f"\n{INDENT}{statement}\n", title=title,
                   preferred=preferred)
    return Fix(span=after(open_), replacement=f"\n{INDENT}{statement}", title=title,
               preferred=preferred)


def fitting_loss(model: ir.Model | None, data: ir.Data | None,
                 metrics: tuple = ()) -> tuple[str, bool] | None:
    """The loss for the model's output: (name, preferred), or None when none is clear.

    sigmoid -> binary_crossentropy, softmax or log_softmax over 2+ units ->
    categorical_crossentropy, a linear output -> mse: the one right form, unless what the data
    source declares or a metric says otherwise (then none). Another activation at the output
    (relu, tanh, ...) reads as regression: mse, as a guess."""
    from nnspec.check.rules import CLASSIFICATION_OUT, output_layer

    if model is None or not model.layers:
        return None
    act, _ = output_layer(model)
    units = ir.layer_shapes(model)[-1][1]
    target = data.source.declared_target() if data is not None else None
    task = target[0] if target is not None else None
    tasks = {getattr(m, "task", None) for m in metrics}
    if act == "sigmoid":
        loss, fits, preferred = "binary_crossentropy", task in (None, "binary"), True
    elif act in CLASSIFICATION_OUT:
        loss, fits, preferred = ("categorical_crossentropy",
                                 units >= 2 and task in (None, "binary", "multiclass"), True)
    else:
        loss, fits, preferred = "mse", task in (None, "regression"), act == "linear"
    if not fits:
        return None
    if loss != "mse" and "regression" in tasks:
        return None  # a regression metric: the loss must be a regression one (E307)
    return loss, preferred


def loss_statement(block: Block, model: ir.Model | None, data: ir.Data | None,
                   metrics: tuple = ()) -> Fix | None:
    """`loss NAME` for a train block without one."""
    found = fitting_loss(model, data, metrics)
    if found is None:
        return None
    loss, preferred = found
    return first_statement(block, f"loss {loss}", f"add `loss {loss}`", preferred)


def input_statement(block: Block, data: ir.Data | None) -> Fix | None:
    """`input N` (or `input C H W`) for a model block without one, as the data source
    declares it."""
    if data is None:
        return None
    shape = data.source.declared_shape()
    if shape is None:
        return None
    dims = " ".join(map(str, shape))
    if data.source.declared_vocab() is not None:  # token ids (text(...))
        dims += " tokens"
    return first_statement(block, f"input {dims}", f"add `input {dims}` (as "
                           f"`{data.source.kind}` declares)")


def train_block(blocks: dict[str, Block], model: ir.Model | None,
                data: ir.Data | None) -> Fix | None:
    """`train { loss NAME }` after the model (and data) block."""
    found = fitting_loss(model, data)
    anchor = [b for kind, b in blocks.items() if kind in ("model", "data")]
    if found is None or not anchor:
        return None
    loss, preferred = found
    last = max(anchor, key=lambda b: b.span.end)
    return Fix(span=after(last.span), replacement=f"\n\ntrain {{\n{INDENT}loss {loss}\n}}",
               title=f"add a `train` block with `loss {loss}`", preferred=preferred)


def model_block(blocks: dict[str, Block], data: ir.Data | None, loss: Any,
                has_train: bool) -> Fix | None:
    """A minimal `model` block, from what the data source declares: its features in, one
    output layer that fits its target (and the loss, when there is one). Always a guess: the
    layers between are the user's to write. None while a `train` block has no loss that
    checked (the output layer must fit it)."""
    if data is None or not blocks or (has_train and loss is None):
        return None
    shape, target = data.source.declared_shape(), data.source.declared_target()
    if shape is None or target is None:
        return None
    n = " ".join(map(str, shape))
    flat = f"{INDENT}flatten\n" if len(shape) > 1 else ""  # images: a dense takes flat rows
    task, k = target
    kind = getattr(loss, "kind", None)
    if task == "regression" and kind in (None, "mse", "rmse", "mae", "huber"):
        out = f"dense {k}"
    elif task == "binary" and kind in (None, "binary_crossentropy"):
        out = "dense 1 sigmoid"
    elif task in ("binary", "multiclass") and kind == "categorical_crossentropy":
        out = f"dense {k} softmax"
    elif task == "multiclass" and kind is None:
        out = f"dense {k} softmax"
    else:
        return None
    first = min(blocks.values(), key=lambda b: b.span.start)
    return Fix(span=before(first.span),
               replacement=f"model m {{\n{INDENT}input {n}\n{flat}{INDENT}{out}\n}}\n\n",
               title=f"add a minimal `model` block (input {n}, "
               f"{flat.strip() + ', ' if flat else ''}{out})", preferred=False)

"""check: syntax.Document -> ir.Spec + diagnostics.

`check()` judges every name, option, value and shape of a parsed document and reports all
problems at once, sorted by position. It returns a Spec only when there is no error
(warnings are allowed). Layout: `options` builds any op from its arguments generically,
`model`/`data`/`train`/`output` check one block each, `rules` the facts that span blocks.
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass

from nnspec import ir
from nnspec.bugs import internal_error
from nnspec.check import missing as missing_fix
from nnspec.check.context import Ctx
from nnspec.check.data import check_data
from nnspec.check.model import check_model
from nnspec.check.output import check_output, trajectory_rules
from nnspec.check.rules import (
    data_train_rules,
    embedding_rules,
    loss_rules,
    model_rules,
    output_rules,
    shape_rules,
    train_rules,
)
from nnspec.check.statements import BLOCKS
from nnspec.check.sweep import check_sweep
from nnspec.check.train import check_train
from nnspec.diagnostics import Diagnostic, sort_key
from nnspec.syntax import Block, Document

__all__ = ["BLOCKS", "Parts", "check"]

REQUIRED = ("model", "train")  # `data` is required only by `run` (see pipeline.diagnose)


@dataclass
class Parts:
    """What checked, block by block, even when the whole did not: the data block (built
    without what failed, when its source is good), the model's input size, its output units
    (of a model that checked clean) and the loss (of a train block whose loss checked). The
    data stage judges the data files against these (pipeline.diagnose)."""

    data: ir.Data | None = None
    n_inputs: int | None = None
    n_outputs: int | None = None
    loss: object | None = None
    task: str | None = None  # binary | multiclass | regression, as ir.task_of; None: unknown
    sweep: object | None = None  # the `sweep` block's sweep.spec.Sweep, when it checked


def check(doc: Document, parts: Parts | None = None) -> tuple[ir.Spec | None, list[Diagnostic]]:
    """Never raises: a bug in the checker becomes an E502 diagnostic, not a traceback.
    `parts`, when given, is filled with what checked (see Parts)."""
    ctx = Ctx(doc.path)
    try:
        spec = _check(ctx, doc, parts if parts is not None else Parts())
    except Exception as exc:  # noqa: BLE001  (the contract is: diagnostics only)
        ctx.diagnostics.append(internal_error(
            "check", f"internal error in the checker: {type(exc).__name__}: {exc}", exc,
            path=ctx.path, hints=["this is a bug in nnspec; please report it with the spec file"]))
        spec = None
        if parts is not None:  # what a failed checker filled in is not to be trusted
            parts.data = parts.loss = parts.n_inputs = parts.n_outputs = parts.task = None
            parts.sweep = None
    diags = sorted(ctx.diagnostics, key=sort_key)
    return (None if ctx.failed else spec), diags


def _check(ctx: Ctx, doc: Document, parts: Parts) -> ir.Spec | None:
    blocks: dict[str, Block] = {}
    for block in doc.blocks:
        kind = block.kind.value
        if kind not in BLOCKS:
            ctx.unknown("E201", "block", kind, block.kind.span, BLOCKS, label="not a block",
                        taken=[b.kind.value for b in doc.blocks])
        elif kind in blocks:
            ctx.error("E212", f"duplicate `{kind}` block", block.kind.span,
                      label="second block", notes=[f"the first is on line "
                                                   f"{blocks[kind].kind.span.line}"],
                      hints=["merge the two blocks"])
        else:
            if kind != "model" and block.name is not None:
                ctx.error("E304", f"the `{kind}` block takes no name, found `{block.name.value}`",
                          block.name.span, label="unexpected name")
            blocks[kind] = block
    # data first: what its source declares completes a model block without `input`. A fix
    # that completes something missing is built only from blocks that checked without error.
    errors = ctx.error_count
    data, data_failed = check_data(ctx, blocks["data"]) if "data" in blocks else (None, set())
    sure_data = data if ctx.error_count == errors else None
    errors = ctx.error_count
    model = check_model(ctx, blocks["model"], sure_data) if "model" in blocks else None
    sure_model = model if ctx.error_count == errors else None
    errors = ctx.error_count
    train, train_failed = (check_train(ctx, blocks["train"], sure_model, sure_data)
                           if "train" in blocks else (None, set()))
    train_ok = ctx.error_count == errors
    parts.data = data
    if model is not None and model.input:
        parts.n_inputs = model.features
    if sure_model is not None:
        parts.n_outputs = (ir.layer_shapes(sure_model)[-1][1] if sure_model.layers
                           else sure_model.features)  # as data.load.n_outputs_of
    if train is not None and "loss" not in train_failed:
        parts.loss = train.loss
        parts.task = _task(sure_model, train, train_failed)
    for kind in REQUIRED:
        if kind not in blocks:
            if kind == "train":
                fix = missing_fix.train_block(blocks, sure_model, sure_data)
            else:
                fix = missing_fix.model_block(blocks, sure_data, train.loss if train_ok and
                                              train is not None else None, "train" in blocks)
            ctx.error("E308", f"missing `{kind}` block", None,
                      hints=[f"add `{kind} {{ ... }}`: " + _EXAMPLE[kind]],
                      fixes=[fix] if fix is not None else [])
    output = check_output(ctx, blocks["output"]) if "output" in blocks else ir.Output()
    if model is not None:
        model_rules(ctx, model)
        filled = embedding_rules(ctx, model, data, blocks)
        if filled is None:
            sure_model = None  # it cannot be lowered
        else:  # the vocabulary size taken from the data
            model = filled
            sure_model = filled if sure_model is not None else None
        if data is not None:
            shape_rules(ctx, model, data, blocks)
    # A block with mistakes is checked against the others without what failed (it fell back
    # to its default): every rule that reads a failed part is skipped, so that no error
    # follows from another one (a failed `split` says nothing about validation data).
    split_data = data if not data_failed & {"split", "validation"} else None
    if train is not None:
        # the last layer of a model with a mistake may be a fallback (`dense 1 sigmod`
        # reads as linear): the loss is judged against a model that checked clean only
        loss_rules(ctx, sure_model, data, train, blocks)
        # with a failed `metrics` statement every monitor check would be a follow-on error
        train = train_rules(ctx, train, split_data, blocks,
                            monitors="metrics" not in train_failed, failed=train_failed)
        if split_data is not None and not train_failed & {"batch", "drop_last"}:
            data_train_rules(ctx, split_data, train, blocks)
    if output is not None and "output" in blocks:
        output_rules(ctx, output, None if "epochs" in train_failed else train, blocks)
        if sure_model is not None:
            trajectory_rules(ctx, output, sure_model, blocks)
    if ctx.failed or model is None or train is None or output is None:
        if "sweep" in blocks:  # its form only: its paths need a spec that checked
            check_sweep(ctx, blocks["sweep"], None)
        return None
    spec = ir.Spec(path=doc.path, model=model, data=data, train=train, output=output,
                   span=doc.span)
    if "sweep" in blocks:
        parts.sweep = check_sweep(ctx, blocks["sweep"], spec)
        if ctx.failed:
            return None
    return spec


_EXAMPLE = {"model": "`input N` and layers such as `dense 1`",
            "train": "at least `loss mse` (or another loss)"}


class _CheckPackage(types.ModuleType):
    """This package is also the public `nnspec.check(path)` (nnspec/api.py): once imported,
    a subpackage shadows the same name at the package root, so the package itself is made
    callable and forwards to the API; `nnspec.check.check(document)` is unchanged."""

    def __call__(self, path: object) -> list[Diagnostic]:
        from nnspec.api import check as check_file

        return check_file(path)  # type: ignore[arg-type]


sys.modules[__name__].__class__ = _CheckPackage


def _task(model: ir.Model | None, train: ir.Train, failed: set[str]) -> str | None:
    """The task as run decides it (ir.task_of), where what it depends on checked: a
    regression loss trains a classifier when classification metrics meet a sigmoid or
    softmax output, so then it needs the model; unknown (None) when that did not check."""
    if train.loss.task == "classification":
        return "binary" if train.loss.kind == "binary_crossentropy" else "multiclass"
    if "metrics" in failed:
        return None
    if not any(m.task == "classification" for m in train.metrics):
        return "regression"
    return ir.task_of(model, train) if model is not None else None

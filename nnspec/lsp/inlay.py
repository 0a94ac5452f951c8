"""lsp.inlay: an Analysis (+ the last numbers that held) -> inlay hints after layer statements.

After each layer statement of the `model` block, those inside `concat`, `add`, `residual` and
`head` bodies too, an inlay hint shows its output shape and parameter count
(`-> (32,)  160 params`): the numbers of `nnspec.summary.all_rows`, what `nnspec summary`
prints, so the two never disagree.

The numbers come from, in order:
1. the checked Spec, when the whole text checks;
2. the `model` block checked on its own, when no error lies inside it (a typo in the `train`
   block must not blank the shapes while typing);
3. the last numbers that held (`Known`, one per open document), for the statements that are
   still as they were: each row depends only on the input and the statements before it (and,
   for a composite, on its body), so rows are kept up to the first statement that changed,
   less the composites that contain it, and only while `input` is unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lsprotocol import types

from nnspec.diagnostics import Span
from nnspec.lsp.positions import UTF16, line_index
from nnspec.ops import LAYERS
from nnspec.summary import Row

_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Statement:
    """A layer statement of the current text: named as its row, keyed by what its row depends
    on besides the statements before it (its own text; a composite's: its header)."""

    name: str
    kind: str
    key: str
    span: Span


@dataclass(frozen=True)
class Known:
    """The numbers of a version that checked: the input and each row with its key."""

    input: tuple[int, ...]
    rows: tuple[tuple[str, Row], ...]  # (key, row), in all_rows order


def _key(text: str, st: Any) -> str:
    """The statement's text (its header for a composite), spaces collapsed."""
    end = st.open_brace.start if st.body is not None and st.open_brace is not None else st.span.end
    return _SPACE.sub(" ", text[st.span.start:end].strip())


def statements(text: str, block: Any) -> list[Statement]:
    """The layer statements of a `model` block, in `all_rows` order, named as its rows."""
    out: list[Statement] = []

    def chain(sts: Any, prefix: str) -> None:
        k = 0
        for st in sts:
            kw = st.keyword.value
            if kw not in LAYERS:
                continue
            name = f"{prefix}.{k}" if prefix else f"layers.{k}"
            k += 1
            out.append(Statement(name, kw, _key(text, st), st.span))
            if st.body is None:
                continue
            if kw in ("concat", "add"):
                j = 0
                for inner in st.body:
                    if inner.keyword.value == "branch":
                        chain(inner.body or (), f"{name}.branches.{j}")
                        j += 1
            else:
                chain(st.body, f"{name}.body")

    chain(block.statements, "")
    return out


def model_block(document: Any) -> Any:
    if document is None:
        return None
    return next((b for b in document.blocks if b.kind.value == "model"), None)


def input_of(block: Any) -> tuple[int, ...] | None:
    """The dimensions the `input` statement gives, as written (None unless whole numbers)."""
    from nnspec.syntax import Number

    st = next((s for s in block.statements if s.keyword.value == "input"), None)
    if st is None or st.call_args or not st.args:
        return None
    if not all(isinstance(a, Number) and isinstance(a.value, int) for a in st.args):
        return None
    return tuple(int(a.value) for a in st.args)


def current_model(analysis: Any, block: Any) -> Any:
    """The ir.Model of this text: the Spec's, or else the `model` block's checked alone
    (None when it has a mistake of its own, or a syntax error: the parser may have skipped a
    statement there). Errors of other blocks, and those that span blocks (a loss that does
    not fit the output, an input that does not fit the data), leave the shapes as they are."""
    if analysis.spec is not None:
        return analysis.spec.model
    inside = block.span
    for d in analysis.diagnostics:
        if (d.is_error and d.code.startswith("E1") and d.span is not None
                and (d.path is None or d.path == analysis.path)
                and d.span.start <= inside.end and inside.start <= d.span.end):
            return None
    from nnspec.check.context import Ctx
    from nnspec.check.model import check_model

    ctx = Ctx(analysis.path)
    model = check_model(ctx, block)
    return None if ctx.failed else model


def known_of(model: Any, found: list[Statement]) -> Known | None:
    """`model`'s rows keyed by the statements they were computed for (None if they do not
    line up, which would be a bug: the model was built from these statements)."""
    from nnspec.summary import all_rows

    rows = all_rows(model)
    if [(r.name, r.kind) for r in rows] != [(s.name, s.kind) for s in found]:
        return None
    return Known(tuple(model.input), tuple((s.key, r) for s, r in zip(found, rows, strict=True)))


def still_true(known: Known, found: list[Statement], input_now: tuple[int, ...] | None
               ) -> Iterator[tuple[Statement, Row]]:
    """The rows of `known` that still hold for the statements `found` now (see the module
    docstring): the common prefix, less the composites around the first difference."""
    if input_now != known.input:
        return
    pairs = []
    for st, (key, row) in zip(found, known.rows, strict=False):
        if (st.name, st.kind, st.key) != (row.name, row.kind, key):
            break
        pairs.append((st, row))
    m = len(pairs)
    if m < max(len(found), len(known.rows)):
        changed = found[m].name if m < len(found) else known.rows[m][1].name
        pairs = [(s, r) for s, r in pairs if not changed.startswith(s.name + ".")]
    yield from pairs


def label(row: Row) -> str:
    from nnspec.ops.layers import show_shape

    shape = f"-> {show_shape(row.shape)}"
    if row.params == 0:
        return shape
    return f"{shape}  {row.params:,} param{'s' if row.params != 1 else ''}"


def tooltip(row: Row, stale: bool) -> str:
    from nnspec.ops.layers import show_shape

    out = (f"{row.layer}: input {show_shape(row.in_shape)} -> output {show_shape(row.shape)}, "
           f"{row.params:,} parameters, {row.flops:,} FLOPs per sample (as `nnspec summary`)")
    if stale:
        out += "; from the last version that checked"
    return out


def hints(text: str, pairs: list[tuple[Statement, Row]], at: types.Range, stale: bool,
          encoding: str = UTF16) -> list[types.InlayHint]:
    """One hint at the end of each statement inside `at`."""
    index = line_index(text)
    out = []
    for st, row in pairs:
        offset = index.offset_of_span_start(st.span.end_line, st.span.end_col)
        pos = index.position(offset, encoding)
        if not (at.start.line, at.start.character) <= (pos.line, pos.character) <= (
                at.end.line, at.end.character):
            continue
        out.append(types.InlayHint(position=pos, label=label(row), padding_left=True,
                                   tooltip=tooltip(row, stale)))
    return out


def inlay_hints(analysis: Any, last: Known | None, at: types.Range, encoding: str = UTF16
                ) -> tuple[list[types.InlayHint], Known | None]:
    """The hints of the text in `analysis` within `at`, and the Known to keep for it (the
    new one when this text's model checks, `last` otherwise)."""
    block = model_block(analysis.document)
    if block is None:
        return [], last
    found = statements(analysis.text, block)
    model = current_model(analysis, block)
    known = known_of(model, found) if model is not None else None
    if known is not None:
        pairs = [(s, r) for s, (_, r) in zip(found, known.rows, strict=True)]
        return hints(analysis.text, pairs, at, False, encoding), known
    if last is None:
        return [], last
    pairs = list(still_true(last, found, input_of(block)))
    return hints(analysis.text, pairs, at, True, encoding), last

"""Test helpers for parse/ and fmt/: independent position arithmetic and a compact tree view."""

from __future__ import annotations

from pydantic import BaseModel

from nnspec.diagnostics import Span
from nnspec.syntax import Call, ListValue, Name, Number, Option, Statement, String


def line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, col) in code points of a 0-based offset, lines ending at "\\n"."""
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def assert_span_ok(text: str, span: Span) -> None:
    assert 0 <= span.start <= span.end <= len(text), span
    assert (span.line, span.col) == line_col(text, span.start), span
    assert (span.end_line, span.end_col) == line_col(text, span.end), span


def all_spans(node) -> list[Span]:
    """Every span in a syntax tree (depth first)."""
    out: list[Span] = []
    if isinstance(node, Span):
        return [node]
    if isinstance(node, BaseModel):
        for name in type(node).model_fields:
            out += all_spans(getattr(node, name))
    elif isinstance(node, (list, tuple)):
        for x in node:
            out += all_spans(x)
    return out


def view(node):
    """A compact, fmt-independent view: Number -> ('num', value, text), Name -> 'str', ...,
    Statement -> (keyword, call args, args, commas[, body])."""
    if isinstance(node, Number):
        return ("num", node.value, node.text)
    if isinstance(node, String):
        return ("str", node.value)
    if isinstance(node, Name):
        return node.value
    if isinstance(node, Call):
        return ("call", node.name.value, [view(a) for a in node.args])
    if isinstance(node, ListValue):
        return ("list", [view(v) for v in node.items])
    if isinstance(node, Option):
        return ("opt", node.key.value, view(node.value))
    if isinstance(node, Statement):
        call = None if node.call_args is None else [view(a) for a in node.call_args]
        out = (node.keyword.value, call, [view(a) for a in node.args], list(node.commas))
        # A statement with a body gets a fifth item: the views of its statements.
        return out if node.body is None else (*out, [view(s) for s in node.body])
    raise TypeError(type(node))

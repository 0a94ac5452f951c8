"""fmt: syntax.Document -> canonical source text (`nnspec fmt`).

The layout: blocks separated by one blank line, a 4-space indent, one statement per line,
`key=value`, `, ` where the user wrote a comma (`Statement.commas`) and a space elsewhere,
numbers exactly as written (`Number.text`), strings re-escaped. Comments are kept: a comment
alone on its line is printed on its own line before the thing that follows it; a comment after
code is printed at the end of that code's line. A comment inside a statement that spans lines
(a call written over several lines) moves to its own line just before the statement, since the
statement is printed on one line. Blank lines between statements collapse to at most one.

`format_source` refuses to reformat a file with syntax errors (it returns None), since a
Document with statements dropped by error recovery would lose the user's text.

Guarantees (tests/fmt/): fmt(fmt(x)) == fmt(x), and parse(fmt(x)) equals parse(x) apart from
positions (`nnspec.parse.strip_spans`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nnspec.diagnostics import Diagnostic, Span, has_errors
from nnspec.parse import parse
from nnspec.syntax import (
    Block,
    Call,
    Comment,
    Document,
    ListValue,
    Name,
    Number,
    Option,
    Statement,
    String,
)

INDENT = "    "
ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def format_string(value: str) -> str:
    out = []
    for ch in value:
        if ch in ESCAPES:
            out.append(ESCAPES[ch])
        elif not ch.isprintable():
            out.append(f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def format_value(node) -> str:
    if isinstance(node, Number):
        return node.text
    if isinstance(node, String):
        return format_string(node.value)
    if isinstance(node, Name):
        return node.value
    if isinstance(node, Call):
        return f"{node.name.value}({', '.join(format_value(a) for a in node.args)})"
    if isinstance(node, ListValue):
        return f"[{', '.join(format_value(v) for v in node.items)}]"
    if isinstance(node, Option):
        return f"{node.key.value}={format_value(node.value)}"
    raise TypeError(f"not a syntax value: {type(node).__name__}")


def format_statement(st: Statement) -> str:
    out = st.keyword.value
    if st.call_args is not None:
        out += f"({', '.join(format_value(a) for a in st.call_args)})"
    for i, arg in enumerate(st.args):
        comma = i > 0 and i - 1 < len(st.commas) and st.commas[i - 1]
        out += (", " if comma else " ") + format_value(arg)
    return out


@dataclass
class _Item:
    """One printed line's worth of source: a block header, a statement, a `}`, or a comment."""

    span: Span  # where it was in the source
    text: str
    trailing: Comment | None = None
    before: list[Comment] = field(default_factory=list)  # comments moved out of its inside


def _comment_line(c: Comment) -> str:
    return "#" + c.text


def _attach(items: list[_Item], comments: list[Comment]) -> list[Comment]:
    """Give each trailing or inner comment to its item; return the comments alone on a line."""
    alone = []
    for c in comments:
        owners = [it for it in items
                  if it.span.end_line == c.span.line and it.span.end <= c.span.start]
        if owners:
            max(owners, key=lambda it: it.span.end).trailing = c
            continue
        inside = [it for it in items if it.span.start < c.span.start < it.span.end]
        if inside:
            inside[-1].before.append(c)
            continue
        alone.append(c)
    return alone


def _block_items(block: Block) -> tuple[_Item, list[_Item], _Item]:
    header_text = block.kind.value + (f" {block.name.value}" if block.name else "") + " {"
    header_span = block.kind.span.cover(block.open_brace)
    close_span = block.close_brace or Span(line=block.span.end_line, col=block.span.end_col,
                                           end_line=block.span.end_line,
                                           end_col=block.span.end_col, start=block.span.end,
                                           end=block.span.end)
    body = [_Item(st.span, format_statement(st)) for st in block.statements]
    return _Item(header_span, header_text), body, _Item(close_span, "}")


def _emit(item: _Item, indent: str, out: list[str]) -> None:
    out.extend(indent + _comment_line(c) for c in item.before)
    line = indent + item.text
    if item.trailing is not None:
        line += "  " + _comment_line(item.trailing)
    out.append(line)


def _gap(prev_end_line: int | None, item: _Item) -> bool:
    """Did the user leave a blank line between the previous thing and this one?"""
    return prev_end_line is not None and item.span.line - prev_end_line > 1


def format_document(doc: Document) -> str:
    """The canonical text of a parsed document (ends with one newline; empty if no content)."""
    blocks = [_block_items(b) for b in doc.blocks]
    all_items = [it for header, body, close in blocks for it in (header, *body, close)]
    alone = _attach(all_items, list(doc.comments))

    # Top level: each block, and the lone comments between blocks.
    out: list[str] = []
    prev_end: int | None = None
    prev_was_block = False
    pending = sorted(alone, key=lambda c: c.span.start)
    for (header, body, close), block in zip(blocks, doc.blocks, strict=True):
        inside = [c for c in pending if block.span.start < c.span.start < block.span.end]
        before = [c for c in pending if c.span.start < block.span.start]
        pending = [c for c in pending if c.span.start > block.span.end]
        for c in before:
            if out and (prev_was_block or c.span.line - (prev_end or 0) > 1):
                out.append("")
            out.append(_comment_line(c))
            prev_end, prev_was_block = c.span.end_line, False
        if out and (prev_was_block or _gap(prev_end, header)):
            out.append("")
        _emit(header, "", out)
        _block_body(header, body, close, inside, out)
        prev_end, prev_was_block = close.span.end_line, True
    for c in pending:
        if out and (prev_was_block or c.span.line - (prev_end or 0) > 1):
            out.append("")
        out.append(_comment_line(c))
        prev_end, prev_was_block = c.span.end_line, False
    return "\n".join(out) + "\n" if out else ""


def _block_body(header: _Item, body: list[_Item], close: _Item, comments: list[Comment],
                out: list[str]) -> None:
    # Lone comments inside the block become items of their own, in source order.
    items = body + [_Item(c.span, _comment_line(c)) for c in comments]
    items.sort(key=lambda it: it.span.start)
    prev_end: int | None = None
    for it in items:
        if _gap(prev_end, it):
            out.append("")
        _emit(it, INDENT, out)
        prev_end = it.span.end_line
    _emit(close, "", out)


def format_source(text: str, path: str | None = None) -> tuple[str | None, list[Diagnostic]]:
    """Canonical text of `text`, or None (with the diagnostics) when it has syntax errors."""
    doc, diagnostics = parse(text, path)
    if has_errors(diagnostics):
        return None, diagnostics
    return format_document(doc), diagnostics

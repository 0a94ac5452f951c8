"""fmt: syntax.Document -> canonical source text (`nnspec fmt`).

The layout: blocks separated by one blank line, a 4-space indent, one statement per line,
`key=value`, `, ` where the user wrote a comma (`Statement.commas`) and a space elsewhere,
numbers exactly as written (`Number.text`), strings re-escaped. Comments are kept: a comment
alone on its line is printed on its own line before the thing that follows it; a comment after
code is printed at the end of that code's line. A comment inside a statement that spans lines
(a call written over several lines) moves to its own line just before the statement, since the
statement is printed on one line. Blank lines between statements collapse to at most one.

A statement's body (`concat { ... }`) is laid out like a block, one level deeper: `{` on the
statement's line, each inner statement on its own line indented 4 spaces more per level, `}`
on its own line at the statement's indentation; so a one-line body is expanded, and a comment
at the end of such a line ends up after its `}`. An empty body prints `{}` (an empty block
prints `{` and `}` on two lines, as before); lone comments between braces stay in the body,
at its depth, where they were.

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
        # a setting's dotted path (`grid train.optimizer.lr = [...]`) reads as an assignment
        eq = " = " if "." in node.key.value else "="
        return f"{node.key.value}{eq}{format_value(node.value)}"
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


@dataclass
class _Node:
    """A block or a statement as printed: its first line, and for braces, the statements
    inside and the `}` (None for a plain statement or a `{}` printed on one line)."""

    head: _Item
    body: list[_Node] = field(default_factory=list)
    close: _Item | None = None
    inner: tuple[int, int] = (0, 0)  # source offsets between the braces: where lone comments
    # there belong to this body

    def items(self) -> list[_Item]:
        out = [self.head]
        for child in self.body:
            out += child.items()
        return out + ([self.close] if self.close is not None else [])


def _comment_line(c: Comment) -> str:
    return "#" + c.text


def _attach(items: list[_Item], comments: list[Comment]) -> list[Comment]:
    """Give each trailing or inner comment to its item; return the comments alone on a line."""
    alone = []
    for c in comments:
        owners = [it for it in items
                  if it.span.end_line == c.span.line and it.span.end <= c.span.start]
        if owners:
            # A line split by fmt (`residual { dense 64; dense 64 }  # x + f(x)`) keeps its
            # comment at its end: after the `}`, as for a one-line block.
            max(owners, key=lambda it: it.span.end).trailing = c
            continue
        inside = [it for it in items if it.span.start < c.span.start < it.span.end]
        if inside:
            inside[-1].before.append(c)
            continue
        alone.append(c)
    return alone


def _point(span: Span) -> Span:
    """An empty span at the end of `span` (where an invented `}` stands)."""
    return Span(line=span.end_line, col=span.end_col, end_line=span.end_line,
                end_col=span.end_col, start=span.end, end=span.end)


def _braced(head_text: str, head_span: Span, whole: Span, statements: tuple[Statement, ...],
            open_brace: Span, close_brace: Span | None, comments: list[Comment]) -> _Node:
    close_span = close_brace or _point(whole)
    inner = (open_brace.end, close_span.start)
    if not statements and not any(inner[0] <= c.span.start < inner[1] for c in comments):
        return _Node(_Item(whole, head_text + "}"))  # `{}`
    head = _Item(head_span, head_text)
    body = [_statement_node(st, comments) for st in statements]
    return _Node(head, body, _Item(close_span, "}"), inner)


def _statement_node(st: Statement, comments: list[Comment]) -> _Node:
    if st.body is None or st.open_brace is None:
        return _Node(_Item(st.span, format_statement(st)))
    return _braced(format_statement(st) + " {", st.keyword.span.cover(st.open_brace), st.span,
                   st.body, st.open_brace, st.close_brace, comments)


def _block_node(block: Block, comments: list[Comment]) -> _Node:
    header_text = block.kind.value + (f" {block.name.value}" if block.name else "") + " {"
    open_brace = block.open_brace or _point(block.span)
    node = _braced(header_text, block.kind.span.cover(open_brace), block.span, block.statements,
                   open_brace, block.close_brace, comments)
    if node.close is None:  # an empty block is printed `data {` / `}` (a body `{}`)
        head = _Item(block.kind.span.cover(open_brace), header_text)
        close = _Item(block.close_brace or _point(block.span), "}")
        node = _Node(head, [], close, (open_brace.end, close.span.start))
    return node


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
    comments = list(doc.comments)
    blocks = [_block_node(b, comments) for b in doc.blocks]
    alone = _attach([it for node in blocks for it in node.items()], comments)

    # Top level: each block, and the lone comments between blocks.
    out: list[str] = []
    prev_end: int | None = None
    prev_was_block = False
    pending = sorted(alone, key=lambda c: c.span.start)
    for node, block in zip(blocks, doc.blocks, strict=True):
        inside = [c for c in pending if block.span.start < c.span.start < block.span.end]
        before = [c for c in pending if c.span.start < block.span.start]
        pending = [c for c in pending if c.span.start > block.span.end]
        for c in before:
            if out and (prev_was_block or c.span.line - (prev_end or 0) > 1):
                out.append("")
            out.append(_comment_line(c))
            prev_end, prev_was_block = c.span.end_line, False
        if out and (prev_was_block or _gap(prev_end, node.head)):
            out.append("")
        _emit_node(node, inside, "", out)
        prev_end, prev_was_block = (node.close or node.head).span.end_line, True
    for c in pending:
        if out and (prev_was_block or c.span.line - (prev_end or 0) > 1):
            out.append("")
        out.append(_comment_line(c))
        prev_end, prev_was_block = c.span.end_line, False
    return "\n".join(out) + "\n" if out else ""


def _emit_node(node: _Node, comments: list[Comment], indent: str, out: list[str]) -> None:
    """Print a node; `comments` are the lone comments inside its braces (at any depth)."""
    _emit(node.head, indent, out)
    if node.close is None:
        return
    # Lone comments between the braces become lines of their own, in source order; those
    # inside a nested body go down with it.
    items: list[tuple[int, _Node | Comment]] = []
    child_comments: dict[int, list[Comment]] = {}
    mine = list(comments)
    for child in node.body:
        lo, hi = child.inner
        theirs = [c for c in mine if child.close is not None and lo <= c.span.start < hi]
        mine = [c for c in mine if c not in theirs]
        items.append((child.head.span.start, child))
        child_comments[id(child)] = theirs
    items += [(c.span.start, c) for c in mine]
    items.sort(key=lambda pair: pair[0])
    prev_end: int | None = None
    for _, thing in items:
        if isinstance(thing, _Node):
            if _gap(prev_end, thing.head):
                out.append("")
            _emit_node(thing, child_comments.pop(id(thing)), indent + INDENT, out)
            prev_end = (thing.close or thing.head).span.end_line
        else:
            lone = _Item(thing.span, _comment_line(thing))
            if _gap(prev_end, lone):
                out.append("")
            _emit(lone, indent + INDENT, out)
            prev_end = thing.span.end_line
    _emit(node.close, indent, out)


def format_source(text: str, path: str | None = None) -> tuple[str | None, list[Diagnostic]]:
    """Canonical text of `text`, or None (with the diagnostics) when it has syntax errors."""
    doc, diagnostics = parse(text, path)
    if has_errors(diagnostics):
        return None, diagnostics
    return format_document(doc), diagnostics

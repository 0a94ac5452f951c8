"""parse: Lark tree -> nnspec.syntax.Document (Lark types never leave parse/).

Spans come from the tokens themselves (line/col in code points, offsets 0-based), so they are
exact even for nodes whose Lark meta would be empty. A `}` the parser had to invent while
recovering from an unclosed block or body has an empty value and becomes `close_brace=None`.
Bodies nest (a statement may end with `{ statements }`); the driver caps their depth at
parser.MAX_NESTING, so the recursion here stays shallow.
"""

from __future__ import annotations

import re
from typing import cast

from lark import Token, Tree

from nnspec.diagnostics import Span
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

INT_TEXT = re.compile(r"[+-]?\d+")
SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "n": "\n", "t": "\t", "r": "\r", "0": "\0"}
HEX_ESCAPES = {"u": 4, "U": 8}


def token_span(tok: Token) -> Span:
    # The lexer sets every position of every token; Lark merely types them Optional.
    return Span(line=cast(int, tok.line), col=cast(int, tok.column),
                end_line=cast(int, tok.end_line), end_col=cast(int, tok.end_column),
                start=cast(int, tok.start_pos), end=cast(int, tok.end_pos))


def unescape(body: str) -> str:
    """The value of a string literal's body. Unknown escapes (`"C:\\data"`) keep their
    backslash, so a Windows path written with single backslashes still means what it says."""
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\" or i + 1 >= len(body):
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in SIMPLE_ESCAPES:
            out.append(SIMPLE_ESCAPES[nxt])
            i += 2
            continue
        width = HEX_ESCAPES.get(nxt, 0)
        digits = body[i + 2:i + 2 + width]
        if width and len(digits) == width and all(c in "0123456789abcdefABCDEF" for c in digits):
            code = int(digits, 16)
            if code <= 0x10FFFF:
                out.append(chr(code))
                i += 2 + width
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def number_value(text: str) -> int | float:
    return int(text) if INT_TEXT.fullmatch(text) else float(text)


def _name(tok: Token) -> Name:
    return Name(span=token_span(tok), value=str(tok))


def _edge_span(children: list, last: bool) -> Span | None:
    """Span of the first (or last) real token under `children`, looking at no other node."""
    for child in reversed(children) if last else children:
        if isinstance(child, Token):
            if child.value:  # an invented `}` is empty and has no place in the source
                return token_span(child)
        else:
            found = _edge_span(child.children, last)
            if found is not None:
                return found
    return None


def _first_last(children: list) -> Span:
    first, last = _edge_span(children, False), _edge_span(children, True)
    assert first is not None  # every rule has at least one real token
    return first.cover(last)


def build_value(node: Tree | Token):
    """A Tree/Token of rule `value`, `arg`, `option`, `call` or `list` -> syntax node."""
    if isinstance(node, Token):
        if node.type == "NUMBER":
            return Number(span=token_span(node), value=number_value(node.value), text=node.value)
        if node.type == "STRING":
            return String(span=token_span(node), value=unescape(node.value[1:-1]))
        return _name(node)
    rule = node.data
    kids = node.children
    if rule in ("value", "arg"):
        return build_value(kids[0])
    if rule == "option":
        key, _eq, value = kids
        assert isinstance(key, Token)
        v = build_value(value)
        return Option(span=token_span(key).cover(v.span), key=_name(key), value=v)
    if rule == "call":
        name, args = kids
        assert isinstance(name, Token) and isinstance(args, Tree)
        items, span = _call_args(args)
        return Call(span=token_span(name).cover(span), name=_name(name), args=items)
    if rule == "list":
        items = tuple(build_value(k) for k in kids if isinstance(k, Tree))
        return ListValue(span=_first_last(kids), items=items)
    raise ValueError(f"unexpected rule {rule!r}")  # a grammar change not mirrored here


def _call_args(tree: Tree) -> tuple[tuple, Span]:
    items = tuple(build_value(k) for k in tree.children if isinstance(k, Tree))
    return items, _first_last(tree.children)


def build_body(tree: Tree) -> tuple[tuple[Statement, ...], Span, Span | None]:
    """A `body` tree -> (its statements, the `{`, the `}` or None when it was invented)."""
    kids = tree.children
    lbrace, rbrace = kids[0], kids[-1]
    assert isinstance(lbrace, Token) and isinstance(rbrace, Token)
    statements = tuple(build_statement(k) for k in kids if isinstance(k, Tree))
    return statements, token_span(lbrace), token_span(rbrace) if rbrace.value else None


def build_statement(tree: Tree) -> Statement:
    kids = list(tree.children)
    keyword = kids.pop(0)
    assert isinstance(keyword, Token)
    call_args = None
    if kids and isinstance(kids[0], Tree) and kids[0].data == "call_args":
        call_args, _ = _call_args(kids.pop(0))
    body = open_brace = close_brace = None
    if kids and isinstance(kids[-1], Tree) and kids[-1].data == "body":
        body, open_brace, close_brace = build_body(kids.pop())
    args: list = []
    commas: list[bool] = []
    for k in kids:
        if isinstance(k, Token) and k.type == "COMMA":
            commas[-1] = True
        else:
            args.append(build_value(k))
            commas.append(False)
    return Statement(span=_first_last(tree.children), keyword=_name(keyword),
                     call_args=call_args, args=tuple(args), commas=tuple(commas), body=body,
                     open_brace=open_brace, close_brace=close_brace)


def build_block(tree: Tree) -> Block:
    kids = tree.children
    names = [k for k in kids if isinstance(k, Token) and k.type == "NAME"]
    body = next(k for k in kids if isinstance(k, Tree))
    statements, open_brace, close_brace = build_body(body)
    return Block(span=_first_last(kids), kind=_name(names[0]),
                 name=_name(names[1]) if len(names) > 1 else None, statements=statements,
                 open_brace=open_brace, close_brace=close_brace)


def build_document(tree: Tree, text: str, path: str | None,
                   comments: list[Comment]) -> Document:
    whole = text_span(text)
    blocks = tuple(build_block(k) for k in tree.children)
    return Document(span=whole, path=path, blocks=blocks, comments=tuple(comments))


def text_span(text: str) -> Span:
    """The span of the whole text."""
    end_line = text.count("\n") + 1
    end_col = len(text) - (text.rfind("\n") + 1) + 1
    return Span(line=1, col=1, end_line=end_line, end_col=end_col, start=0, end=len(text))

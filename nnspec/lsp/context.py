"""lsp.context: source text + cursor offset -> what the cursor is on (block, statement, call).

Completion runs on text that is, by nature, half written and rarely parses, so this is a
tolerant token scan rather than the parser: it tracks braces, statements and parentheses up to
the cursor and says which block, statement keyword, call and option the cursor is in. It never
judges validity (that is check()'s job, reached through diagnose()).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic import BaseModel

from nnspec.lsp import vocab

_TOKEN = re.compile(
    r"""(?P<comment>\#[^\n]*)
      |(?P<string>"(?:[^"\\\n]|\\.)*(?:"|$))
      |(?P<number>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
      |(?P<name>[A-Za-z_][A-Za-z0-9_]*)
      |(?P<newline>\n)
      |(?P<punct>[{}()\[\],=;])
      |(?P<other>[^\s])""",
    re.VERBOSE | re.MULTILINE,
)

_CLOSED_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')


@dataclass(frozen=True)
class Token:
    kind: str  # comment, string, number, name, newline, punct, other
    text: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    return [Token(m.lastgroup or "other", m.group(), m.start(), m.end())
            for m in _TOKEN.finditer(text)]


@dataclass
class Frame:
    """An open `(`: the call it belongs to and the class whose fields are its options."""

    name: str
    cls: type[BaseModel] | None
    stmt: vocab.Statement | None = None
    at: int = 0  # index of the `(` among the statement's tokens


@dataclass
class Context:
    """Where a cursor is.

    where: "top" (a block name may go here), "keyword" (a statement keyword of `block`),
    "arg" (an argument of `keyword`: positional slot `index`, or a `key=` of `cls`),
    "value" (after `key=` in an option list of `cls`), "none" (comment, string, after a
    block name, ...).
    """

    where: str
    block: str | None = None
    keyword: str | None = None
    stmt: vocab.Statement | None = None
    cls: type[BaseModel] | None = None
    # The statement whose renamed/skipped options apply to `cls` (None for an op's call).
    owner: vocab.Statement | None = None
    index: int = 0
    key: str | None = None
    in_call: bool = False
    # The innermost open call: its name and the index of its `(` in `tokens`.
    call: str | None = None
    call_at: int = 0
    # The name token the cursor is in or right after (replaced by a completion).
    word_start: int = 0
    word_end: int = 0
    # Tokens of the statement before the word (for hover on a layer line).
    statement_start: int = 0
    tokens: list[Token] = field(default_factory=list)

    def slot(self) -> vocab.Slot | None:
        """What kind of value belongs at the cursor: a family, fixed words, "" (a number or a
        string), or None (nothing known)."""
        if self.where == "value":
            return vocab.value_slot(self.cls, self.key or "", self.owner)
        if self.where != "arg":
            return None
        if self.in_call:
            pos = vocab.call_positional(self.cls)
            if self.cls is None or self.index >= len(pos):
                return None
            return vocab.field_slot(self.cls, pos[self.index])
        return vocab.positional_slot(self.stmt, self.index) if self.stmt else None

    def filled(self) -> set[str]:
        """Fields already given positionally (not offered again as `key=`)."""
        if self.where != "arg":
            return set()
        if self.in_call:
            return set(vocab.call_positional(self.cls)[: self.index])
        if self.stmt is not None and self.stmt.options is not None:
            return set(vocab.call_positional(self.stmt.options)[: self.index])
        return set()


def _value_tokens(stmt_tokens: list[Token]) -> int:
    """Number of positional arguments among a statement's tokens (after the keyword),
    counting only depth-0 values that are neither `key` nor `=value`."""
    count, depth = 0, 0
    for i, tok in enumerate(stmt_tokens):
        prev = stmt_tokens[i - 1] if i else None
        if tok.kind == "punct" and tok.text in "([":
            # A list value is one positional argument (unless it is the value of a `key=`).
            if tok.text == "[" and depth == 0 and not (prev is not None and prev.text == "="):
                count += 1
            depth += 1
            continue
        if tok.kind == "punct" and tok.text in ")]":
            depth = max(0, depth - 1)
            continue
        if depth or tok.kind not in ("name", "number", "string"):
            continue
        nxt = stmt_tokens[i + 1] if i + 1 < len(stmt_tokens) else None
        if prev is not None and prev.text == "=":
            continue
        if nxt is not None and nxt.kind == "punct" and nxt.text == "=":
            continue
        count += 1
    return count


def _call_frame(name_tok: Token, before: list[Token], stmt: vocab.Statement | None,
                frames: list[Frame], keyword_tok: Token | None) -> Frame:
    """The frame opened by `name(`: which class its options belong to."""
    if keyword_tok is not None and name_tok is keyword_tok:
        return Frame(name_tok.text, stmt.options if stmt else None, stmt)
    prev = before[-1] if before else None
    if prev is not None and prev.text == "=" and len(before) >= 2:
        key = before[-2].text
        owner = frames[-1] if frames else None
        cls = owner.cls if owner else (stmt.options if stmt else None)
        value = vocab.value_slot(cls, key, owner.stmt if owner else stmt)
        return Frame(name_tok.text, vocab.op_for(value, name_tok.text))
    if frames:
        return Frame(name_tok.text, None)
    slot = vocab.positional_slot(stmt, _value_tokens(before[1:])) if stmt else None
    return Frame(name_tok.text, vocab.op_for(slot, name_tok.text))


def _inside(tok: Token, offset: int) -> bool:
    """Whether a cursor at `offset` is inside a comment or a string (where nothing completes)."""
    if tok.kind == "comment":
        return tok.start < offset <= tok.end
    if tok.kind == "string":
        closed = _CLOSED_STRING.fullmatch(tok.text) is not None
        return tok.start < offset < tok.end or (offset == tok.end and not closed)
    return False


def analyze(text: str, offset: int, tokens: list[Token] | None = None) -> Context:
    """The context of the cursor at code-point `offset` (the word it is in does not count)."""
    tokens = tokenize(text) if tokens is None else tokens
    word_start = word_end = offset
    for tok in tokens:
        if _inside(tok, offset):
            return Context("none", word_start=offset, word_end=offset)
        if tok.kind == "name" and tok.start <= offset <= tok.end:
            word_start, word_end = tok.start, tok.end
            break
        if tok.start >= offset:
            break

    block: str | None = None
    depth = 0
    stmt_tokens: list[Token] = []  # tokens of the current statement (keyword first)
    frames: list[Frame] = []
    stmt_start = 0
    brackets = 0  # open `[`: like `(`, a list may span lines
    header: Token | None = None  # first word of the last top-level line (`model m` then `{`)
    for tok in tokens:
        if tok.start >= word_start:
            break
        if tok.kind == "comment":
            continue
        if tok.kind == "newline" or (tok.kind == "punct" and tok.text == ";"):
            if not frames and not brackets:
                if depth == 0 and stmt_tokens:
                    header = stmt_tokens[0]
                stmt_tokens, stmt_start = [], tok.end
            continue
        if tok.kind == "punct" and tok.text in "[]":
            brackets = max(0, brackets + (1 if tok.text == "[" else -1))
        if tok.kind == "punct" and tok.text == "{":
            if depth == 0:
                first = stmt_tokens[0] if stmt_tokens else header
                block = first.text if first is not None else None
            brackets, header = 0, None
            depth += 1
            stmt_tokens, frames, stmt_start = [], [], tok.end
            continue
        if tok.kind == "punct" and tok.text == "}":
            depth = max(0, depth - 1)
            if depth == 0:
                block = None
            brackets, header = 0, None
            stmt_tokens, frames, stmt_start = [], [], tok.end
            continue
        if tok.kind == "punct" and tok.text == "(":
            keyword_tok = stmt_tokens[0] if stmt_tokens else None
            stmt = vocab.statement(block, keyword_tok.text if keyword_tok else None)
            name_tok = stmt_tokens[-1] if stmt_tokens and stmt_tokens[-1].kind == "name" else None
            if name_tok is None:
                frames.append(Frame("", None))
            else:
                frames.append(_call_frame(name_tok, stmt_tokens[:-1], stmt, frames,
                                          keyword_tok))
            frames[-1].at = len(stmt_tokens)
        elif tok.kind == "punct" and tok.text == ")":
            if frames:
                frames.pop()
        stmt_tokens.append(tok)

    ctx = Context("none", block=block, word_start=word_start, word_end=word_end,
                  statement_start=stmt_start, tokens=stmt_tokens)
    if depth == 0:
        ctx.where = "top" if not stmt_tokens else "none"
        return ctx
    if not stmt_tokens:
        ctx.where = "keyword"
        return ctx
    ctx.keyword = stmt_tokens[0].text
    ctx.stmt = vocab.statement(block, ctx.keyword)
    last = stmt_tokens[-1]
    if frames:
        frame = frames[-1]
        ctx.in_call, ctx.cls = True, frame.cls
        ctx.call, ctx.call_at = frame.name, frame.at
        stmt_for_opts = frame.stmt
        ctx.index = _value_tokens(stmt_tokens[frame.at + 1:])
    else:
        ctx.cls = ctx.stmt.options if ctx.stmt else None
        stmt_for_opts = ctx.stmt
        ctx.index = _value_tokens(stmt_tokens[1:])
    if last.kind == "punct" and last.text == "=" and len(stmt_tokens) >= 2:
        ctx.where, ctx.key = "value", stmt_tokens[-2].text
    elif ctx.in_call and not (last.kind == "punct" and last.text in "(,"):
        ctx.where = "none"  # right after a value inside a call: a `,` or `)` must come next
    else:
        ctx.where = "arg"
    ctx.owner = stmt_for_opts
    return ctx


def word_at(text: str, offset: int, tokens: list[Token] | None = None) -> Token | None:
    """The token under the cursor (a cursor right after a word is on it too)."""
    tokens = tokenize(text) if tokens is None else tokens
    for tok in tokens:
        if tok.start <= offset < tok.end:
            return tok
    for tok in tokens:
        if tok.end == offset and tok.kind in ("name", "number", "string"):
            return tok
    return None


def next_token(tokens: list[Token], tok: Token) -> Token | None:
    for t in tokens:
        if t.start >= tok.end and t.kind != "comment":
            return t
    return None

"""parse: source text -> Lark tokens + comments (never raises).

Why not Lark's own lexer: it stops at the first bad character, and the parser must go on to
report every mistake in one pass. This loop uses the grammar's own terminal patterns (one
alternation, see grammar.token_regex), so the token set is still defined in the grammar; it only
adds what a line-oriented language needs around them:

- whitespace is dropped and comments are kept aside (Document.comments, for `nnspec fmt`);
- newlines inside (...) and [...] are dropped, so calls and lists may span lines; a `{` or `}`
  forgets open parentheses (they never enclose braces), so that one missing `)` cannot swallow
  the rest of the file;
- text that no terminal matches becomes a single `ERROR` token carrying its diagnostic (E101
  unexpected character, E104 unterminated string). No grammar rule accepts an `ERROR` token, so
  the parser reports it and recovers at the next statement.
"""

from __future__ import annotations

import re

from lark import Token

from nnspec.diagnostics import Diagnostic, Fix, Span, error
from nnspec.parse.grammar import token_regex
from nnspec.syntax import Comment

OPENERS = {"LPAR": "RPAR", "LSQB": "RSQB"}
SKIPPED = {"WHITESPACE"}


class ErrorToken(Token):
    """Text that is no token; carries the diagnostic to report if the parser reaches it."""

    diagnostic: Diagnostic


def show_char(ch: str) -> str:
    """A character as a message shows it: `"$"`, or `U+0000` when it cannot be printed."""
    return f'"{ch}"' if ch.isprintable() and not ch.isspace() else f"U+{ord(ch):04X}"


class _Cursor:
    """Tracks 1-based line/col (code points) while walking the text."""

    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self.line = 1
        self.col = 1

    def end_of(self, end: int) -> tuple[int, int]:
        """(line, col) of offset `end`, which lies at or after the cursor."""
        nl = self.text.count("\n", self.pos, end)
        if nl:
            return self.line + nl, end - self.text.rfind("\n", self.pos, end)
        return self.line, self.col + (end - self.pos)

    def span_to(self, end: int) -> Span:
        end_line, end_col = self.end_of(end)
        return Span(line=self.line, col=self.col, end_line=end_line, end_col=end_col,
                    start=self.pos, end=end)

    def token(self, kind: str, end: int, cls: type[Token] = Token) -> Token:
        end_line, end_col = self.end_of(end)
        return cls(kind, self.text[self.pos:end], self.pos, self.line, self.col, end_line,
                   end_col, end)

    def advance(self, end: int) -> None:
        self.line, self.col = self.end_of(end)
        self.pos = end


def _line_end(text: str, pos: int) -> int:
    ends = [i for i in (text.find("\n", pos), text.find("\r", pos)) if i >= 0]
    return min(ends) if ends else len(text)


def _bad_text(cur: _Cursor, path: str | None) -> tuple[int, Diagnostic]:
    """Where the bad text at the cursor ends, and what to say about it."""
    text, pos = cur.text, cur.pos
    ch = text[pos]
    if ch == '"':
        end = _line_end(text, pos)
        return end, error(
            "E104", "unterminated string", cur.span_to(end), path=path,
            label="this string is never closed",
            hints=['close it with " on the same line (a string cannot span lines)'])
    if ch == "'":
        close = text.find("'", pos + 1, _line_end(text, pos))
        end = close + 1 if close > 0 else pos + 1
        inner = text[pos + 1:close] if close > 0 else "text"
        return end, error(
            "E101", "unexpected character \"'\"", cur.span_to(end), path=path,
            label="single quotes do not make a string",
            hints=[f'strings use double quotes: "{inner}"'])
    hints: list[str] = []
    if ch == "-" and text[pos + 1:pos + 2].isspace():
        hints.append("write a negative number without a space, e.g. -3")
    elif ch == ":":
        hints.append("options are written key=value, e.g. lr=0.1")
    return pos + 1, error(
        "E101", f"unexpected character {show_char(ch)}", cur.span_to(pos + 1), path=path,
        label="not part of any token", hints=hints)


_SHAPE = re.compile(r"\d+(?:[xX]\d+)+")  # 8x8, 1x28x28


def _glued_number_end(text: str, end: int) -> int:
    """Past the letters, digits and dots stuck to a number (`16relu`, `1.2.3`), if any."""
    stop = end
    while stop < len(text) and (text[stop].isalnum() or text[stop] in "_."):
        stop += 1
    return stop


def tokenize(text: str, path: str | None = None) -> tuple[list[Token], list[Comment]]:
    """Tokens for the parser (with `ERROR` tokens in place of bad text) and the comments."""
    regex = token_regex()
    tokens: list[Token] = []
    comments: list[Comment] = []
    open_stack: list[str] = []
    cur = _Cursor(text)
    while cur.pos < len(text):
        m = regex.match(text, cur.pos)
        best_kind = m.lastgroup if m and m.end() > cur.pos else None
        best_end = m.end() if m else cur.pos
        if not best_kind:
            end, diag = _bad_text(cur, path)
            tok = cur.token("ERROR", end, ErrorToken)
            tok.diagnostic = diag  # type: ignore[attr-defined]
            tokens.append(tok)
            cur.advance(end)
            continue
        if best_kind == "NUMBER" and _glued_number_end(text, best_end) > best_end:
            stop = _glued_number_end(text, best_end)
            tok = cur.token("ERROR", stop, ErrorToken)
            glued = text[cur.pos:stop]
            label, hints, fixes = "not a number", ["put a space between a number and a name"], []
            if _SHAPE.fullmatch(glued):  # `input 8x8`: a shape written as in other tools
                dims = " ".join(glued.lower().split("x"))
                label = f"write `{dims}`"
                hints = [f"the dimensions of a shape are numbers separated by spaces: write "
                         f"`{dims}` (e.g. `input 1 8 8` for one 8x8 channel)"]
                fixes = [Fix(span=cur.span_to(stop), replacement=dims,
                             title=f"write `{dims}`", preferred=True)]
            tok.diagnostic = error(  # type: ignore[attr-defined]
                "E101", f"unexpected character {show_char(text[best_end])} after the number "
                f'"{text[cur.pos:best_end]}"', cur.span_to(stop), path=path,
                label=label, hints=hints, fixes=fixes)
            tokens.append(tok)
            cur.advance(stop)
            continue
        if best_kind == "COMMENT":
            raw = text[cur.pos:best_end]
            comments.append(Comment(span=cur.span_to(best_end), text=raw[1:].rstrip()))
        elif best_kind == "_NL":
            if not open_stack:
                tokens.append(cur.token(best_kind, best_end))
        elif best_kind not in SKIPPED:
            tokens.append(cur.token(best_kind, best_end))
            if best_kind in OPENERS:
                open_stack.append(OPENERS[best_kind])
            elif best_kind in ("RPAR", "RSQB"):
                if open_stack:
                    open_stack.pop()
            elif best_kind in ("LBRACE", "RBRACE"):
                open_stack.clear()
        cur.advance(best_end)
    return tokens, comments

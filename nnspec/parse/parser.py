"""parse: source text -> (syntax.Document, diagnostics); never raises.

How errors are recovered. The lexer (lexer.py) turns the text into tokens, with `ERROR` tokens
where no terminal matches. The driver feeds them one by one to Lark's interactive LALR parser
for the whole `document` rule, so a file is parsed by exactly one grammar and one path, broken
or not. It remembers the tokens accepted up to the last statement boundary (after a newline,
`;`, `{` or `}`; a `{` opens a block or a statement's body, and bodies nest). At the first
token the parser cannot take:

1. it reports one diagnostic, describing what the parser would have accepted there (asked of a
   parser rebuilt just before the token, since LALR may reduce before it notices the error);
2. it rebuilds the parser from the tokens up to the last boundary, dropping the bad statement,
   and skips to the next boundary: the next newline or `;`, or the `}` that closes the block
   or body it is in (nested `{...}` skipped whole), so a bad statement in a branch costs that
   statement only. A bad block header keeps its valid beginning when a `{`
   follows on the same line (`model m extra {` -> block `model m`), else the block is skipped.

So three bad statements give three diagnostics, and the Document holds every statement that
parsed. Rebuilding replays the accepted tokens (linear in the file); it happens once per
error, and at most MAX_ERRORS errors are reported.

Two mistakes get special treatment because the generic message would be misleading: a block
header inside a block (`data {` while `model {` is open; only the BLOCK_KINDS count, since
`concat {` or `head aux {` is a statement with a body) means an open block or body lacks its
`}`, so the driver reports E105 and closes what is open; and the end of the file inside a block
is E105 too (E103 only when a statement itself is cut short). Likewise a `}` after code that
would close a top-level block which, by what follows, goes on is reported and skipped as one
`}` too many (`residual { dense 8 } }`). Which `{` lacks its `}` is
guessed from the layout: a `}` that starts a line left of the line of the `{` it was matched
with most likely belongs to an outer brace, so that `{` is the unclosed one (see _blamed).

Braces nest at most MAX_NESTING deep (a deeper `{` is E102 and its statement is dropped), so a
pathological file cannot exhaust the recursion of build.py or fmt.
"""

from __future__ import annotations

from lark import Token
from lark.exceptions import UnexpectedToken
from lark.parsers.lalr_interactive_parser import InteractiveParser

from nnspec.diagnostics import Diagnostic, Span, error
from nnspec.parse.build import build_document, token_span
from nnspec.parse.grammar import get_parser
from nnspec.parse.lexer import tokenize
from nnspec.parse.messages import unclosed_block, unexpected_token
from nnspec.syntax import Document

MAX_ERRORS = 100
MAX_NESTING = 64
# The top-level block kinds (check/statements.py BLOCKS; tests/parse keeps the two equal). Only
# these, followed by `{` or by a name and `{`, read as a block header inside an open block.
BLOCK_KINDS = frozenset({"model", "data", "train", "output", "sweep"})
SEPARATORS = {"_NL", "_SEMICOLON"}
BOUNDARIES = SEPARATORS | {"LBRACE", "RBRACE"}


def synthetic(kind: str, at: Token) -> Token:
    """An invented, empty token (a `}` the user forgot) placed where `at` starts."""
    return Token(kind, "", at.start_pos, at.line, at.column, at.line, at.column, at.start_pos)


def eof_token(text: str) -> Token:
    line = text.count("\n") + 1
    col = len(text) - (text.rfind("\n") + 1) + 1
    return Token("$END", "", len(text), line, col, line, col, len(text))


def _point_after(tok: Token) -> Span:
    """An empty span just past `tok` (where a missing thing should go; render shows a `^`)."""
    s = token_span(tok)
    return Span(line=s.end_line, col=s.end_col, end_line=s.end_line, end_col=s.end_col,
                start=s.end, end=s.end)


class _Driver:
    def __init__(self, text: str, path: str | None):
        self.text = text
        self.path = path
        self.tokens, self.comments = tokenize(text, path)
        self.diagnostics: list[Diagnostic] = []
        self.committed: list[Token] = []  # accepted, up to the last boundary
        self.pending: list[Token] = []  # accepted since the last boundary
        self.stmt_start = 0  # index in self.tokens of pending[0]
        # (keyword or block kind, "{") of every open block and body, outermost first
        self.open_braces: list[tuple[Token, Token]] = []
        # (keyword, "{", its "}") of every body and block closed in the current top-level block
        self.closed: list[tuple[Token, Token, Token]] = []
        self.capped = False  # stopped at MAX_ERRORS: the rest of the file is unread
        self.ip = self._rebuilt([])

    @property
    def in_block(self) -> bool:
        """Inside a block (at any depth of bodies), as of the last accepted token."""
        return bool(self.open_braces)

    # -- parser state -------------------------------------------------------------------------

    def _rebuilt(self, tokens: list[Token]) -> InteractiveParser:
        # A fresh parser fed again, rather than InteractiveParser.copy(): copy() deep-copies
        # Lark tokens without their end positions, and a shallow copy shares trees that
        # Lark's left-recursion shortcut extends in place.
        ip = get_parser().parse_interactive(start="document")
        for tok in tokens:
            ip.feed_token(tok)
        return ip

    def _accept(self, tok: Token, index: int) -> None:
        if not self.pending:
            self.stmt_start = index
        self.pending.append(tok)
        if tok.type == "LBRACE":
            if not self.open_braces:
                self.closed = []
            kind = next((t for t in self.pending if t.type == "NAME"), tok)
            self.open_braces.append((kind, tok))
        elif tok.type == "RBRACE" and self.open_braces:
            kind, lbrace = self.open_braces.pop()
            if tok.value:
                self.closed.append((kind, lbrace, tok))
        # A newline inside a block header (`model m` / `{`) is not a boundary.
        in_header = not self.in_block and any(t.type not in SEPARATORS for t in self.pending)
        if tok.type in BOUNDARIES and not (tok.type in SEPARATORS and in_header):
            self.committed += self.pending
            self.pending = []

    def _feed(self, tok: Token, index: int) -> None:
        self.ip.feed_token(tok)
        self._accept(tok, index)

    def _open_brackets(self) -> list[Token]:
        stack: list[Token] = []
        for t in self.pending:
            if t.type in ("LPAR", "LSQB"):
                stack.append(t)
            elif t.type in ("RPAR", "RSQB") and stack:
                stack.pop()
        return stack

    # -- diagnostics --------------------------------------------------------------------------

    def _report(self, diag: Diagnostic) -> None:
        self.diagnostics.append(diag)

    def _unexpected(self, tok: Token) -> Diagnostic:
        probe = self._rebuilt(self.committed + self.pending)
        accepts = set(probe.accepts())
        # The last token before the error, not counting a newline inside a block header.
        prev = next((t for t in reversed(self.pending) if t.type != "_NL"), None)
        span = _point_after(prev) if tok.type == "$END" and prev is not None else None
        if self.in_block and not self.pending and tok.type != "$END":
            accepts = accepts - {"NAME"} | {"STATEMENT"}
        return unexpected_token(tok, prev, accepts, in_block=self.in_block,
                                statement_len=len(self.pending),
                                open_brackets=self._open_brackets(),
                                path=self.path, span=span)

    def _close_open(self, before: Token | None) -> None:
        """Report the missing `}`s and close every open body and block with invented ones."""
        assert self.open_braces and not self.pending
        if not self.capped:
            for kind, lbrace, where in self._blamed(before):
                self._report(unclosed_block(kind, lbrace, where, self.path,
                                            body=lbrace is not self.open_braces[0][1]))
        at = before if before is not None else eof_token(self.text)
        while self.open_braces:
            self._feed(synthetic("RBRACE", at), self.stmt_start)

    def _blamed(self, before: Token | None) -> list[tuple[Token, Token, Token | None]]:
        """(keyword, "{", the token the `}` should go before) of each missing `}`.

        As many `}` are missing as braces are open. A `}` starting a line left of the indent of
        its `{`'s line was most likely meant for an outer brace: its `{` is blamed first (the
        `}` goes before it); the innermost open braces make up the rest.
        """
        missing = len(self.open_braces)
        indents = self._indents()
        blamed: list[tuple[Token, Token, Token | None]] = []
        # In the order of the `}`s: the first misplaced one is the first symptom.
        for kind, lbrace, rbrace in sorted(self.closed, key=lambda c: c[2].start_pos):
            starts_line = indents.get(rbrace.line) == rbrace.column
            if starts_line and rbrace.column < indents.get(lbrace.line, 1):
                blamed.append((kind, lbrace, rbrace))
        blamed = blamed[:missing]
        for kind, lbrace in reversed(self.open_braces):
            if len(blamed) < missing:
                blamed.append((kind, lbrace, before))
        return sorted(blamed, key=lambda b: b[1].start_pos)

    def _indents(self) -> dict[int, int]:
        """Line -> column of its first token."""
        out: dict[int, int] = {}
        for t in self.tokens:
            if t.type not in SEPARATORS and t.line not in out:
                out[t.line] = t.column
        return out

    # -- recovery -----------------------------------------------------------------------------

    def _skip_braced(self, j: int) -> int:
        """From a `{` at j, the index just past its matching `}` (or the end)."""
        depth = 0
        while j < len(self.tokens):
            kind = self.tokens[j].type
            depth += kind == "LBRACE"
            depth -= kind == "RBRACE"
            j += 1
            if depth == 0:
                break
        return j

    def _recover(self, i: int) -> int:
        """Drop the bad statement; return the index of the token to go on with."""
        toks = self.tokens
        header = self.tokens[self.stmt_start:i] if self.pending else []
        self.pending = []
        self.ip = self._rebuilt(self.committed)
        j = i
        if self.in_block:
            while j < len(toks):
                kind = toks[j].type
                if kind == "LBRACE":
                    j = self._skip_braced(j)
                    continue
                if kind == "RBRACE":
                    return j  # closes the block: the parser takes it at this boundary
                if kind in SEPARATORS:
                    return j + 1
                j += 1
            return j
        while j < len(toks) and toks[j].type not in BOUNDARIES:
            j += 1
        if j == len(toks):
            return j
        if toks[j].type == "LBRACE":
            trial = self._rebuilt(self.committed)
            try:
                for tok in [*header, toks[j]]:
                    trial.feed_token(tok)
            except UnexpectedToken:
                return self._skip_braced(j)
            self.ip = trial
            self.stmt_start = j
            for tok in [*header, toks[j]]:
                self._accept(tok, j)
        return j + 1

    def _glued_statement(self, tok: Token) -> bool:
        """Does `tok` start a statement right after a `}` on the same line (`branch { ... }
        branch { ... }`), where a ";" or a new line is missing?"""
        last = self.committed[-1] if self.committed and not self.pending else None
        return (self.in_block and tok.type == "NAME" and last is not None
                and last.type == "RBRACE" and bool(last.value) and last.line == tok.line)

    def _separate(self, tok: Token, i: int) -> bool:
        """Feed an invented ";" before `tok`; False (and the parser as it was) when the
        grammar does not take one here."""
        sep = synthetic("_SEMICOLON", tok)
        try:
            self.ip.feed_token(sep)
        except UnexpectedToken:
            self.ip = self._rebuilt(self.committed)
            return False
        self._accept(sep, i)
        return True

    def _extra_close(self, i: int) -> bool:
        """Is the `}` at i one too many (`residual { dense 8 } }` then more statements)?

        Only a `}` that would close a top-level block and is followed by a statement rather than
        a block header or the end of the file (the file is in error after it either way, so
        skipping it changes no valid parse), and only when the layout says it is not the block's
        own: it comes after code on its line, or it is indented deeper than the block.
        """
        toks = self.tokens
        tok = toks[i]
        if tok.type != "RBRACE" or len(self.open_braces) != 1 or i == 0:
            return False
        starts_line = toks[i - 1].line != tok.line or toks[i - 1].type in SEPARATORS
        if starts_line and tok.column <= self.open_braces[0][0].column:
            return False
        j = i + 1
        while j < len(toks) and toks[j].type in SEPARATORS:
            j += 1
        kinds = [t.type for t in toks[j:j + 4] if t.type != "_NL"][:3]
        header = kinds[:2] == ["NAME", "LBRACE"] or kinds == ["NAME", "NAME", "LBRACE"]
        return j < len(toks) and toks[j].type == "NAME" and not header

    def _looks_like_header(self, i: int) -> bool:
        """`model m {`, `data {`: only a block kind starts one (`concat {` is a statement)."""
        if self.tokens[i].value not in BLOCK_KINDS:
            return False
        kinds = [t.type for t in self.tokens[i:i + 3]]
        return kinds[:2] == ["NAME", "LBRACE"] or kinds == ["NAME", "NAME", "LBRACE"]

    # -- main loop ----------------------------------------------------------------------------

    def run(self) -> Document:
        i = 0
        depth = 0
        while i < len(self.tokens):
            if len(self.diagnostics) >= MAX_ERRORS:
                self.capped = True
                break
            tok = self.tokens[i]
            if not self.pending:
                depth = 0
            if self.in_block and not self.pending and self._looks_like_header(i):
                self._close_open(before=tok)
                continue
            if self._extra_close(i):
                kind, _lbrace = self.open_braces[0]
                self._report(error(
                    "E102", f'unexpected "}}": the "{kind.value}" block goes on after it',
                    token_span(tok), path=self.path, label='one "}" too many',
                    hints=['remove this "}"']))
                i += 1
                continue
            depth += tok.type in ("LPAR", "LSQB")
            depth -= tok.type in ("RPAR", "RSQB")
            if tok.type == "ERROR":
                self._report(tok.diagnostic)  # type: ignore[attr-defined]
            elif depth > MAX_NESTING:
                self._report(error("E102", f"more than {MAX_NESTING} nested brackets",
                                   token_span(tok), path=self.path, label="nested too deeply"))
            elif tok.type == "LBRACE" and len(self.open_braces) >= MAX_NESTING:
                self._report(error("E102", f"more than {MAX_NESTING} nested bodies",
                                   token_span(tok), path=self.path, label="nested too deeply",
                                   hints=["this statement is left out"]))
            else:
                try:
                    self.ip.feed_token(tok)
                except UnexpectedToken:
                    # `branch { ... } branch { ... }` (as docs/language.md writes it): a
                    # `}` that closes a body ends its statement, as a new line would
                    if self._glued_statement(tok) and self._separate(tok, i):
                        continue
                    self._report(self._unexpected(tok))
                else:
                    self._accept(tok, i)
                    i += 1
                    continue
            i = self._recover(i)
            depth = 0
        return self._finish()

    def _finish(self) -> Document:
        end = eof_token(self.text)
        if self.pending:
            trial = self._rebuilt(self.committed + self.pending)
            try:
                for _ in self.open_braces:
                    trial.feed_token(synthetic("RBRACE", end))
                trial.feed_eof(end)
            except UnexpectedToken:
                if not self.capped:
                    self._report(self._unexpected(end))
                self.pending = []
                self.ip = self._rebuilt(self.committed)
            else:
                # The last statement is whole; only the block's `}` is missing.
                self.committed += self.pending
                self.pending = []
        if self.in_block:
            self._close_open(before=None)
        tree = self.ip.feed_eof(end)
        return build_document(tree, self.text, self.path, self.comments)


def parse_unguarded(text: str, path: str | None = None) -> tuple[Document, list[Diagnostic]]:
    """`parse` without the last-resort guard (tests call this, so a bug cannot hide)."""
    driver = _Driver(text, path)
    doc = driver.run()
    return doc, driver.diagnostics

"""parse: parser state + offending token -> a syntax diagnostic in words.

Lark says `Expected one of: INT`; a user should read `expected "," or ")" after "0.01", found
"weight_decay"`. Terminal names never appear in a message: every terminal the grammar has is
described below (tests/parse/test_messages.py checks that the table covers the grammar).
"""

from __future__ import annotations

from lark import Token

from nnspec.diagnostics import Diagnostic, Span, error
from nnspec.parse.build import token_span
from nnspec.parse.lexer import show_char

PUNCT = {"LBRACE": "{", "RBRACE": "}", "LPAR": "(", "RPAR": ")", "LSQB": "[", "RSQB": "]",
         "COMMA": ",", "EQUAL": "=", "_SEMICOLON": ";"}
VALUE_STARTS = {"NUMBER", "NAME", "STRING", "LSQB"}
ENDS = {"_NL", "_SEMICOLON", "RBRACE", "$END"}
# Order in which expected things are listed: values first, then punctuation, then endings.
ORDER = ["STATEMENT", "NUMBER", "NAME", "STRING", "LSQB", "EQUAL", "LPAR", "COMMA", "RPAR",
         "RSQB", "LBRACE", "RBRACE", "_NL", "_SEMICOLON", "$END"]
TERMINAL_WORDS = {"NUMBER": "a number", "NAME": "a name", "STRING": "a string",
                  "_NL": "the end of the line", "$END": "the end of the file",
                  **{k: f'"{v}"' for k, v in PUNCT.items()}}
TERMINAL_WORDS["LSQB"] = 'a list "[...]"'
# Not a terminal: the driver puts it in place of NAME where a statement may start.
TERMINAL_WORDS["STATEMENT"] = 'a statement (a name such as "dense" or "epochs")'


def words_or(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


def describe_expected(accepts: set[str], in_block: bool) -> str:
    """`a number, a name, a string or a list "[...]"`, `"," or ")"`, ..."""
    names = [t for t in ORDER if t in accepts] + sorted(accepts - set(ORDER))
    parts: list[str] = []
    if VALUE_STARTS <= accepts:
        parts.append("a value (a number, a name, a string or a list)")
        names = [t for t in names if t not in VALUE_STARTS]
    if "STATEMENT" in accepts:
        # At the start of a statement an empty line is no news: a statement or the `}`.
        names = [t for t in names if t not in ENDS or t == "RBRACE"]
        parts += [TERMINAL_WORDS.get(t, t) for t in names]
    elif "_NL" in accepts:
        # Newline, `;` and (in a block) `}` all end a statement: say it once.
        parts += [TERMINAL_WORDS.get(t, t) for t in names if t not in ENDS]
        parts.append("the end of the statement" if in_block else "the end of the line")
    else:
        parts += [TERMINAL_WORDS.get(t, t) for t in names]
    return words_or(parts)


def describe_found(tok: Token) -> str:
    if tok.type == "$END":
        return "the end of the file"
    if tok.type == "_NL":
        return "the end of the line"
    if tok.type == "STRING":
        return f"the string {tok.value}"
    if tok.type == "NUMBER":
        return f'the number "{tok.value}"'
    if tok.type == "NAME":
        return f'"{tok.value}"'
    return show_char(tok.value) if len(tok.value) == 1 else f'"{tok.value}"'


def _shown(tok: Token) -> str:
    return "a new line" if tok.type == "_NL" else f'"{tok.value}"'


def _label(tok: Token) -> str:
    if tok.type == "$END":
        return "the file ends here"
    if tok.type == "_NL":
        return "the line ends here"
    if tok.type == "STRING":
        return "unexpected string"
    return f"unexpected {_shown(tok)}"


def unexpected_token(tok: Token, prev: Token | None, accepts: set[str], *, in_block: bool,
                     statement_len: int, open_brackets: list[Token], path: str | None,
                     span: Span | None = None) -> Diagnostic:
    """E102 (or E103 at the end of the file) for `tok`, which the parser cannot take here.

    `statement_len` is how many tokens of the statement (or block header) came before `tok`.
    """
    found = describe_found(tok)
    hints: list[str] = []
    notes: list[str] = []
    at_top = not in_block
    if at_top and statement_len == 0:
        expected = 'a block, such as "model name {", "data {" or "train {"'
        if tok.type == "RBRACE":
            hints.append('remove this "}": no block is open here')
    else:
        expected = describe_expected(accepts, in_block)
    message = f"expected {expected}"
    if prev is not None:
        message += f" after {_shown(prev)}"
    message += f", found {found}"
    if prev is not None and prev.type == "COMMA" and tok.type in ENDS and not open_brackets:
        hints.append('remove the trailing ","')
    if at_top and statement_len == 1 and tok.type not in ENDS | {"LBRACE"}:
        hints.append('statements belong inside a block, e.g. "train { epochs 10 }"')
    if at_top and tok.type in ("LPAR", "LSQB") and "LBRACE" in accepts:
        hints.append('a block is written with braces: "model m { ... }"')
    if in_block and statement_len == 1 and tok.type == "EQUAL":
        hints.append('an option goes after the statement\'s keyword, e.g. "dense 16 bias=false"')
    if tok.type in ("RPAR", "RSQB") and tok.type not in accepts and not open_brackets:
        hints.append(f'remove this "{tok.value}": nothing is open here')
    if accepts & {"RPAR", "RSQB"} and "COMMA" in accepts and tok.type in VALUE_STARTS | {"LPAR"}:
        hints.append('separate values inside (...) and [...] with ","')
    if tok.type in ENDS:
        for b in open_brackets:
            closer = ")" if b.type == "LPAR" else "]"
            notes.append(f'the "{b.value}" at line {b.line}, column {b.column} is not closed '
                         f'with "{closer}"')
    code = "E103" if tok.type == "$END" else "E102"
    return error(code, message, span or token_span(tok), path=path, label=_label(tok),
                 notes=notes, hints=hints)


def unclosed_block(kind: Token, lbrace: Token, before: Token | None,
                   path: str | None, body: bool = False) -> Diagnostic:
    """E105: a `{` never closed (of a block, or of a statement's body). Points at the `{`."""
    where = f"before line {before.line}" if before is not None else "at the end of the file"
    what = f'the body of "{kind.value}"' if body else f'the "{kind.value}" block'
    return error(
        "E105", f'expected "}}" to close {what} opened at line {lbrace.line}',
        token_span(lbrace), path=path,
        label=f"this {'body' if body else 'block'} is never closed",
        hints=[f'add "}}" {where}'])

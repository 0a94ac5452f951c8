"""parse: grammar/nnspec.lark -> a Lark LALR parser (built once per process).

The grammar file is found inside an installed wheel first (pyproject force-includes it as
`nnspec/_grammar/nnspec.lark`), then in the source checkout (`grammar/nnspec.lark`), so the same
code works from a wheel, an editable install and a plain clone.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from pathlib import Path

from lark import Lark, Tree

# Every public rule of the grammar is a start symbol, so that each `// e.g.` example can be
# parsed on its own (tests) and the driver can feed a whole document or a single statement.
START_RULES = ("document", "block", "body", "statement", "arg", "option", "value", "call",
               "call_args", "list")

REPO_GRAMMAR = Path(__file__).resolve().parents[2] / "grammar" / "nnspec.lark"


def grammar_source() -> tuple[str, str]:
    """(text, where it was found) of the grammar."""
    try:
        packaged = resources.files("nnspec").joinpath("_grammar", "nnspec.lark")
        if packaged.is_file():
            return packaged.read_text(encoding="utf-8"), str(packaged)
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        pass
    return REPO_GRAMMAR.read_text(encoding="utf-8"), str(REPO_GRAMMAR)


@functools.cache
def get_parser() -> Lark:
    text, where = grammar_source()
    # Positions live on the tokens (line, column, offsets), and build.py makes every span
    # from them, so Lark's propagate_positions (tree meta) would only cost time.
    return Lark(text, parser="lalr", lexer="basic", propagate_positions=False,
                maybe_placeholders=False, start=list(START_RULES), source_path=where)


@functools.cache
def terminal_patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """The grammar's terminals as compiled regexes, in declaration order."""
    return tuple((t.name, re.compile(t.pattern.to_regexp())) for t in get_parser().terminals)


@functools.cache
def token_regex() -> re.Pattern[str]:
    """One regex for all terminals; `lastgroup` names the terminal that matched.

    A regex alternation takes the first alternative that matches, not the longest. The
    grammar's terminals never overlap except `_NL` (`\r\n`) and WHITESPACE (`\r`), where
    `_NL` is declared first, so first-match here is the longest match;
    tests/parse/test_lexer.py checks this against a longest-match tokenizer.
    """
    groups = [f"(?P<{name}>{pattern.pattern})" for name, pattern in terminal_patterns()]
    return re.compile("|".join(groups))


def parse_tree(text: str, start: str = "document") -> Tree:
    """Strict parse of `text` from rule `start`; raises on the first error (tests only: the
    recovering entry point is `nnspec.parse.parse`)."""
    from nnspec.parse.lexer import tokenize

    tokens, _comments = tokenize(text)
    ip = get_parser().parse_interactive(start=start)
    for tok in tokens:
        ip.feed_token(tok)
    return ip.feed_eof(tokens[-1] if tokens else None)

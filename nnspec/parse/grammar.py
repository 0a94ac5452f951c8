"""parse: grammar/nnspec.lark -> a Lark LALR parser (built once per process, its tables
kept on disk).

The grammar file is found inside an installed wheel first (pyproject force-includes it as
`nnspec/_grammar/nnspec.lark`), then in the source checkout (`grammar/nnspec.lark`), so the same
code works from a wheel, an editable install and a plain clone.

Building the LALR tables takes ~45 ms of every `nnspec` process on a 2-core VM; loading them
takes ~3 ms. So the built parser is saved (Lark's own `save`) next to Python's bytecode, in
`nnspec/parse/__pycache__/`, under a name that holds a hash of the grammar's text, the
options and Lark's version: a changed grammar or Lark gets a new file, never a stale one. It
is written as Python writes bytecode: atomically (a temporary file, then a rename), not when
`sys.dont_write_bytecode` is set (PYTHONDONTWRITEBYTECODE), and a folder that cannot be
written or a file that cannot be read only means the tables are built, as before.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import sys
import tempfile
from importlib import resources
from pathlib import Path

import lark
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


# Positions live on the tokens (line, column, offsets), and build.py makes every span from
# them, so Lark's propagate_positions (tree meta) would only cost time.
OPTIONS = {"parser": "lalr", "lexer": "basic", "propagate_positions": False,
           "maybe_placeholders": False, "start": list(START_RULES)}
TABLES_DIR = Path(__file__).resolve().parent / "__pycache__"


def tables_file(text: str, folder: Path = TABLES_DIR) -> Path:
    """Where the parser built from grammar `text` is kept."""
    key = hashlib.sha256(f"{lark.__version__}\n{sorted(OPTIONS.items())!r}\n{text}".encode())
    return folder / f"grammar-{key.hexdigest()[:20]}.lark"


def build_parser(text: str, where: str, folder: Path = TABLES_DIR, *,
                 write: bool | None = None) -> Lark:
    """The parser for grammar `text`: loaded from `folder` when it was kept there, else built
    (and kept, unless `write` is false; None: unless sys.dont_write_bytecode)."""
    path = tables_file(text, folder)
    try:
        with open(path, "rb") as f:
            loaded = Lark.load(f)
        # what Lark.load leaves out of a built parser's attributes and the tests read
        loaded.ignore_tokens = list(loaded.lexer_conf.ignore)
        loaded.source_path = where
        return loaded
    except Exception:  # noqa: BLE001 - absent, unreadable, torn or from elsewhere: build it
        pass
    parser = Lark(text, source_path=where, **OPTIONS)
    if write is None:
        write = not sys.dont_write_bytecode
    if write:
        tmp = None
        try:
            folder.mkdir(exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=folder)
            with os.fdopen(fd, "wb") as f:
                parser.save(f)
            os.replace(tmp, path)
            tmp = None
        except OSError:
            pass  # a read-only install: build the tables in every process
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
    return parser


@functools.cache
def get_parser() -> Lark:
    text, where = grammar_source()
    return build_parser(text, where)


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

"""The lexer: its one-regex first match equals a longest match over the grammar's terminals,
newlines inside brackets are dropped, comments are set aside, and positions are exact."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from nnspec.parse.grammar import terminal_patterns, token_regex
from nnspec.parse.lexer import tokenize

ALPHABET = list('{}()[],=;#"\'\\\n\r\t -+.0123456789eEabxyz_é')


def longest_match(text: str, pos: int) -> tuple[str | None, int]:
    best, end = None, pos
    for name, pattern in terminal_patterns():
        m = pattern.match(text, pos)
        if m and m.end() > end:
            best, end = name, m.end()
    return best, end


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.text(alphabet=ALPHABET, max_size=60))
def test_first_match_is_longest_match(text):
    regex = token_regex()
    for pos in range(len(text)):
        m = regex.match(text, pos)
        got = (m.lastgroup, m.end()) if m and m.end() > pos else (None, pos)
        assert got == longest_match(text, pos)


def kinds(text: str) -> list[str]:
    return [t.type for t in tokenize(text)[0]]


def test_newlines_inside_brackets_are_dropped():
    assert kinds("a(\n1,\n)\nb [\n]\n") == ["NAME", "LPAR", "NUMBER", "COMMA", "RPAR", "_NL",
                                           "NAME", "LSQB", "RSQB", "_NL"]


def test_braces_forget_open_brackets():
    # A missing `)` must not hide the newlines of the rest of the block and file.
    assert kinds("a (\n}\nb\n") == ["NAME", "LPAR", "RBRACE", "_NL", "NAME", "_NL"]


def test_comments_set_aside():
    tokens, comments = tokenize('a # x "y" ( \nb')
    assert [t.type for t in tokens] == ["NAME", "_NL", "NAME"]
    assert [c.text for c in comments] == [' x "y" (']


def test_positions():
    tokens, _ = tokenize("é\tab\r\n  12")
    ab, nl, num = tokens[1:]
    assert (ab.line, ab.column, ab.end_column, ab.start_pos, ab.end_pos) == (1, 3, 5, 2, 4)
    assert nl.type == "_NL" and nl.value == "\r\n"
    assert (num.line, num.column, num.end_line, num.end_column, num.start_pos) == (2, 3, 2, 5, 8)


def test_bad_text_becomes_one_error_token():
    tokens, _ = tokenize('x "abc\ny \'q\' $$')
    assert [t.type for t in tokens] == ["NAME", "ERROR", "_NL", "NAME", "ERROR", "ERROR", "ERROR"]
    assert tokens[1].value == '"abc' and tokens[1].diagnostic.code == "E104"
    assert tokens[4].value == "'q'" and tokens[4].diagnostic.code == "E101"

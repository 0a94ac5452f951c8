"""parse() on broken input: codes, exact positions, messages in words, hints, and recovery at
the next statement (n mistakes -> n diagnostics, the good statements kept)."""

from __future__ import annotations

import re

import pytest
from parse_helpers import assert_span_ok

from nnspec.parse import parse
from nnspec.parse.grammar import get_parser

TERMINAL_NAMES = {t.name for t in get_parser().terminals} | {"$END"}


def check(src: str):
    doc, diagnostics = parse(src, "t.nn")
    for d in diagnostics:
        assert d.span is not None and d.path == "t.nn"
        assert_span_ok(src, d.span)
        words = set(re.findall(r"[A-Z_$][A-Z_]+", d.message + (d.label or "")))
        assert not words & TERMINAL_NAMES, d.message
        assert "Expected one of" not in d.message and "__ANON" not in d.message
    return doc, diagnostics


def keywords(doc):
    return [[s.keyword.value for s in b.statements] for b in doc.blocks]


def test_three_mistakes_three_diagnostics_in_order():
    src = ("model m {\n"
           "    input 2\n"
           "    dense 16 relu,\n"                               # line 3: trailing comma
           "    dense 8 $\n"                                    # line 4: bad character
           "    dense 4 tanh\n"
           "}\n"
           "train {\n"
           "    optimizer adam(lr=0.01 weight_decay=1e-4)\n"    # line 8: missing comma
           "    epochs 10\n"
           "}\n")
    doc, diagnostics = check(src)
    assert [(d.code, d.span.line) for d in diagnostics] == [("E102", 3), ("E101", 4), ("E102", 8)]
    assert keywords(doc) == [["input", "dense"], ["epochs"]]


def test_one_diagnostic_per_bad_statement():
    # Several bad things on one line are one mistake as far as recovery goes.
    doc, diagnostics = check("train {\n    x $ @ ' ) ,\n    epochs 1\n}\n")
    assert [(d.code, d.span.line) for d in diagnostics] == [("E101", 2)]
    assert keywords(doc) == [["epochs"]]


CASES = [
    # (source, code, (line, col), message fragment, label or hint fragment)
    ("model m {\n  dense ,\n}", "E102", (2, 9),
     'expected a value (a number, a name, a string or a list), "(", "{" or the end of the '
     'statement after "dense", found ","', 'unexpected ","'),
    ("model m {\n  dense 16 relu,\n}", "E102", (2, 17), 'after ",", found the end of the line',
     'remove the trailing ","'),
    ("model m { dense 16 relu, }", "E102", (1, 26), 'found "}"', 'remove the trailing ","'),
    ("train {\n  optimizer adam(lr=0.01 wd=1)\n}", "E102", (2, 26),
     'expected "," or ")" after "0.01", found "wd"', 'separate values inside (...) and [...]'),
    ("train {\n  x [1 2]\n}", "E102", (2, 8), 'expected "," or "]" after "1", found the number',
     'separate values'),
    ("train {\n  x )\n}", "E102", (2, 5), 'found ")"', 'nothing is open here'),
    ("train {\n  lr=0.1\n}", "E102", (2, 5), 'after "lr", found "="', "an option goes after"),
    ("train {\n  x = \n}", "E102", (2, 5), 'found "="', "an option goes after"),
    ("train {\n  x y= \n}", "E102", (2, 8), 'expected a value (a number, a name, a string or a '
     'list) after "=", found the end of the line', "the line ends here"),
    ("train {\n  x f(a=1\n}", "E102", (3, 1), 'expected "," or ")" after "1", found "}"',
     'the "(" at line 2, column 6 is not closed'),
    ("train {\n  = 1\n}", "E102", (2, 3),
     'expected a statement (a name such as "dense" or "epochs") or "}", found "="', ""),
    ("train {\n  16 relu\n}", "E102", (2, 3), "expected a statement", ""),
    ("train {\n  x { = }\n}", "E102", (2, 7),
     'expected a statement (a name such as "dense" or "epochs") or "}", found "="', ""),
    ("epochs 10\n", "E102", (1, 8), 'expected a name, "{" or the end of the line after "epochs"',
     "statements belong inside a block"),
    ("}\n", "E102", (1, 1), 'expected a block, such as "model name {"', "no block is open here"),
    ("model m extra {\n}\n", "E102", (1, 9), 'expected "{" or the end of the line after "m", '
     'found "extra"', ""),
    ("42 {\n}\n", "E102", (1, 1), "expected a block", ""),
    # E101
    ("train {\n  x $\n}", "E101", (2, 5), 'unexpected character "$"', "not part of any token"),
    ("train {\n  x 'abc'\n}", "E101", (2, 5), "unexpected character \"'\"",
     'strings use double quotes: "abc"'),
    ("train {\n  x lr: 3\n}", "E101", (2, 7), 'unexpected character ":"', "key=value"),
    ("train {\n  x - 3\n}", "E101", (2, 5), 'unexpected character "-"', "without a space"),
    ("train {\n  dense 16relu\n}", "E101", (2, 9), 'unexpected character "r" after the number "16"',
     "put a space"),
    ("train {\n  x 1.2.3\n}", "E101", (2, 5), 'unexpected character "." after the number "1.2"',
     "not a number"),
    ("train {\n  x \x00\n}", "E101", (2, 5), "unexpected character U+0000", ""),
    ("train {\n  x é\n}", "E101", (2, 5), 'unexpected character "é"', ""),
    # E103: the file ends inside a statement or a block header
    ("train {\n  x f(a=1,", "E103", (2, 11), 'after ",", found the end of the file',
     'the "(" at line 2, column 6 is not closed'),
    ("train {\n  x [1,\n 2", "E103", (3, 3), 'expected "," or "]" after "2"', "the file ends here"),
    ("model m", "E103", (1, 8), 'expected "{" or the end of the line after "m"', ""),
    ("train {\n  x y=", "E103", (2, 7), 'after "="', ""),
    # E104
    ('train {\n  init from "abc\n}', "E104", (2, 13), "unterminated string",
     "never closed"),
    ('train {\n  x "a\\"\n}', "E104", (2, 5), "unterminated string", "cannot span lines"),
    # E105
    ("model m {\n  input 2\n", "E105", (1, 9),
     'expected "}" to close the "model" block opened at line 1', 'add "}" at the end of the file'),
    ("model m {\n  input 2\ndata {\n  source x\n}\n", "E105", (1, 9),
     'to close the "model" block opened at line 1', 'add "}" before line 3'),
    ("model m {\n  input 2\ndata{}", "E105", (1, 9), '"model" block', 'before line 3'),
]


@pytest.mark.parametrize("src,code,pos,message,extra", CASES, ids=[c[0][:30] for c in CASES])
def test_error_cases(src, code, pos, message, extra):
    _doc, diagnostics = check(src)
    assert diagnostics, "no diagnostic"
    d = diagnostics[0]
    assert (d.code, (d.span.line, d.span.col)) == (code, pos), d.message
    assert message in d.message
    assert d.message[0].islower()
    assert extra in " ".join([d.label or "", *d.hints, *d.notes])


def test_unclosed_block_keeps_both_blocks():
    doc, diagnostics = check("model m {\n  input 2\n  dense 1\ndata {\n  source x\n}\n")
    assert [d.code for d in diagnostics] == ["E105"]
    assert keywords(doc) == [["input", "dense"], ["source"]]
    assert doc.blocks[0].close_brace is None
    assert doc.blocks[0].span.end_line == 3  # ends at its last statement, not at `data`


def test_cut_short_statement_then_unclosed_block():
    doc, diagnostics = check("train {\n  epochs 3\n  optimizer adam(lr=0.1,")
    assert [d.code for d in diagnostics] == ["E103", "E105"]
    assert keywords(doc) == [["epochs"]]


def test_whole_last_statement_is_kept_when_only_brace_is_missing():
    doc, diagnostics = check("train {\n  epochs 3\n  batch 4")
    assert [d.code for d in diagnostics] == ["E105"]
    assert keywords(doc) == [["epochs", "batch"]]


def test_bad_header_keeps_its_block():
    doc, diagnostics = check('model m extra {\n  input 2\n}\nmodel "q" {\n  input 3\n}\n')
    assert [d.code for d in diagnostics] == ["E102", "E102"]
    assert [(b.kind.value, b.name.value if b.name else None) for b in doc.blocks] == [
        ("model", "m"), ("model", None)]
    assert keywords(doc) == [["input"], ["input"]]


def test_unusable_header_skips_its_block():
    doc, diagnostics = check('42 {\n  input 2\n}\ntrain {\n  epochs 1\n}\n')
    assert [d.code for d in diagnostics] == ["E102"]
    assert keywords(doc) == [["epochs"]]


def test_missing_paren_does_not_swallow_the_next_block():
    doc, diagnostics = check('data {\n  source csv("a.csv", target=2\n  split validation=0.2\n}\n'
                             'train {\n  epochs 1\n}\n')
    assert [(d.code, d.span.line) for d in diagnostics] == [("E102", 3)]
    assert keywords(doc) == [[], ["epochs"]]


def test_deep_nesting_is_a_diagnostic():
    src = "train {\n  x " + "[" * 200 + "]" * 200 + "\n  epochs 1\n}\n"
    doc, diagnostics = check(src)
    assert [d.code for d in diagnostics] == ["E102"]
    assert "nested" in diagnostics[0].message
    assert keywords(doc) == [["epochs"]]


def test_error_count_is_capped():
    src = "train {\n" + "  x $\n" * 500 + "}\n"
    _doc, diagnostics = check(src)
    assert len(diagnostics) == 100


@pytest.mark.parametrize("src", [
    "", "\x00", "}", "{", "(((", ")))", '"', "'", "\ufeff", "\r\n", "\r", "\ud800", "#", ";",
    "model", "model {", "model m {{{", "}}}}", "a b c d e f", "model m { ( }", "\\", "=",
    "model m { x [ }", "model m { x ( \n\n }", "model m { x \" }", "\x0b\x0c\x1c\x85\u2028",
])
def test_never_raises(src):
    check(src)

"""Statements with a body (`concat { branch { dense 32 relu } }`): the tree, spans of the
statement and its braces, separators, the `{` on the statement's line, recovery inside bodies
at any depth (one diagnostic per bad statement, E105 at the `{` that lacks its `}`, one `}` too
many), and the nesting cap."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from parse_helpers import all_spans, assert_span_ok, view

from nnspec.parse import parse, strip_spans
from nnspec.parse.parser import BLOCK_KINDS, MAX_NESTING, parse_unguarded

EXAMPLE = (Path(__file__).parent / "golden" / "bodies" / "inception.nn").read_text("utf-8")
N = lambda v: ("num", v, str(v))  # noqa: E731


def parse_ok(text: str):
    doc, diagnostics = parse_unguarded(text, "t.nn")
    assert diagnostics == [], [d.message for d in diagnostics]
    for span in all_spans(doc):
        assert_span_ok(text, span)
    return doc


def model(text: str):
    return parse_ok("model m {\n" + text + "\n}\n").blocks[0].statements


def test_the_example_tree():
    (block,) = parse_ok(EXAMPLE).blocks
    dense = lambda n, act=None: ("dense", None, [N(n)] + ([act] if act else []),  # noqa: E731
                                 [False] * (2 if act else 1))
    assert [view(s) for s in block.statements] == [
        ("input", None, [N(64)], [False]),
        dense(64, "relu"),
        ("concat", None, [], [], [
            ("branch", None, [], [], [dense(32, "relu")]),
            ("branch", None, [], [], [dense(16, "relu"), dense(32, "relu")]),
        ]),
        ("residual", None, [], [], [dense(64, "relu"), dense(64)]),
        ("head", None, ["aux", ("opt", "weight", ("num", 0.3, "0.3"))], [False, False],
         [dense(10, "softmax")]),
        dense(10, "softmax"),
    ]


def test_spans_of_statements_with_bodies_and_their_braces():
    doc = parse_ok(EXAMPLE)
    src = EXAMPLE

    def walk(statements):
        for st in statements:
            if st.body is None:
                assert st.open_brace is None and st.close_brace is None
                continue
            assert src[st.open_brace.start:st.open_brace.end] == "{"
            assert src[st.close_brace.start:st.close_brace.end] == "}"
            # The statement runs from its keyword through its `}`; the `{` is on its line.
            assert st.span.start == st.keyword.span.start
            assert st.span.end == st.close_brace.end
            assert st.open_brace.line == st.keyword.span.line
            for inner in st.body:
                assert st.open_brace.end <= inner.span.start <= inner.span.end
                assert inner.span.end <= st.close_brace.start
            walk(st.body)

    walk(doc.blocks[0].statements)
    concat = doc.blocks[0].statements[2]
    assert (concat.span.line, concat.span.col, concat.span.end_line, concat.span.end_col) == (
        4, 5, 7, 6)
    head = doc.blocks[0].statements[4]
    assert src[head.span.start:head.span.end] == "head aux weight=0.3 { dense 10 softmax }"


def test_no_braces_is_none_and_empty_braces_is_empty():
    plain, empty, spaced = model("    a 1\n    b {}\n    c {\n\n    }")
    assert plain.body is None
    assert empty.body == () and empty.close_brace is not None
    assert spaced.body == ()
    assert strip_spans(plain)["body"] is None and strip_spans(empty)["body"] == []


@pytest.mark.parametrize("src", [
    "x { a; b }", "x { a; b; }", "x {\n a\n b\n}", "x {\n\n a\n\n\n b\n\n}", "x { ; a ;; b ; }",
    "x {\n a; b\n}", "x { a\n b }",
])
def test_separators_inside_a_body(src):
    (st,) = model(src)
    assert [s.keyword.value for s in st.body] == ["a", "b"]


def test_any_statement_form_takes_a_body():
    (st,) = model("    merge(mode=sum) 3, x key=[1, 2] f(a=1) { y }")
    assert view(st) == ("merge", [("opt", "mode", "sum")],
                        [N(3), "x", ("opt", "key", ("list", [N(1), N(2)])),
                         ("call", "f", [("opt", "a", N(1))])],
                        [True, False, False, False], [("y", None, [], [])])


def test_deep_nesting_up_to_the_cap_parses():
    src = "model m {\n" + "x {" * (MAX_NESTING - 1) + "}" * (MAX_NESTING - 1) + "\n}\n"
    doc = parse_ok(src)
    depth, body = 0, doc.blocks[0].statements
    while body:
        depth, body = depth + 1, body[0].body
    assert depth == MAX_NESTING - 1


def test_nesting_beyond_the_cap_is_one_diagnostic():
    src = "model m {\n  a 1\n  " + "x {" * 500 + "}" * 500 + "\n  b 2\n}\n"
    doc, diagnostics = parse(src)
    assert [d.code for d in diagnostics] == ["E102"]
    assert "nested" in diagnostics[0].message
    # The statement whose `{` is one too deep is left out; those around it are kept.
    a, x, b = doc.blocks[0].statements
    assert (a.keyword.value, x.keyword.value, b.keyword.value) == ("a", "x", "b")
    depth = 0
    while x.body:
        depth, x = depth + 1, x.body[0]
    assert depth == MAX_NESTING - 2  # the block is one level, and the deepest `x` is dropped


def test_brace_must_be_on_the_statements_line():
    doc, diagnostics = parse("model m {\n  concat\n  {\n    dense 1\n  }\n}\n")
    assert [(d.code, d.span.line) for d in diagnostics] == [("E102", 3)]


def test_block_kinds_are_the_checkers():
    from nnspec.check.statements import BLOCKS

    assert set(BLOCKS) == BLOCK_KINDS


@pytest.mark.parametrize("header", ["concat {", "branch {", "residual {", "head aux {",
                                    "head aux weight=0.3 {", "modle m {"])
def test_statement_with_a_body_is_not_a_block_header(header):
    (st,) = model(f"    {header}\n        dense 1\n    }}")
    assert [s.keyword.value for s in st.body] == ["dense"]


# -- recovery -----------------------------------------------------------------------------------

def keywords(statements):
    return [(s.keyword.value, keywords(s.body)) if s.body is not None else s.keyword.value
            for s in statements]


def test_bad_statement_in_a_branch_costs_only_that_statement():
    src = ("model m {\n    concat {\n        branch { dense 16 relu, ; dense 32 relu }\n"
           "        branch {\n            dense $ 4\n            dense 8\n        }\n    }\n"
           "    dense 1\n}\ntrain { epochs 1 }\n")
    doc, diagnostics = parse(src)
    assert [(d.code, d.span.line) for d in diagnostics] == [("E102", 3), ("E101", 5)]
    assert keywords(doc.blocks[0].statements) == [
        ("concat", [("branch", ["dense"]), ("branch", ["dense"])]), "dense"]
    assert keywords(doc.blocks[1].statements) == ["epochs"]


def test_bad_header_of_a_body_statement_drops_it_whole():
    doc, diagnostics = parse("model m {\n  a 1\n  concat = { b { c } }\n  d 2\n}\n")
    assert [(d.code, d.span.line) for d in diagnostics] == [("E102", 3)]
    assert keywords(doc.blocks[0].statements) == ["a", "d"]


@pytest.mark.parametrize("depth", [1, 3, 10])
def test_recovery_at_any_depth(depth):
    src = ("model m {\n" + "x {\n" * depth + "ok 1\nbad = 2\nok 3\n" + "}\n" * depth
           + "}\ntrain { epochs 1 }\n")
    doc, diagnostics = parse(src)
    assert [(d.code, d.span.line) for d in diagnostics] == [("E102", depth + 3)]
    body = doc.blocks[0].statements
    for _ in range(depth):
        (st,) = body
        body = st.body
    assert keywords(body) == ["ok", "ok"]
    assert keywords(doc.blocks[1].statements) == ["epochs"]


def test_missing_brace_of_a_body_is_e105_at_its_brace_and_keeps_the_next_block():
    src = ("model m {\n    residual {\n        dense 1\n        dense 2\n\n    dense 3\n}\n\n"
           "data {\n    source x\n}\n")
    doc, diagnostics = parse(src)
    assert [(d.code, d.span.line, d.span.col) for d in diagnostics] == [("E105", 2, 14)]
    assert 'the body of "residual"' in diagnostics[0].message
    assert [b.kind.value for b in doc.blocks] == ["model", "data"]
    assert keywords(doc.blocks[1].statements) == ["source"]


def test_missing_brace_of_a_nested_body_blames_it_by_the_layout():
    src = ("model m {\n    concat {\n        branch { dense 1\n        branch { dense 2 }\n"
           "    }\n    dense 3\n}\ntrain { epochs 1 }\n")
    doc, diagnostics = parse(src)
    assert [(d.code, d.span.line, d.span.col) for d in diagnostics] == [("E105", 3, 16)]
    assert 'add "}" before line 5' in diagnostics[0].hints
    assert keywords(doc.blocks[1].statements) == ["epochs"]


def test_file_ending_inside_bodies_reports_each_open_brace():
    doc, diagnostics = parse("model m { a { b { c 1")
    assert [(d.code, d.span.col) for d in diagnostics] == [("E105", 9), ("E105", 13),
                                                           ("E105", 17)]
    assert keywords(doc.blocks[0].statements) == [("a", [("b", ["c"])])]
    assert doc.blocks[0].statements[0].close_brace is None


def test_block_header_inside_a_body_closes_everything_open():
    doc, diagnostics = parse("model m {\n  a {\n    b 1\ntrain {\n  epochs 1\n}\n")
    assert [d.code for d in diagnostics] == ["E105", "E105"]
    assert keywords(doc.blocks[0].statements) == [("a", ["b"])]
    assert keywords(doc.blocks[1].statements) == ["epochs"]


@pytest.mark.parametrize("src,line", [
    ("model m {\n    residual { dense 1 } }\n    dense 2\n}\ntrain { epochs 1 }\n", 2),
    ("model m {\n    a {\n        b { c } }\n    }\n    dense 2\n}\ntrain { epochs 1 }\n", 4),
    ("model m {\n    input 2 }\n    dense 2\n}\ntrain { epochs 1 }\n", 2),
])
def test_one_closing_brace_too_many(src, line):
    doc, diagnostics = parse(src)
    assert [(d.code, d.span.line) for d in diagnostics] == [("E102", line)]
    assert diagnostics[0].hints == ('remove this "}"',)
    assert keywords(doc.blocks[0].statements)[-1] == "dense"
    assert keywords(doc.blocks[1].statements) == ["epochs"]


@pytest.mark.parametrize("src", [
    "model m {\n  input 2 }\ntrain { epochs 1 }\n",       # a `}` after code, then a block
    "model m {\n  input 2 }\n  modle x {\n  }\n",          # then an (unknown) block header
    "model m {\n  input 2 }\nmodel n\n{\n}\n",              # the header's `{` on the next line
    "model m { a { b } }\n",
])
def test_valid_closing_braces_are_never_too_many(src):
    parse_ok(src)


def test_statement_is_recursive_in_the_schema():
    from nnspec.syntax import Statement

    schema = Statement.model_json_schema()
    assert "body" in schema["$defs"]["Statement"]["properties"]


def lalr_conflicts(text: str, start: list[str], caplog) -> list[str]:
    """The shift/reduce conflicts Lark resolves silently (it logs them in debug mode)."""
    from lark import Lark, logger

    caplog.clear()
    old = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        with caplog.at_level(logging.DEBUG, logger="lark"):
            Lark(text, parser="lalr", lexer="basic", start=start, debug=True)
    finally:
        logger.setLevel(old)
    return [r.getMessage() for r in caplog.records if "conflict" in r.getMessage()]


def test_grammar_has_no_conflicts(caplog):
    from nnspec.parse.grammar import START_RULES, grammar_source

    assert lalr_conflicts('start: e\ne: e "+" e | "n"', ["start"], caplog)  # the probe works
    text, _ = grammar_source()
    assert lalr_conflicts(text, list(START_RULES), caplog) == []

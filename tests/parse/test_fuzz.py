"""Fuzzing parse(): random edits of the contract specs and random text. Whatever the input,
parse() returns (no exception, no internal-error diagnostic), every diagnostic has a span inside
the text whose line/col agree with its offsets, and a file without diagnostics survives fmt
(idempotent, same tree)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from parse_helpers import all_spans, assert_span_ok

from nnspec.fmt import format_document
from nnspec.parse import strip_spans
from nnspec.parse.parser import parse_unguarded

SPECS = [p.read_text(encoding="utf-8")
         for p in sorted(Path(__file__).resolve().parents[2].joinpath("specs").glob("*.nn"))]
# Specs with statement bodies (nested braces), valid and broken.
SPECS += [p.read_text(encoding="utf-8")
          for p in sorted(Path(__file__).parent.joinpath("golden", "bodies").glob("*.nn"))]
TOKENS = ["{", "}", "(", ")", "[", "]", ",", "=", ";", '"', "'", "\n", "\r\n", "#", " ", "\t",
          "dense", "16", "1e-4", "-", ".5", "-3", "x=", "model m {", "data {", "}\n", "\x00",
          "é", "😀", "\\", '"a\\"b"', "relu(", "[1,", "\ufeff", ":", "\u2028", "then",
          "concat {", "branch {", " { dense 1 }", "head aux weight=0.3 {", "residual {", "{}",
          "} }"]
FAST = settings(max_examples=600, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])


def check(text: str) -> None:
    doc, diagnostics = parse_unguarded(text, "f.nn")
    for d in diagnostics:
        assert d.span is not None
        assert_span_ok(text, d.span)
        assert d.code in {"E101", "E102", "E103", "E104", "E105"}
    for span in all_spans(doc):
        assert_span_ok(text, span)
    out = format_document(doc)  # must not fail even on a recovered document
    if not diagnostics:
        again, more = parse_unguarded(out)
        assert more == []
        assert strip_spans(again) == strip_spans(doc)
        assert format_document(again) == out


edit = st.tuples(st.sampled_from(["insert", "delete", "replace"]), st.floats(0, 1),
                 st.integers(1, 8), st.sampled_from(TOKENS))


@FAST
@given(st.sampled_from(SPECS), st.lists(edit, min_size=1, max_size=4))
def test_random_edits_of_specs(spec, edits):
    text = spec
    for op, where, width, token in edits:
        i = int(where * len(text))
        if op == "insert":
            text = text[:i] + token + text[i:]
        elif op == "delete":
            text = text[:i] + text[i + width:]
        else:
            text = text[:i] + token + text[i + len(token):]
    check(text)


@FAST
@given(st.lists(st.sampled_from(TOKENS + ["a", "b", "1", "  "]), max_size=40))
def test_random_token_soup(tokens):
    check(" ".join(tokens) if len(tokens) % 2 else "".join(tokens))


@FAST
@given(st.text(max_size=200))
def test_random_text(text):
    check(text)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.binary(max_size=200))
def test_random_bytes_decoded(data):
    check(data.decode("utf-8", errors="surrogateescape"))


# -- generated specs with nested bodies: every layout parses cleanly and survives fmt ----------

NAMES = st.sampled_from(["dense", "concat", "branch", "residual", "head", "x", "relu", "aux"])
ARGS = st.lists(st.sampled_from(["16", "relu", "aux", "weight=0.3", "f(a=1)", "[1, 2]", '"s"']),
                max_size=3)
LEAF = st.tuples(NAMES, ARGS, st.none())


def statements_with_bodies(children):
    return st.tuples(NAMES, ARGS, st.lists(children, max_size=3))


STATEMENT = st.recursive(LEAF, statements_with_bodies, max_leaves=12)


def render(stmt, depth: int, layout, comments: bool = True) -> str:
    """A statement as text, in a layout chosen per body: one line, or one statement a line
    with random indents, blank lines and comments (none under a one-line body, where a
    comment would swallow the rest of the line)."""
    keyword, args, body = stmt
    head = " ".join([keyword, *args])
    if body is None:
        return head
    if layout(depth) == "line":
        inner = "; ".join(render(s, depth + 1, layout, False) for s in body)
        return head + " { " + inner + " }"
    pad = " " * layout(depth, "indent")
    comment = lambda: comments and layout(depth, "comment")  # noqa: E731
    lines = [head + " {" + ("  # open" if comment() else "")]
    for s in body:
        if layout(depth, "blank"):
            lines.append("")
        if comment():
            lines.append(pad + "# before")
        lines.append(pad + render(s, depth + 1, layout, comments))
    lines.append("}" + ("  # close" if comment() else ""))
    return "\n".join(lines)


@FAST
@given(st.lists(STATEMENT, min_size=1, max_size=4), st.randoms(use_true_random=False))
def test_generated_bodies_round_trip(stmts, rnd):
    def layout(depth, what="shape"):
        if what == "shape":
            return "line" if rnd.random() < 0.4 else "lines"
        if what == "indent":
            return rnd.randint(0, 12)
        return rnd.random() < 0.3

    text = "model m {\n" + "\n".join(render(s, 1, layout) for s in stmts) + "\n}\n"
    doc, diagnostics = parse_unguarded(text, "f.nn")
    assert diagnostics == [], (text, [d.message for d in diagnostics])

    def shape(s):
        return (s.keyword.value, None if s.body is None else [shape(b) for b in s.body])

    def wanted(s):
        return (s[0], None if s[2] is None else [wanted(b) for b in s[2]])

    assert [shape(s) for s in doc.blocks[0].statements] == [wanted(s) for s in stmts]
    check(text)

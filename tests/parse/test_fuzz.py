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
TOKENS = ["{", "}", "(", ")", "[", "]", ",", "=", ";", '"', "'", "\n", "\r\n", "#", " ", "\t",
          "dense", "16", "1e-4", "-", ".5", "-3", "x=", "model m {", "data {", "}\n", "\x00",
          "é", "😀", "\\", '"a\\"b"', "relu(", "[1,", "\ufeff", ":", "\u2028", "then"]
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

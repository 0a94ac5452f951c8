"""lsp.positions: Span <-> LSP positions, checked against Python's own UTF-16/UTF-8 encoders."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lsprotocol import types

from nnspec.diagnostics import Span
from nnspec.lsp.positions import (
    UTF8,
    UTF16,
    UTF32,
    offset_to_position,
    position_to_offset,
    span_to_range,
)
from nnspec.pipeline import diagnose

ENCODERS = {UTF16: ("utf-16-le", 2), UTF8: ("utf-8", 1), UTF32: ("utf-32-le", 4)}


def units(s: str, encoding: str) -> int:
    """Independent oracle: the length of `s` in code units, by encoding it."""
    codec, width = ENCODERS[encoding]
    return len(s.encode(codec)) // width


def span_of(text: str, needle: str, occurrence: int = 0) -> Span:
    """The nnspec Span of the `occurrence`-th `needle` (1-based line/col in code points)."""
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(needle, start + 1)
    line = text.count("\n", 0, start) + 1
    col = start - (text.rfind("\n", 0, start) + 1) + 1
    return Span(line=line, col=col, end_line=line, end_col=col + len(needle), start=start,
                end=start + len(needle))


def expected_range(text: str, needle: str, encoding: str = UTF16) -> tuple:
    start = text.index(needle)
    line_start = text.rfind("\n", 0, start) + 1
    line = text.count("\n", 0, start)
    a = units(text[line_start:start], encoding)
    return (line, a, line, a + units(needle, encoding))


def as_tuple(r: types.Range) -> tuple:
    return (r.start.line, r.start.character, r.end.line, r.end.character)


NON_ASCII = [
    # (text, needle): needle is on a line where non-ASCII text comes before it
    ('model m {\n    # π ≈ 3.14 😀\n    input 2 😀\n}\n', "😀\n}"),
    ('x = "π ≈ 3.14 😀" rleu\n', "rleu"),
    ('# π ≈ 3.14 😀\ndense "😀😀" relu', "relu"),
    ("a\r\nb 😀 c\r\n", "c"),
    ("\t\t𝔘𝔫𝔦 code", "code"),
]


@pytest.mark.parametrize("encoding", [UTF16, UTF8, UTF32])
@pytest.mark.parametrize("text,needle", NON_ASCII)
def test_span_to_range_counts_code_units(text: str, needle: str, encoding: str) -> None:
    needle_only = needle.split("\n")[0]
    got = span_to_range(text, span_of(text, needle_only), encoding)
    assert as_tuple(got) == expected_range(text, needle_only, encoding)


def test_diagnostic_after_non_ascii_on_the_same_line() -> None:
    """The checker's span of a name after an emoji string maps to the UTF-16 range of it."""
    text = (
        "# π ≈ 3.14 😀\n"
        "model m {\n"
        "    input 4\n"
        "    dense 3 softmax\n"
        "}\n"
        'data { source csv("dätä/😀.csv", target=y, bogsu=1) }\n'
        "train { loss categorical_crossentropy }\n"
    )
    _, diagnostics = diagnose(text, None)
    (d,) = [d for d in diagnostics if d.code == "E211"]
    got = as_tuple(span_to_range(text, d.span))
    assert got == expected_range(text, "bogsu")
    # The emoji counts twice in UTF-16: a code-point count would be one less.
    assert got[1] == text.splitlines()[5].index("bogsu") + 1


def test_lone_carriage_return_is_a_line_break_for_lsp() -> None:
    # nnspec counts lines by "\n" only; LSP also breaks at a lone "\r".
    text = "a\rb c\n"
    span = Span(line=1, col=5, end_line=1, end_col=6, start=4, end=5)
    assert as_tuple(span_to_range(text, span)) == (1, 2, 1, 3)


def test_missing_span_is_start_of_file() -> None:
    assert as_tuple(span_to_range("model {}", None)) == (0, 0, 0, 0)


@pytest.mark.parametrize("col,end_col", [(50, 60), (1, 99)])
def test_span_past_line_end_is_clamped(col: int, end_col: int) -> None:
    text = "abc\ndef\n"
    r = span_to_range(text, Span(line=1, col=col, end_line=1, end_col=end_col))
    assert r.end.line == 0 and r.end.character <= 3


def test_position_inside_a_surrogate_pair_rounds_down() -> None:
    text = "😀x"
    assert position_to_offset(text, types.Position(line=0, character=1)) == 0
    assert position_to_offset(text, types.Position(line=0, character=2)) == 1


def test_position_past_the_end_is_clamped() -> None:
    text = "ab\ncd"
    assert position_to_offset(text, types.Position(line=0, character=99)) == 2
    assert position_to_offset(text, types.Position(line=9, character=0)) == len(text)


TEXT = st.text(alphabet=st.sampled_from(list("ab \t\n\r#\"πé😀𝔘{}=")), max_size=40)


@settings(max_examples=200, deadline=None)
@given(text=TEXT, data=st.data())
def test_offset_position_round_trip(text: str, data: st.DataObject) -> None:
    offset = data.draw(st.integers(0, len(text)))
    if 0 < offset < len(text) and text[offset - 1] == "\r" and text[offset] == "\n":
        offset -= 1  # between "\r" and "\n" is not a position LSP can name
    for encoding in (UTF16, UTF8, UTF32):
        pos = offset_to_position(text, offset, encoding)
        assert position_to_offset(text, pos, encoding) == offset
        # Oracle: the character is the encoded length of the line's text before the offset.
        line_start = max(text.rfind("\n", 0, offset), text.rfind("\r", 0, offset)) + 1
        assert pos.character == units(text[line_start:offset], encoding)

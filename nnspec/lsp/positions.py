"""lsp.positions: nnspec Span (1-based line/col in code points) <-> LSP Range (0-based).

The only place where positions change representation. nnspec counts lines by `\\n` (as the
parser does) and columns in Unicode code points; LSP counts lines by `\\n`, `\\r\\n` or `\\r`
and columns in the code units of the negotiated position encoding (UTF-16 unless the client
asks for UTF-8 or UTF-32). Both sides are mapped through the code-point offset into the text,
which is unambiguous, so a lone `\\r` or an astral character (`😀`, two UTF-16 units) before a
diagnostic cannot shift its range.
"""

from __future__ import annotations

import bisect
import re
from functools import lru_cache

from lsprotocol import types

from nnspec.diagnostics import Span

UTF8, UTF16, UTF32 = "utf-8", "utf-16", "utf-32"

_LSP_BREAK = re.compile(r"\r\n|\r|\n")


def _units(chars: str, encoding: str) -> int:
    """Length of `chars` in code units of `encoding`."""
    if encoding == UTF32:
        return len(chars)
    if encoding == UTF8:
        return len(chars.encode("utf-8", "surrogatepass"))
    return len(chars) + sum(1 for c in chars if ord(c) > 0xFFFF)


def _chars_for_units(line: str, units: int, encoding: str) -> int:
    """How many code points of `line` fill `units` code units (clamped to the line; a
    position inside a character is rounded down to the character's start)."""
    if encoding == UTF32:
        return max(0, min(units, len(line)))
    used = 0
    for i, c in enumerate(line):
        used += _units(c, encoding)
        if used > units:
            return i
    return len(line)


class LineIndex:
    """Line starts of one text under both line conventions."""

    def __init__(self, text: str):
        self.text = text
        # nnspec lines: split on "\n" only (lark counts lines this way).
        self.nn_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        # LSP lines: "\r\n", "\r" or "\n"; ends[i] excludes the line break.
        self.lsp_starts = [0]
        self.lsp_ends = []
        for m in _LSP_BREAK.finditer(text):
            self.lsp_ends.append(m.start())
            self.lsp_starts.append(m.end())
        self.lsp_ends.append(len(text))

    def offset_of_span_start(self, line: int, col: int) -> int:
        """Code-point offset of a 1-based nnspec (line, col), clamped into the text."""
        if line < 1:
            return 0
        if line > len(self.nn_starts):
            return len(self.text)
        start = self.nn_starts[line - 1]
        end = self.nn_starts[line] - 1 if line < len(self.nn_starts) else len(self.text)
        return min(start + max(col - 1, 0), end)

    def position(self, offset: int, encoding: str = UTF16) -> types.Position:
        """LSP position of a code-point offset."""
        offset = max(0, min(offset, len(self.text)))
        i = bisect.bisect_right(self.lsp_starts, offset) - 1
        # An offset between "\r" and "\n" belongs to the end of the line before.
        offset = min(offset, self.lsp_ends[i])
        start = self.lsp_starts[i]
        return types.Position(line=i, character=_units(self.text[start:offset], encoding))

    def offset(self, position: types.Position, encoding: str = UTF16) -> int:
        """Code-point offset of an LSP position (clamped to the line, as LSP asks)."""
        if position.line < 0:
            return 0
        if position.line >= len(self.lsp_starts):
            return len(self.text)
        start, end = self.lsp_starts[position.line], self.lsp_ends[position.line]
        return start + _chars_for_units(self.text[start:end], position.character, encoding)


@lru_cache(maxsize=8)
def line_index(text: str) -> LineIndex:
    return LineIndex(text)


def span_to_range(text: str, span: Span | None, encoding: str = UTF16) -> types.Range:
    """THE conversion: an nnspec Span in `text` to an LSP Range in `encoding` code units.

    Uses line/col (what every producer of spans fills in) rather than start/end offsets.
    A missing span (a file-level finding) becomes an empty range at the start of the file.
    """
    index = line_index(text)
    if span is None:
        zero = types.Position(line=0, character=0)
        return types.Range(start=zero, end=zero)
    start = index.offset_of_span_start(span.line, span.col)
    end = max(start, index.offset_of_span_start(span.end_line, span.end_col))
    return types.Range(start=index.position(start, encoding), end=index.position(end, encoding))


def position_to_offset(text: str, position: types.Position, encoding: str = UTF16) -> int:
    """The inverse direction, for requests: an LSP position to a code-point offset."""
    return line_index(text).offset(position, encoding)


def offset_to_position(text: str, offset: int, encoding: str = UTF16) -> types.Position:
    return line_index(text).position(offset, encoding)


def offsets_to_range(text: str, start: int, end: int, encoding: str = UTF16) -> types.Range:
    index = line_index(text)
    return types.Range(start=index.position(start, encoding), end=index.position(end, encoding))

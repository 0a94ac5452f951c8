"""lsp.formatting: document text -> TextEdits from `nnspec.fmt.format_source` (nnspec fmt).

One edit replacing the whole document, or none: none when the text is already formatted and
none when it has syntax errors (format_source returns None then), so formatting never
destroys what the user is in the middle of writing.
"""

from __future__ import annotations

from lsprotocol import types

from nnspec.lsp.positions import UTF16, offset_to_position


def format_edits(text: str, encoding: str = UTF16) -> list[types.TextEdit]:
    from nnspec.fmt import format_source

    new, _diagnostics = format_source(text)
    if new is None or new == text:
        return []
    start = types.Position(line=0, character=0)
    end = offset_to_position(text, len(text), encoding)
    return [types.TextEdit(range=types.Range(start=start, end=end), new_text=new)]

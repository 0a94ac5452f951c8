"""parse: source text -> (syntax.Document, diagnostics).

`parse()` never raises: bad input becomes diagnostics (E101..E105) and the Document keeps every
statement that parsed. See parser.py for how errors are recovered, grammar/nnspec.lark for the
language, and compare.py for `strip_spans` (syntax trees compared without positions).
"""

from __future__ import annotations

from nnspec.diagnostics import Diagnostic
from nnspec.parse.compare import strip_spans
from nnspec.parse.parser import parse_unguarded
from nnspec.syntax import Document

__all__ = ["parse", "strip_spans"]


def parse(text: str, path: str | None = None) -> tuple[Document, list[Diagnostic]]:
    """Parse a `.nn` source. Returns the best Document it can and the syntax diagnostics."""
    try:
        return parse_unguarded(text, path)
    except Exception as exc:  # noqa: BLE001 - a parser bug must not become a user's traceback
        from nnspec.diagnostics import error
        from nnspec.parse.build import text_span

        diag = error("E102", f"internal parser error ({type(exc).__name__}: {exc}); "
                     "please report this file", None, path=path)
        return Document(span=text_span(text), path=path), [diag]

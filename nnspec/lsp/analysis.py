"""lsp.analysis: document text -> Analysis (checked Spec or None, diagnostics, syntax tree).

The one front-end path: `nnspec.pipeline.diagnose()` (what `nnspec check` runs). The
syntax tree for the outline comes from `nnspec.parse.parse()`, built only when asked for.
Results are kept per document version, so hover and symbols do not check the text again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from nnspec.diagnostics import Diagnostic
from nnspec.lsp.context import Token, tokenize

log = logging.getLogger("nnspec.lsp")


class FrontEndError(Exception):
    """The front end itself failed (a bug, not a mistake in the spec)."""


@dataclass
class Analysis:
    text: str
    path: str | None
    spec: Any = None  # nnspec.ir.Spec when the text checks
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @cached_property
    def tokens(self) -> list[Token]:
        return tokenize(self.text)

    @cached_property
    def document(self) -> Any:
        """The syntax tree (`nnspec.syntax.Document`), also for text with syntax errors as far
        as the parser recovers; None if the parser gives none."""
        from nnspec.parse import parse

        try:
            doc, _ = parse(self.text, self.path)
        except Exception as exc:  # a parser bug must not take the outline down with it
            log.exception("parse() failed")
            raise FrontEndError("parse() failed") from exc
        return doc


def analyze(text: str, path: str | None) -> Analysis:
    """Check `text` through the shared front end. Raises FrontEndError on a front-end bug."""
    from nnspec.pipeline import diagnose

    try:
        spec, diagnostics = diagnose(text, path)
    except Exception as exc:
        raise FrontEndError(f"diagnose() failed: {exc!r}") from exc
    return Analysis(text=text, path=path, spec=spec, diagnostics=list(diagnostics))


class Cache:
    """The latest Analysis of each open document, keyed by URI."""

    def __init__(self) -> None:
        self._items: dict[str, Analysis] = {}

    def get(self, uri: str, text: str, path: str | None) -> Analysis:
        item = self._items.get(uri)
        if item is None or item.text != text or item.path != path:
            item = analyze(text, path)
            self._items[uri] = item
        return item

    def drop(self, uri: str) -> None:
        self._items.pop(uri, None)

    def __len__(self) -> int:
        return len(self._items)

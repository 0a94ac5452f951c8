"""lsp.analysis: document text -> Analysis (checked Spec or None, diagnostics, syntax tree).

The one front-end path: `nnspec.pipeline.diagnose()` (what `nnspec check` runs), reading
the data files as `check` does, but through lsp.datafacts: facts not read yet are left out
(`Analysis.data_pending`), and the document is checked again when they arrive. The
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
from nnspec.lsp.datafacts import DataFacts

log = logging.getLogger("nnspec.lsp")


class FrontEndError(Exception):
    """The front end itself failed (a bug, not a mistake in the spec)."""


@dataclass
class Analysis:
    text: str
    path: str | None
    spec: Any = None  # nnspec.ir.Spec when the text checks
    diagnostics: list[Diagnostic] = field(default_factory=list)
    data_pending: bool = False  # a data file's facts were still being read

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


def analyze(text: str, path: str | None, data: DataFacts | None = None) -> Analysis:
    """Check `text` through the shared front end, with the data facts `data` has (none read
    without it). Raises FrontEndError on a front-end bug."""
    from nnspec.pipeline import diagnose

    pending = False

    def facts_of(src: Any, base: Any, role: str) -> Any:
        nonlocal pending
        assert data is not None
        found = data.lookup(src, base, role)
        pending = pending or found is None
        return found

    try:
        spec, diagnostics = diagnose(text, path, read_data=data is not None,
                                     facts_of=facts_of, keep_spec=True)
    except Exception as exc:
        raise FrontEndError(f"diagnose() failed: {exc!r}") from exc
    return Analysis(text=text, path=path, spec=spec, diagnostics=list(diagnostics),
                    data_pending=pending)


class Cache:
    """The latest Analysis of each open document, keyed by URI; `data` reads the data files
    (None: they are not read)."""

    def __init__(self, data: DataFacts | None = None) -> None:
        self._items: dict[str, Analysis] = {}
        self.data = data

    def get(self, uri: str, text: str, path: str | None) -> Analysis:
        item = self._items.get(uri)
        if item is None or item.text != text or item.path != path:
            item = analyze(text, path, self.data)
            self._items[uri] = item
        return item

    def waiting_for_data(self) -> list[str]:
        """The documents whose latest analysis left out data facts still being read."""
        return [uri for uri, item in self._items.items() if item.data_pending]

    def drop(self, uri: str) -> None:
        self._items.pop(uri, None)

    def __len__(self) -> int:
        return len(self._items)

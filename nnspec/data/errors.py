"""data.errors: a data problem -> DiagnosticError pointing at the spec.

Data errors happen at run time, after check(); they still render like any other diagnostic:
the first line names the spec and the `source` statement that caused them (`Where`), the
message names the data file, row and column.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import NoReturn

from nnspec.diagnostics import Diagnostic, DiagnosticError, Span, error, warning


@dataclass(frozen=True)
class Where:
    """Where a data diagnostic points: the spec file and the span of the statement that read
    the data (None for `nnspec predict`, where the input file itself is the path)."""

    path: str | None = None
    span: Span | None = None
    label: str | None = None

    def at(self, span: Span | None, label: str | None = None) -> Where:
        return replace(self, span=span if span is not None else self.span,
                       label=label or self.label)

    def _label(self, label: str | None) -> str | None:
        # A caret label only reads well under a caret; without a span it would be a note
        # repeating the message.
        return (label or self.label) if self.span is not None else None

    def diag(self, code: str, message: str, *, label: str | None = None,
             notes: Iterable[str] = (), hints: Iterable[str] = ()) -> Diagnostic:
        return error(code, message, self.span, path=self.path, label=self._label(label),
                     notes=notes, hints=hints)

    def fail(self, code: str, message: str, *, label: str | None = None,
             notes: Iterable[str] = (), hints: Iterable[str] = ()) -> NoReturn:
        raise DiagnosticError(self.diag(code, message, label=label, notes=notes, hints=hints))

    def warn(self, code: str, message: str, *, label: str | None = None,
             notes: Iterable[str] = (), hints: Iterable[str] = ()) -> Diagnostic:
        return warning(code, message, self.span, path=self.path, label=self._label(label),
                       notes=notes, hints=hints)


def did_you_mean(name: str, choices: Sequence[str]) -> list[str]:
    """A `did you mean` hint for a misspelt name, or nothing."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    if not close:
        # Case-only differences (Species vs species) fall below difflib's ratio for short names.
        close = [c for c in choices if c.lower() == name.lower()][:1]
    return [f"did you mean `{close[0]}`?"] if close else []


def listing(names: Sequence[object], limit: int = 12) -> str:
    """`a, b, c` or `a, b, ... (40 in all)` for a note."""
    shown = ", ".join(str(n) for n in names[:limit])
    return shown if len(names) <= limit else f"{shown}, ... ({len(names)} in all)"

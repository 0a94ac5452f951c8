"""lsp.publish: nnspec Diagnostics -> LSP Diagnostics (exact ranges, codes, notes, hints).

The diagnostics come from `nnspec.pipeline.diagnose()`, the same front-end path as
`nnspec check`, so the editor and the CLI never disagree; this module only changes their form.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from lsprotocol import types

from nnspec.diagnostics import Diagnostic, Severity
from nnspec.lsp.positions import UTF16, span_to_range

SOURCE = "nnspec"

_SEVERITY = {
    Severity.error: types.DiagnosticSeverity.Error,
    Severity.warning: types.DiagnosticSeverity.Warning,
    Severity.note: types.DiagnosticSeverity.Information,
}


def _same_file(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return True
    try:
        return os.path.abspath(a) == os.path.abspath(b) or os.path.samefile(a, b)
    except OSError:
        return False


def message_of(d: Diagnostic) -> str:
    """The message with its notes and hints, as the CLI renders them below the caret."""
    lines = [d.message]
    if d.span is None and d.label:
        lines.append(f"note: {d.label}")
    lines += [f"note: {n}" for n in d.notes]
    lines += [f"hint: {h}" for h in d.hints]
    return "\n".join(lines)


def to_lsp(d: Diagnostic, text: str, path: str | None, encoding: str = UTF16) -> types.Diagnostic:
    """One diagnostic of the document at `path` whose current text is `text`."""
    message = message_of(d)
    span = d.span
    if not _same_file(d.path, path):
        # A finding in another file (a data file, say) is shown at the top of the spec.
        message = f"{d.path}: {message}"
        if span is not None:
            message = f"{d.path}:{span.line}:{span.col}: {message_of(d)}"
        span = None
    return types.Diagnostic(
        range=span_to_range(text, span, encoding),
        message=message,
        severity=_SEVERITY.get(d.severity, types.DiagnosticSeverity.Error),
        code=d.code,
        source=SOURCE,
    )


def convert(diagnostics: Iterable[Diagnostic], text: str, path: str | None,
            encoding: str = UTF16) -> list[types.Diagnostic]:
    return [to_lsp(d, text, path, encoding) for d in diagnostics]

"""diagnostics: Diagnostic -> text | JSON.

Every mistake a user can make is a `Diagnostic`, never a traceback. This module owns the
boundary type (`Span`, `Diagnostic`), the table of stable codes (`CODES`) and the two renderers:
the human one (GNU first line, source line, caret, notes and hints; DESIGN.md section 3) and
the JSON one for editors and CI.

Positions: `Span.line`/`Span.col` are 1-based and count Unicode code points, the way a user
reads a file; `Span.start`/`Span.end` are 0-based code-point offsets into the source. The
LSP's 0-based UTF-16 positions are derived from these in exactly one place (the language
server), never stored here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field


class Severity(str, Enum):
    error = "error"
    warning = "warning"
    note = "note"


class Span(BaseModel):
    """A region of the source text. End is exclusive."""

    model_config = ConfigDict(frozen=True)

    line: int = Field(description="1-based line of the first character")
    col: int = Field(description="1-based column (code points) of the first character")
    end_line: int = Field(description="1-based line of the end position")
    end_col: int = Field(description="1-based column (code points) just past the last character")
    start: int = Field(0, description="0-based code-point offset of the first character")
    end: int = Field(0, description="0-based code-point offset just past the last character")

    @staticmethod
    def point(line: int, col: int, offset: int = 0) -> Span:
        return Span(line=line, col=col, end_line=line, end_col=col + 1, start=offset,
                    end=offset + 1)

    def cover(self, other: Span | None) -> Span:
        """The smallest span covering both."""
        if other is None:
            return self
        first, last = (self, other) if self.start <= other.start else (other, self)
        end = self if (self.end_line, self.end_col) >= (other.end_line, other.end_col) else other
        return Span(
            line=first.line,
            col=first.col,
            end_line=end.end_line,
            end_col=end.end_col,
            start=first.start,
            end=max(self.end, other.end),
        )


# Stable codes by family. The title is what the code means in general; the message of a
# diagnostic says what was found in this file. Tests check that every code here has a rendered
# golden file, so add a test when you add a code.
CODES: dict[str, str] = {
    # E1xx: syntax
    "E101": "unexpected character",
    "E102": "unexpected token",
    "E103": "unexpected end of file",
    "E104": "unterminated string",
    "E105": "unclosed block",
    # E2xx: names
    "E201": "unknown block",
    "E202": "unknown statement",
    "E203": "unknown layer",
    "E204": "unknown activation",
    "E205": "unknown initializer",
    "E206": "unknown loss",
    "E207": "unknown optimizer",
    "E208": "unknown schedule",
    "E209": "unknown metric",
    "E210": "unknown data source",
    "E211": "unknown option",
    "E212": "duplicate block",
    "E213": "duplicate statement",
    "E214": "duplicate option",
    "E215": "unknown monitor",
    # E3xx: options, values, shapes, types
    "E301": "wrong type of value",
    "E302": "value out of range",
    "E303": "missing required value",
    "E304": "too many values",
    "E305": "shape mismatch",
    "E306": "loss does not fit the output layer",
    "E307": "metric does not fit the task",
    "E308": "missing block",
    "E309": "missing statement",
    "E310": "invalid schedule composition",
    "E311": "the run needs more memory than the machine allows",
    "E312": "embedding not reading the token ids",
    "E313": "vocabulary size unknown or not the data's",
    "E314": "metric needs softmax outputs",
    "E315": "invalid sweep statement",
    "E316": "a sweep point does not check",
    "E317": "conflicting sweep settings",
    "E318": "token ids not read by an embedding",
    # E4xx: training and data (some raised at run time)
    "E401": "data file not found",
    "E402": "column not found",
    "E403": "non-numeric value in data",
    "E404": "missing value in data",
    "E405": "feature count does not match input",
    "E406": "more classes than the output layer has units",
    "E407": "monitor needs a validation split",
    "E408": "warmup longer than training",
    "E409": "invalid data split",
    "E410": "weights file does not fit the model",
    "E411": "loss or gradient is not finite",
    "E412": "empty data set",
    "E413": "bad data file",
    "E414": "duplicate column name",
    "E415": "value out of range for the training dtype",
    "E416": "prediction or evaluation is not finite",
    "E421": "image shape does not fit the model's input",
    "E422": "unreadable image",
    "E423": "bad image folder",
    "E424": "image support not installed",
    "E425": "empty text",
    "E426": "text not UTF-8",
    "E427": "text too short for one window",
    "E428": "text sources with different vocabularies",
    "E429": "a text prompt for a run not trained on text",
    "E430": "cannot use the sweep folder",
    "E431": "sweep executor not available",
    "E435": "trajectory too large to record",
    "E436": "not a two-parameter model",
    "E437": "cannot draw the picture",
    # E5xx: backend and environment
    "E501": "device not available",
    "E502": "backend failure",
    "E503": "cannot write output",
    "E504": "cannot resume run",
    "E505": "cannot read input file",
    "E506": "backend cannot run this model",
    "E507": "run directory in use",
    "E508": "spec changed since the run started",
    "E509": "out of memory",
    "E510": "run folder not writable in the middle of a run",
    "E511": "run not finished, or of another format",
    "E512": "layer cannot be exported to ONNX",
    "E513": "ONNX support not installed",
    "E514": "cannot write the exported file",
    "E515": "exported graph refused by onnx.checker",
    "E516": "input too large for an engine kernel",
    # W1xx: warnings
    "W101": "learning rate above 1",
    "W102": "early stopping on training loss",
    "W103": "no validation split for a validation monitor",
    "W104": "dropout at the output",
    "W105": "suspicious value",
    "W106": "run directory from an older nnspec",
    "W107": "the run needs more than half of the machine's memory",
    "W109": "training diverged",
    "W110": "vocabulary larger than the text",
    "W111": "a sweep that varies nothing",
    "W112": "float64 run exported in float32",
    "W113": "data not read by check",
    "W114": "data path of an unsaved document",
    "W116": "runs drawn on another run's loss surface",
    "W117": "image layout assumed",
    "W118": "files skipped in an image folder",
    "W119": "sweep block not run by `nnspec run`",
}


class Fix(BaseModel):
    """One edit that resolves a diagnostic: replace the text of `span` with `replacement`.

    Built where the hint that describes it is built (never read back out of the hint's text).
    A fix is `preferred` when it is what the hint says for certain; a guess is not."""

    model_config = ConfigDict(frozen=True)

    span: Span = Field(description="the text to replace (a zero-width span inserts)")
    replacement: str = Field(description="the new text")
    title: str = Field(description="what the edit does, e.g. replace `rleu` with `relu`")
    preferred: bool = Field(True, description="false for a guess, which `--fix` leaves alone")


class Diagnostic(BaseModel):
    """One finding, with where it is and what to do about it."""

    model_config = ConfigDict(frozen=True)

    code: str = Field(description="stable code, e.g. E301; see nnspec.diagnostics.CODES")
    severity: Severity = Field(description="error, warning or note")
    message: str = Field(description="what was found and what was expected")
    path: str | None = Field(None, description="file the span refers to")
    span: Span | None = Field(None, description="where in the file; None for file-level findings")
    label: str | None = Field(None, description="short text printed under the caret")
    notes: tuple[str, ...] = Field((), description="extra facts (rendered `= note:`)")
    hints: tuple[str, ...] = Field((), description="what to do (rendered `= hint:`)")
    fixes: tuple[Fix, ...] = Field((), description="edits that resolve it (quick fixes)")

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.error


def error(code: str, message: str, span: Span | None = None, *, path: str | None = None,
          label: str | None = None, notes: Iterable[str] = (), hints: Iterable[str] = (),
          fixes: Iterable[Fix] = ()) -> Diagnostic:
    assert code in CODES, code
    return Diagnostic(code=code, severity=Severity.error, message=message, path=path, span=span,
                      label=label, notes=tuple(notes), hints=tuple(hints), fixes=tuple(fixes))


def warning(code: str, message: str, span: Span | None = None, *, path: str | None = None,
            label: str | None = None, notes: Iterable[str] = (), hints: Iterable[str] = (),
            fixes: Iterable[Fix] = ()) -> Diagnostic:
    assert code in CODES, code
    return Diagnostic(code=code, severity=Severity.warning, message=message, path=path, span=span,
                      label=label, notes=tuple(notes), hints=tuple(hints), fixes=tuple(fixes))


def note(code: str, message: str, span: Span | None = None, *, path: str | None = None,
         label: str | None = None, notes: Iterable[str] = (), hints: Iterable[str] = ()
         ) -> Diagnostic:
    """Information that is neither a mistake nor a risk (`check` did not read a file)."""
    assert code in CODES, code
    return Diagnostic(code=code, severity=Severity.note, message=message, path=path, span=span,
                      label=label, notes=tuple(notes), hints=tuple(hints), fixes=())


class DiagnosticError(Exception):
    """Raised at run time (data loading, training) to carry diagnostics up to the CLI."""

    def __init__(self, diagnostics: Diagnostic | Sequence[Diagnostic]):
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics = list(diagnostics)
        super().__init__("; ".join(d.message for d in self.diagnostics))


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)


def sort_key(d: Diagnostic) -> tuple:
    s = d.span
    return (d.path or "", s.start if s else -1, d.code)


def render(d: Diagnostic, source: str | None = None) -> str:
    """Human form, DESIGN.md section 3:

    specs/moons.nn:7:11: error[E204]: unknown activation `rleu`
      |
    7 |     dense 16 rleu
      |              ^^^^ not an activation
      = hint: did you mean `relu`?
    """
    where = d.path or "<input>"
    if d.span is not None:
        where += f":{d.span.line}:{d.span.col}"
    out = [f"{where}: {d.severity.value}[{d.code}]: {d.message}"]
    # Lines end at "\n" only (as Span.line counts them); str.splitlines would also split at
    # \r, \x0b, \x0c, \x85, \u2028..., showing the wrong source line for such files.
    lines = source.split("\n") if source is not None else []
    if d.span is not None and 0 < d.span.line <= len(lines):
        text = lines[d.span.line - 1].expandtabs(1).rstrip("\r")
        num = str(d.span.line)
        pad = " " * len(num)
        if d.span.end_line == d.span.line:
            width = max(1, d.span.end_col - d.span.col)
        else:
            width = max(1, len(text) - d.span.col + 1)
        caret_col = min(d.span.col, len(text) + 1)
        caret = " " * (caret_col - 1) + "^" * width
        if d.label:
            caret += " " + d.label
        out += [f"{pad} |", f"{num} | {text}".rstrip(), f"{pad} | {caret}"]
    elif d.label:
        out.append(f"  = note: {d.label}")
    out += [f"  = note: {n}" for n in d.notes]
    out += [f"  = hint: {h}" for h in d.hints]
    return "\n".join(out)


def render_all(diagnostics: Iterable[Diagnostic], sources: dict[str, str] | None = None) -> str:
    sources = sources or {}
    return "\n\n".join(render(d, sources.get(d.path or "")) for d in diagnostics)


JSON_SCHEMA_NOTE = (
    "span.line/col/end_line/end_col are 1-based code-point positions; "
    "span.start/end are 0-based code-point offsets; range.* are 0-based (LSP style, code points); "
    "fixes[].span/range: the text each fix replaces with fixes[].replacement"
)


def _range(span: Span) -> dict:
    return {"start": {"line": span.line - 1, "character": span.col - 1},
            "end": {"line": span.end_line - 1, "character": span.end_col - 1}}


def to_json(diagnostics: Iterable[Diagnostic]) -> str:
    """Machine form: {"version": 1, "positions": ..., "diagnostics": [...]}."""
    items = []
    for d in diagnostics:
        item = d.model_dump(mode="json")
        if d.span is not None:
            item["range"] = _range(d.span)
        for fix, out in zip(d.fixes, item["fixes"], strict=True):
            out["range"] = _range(fix.span)
        items.append(item)
    return json.dumps({"version": 1, "positions": JSON_SCHEMA_NOTE, "diagnostics": items},
                      indent=2)

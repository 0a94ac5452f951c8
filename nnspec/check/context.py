"""check.context: the diagnostics sink shared by every checker, and name suggestions.

One `Ctx` per `check()` call collects findings in whatever order the block checkers produce
them; `check()` sorts them by position at the end, so checkers never have to care.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from nnspec.diagnostics import Diagnostic, Fix, Span, error, warning
from nnspec.syntax import Call, ListValue, Name, Number, Option, String


class Ctx:
    """Collects diagnostics for one document."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.diagnostics: list[Diagnostic] = []

    def error(self, code: str, message: str, span: Span | None, **kw) -> None:
        self.diagnostics.append(error(code, message, span, path=self.path, **kw))

    def warning(self, code: str, message: str, span: Span | None, **kw) -> None:
        self.diagnostics.append(warning(code, message, span, path=self.path, **kw))

    @property
    def failed(self) -> bool:
        return any(d.is_error for d in self.diagnostics)

    @property
    def error_count(self) -> int:
        return sum(1 for d in self.diagnostics if d.is_error)

    def unknown(self, code: str, what: str, name: str, span: Span, known: Iterable[str],
                *, where: str = "", label: str | None = None,
                extra_hints: Iterable[str] = (), taken: Iterable[str] = (),
                among: Iterable[str] | None = None) -> None:
        """`unknown <what> `name`<where>`, with a did-you-mean and the known names, and the
        did-you-mean as a fix (not when it names one of `taken`: a second `lr=`, say). The
        did-you-mean is chosen `among` these names when given (those that fit)."""
        hint, fixes = did_you_mean(name, known, span, taken, among)
        self.error(code, f"unknown {what} `{name}`{where}", span,
                   label=label or f"not a known {what}",
                   hints=[*extra_hints, hint], fixes=fixes)


def closest(name: str, known: Iterable[str]) -> str | None:
    match = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return match[0] if match else None


def suggest(name: str, known: Iterable[str], among: Iterable[str] | None = None) -> str:
    """`did you mean `relu`? (known: ...)` or just the known names."""
    known = list(known)
    listing = ", ".join(known)
    best = closest(name, known if among is None else among)
    if best is not None:
        return f"did you mean `{best}`? (known: {listing})"
    return f"known: {listing}"


def did_you_mean(name: str, known: Iterable[str], span: Span | None,
                 taken: Iterable[str] = (), among: Iterable[str] | None = None
                 ) -> tuple[str, tuple[Fix, ...]]:
    """`suggest()`'s hint, and the replacement it names as a fix of the text at `span` (none
    when nothing is close, or when the name it suggests is in `taken`, where it would make a
    duplicate). The suggestion is the closest of `among` (default: `known`)."""
    known = list(known)
    among = known if among is None else list(among)
    best = closest(name, among)
    if best is None or span is None or best in set(taken):
        return suggest(name, known, among), ()
    return suggest(name, known, among), (replace(span, name, best),)


def replace(span: Span, old: str, new: str) -> Fix:
    return Fix(span=span, replacement=new, title=f"replace `{old}` with `{new}`")


def show(node: object) -> str:
    """How a syntax value is quoted back to the user in a message."""
    if isinstance(node, Number):
        return node.text
    if isinstance(node, String):
        return '"' + node.value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(node, Name):
        return f"`{node.value}`"
    if isinstance(node, Call):
        return f"`{node.name.value}(...)`"
    if isinstance(node, ListValue):
        return "a list"
    if isinstance(node, Option):
        return f"`{node.key.value}=...`"
    return "nothing"

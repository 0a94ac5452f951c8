"""fix: source text + diagnostics -> the text with their fixes applied.

A fix (`nnspec.diagnostics.Fix`) replaces one span of the source; applying them is purely
textual (comments and layout survive). `nnspec check --fix` and the language server's
`source.fixAll` apply the preferred fixes; guesses (fixes that are not preferred) are offered
one by one in the editor, and `nnspec check --fix --guesses` applies them too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from nnspec.diagnostics import Diagnostic, Fix

# A fix can reveal a mistake the one it fixed was hiding (an unknown layer's activation is
# only checked once the layer is known): `fix_source` checks again, this many times at most.
ROUNDS = 5


def fixes_of(diagnostics: Iterable[Diagnostic], *, preferred: bool = True) -> list[Fix]:
    """The fixes of `diagnostics` (only the preferred ones unless `preferred=False`)."""
    return [f for d in diagnostics for f in d.fixes if f.preferred or not preferred]


def apply(text: str, fixes: Iterable[Fix]) -> tuple[str, list[Fix]]:
    """`text` with `fixes` applied, and those applied; a fix that overlaps one before it (in
    the text) is left out, to be offered again after the text is checked again."""
    chosen: list[Fix] = []
    end = -1
    for fix in sorted(fixes, key=lambda f: (f.span.start, f.span.end)):
        if fix.span.start < end or (fix.span.start == end and fix.span.start == fix.span.end):
            continue
        if not 0 <= fix.span.start <= fix.span.end <= len(text):
            continue
        chosen.append(fix)
        end = fix.span.end
    out = text
    for fix in reversed(chosen):
        out = out[:fix.span.start] + fix.replacement + out[fix.span.end:]
    return out, chosen


@dataclass
class Fixed:
    text: str  # the new text (the old one when nothing was fixed)
    applied: list[tuple[Fix, str]]  # each fix applied, with the text it replaced
    diagnostics: list[Diagnostic]  # what the new text still has


def fix_source(text: str, path: str | None = None, *, guesses: bool = False) -> Fixed:
    """Apply the preferred fixes of `text`'s diagnostics (the guesses too with
    `guesses=True`), checking again after each round."""
    from nnspec.pipeline import diagnose

    applied: list[tuple[Fix, str]] = []
    diagnostics = diagnose(text, path)[1]
    for _ in range(ROUNDS):
        mine = [d for d in diagnostics if d.path == path or d.path is None]
        new, chosen = apply(text, fixes_of(mine, preferred=not guesses))
        if not chosen or new == text:
            break
        applied += [(f, text[f.span.start:f.span.end]) for f in chosen]
        text = new
        diagnostics = diagnose(text, path)[1]
    return Fixed(text, applied, diagnostics)

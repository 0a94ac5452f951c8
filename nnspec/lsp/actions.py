"""lsp.actions: diagnostics with fixes -> CodeActions (quick fixes and `source.fixAll`).

The fixes are the ones the checker attached to its diagnostics (`Diagnostic.fixes`, built
where each hint is built), so the editor offers exactly what `nnspec check --fix` applies.
Every edit names the document version it was computed for, so a client never applies it to a
document that has changed since.
"""

from __future__ import annotations

from lsprotocol import types

from nnspec.diagnostics import Diagnostic, Fix
from nnspec.fix import apply, fixes_of
from nnspec.lsp import publish
from nnspec.lsp.positions import UTF16, offsets_to_range

QUICKFIX = types.CodeActionKind.QuickFix
FIX_ALL = types.CodeActionKind.SourceFixAll
KINDS = [QUICKFIX, FIX_ALL]


def _edit(uri: str, version: int | None, text: str, fixes: list[Fix], encoding: str
          ) -> types.WorkspaceEdit:
    edits = [types.TextEdit(range=offsets_to_range(text, f.span.start, f.span.end, encoding),
                            new_text=f.replacement) for f in fixes]
    return types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(
        text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version),
        edits=edits)])


def _overlaps(a: types.Range, b: types.Range) -> bool:
    def key(p: types.Position) -> tuple[int, int]:
        return (p.line, p.character)

    return key(a.start) <= key(b.end) and key(b.start) <= key(a.end)


def _wanted(kind: str, only: list[str] | None) -> bool:
    return not only or any(kind == o or kind.startswith(o + ".") for o in only)


def code_actions(diagnostics: list[Diagnostic], text: str, path: str | None, uri: str,
                 version: int | None, at: types.Range, only: list[str] | None = None,
                 encoding: str = UTF16) -> list[types.CodeAction]:
    """The quick fixes of the diagnostics at `at`, then one `source.fixAll` for the file."""
    mine = [d for d in diagnostics if d.fixes and publish._same_file(d.path, path)]
    actions: list[types.CodeAction] = []
    if _wanted(QUICKFIX, only):
        for d in mine:
            # where the editor shows it: a file-level finding (a missing block) at the start
            shown = publish.to_lsp(d, text, path, encoding)
            if not _overlaps(shown.range, at):
                continue
            for fix in d.fixes:
                actions.append(types.CodeAction(
                    title=fix.title, kind=QUICKFIX, diagnostics=[shown],
                    is_preferred=fix.preferred,
                    edit=_edit(uri, version, text, [fix], encoding)))
    if _wanted(FIX_ALL, only):
        _, chosen = apply(text, fixes_of(mine))
        if chosen:
            actions.append(types.CodeAction(
                title=f"Apply all nnspec fixes ({len(chosen)})", kind=FIX_ALL,
                edit=_edit(uri, version, text, chosen, encoding)))
    return actions

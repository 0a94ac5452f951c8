"""lsp.navigate: syntax tree / string under cursor -> document symbols and definitions.

The outline lists the blocks of the parser's syntax tree with their statements (the layers of
the model in order). Go-to-definition opens the file a string names (`init from "w.npz"`,
`csv("data/iris.csv")`), resolved against the spec's folder as the data loader does, when
that file exists.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lsprotocol import types

from nnspec.lsp import vocab
from nnspec.lsp.context import Token, tokenize, word_at
from nnspec.lsp.positions import UTF16, span_to_range

S = types.SymbolKind


def _args_text(text: str, stmt: Any) -> str:
    """The statement's source after its keyword, on one line."""
    start = stmt.keyword.span.end
    end = stmt.span.end
    if not (0 <= start <= end <= len(text)) or end == 0:
        return ""
    return " ".join(text[start:end].split())


def _statement_symbol(text: str, block: str, stmt: Any, encoding: str) -> types.DocumentSymbol:
    name = stmt.keyword.value
    is_layer = block == "model" and name in vocab.LAYERS
    rng = span_to_range(text, stmt.span, encoding)
    sel = span_to_range(text, stmt.keyword.span, encoding)
    return types.DocumentSymbol(
        name=name, detail=_args_text(text, stmt) or None,
        kind=S.Class if is_layer else S.Property, range=rng, selection_range=_inside(sel, rng),
    )


def _inside(sel: types.Range, rng: types.Range) -> types.Range:
    """selectionRange must lie within range (LSP); fall back to the range's start."""
    def key(p: types.Position) -> tuple[int, int]:
        return (p.line, p.character)

    if key(rng.start) <= key(sel.start) and key(sel.end) <= key(rng.end):
        return sel
    return types.Range(start=rng.start, end=rng.start)


def symbols(text: str, document: Any, encoding: str = UTF16) -> list[types.DocumentSymbol]:
    """Blocks (with their statements as children) of a `nnspec.syntax.Document`."""
    if document is None:
        return []
    out = []
    for block in document.blocks:
        kind = block.kind.value
        name = f"{kind} {block.name.value}" if block.name is not None else kind
        rng = span_to_range(text, block.span, encoding)
        children = [_statement_symbol(text, kind, s, encoding) for s in block.statements]
        out.append(types.DocumentSymbol(
            name=name, kind=S.Module, range=rng,
            selection_range=_inside(span_to_range(text, block.kind.span, encoding), rng),
            children=children,
        ))
    return out


def _unquote(literal: str) -> str:
    body = literal[1:-1] if literal.endswith('"') and len(literal) > 1 else literal[1:]
    out, i = [], 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            out.append({"n": "\n", "t": "\t"}.get(body[i + 1], body[i + 1]))
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def resolve(path_text: str, spec_path: str | None) -> Path | None:
    """The existing file a string in the spec names, relative to the spec's folder."""
    if not path_text.strip():
        return None
    candidate = Path(os.path.expanduser(path_text))
    if not candidate.is_absolute():
        base = Path(spec_path).parent if spec_path else Path.cwd()
        candidate = base / candidate
    try:
        return candidate.resolve() if candidate.is_file() else None
    except OSError:
        return None


def definition(text: str, offset: int, spec_path: str | None,
               tokens: list[Token] | None = None) -> list[types.Location]:
    tokens = tokenize(text) if tokens is None else tokens
    tok = word_at(text, offset, tokens)
    if tok is None or tok.kind != "string":
        return []
    target = resolve(_unquote(tok.text), spec_path)
    if target is None:
        return []
    zero = types.Position(line=0, character=0)
    return [types.Location(uri=target.as_uri(), range=types.Range(start=zero, end=zero))]

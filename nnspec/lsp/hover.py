"""lsp.hover: text + cursor (+ the checked Spec) -> Markdown about the word under the cursor.

Docs come from the registry and the IR (op docstrings, Field descriptions, defaults, ranges).
On a layer line the hover adds the layer's inferred shapes and parameter count, computed with
`nnspec.summary.rows` (what `nnspec summary` prints) on the Spec that diagnose() produced;
when the spec does not check, it says so instead of guessing.
"""

from __future__ import annotations

from typing import Any

from lsprotocol import types

from nnspec.lsp import vocab
from nnspec.lsp.context import Context, Token, analyze, next_token, tokenize, word_at
from nnspec.lsp.positions import UTF16, offsets_to_range

NO_SHAPE = "Shape: not available until the spec checks without errors."


def _word_doc(ctx: Context, tok: Token, nxt: Token | None) -> str | None:
    word = tok.text
    if ctx.where == "top":
        doc = vocab.BLOCK_DOCS.get(word)
        return f"**{word}** block\n\n{doc.strip()}" if doc else None
    if ctx.where == "keyword":
        stmt = vocab.statement(ctx.block, word)
        return vocab.statement_doc(ctx.block or "", stmt) if stmt else None
    if ctx.where not in ("arg", "value"):
        return None
    if nxt is not None and nxt.text == "=" and ctx.where == "arg":
        name = vocab.options(ctx.cls, ctx.owner).get(word)
        if ctx.cls is not None and name is not None:
            return vocab.option_doc(ctx.cls, name, word)
        return None
    slot = ctx.slot()
    op = vocab.op_for(slot, word)
    if op is not None:
        return vocab.op_doc(op)
    if isinstance(slot, tuple) and word in slot and ctx.stmt is not None:
        return f"`{word}`: {ctx.stmt.doc}"
    return None


def _layer_statements(tokens: list[Token]) -> list[tuple[int, Token]]:
    """(line start offset, keyword token) of every layer statement of the `model` block."""
    out, depth, block, at_start, first = [], 0, None, True, None
    header = None  # first word of the last top-level line: `model m` may precede a lone `{`
    for tok in tokens:
        if tok.kind == "comment":
            continue
        if tok.kind == "newline" or tok.text == ";":
            if depth == 0 and first is not None:
                header = first
            at_start, first = True, None
            continue
        if tok.text == "{":
            if depth == 0:
                first = first or header
                block = first.text if first is not None else None
            depth += 1
            at_start, first = True, None
            continue
        if tok.text == "}":
            depth = max(0, depth - 1)
            at_start, first = True, None
            continue
        if at_start:
            first = tok
            if depth == 1 and block == "model" and tok.text in vocab.LAYERS:
                out.append((tok.start, tok))
        at_start = False
    return out


def _layer_index(spec: Any, text: str, keyword: Token) -> int | None:
    """The IR layer written at `keyword`, by the span the checker gave it."""
    line = text.count("\n", 0, keyword.start) + 1
    col = keyword.start - (text.rfind("\n", 0, keyword.start) + 1) + 1
    for i, layer in enumerate(spec.model.layers):
        if layer.span is not None and (layer.span.line, layer.span.col) == (line, col):
            return i
    return None


def layer_info(spec: Any, tokens: list[Token], keyword: Token, text: str = "") -> str:
    """`Layer 2 of 3 (dense): input (16,) -> output (16,), 272 parameters (model total ...)`."""
    counted = next((i for i, (_, t) in enumerate(_layer_statements(tokens))
                    if t.start == keyword.start), None)
    if counted is None:
        return ""  # not a layer statement of the model block
    if spec is None:
        return NO_SHAPE
    # The checker's spans say which IR layer this is; counting layer lines is the fallback.
    index = _layer_index(spec, text, keyword) if text else None
    index = counted if index is None else index
    if index >= len(spec.model.layers):
        return NO_SHAPE
    from nnspec.ops.layers import show_shape
    from nnspec.summary import rows

    table = rows(spec.model)
    row = table[index]
    total = sum(r.params for r in table)
    return (f"Layer {index + 1} of {len(table)} (`{spec.model.layers[index].kind}`): input "
            f"{show_shape(row.in_shape)} -> output {show_shape(row.shape)}, {row.params} "
            f"parameters (model total {total})")


def hover(text: str, offset: int, spec: Any = None, encoding: str = UTF16,
          tokens: list[Token] | None = None) -> types.Hover | None:
    tokens = tokenize(text) if tokens is None else tokens
    tok = word_at(text, offset, tokens)
    if tok is None or tok.kind != "name":
        return None
    ctx = analyze(text, tok.start, tokens)
    parts = []
    if doc := _word_doc(ctx, tok, next_token(tokens, tok)):
        parts.append(doc)
    if ctx.block == "model":
        keyword = tok if ctx.where == "keyword" else (ctx.tokens[0] if ctx.tokens else None)
        if keyword is not None and keyword.text in vocab.LAYERS:
            if info := layer_info(spec, tokens, keyword, text):
                parts.append(info)
        if keyword is not None and keyword.text == "input" and spec is not None:
            from nnspec.ops.layers import show_shape

            ids = " token ids" if spec.model.tokens else ""
            parts.append(f"Input: {show_shape(spec.model.input)}{ids} per sample")
    if not parts:
        return None
    return types.Hover(
        contents=types.MarkupContent(kind=types.MarkupKind.Markdown,
                                     value="\n\n---\n\n".join(parts)),
        range=offsets_to_range(text, tok.start, tok.end, encoding),
    )

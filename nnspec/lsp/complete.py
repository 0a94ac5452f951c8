"""lsp.complete: text + cursor -> CompletionItems (names valid at the cursor, with their docs).

Block names at top level, statement keywords of the enclosing block, registry names where the
statement expects them (activations after `dense N`, losses after `loss`, ...), `key=` option
names of the statement or call the cursor is in, and the values an option accepts.
"""

from __future__ import annotations

from lsprotocol import types

from nnspec.lsp import vocab
from nnspec.lsp.context import Context, Token, analyze
from nnspec.lsp.positions import UTF16, offsets_to_range

K = types.CompletionItemKind

_FAMILY_KIND = {
    "activation": K.Function, "initializer": K.Constructor, "layer": K.Class, "loss": K.Function,
    "metric": K.Value, "optimizer": K.Class, "schedule": K.Function, "source": K.Module,
}


def _md(text: str) -> types.MarkupContent:
    return types.MarkupContent(kind=types.MarkupKind.Markdown, value=text)


def _item(label: str, kind: types.CompletionItemKind, doc: str, detail: str | None,
          edit_range: types.Range, insert: str | None = None, sort: str = "1"
          ) -> types.CompletionItem:
    text = insert if insert is not None else label
    return types.CompletionItem(
        label=label, kind=kind, detail=detail, documentation=_md(doc) if doc else None,
        text_edit=types.TextEdit(range=edit_range, new_text=text),
        sort_text=f"{sort}{label}", filter_text=label,
    )


def _slot_items(slot: vocab.Slot | None, rng: types.Range, doc: str = "") -> list:
    if slot is None or slot == "":
        return []
    if isinstance(slot, tuple):
        return [_item(w, K.EnumMember, doc, "value", rng) for w in slot]
    items = []
    for name, cls in vocab.FAMILIES[slot].items():
        items.append(_item(name, _FAMILY_KIND.get(slot, K.Value), vocab.op_doc(cls),
                           f"{slot}: {vocab.first_line(cls.__doc__)}"[:80], rng))
    return items


def _option_items(ctx: Context, rng: types.Range, written: set[str]) -> list:
    """`key=` items for the options of ctx.cls not yet written in this statement/call."""
    items = []
    filled = ctx.filled()
    for key, name in vocab.options(ctx.cls, ctx.owner).items():
        if key in written or name in filled or ctx.cls is None:
            continue
        info = ctx.cls.model_fields[name]
        default = vocab.default_text(info)
        detail = "required" if default is None else f"default {default}"
        items.append(_item(f"{key}=", K.Property, vocab.option_doc(ctx.cls, name, key),
                           detail, rng, insert=f"{key}=", sort="0"))
    return items


def _written_keys(tokens: list[Token], in_call: bool) -> set[str]:
    """Option keys already present in the statement (or innermost call) before the cursor."""
    keys: set[str] = set()
    depth = 0
    for i, tok in enumerate(tokens[:-1]):
        if tok.text == "(":
            depth += 1
            if in_call:
                keys.clear()  # a new call starts its own option list
        elif tok.text == ")":
            depth -= 1
        elif tok.kind == "name" and tokens[i + 1].text == "=" and (in_call or depth == 0):
            keys.add(tok.text)
    return keys


def complete(text: str, offset: int, encoding: str = UTF16, tokens: list[Token] | None = None
             ) -> list[types.CompletionItem]:
    ctx = analyze(text, offset, tokens)
    rng = offsets_to_range(text, ctx.word_start, ctx.word_end, encoding)
    if ctx.where == "top":
        return [_item(name, K.Module, doc.strip(), "block", rng)
                for name, doc in vocab.BLOCK_DOCS.items()]
    if ctx.where == "keyword":
        block = ctx.block or ""
        return [_item(name, K.Class if name in vocab.LAYERS else K.Keyword,
                      vocab.statement_doc(block, stmt), f"{block} statement", rng)
                for name, stmt in vocab.STATEMENTS.get(block, {}).items()]
    if ctx.where == "value":
        doc = ""
        name = vocab.options(ctx.cls, ctx.owner).get(ctx.key or "")
        if ctx.cls is not None and name is not None:
            doc = vocab.option_doc(ctx.cls, name, ctx.key)
        return _slot_items(ctx.slot(), rng, doc)
    if ctx.where == "arg":
        slot = ctx.slot()
        items = _slot_items(slot, rng, ctx.stmt.doc if ctx.stmt and not ctx.in_call else "")
        # Where a number or a string must come, names would only mislead; in a call, any
        # option may also be written as `key=` instead.
        if ctx.in_call or slot != "":
            items += _option_items(ctx, rng, _written_keys(ctx.tokens, ctx.in_call))
        return items
    return []

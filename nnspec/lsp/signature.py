"""lsp.signature: text + cursor -> SignatureHelp (the options of the call or statement at hand).

Inside `name(` of an op or a statement call (`adam(`, `cosine(`, `csv(`, `early_stop(`,
`leaky_relu(`) and after a statement that takes `key=value` options (a layer, `split`, `clip`,
`checkpoint`): one signature listing every option with its type, default and meaning, the
option being written highlighted. What a statement or call takes comes from the same place as
completion (`context.analyze` and `vocab`: the op registry and the IR), never from a table here.
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass

from lsprotocol import types
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from nnspec.lsp import vocab
from nnspec.lsp.context import Context, Token, analyze

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Param:
    written: str  # the name a user writes (`every` for `checkpoint_every`)
    field: str  # the field of the class behind it
    positional: bool  # written without `key=` (by position)


def _params(cls: type[BaseModel], owner: vocab.Statement | None, in_call: bool) -> list[Param]:
    """The options of `cls` in the order a user writes them: positional ones first."""
    written = vocab.options(cls, owner)
    by_field = {f: w for w, f in written.items()}
    pos = vocab.call_positional(cls) if in_call or owner is None or owner.options is cls else ()
    out = [Param(by_field[f], f, True) for f in pos if f in by_field]
    out += [Param(w, f, False) for w, f in written.items() if f not in pos]
    return out


def _default_label(cls: type[BaseModel], name: str) -> str | None:
    info = cls.model_fields[name]
    if info.default_factory is None and info.default is PydanticUndefined:
        return None
    value = info.default_factory() if info.default_factory is not None else info.default  # type: ignore[call-arg]
    if value is None:
        return "..."  # optional, unset by default (its meaning says what unset does)
    if isinstance(value, str) and not _WORD.fullmatch(value):
        return '"' + value + '"'  # a string (`delimiter=","`); names (`monitor=val_loss`) bare
    if isinstance(value, tuple) and value:
        return "(" + ", ".join(vocab.value_text(v) for v in value) + ")"
    return vocab.value_text(value)


def _param_label(cls: type[BaseModel], p: Param) -> str:
    default = _default_label(cls, p.field)
    if p.positional:
        return p.written if default is None else f"[{p.written}]"
    return f"{p.written}=" + ("..." if default is None else default)


def _segment(tokens: list[Token]) -> list[Token]:
    """The tokens of the argument being written: after the last `,` at the outermost level."""
    depth, start = 0, 0
    for i, tok in enumerate(tokens):
        if tok.text in "([":
            depth += 1
        elif tok.text in ")]":
            depth = max(0, depth - 1)
        elif tok.text == "," and depth == 0:
            start = i + 1
    return tokens[start:]


def _active(ctx: Context, params: list[Param], word: str) -> int | None:
    """Index in `params` of the option under the cursor, or None."""
    args = ctx.tokens[ctx.call_at + 1:] if ctx.in_call else ctx.tokens[1:]
    seg = _segment(args) if ctx.in_call else args
    keys = [t.text for i, t in enumerate(seg[:-1]) if t.kind == "name" and seg[i + 1].text == "="]
    if ctx.where == "value" or (ctx.in_call and keys and ctx.where == "none"):
        key = keys[-1] if keys else None
    elif word and (match := [p.written for p in params if p.written.startswith(word)]):
        key = match[0] if len(match) == 1 else None
    else:
        positional = [p.written for p in params if p.positional]
        key = positional[ctx.index] if ctx.where == "arg" and ctx.index < len(positional) \
            else None
    for i, p in enumerate(params):
        if p.written == key:
            return i
    return None


def _head(ctx: Context, cls: type[BaseModel]) -> tuple[str, str]:
    """(what the signature starts with, its one-line description)."""
    if ctx.in_call:
        return f"{ctx.call}(", vocab.first_line(cls.__doc__)
    stmt = ctx.stmt
    assert stmt is not None
    return f"{stmt.name} ", vocab.first_line(stmt.doc)


def signature_help(text: str, offset: int, tokens: list[Token] | None = None
                   ) -> types.SignatureHelp | None:
    """The signature at code-point `offset`, or None where no call or option list is open."""
    ctx = analyze(text, offset, tokens)
    if ctx.in_call:
        cls, owner = ctx.cls, (ctx.owner if ctx.owner and ctx.owner.options is ctx.cls else None)
    elif ctx.where in ("arg", "value") and ctx.stmt is not None and ctx.stmt.options:
        cls, owner = ctx.stmt.options, ctx.stmt
    else:
        return None
    if cls is None:
        return None
    params = _params(cls, owner, ctx.in_call)
    if not params:
        return None
    head, summary = _head(ctx, cls)
    # Options of a statement are separated as its syntax writes them (`split a=F, b=F`).
    in_syntax = ctx.stmt is not None and "," in ctx.stmt.syntax
    sep, tail = (", ", ")") if ctx.in_call else (", " if in_syntax else " ", "")
    label, infos = head, []
    for i, p in enumerate(params):
        if i:
            label += sep
        start = len(label)
        label += _param_label(cls, p)
        infos.append(types.ParameterInformation(
            label=(start, len(label)),
            documentation=_md(vocab.option_doc(cls, p.field, p.written))))
    label += tail
    word = text[ctx.word_start:offset] if ctx.word_start < offset else ""
    active = _active(ctx, params, word)
    # No option under the cursor: an index past the last highlights none.
    index = len(params) if active is None else active
    doc = "\n".join([summary, "", "Options:"] +
                    [f"- {vocab.option_doc(cls, p.field, p.written)}" for p in params])
    sig = types.SignatureInformation(label=label, documentation=_md(doc), parameters=infos,
                                     active_parameter=index)
    return types.SignatureHelp(signatures=[sig], active_signature=0, active_parameter=index)


def _md(text: str) -> types.MarkupContent:
    return types.MarkupContent(kind=types.MarkupKind.Markdown, value=text)


def plain(help_: types.SignatureHelp) -> types.SignatureHelp:
    """The same help with plain-text documentation (for a client without Markdown)."""
    def strip(doc: typing.Any) -> typing.Any:
        if isinstance(doc, types.MarkupContent):
            return types.MarkupContent(kind=types.MarkupKind.PlainText, value=doc.value)
        return doc

    sigs = [types.SignatureInformation(
        label=s.label, documentation=strip(s.documentation), active_parameter=s.active_parameter,
        parameters=[types.ParameterInformation(label=p.label, documentation=strip(p.documentation))
                    for p in s.parameters or []]) for s in help_.signatures]
    return types.SignatureHelp(signatures=sigs, active_signature=help_.active_signature,
                               active_parameter=help_.active_parameter)

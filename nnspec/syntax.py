"""syntax: the concrete syntax tree that parse() produces and check() and fmt consume.

Why a generic tree and not the typed IR straight from the parser: the grammar accepts a
superset (any `keyword args...` statement, any `name(options)` call), so that every name is
judged in check/, where a mistake can get a did-you-mean instead of a syntax error; and so
that `nnspec fmt` can reprint a file with its comments and the user's choice of forms
(`early_stop(patience=5)` vs `early_stop patience=5`) intact. Lark trees never leave parse/;
this is what they become.

Every node carries its `Span`. Nodes are frozen pydantic models.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from nnspec.diagnostics import Span


class SyntaxNode(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    span: Span


class Number(SyntaxNode):
    """`16`, `0.1`, `1e-4`, `-3` (the text is kept, so fmt reprints it as written)."""

    type: Literal["number"] = "number"
    value: float | int
    text: str


class String(SyntaxNode):
    """`"data/iris.csv"` (value is unescaped)."""

    type: Literal["string"] = "string"
    value: str


class Name(SyntaxNode):
    """An identifier: `relu`, `true`, `full`, `val_loss`, `then`, `from`."""

    type: Literal["name"] = "name"
    value: str


class Call(SyntaxNode):
    """`name(arg, key=value, ...)`: `sgd(lr=0.1)`, `leaky_relu(alpha=0.2)`, `csv("a.csv")`."""

    type: Literal["call"] = "call"
    name: Name
    args: tuple[Arg, ...] = ()


class ListValue(SyntaxNode):
    """`[30, 60, 90]`."""

    type: Literal["list"] = "list"
    items: tuple[Value, ...] = ()


Value = Annotated[Number | String | Name | Call | ListValue, Field(discriminator="type")]


class Option(SyntaxNode):
    """`key=value`."""

    type: Literal["option"] = "option"
    key: Name
    value: Value


Arg = Annotated[Number | String | Name | Call | ListValue | Option, Field(discriminator="type")]


class Comment(SyntaxNode):
    """`# text` (text without the `#`, trailing whitespace stripped)."""

    text: str


class Statement(SyntaxNode):
    """`keyword arg arg, arg key=value` or `keyword(key=value, ...) arg...`.

    `call_args` is not None when the keyword itself is followed by parentheses
    (`early_stop(monitor=val_loss)`). `commas[i]` says whether a comma followed `args[i]`
    in the source, so that fmt can keep `metrics mae, rmse` and `dense 16 relu` as written.

    `body` is the braced list of statements that may end a statement (`concat { branch {
    dense 32 relu } }`, `head aux weight=0.3 { dense 10 softmax }`): None when no braces were
    written, `()` for `{}`. With a body, `span` runs from the keyword through the closing `}`
    (through the last statement when the parser had to invent a missing `}`, whose
    `close_brace` is then None).
    """

    keyword: Name
    call_args: tuple[Arg, ...] | None = None
    args: tuple[Arg, ...] = ()
    commas: tuple[bool, ...] = ()
    body: tuple[Statement, ...] | None = None
    open_brace: Span | None = None
    close_brace: Span | None = None


class Block(SyntaxNode):
    """`kind [name] { statements }`: `model moons { ... }`, `data { ... }`, `train { ... }`."""

    kind: Name
    name: Name | None = None
    statements: tuple[Statement, ...] = ()
    open_brace: Span | None = None
    close_brace: Span | None = None


class Document(SyntaxNode):
    """A whole `.nn` file."""

    path: str | None = None
    blocks: tuple[Block, ...] = ()
    comments: tuple[Comment, ...] = ()


Call.model_rebuild()
ListValue.model_rebuild()
Option.model_rebuild()
Statement.model_rebuild()

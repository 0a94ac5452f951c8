"""ops: the registry of every named thing a spec can use (backend-independent facts).

Each op is a frozen pydantic model: its `kind` is the name a user writes, its fields are the
options with their defaults and ranges (the single place defaults are stated), its docstring
is the formula (and derivative) in plain notation. check/ builds these from `name(options)`
calls; docs, `nnspec schema`, completion and hover read them. Backends implement every kind.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Union

from pydantic import BaseModel, ConfigDict, Field

from nnspec.diagnostics import Span


class Op(BaseModel):
    """Base of every op and IR node: frozen, no unknown fields, an optional source span.

    The span is excluded from dumps and from IR equality checks (compare `model_dump()`),
    so a reformatted file has the same IR as the original.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    span: Span | None = Field(default=None, exclude=True, repr=False,
                              description="where this was written in the spec")

    # The name users write; subclasses override with a Literal field `kind`.
    family: ClassVar[str] = "op"


def registry(*classes: type[Op]) -> dict[str, type[Op]]:
    """Map each class's `kind` default to the class."""
    out: dict[str, type[Op]] = {}
    for cls in classes:
        kind = cls.model_fields["kind"].default
        assert kind not in out, kind
        out[kind] = cls
    return out


def union(ops: dict[str, type[Op]]) -> Any:
    """The pydantic tagged union of a registry's classes (discriminated by `kind`): derived
    from the registry, so a new op class is listed once, in its registry."""
    return Annotated[Union[tuple(ops.values())], Field(discriminator="kind")]  # noqa: UP007

"""parse: syntax node -> the same node as plain data without positions (for comparisons).

`parse(fmt(x))` must equal `parse(x)` except where things are; `strip_spans` makes that a
plain `==`. Spans (`span`, `open_brace`, `close_brace`), the document's path and comment
positions are dropped; everything else is kept, including comment texts, `commas` and
statement bodies (nested, at any depth; `None` (no braces) stays apart from `()` (`{}`)).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

POSITION_FIELDS = {"span", "open_brace", "close_brace"}


def strip_spans(node: Any) -> Any:
    """A nested dict/list/scalar copy of a syntax node (or IR node) without its positions."""
    if isinstance(node, BaseModel):
        return {"__type__": type(node).__name__,
                **{k: strip_spans(getattr(node, k)) for k in type(node).model_fields
                   if k not in POSITION_FIELDS and k != "path"}}
    if isinstance(node, (list, tuple)):
        return [strip_spans(x) for x in node]
    return node

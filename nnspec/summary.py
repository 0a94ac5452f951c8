"""summary: ir.Model -> a row per layer (output shape, parameters, FLOPs per sample).

The one place these numbers are computed: `nnspec summary` prints them, and the language
server's hover and inlay hints show them. `all_rows` has a row for every layer statement, the
layers inside `concat`, `add`, `residual` and `head` bodies too (after their statement, named
as their weights are: `layers.2.branches.1.0`); `rows` keeps the model's own layers. Each
layer op states its own shape rule, parameters and FLOPs (nnspec/ops/layers.py); FLOPs count
one forward pass of one sample at evaluation time, a multiply-add as 2 (dense: 2 * in * out +
out for the bias; batchnorm: 2 * n, + 2 * n with affine); activations, dropout and flatten are
not counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from nnspec import ir
from nnspec.ops.layers import Composite, Layer, Shape, param_count, shapes, show_shape

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

FLOPS_NOTE = ("FLOPs: one forward pass of one sample; a multiply-add counts as 2; "
              "activations and dropout are not counted")


@dataclass(frozen=True)
class Row:
    index: int  # the position of the model's layer (for a nested layer: of the one it is in)
    layer: str
    in_shape: Shape
    shape: Shape  # the output shape per sample
    params: int
    flops: int
    name: str = ""  # as its weights are named: `layers.2`, `layers.2.branches.1.0`
    depth: int = 0  # 0 for the model's own layers, 1 inside their bodies, ...
    kind: str = ""  # the layer statement's keyword (`dense`, `concat`, ...)


def all_rows(model: ir.Model) -> list[Row]:
    """A row for every layer, each composite followed by the rows of its bodies."""
    out: list[Row] = []
    for i, (layer, (x, y)) in enumerate(zip(model.layers, model.shapes(), strict=True)):
        _visit(out, i, f"layers.{i}", 0, layer, x, y)
    return out


def _visit(out: list[Row], index: int, name: str, depth: int, layer: Layer, x: Shape,
           y: Shape) -> None:
    out.append(Row(index, layer.describe(), x, y, param_count(layer, x), layer.flops(x), name,
                   depth, str(layer.kind)))  # type: ignore[attr-defined]
    if isinstance(layer, Composite):
        for prefix, chain in layer.parts():
            for k, (inner, (a, b)) in enumerate(zip(chain, shapes(x, chain), strict=True)):
                _visit(out, index, f"{name}.{prefix}.{k}", depth + 1, inner, a, b)


def rows(model: ir.Model) -> list[Row]:
    """The rows of the model's own layers (what the totals add up)."""
    return [r for r in all_rows(model) if r.depth == 0]


def _label(row: Row) -> str:
    """How a nested row is shown under its composite: `  - branch 1: dense 16 tanh`."""
    if row.depth == 0:
        return row.layer
    parts = row.name.split(".")
    where = f"branch {parts[-2]}: " if parts[-3] == "branches" else ""
    return "  " * row.depth + "- " + where + row.layer


def table(spec: ir.Spec) -> Table:
    from rich.table import Table

    model = spec.model
    out = Table(title=f"model {model.name}: input {show_shape(model.input)}",
                caption=FLOPS_NOTE)
    for name, justify in (("#", "right"), ("layer", "left"), ("output shape", "left"),
                          ("params", "right"), ("FLOPs", "right")):
        out.add_column(name, justify=justify)  # type: ignore[arg-type]
    body = all_rows(model)
    for r in body:
        out.add_row(str(r.index) if r.depth == 0 else "", _label(r), show_shape(r.shape),
                    f"{r.params:,}", f"{r.flops:,}", style="dim" if r.depth else None)
    body = [r for r in body if r.depth == 0]
    out.add_section()
    out.add_row("", "total", "", f"{sum(r.params for r in body):,}",
                f"{sum(r.flops for r in body):,}")
    return out


def print_summary(spec: ir.Spec, console: Console | None = None) -> None:
    from rich.console import Console

    (console or Console()).print(table(spec))

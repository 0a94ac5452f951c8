"""summary: ir.Model -> a row per layer (output shape, parameters, FLOPs per sample).

The one place these numbers are computed: `nnspec summary` prints them and the language
server's hover shows them. Each layer op states its own shape rule, parameters and FLOPs
(nnspec/ops/layers.py); FLOPs count one forward pass of one sample at evaluation time, a
multiply-add as 2 (dense: 2 * in * out + out for the bias; batchnorm: 2 * n, + 2 * n with
affine); activations, dropout and flatten are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from nnspec import ir
from nnspec.ops.layers import Shape, param_count, show_shape

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

FLOPS_NOTE = ("FLOPs: one forward pass of one sample; a multiply-add counts as 2; "
              "activations and dropout are not counted")


@dataclass(frozen=True)
class Row:
    index: int
    layer: str
    in_shape: Shape
    shape: Shape  # the output shape per sample
    params: int
    flops: int


def rows(model: ir.Model) -> list[Row]:
    return [Row(i, layer.describe(), x, y, param_count(layer, x), layer.flops(x))
            for i, (layer, (x, y)) in enumerate(zip(model.layers, model.shapes(), strict=True))]


def table(spec: ir.Spec) -> Table:
    from rich.table import Table

    model = spec.model
    out = Table(title=f"model {model.name}: input {show_shape(model.input)}",
                caption=FLOPS_NOTE)
    for name, justify in (("#", "right"), ("layer", "left"), ("output shape", "left"),
                          ("params", "right"), ("FLOPs", "right")):
        out.add_column(name, justify=justify)  # type: ignore[arg-type]
    body = rows(model)
    for r in body:
        out.add_row(str(r.index), r.layer, show_shape(r.shape), f"{r.params:,}", f"{r.flops:,}")
    out.add_section()
    out.add_row("", "total", "", f"{sum(r.params for r in body):,}",
                f"{sum(r.flops for r in body):,}")
    return out


def print_summary(spec: ir.Spec, console: Console | None = None) -> None:
    from rich.console import Console

    (console or Console()).print(table(spec))

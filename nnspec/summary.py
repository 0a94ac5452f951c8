"""summary: ir.Model -> a table of layers (shape, parameters, FLOPs per sample).

FLOPs count one forward pass of one sample at evaluation time:
- dense: 2 * in * out (a multiply-add counts as 2 FLOPs) + out for the bias;
- batchnorm: 2 * n (subtract the running mean, multiply by 1/sqrt(var + eps)), + 2 * n with
  affine (scale, shift);
- activations and dropout are not counted (elementwise, and dropout is the identity at
  evaluation).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from nnspec import ir
from nnspec.ops.layers import ActivationLayer, BatchNorm, Dense, Dropout

FLOPS_NOTE = ("FLOPs: one forward pass of one sample; a multiply-add counts as 2; "
              "activations and dropout are not counted")


@dataclass(frozen=True)
class Row:
    index: int
    layer: str
    shape: tuple[int, ...]
    params: int
    flops: int


def describe(layer: object) -> str:
    if isinstance(layer, Dense):
        return f"dense {layer.units} {layer.activation.kind}" + ("" if layer.bias else " no-bias")
    if isinstance(layer, Dropout):
        return f"dropout {layer.rate:g}"
    if isinstance(layer, ActivationLayer):
        return f"activation {layer.activation.kind}"
    if isinstance(layer, BatchNorm):
        return "batchnorm" + ("" if layer.affine else " (no affine)")
    return str(getattr(layer, "kind", "?"))


def flops(layer: object, n_in: int, n_out: int) -> int:
    if isinstance(layer, Dense):
        return 2 * n_in * n_out + (n_out if layer.bias else 0)
    if isinstance(layer, BatchNorm):
        return 4 * n_out if layer.affine else 2 * n_out
    return 0


def rows(model: ir.Model) -> list[Row]:
    return [Row(i, describe(layer), (n_out,), ir.param_count(layer, n_in, n_out),
                flops(layer, n_in, n_out))
            for i, (layer, (n_in, n_out)) in enumerate(zip(model.layers, ir.layer_shapes(model),
                                                           strict=True))]


def table(spec: ir.Spec) -> Table:
    model = spec.model
    out = Table(title=f"model {model.name}: input ({model.input},)", caption=FLOPS_NOTE)
    for name, justify in (("#", "right"), ("layer", "left"), ("output shape", "left"),
                          ("params", "right"), ("FLOPs", "right")):
        out.add_column(name, justify=justify)  # type: ignore[arg-type]
    body = rows(model)
    for r in body:
        out.add_row(str(r.index), r.layer, f"({r.shape[0]},)", f"{r.params:,}", f"{r.flops:,}")
    out.add_section()
    out.add_row("", "total", "", f"{sum(r.params for r in body):,}",
                f"{sum(r.flops for r in body):,}")
    return out


def print_summary(spec: ir.Spec, console: Console | None = None) -> None:
    (console or Console()).print(table(spec))

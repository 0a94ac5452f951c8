"""check.model: the `model` block -> ir.Model (layers built from the op registry).

Defaults resolved here: a dense layer without `init=` gets its activation's `default_init`
(he_normal after relu, lecun_normal after selu, glorot_uniform otherwise), so the IR says
exactly what will be drawn.
"""

from __future__ import annotations

from nnspec import ir
from nnspec.check.context import Ctx
from nnspec.check.options import build, validate
from nnspec.check.statements import Seen, all_args, keywords, scalar
from nnspec.ops import ACTIVATIONS, INITIALIZERS, LAYERS
from nnspec.ops.layers import Dense
from nnspec.syntax import Block, Name, String


def check_model(ctx: Ctx, block: Block) -> ir.Model | None:
    seen = Seen(ctx, "model")
    given: dict = {}
    failed: set[str] = set()
    layers = []
    if block.name is not None:
        given["name"] = (block.name.value, block.name.span, block.name)
    for st in block.statements:
        kw = st.keyword.value
        if kw == "input":
            if not seen.once(st):
                continue
            scalar(ctx, ir.Model, "input", st, given, failed, "the number of input features")
        elif kw == "init":
            if seen.once(st):
                _init_from(ctx, st, given, failed)
        elif kw in LAYERS:
            layer = build(ctx, LAYERS[kw], all_args(st), st.span, title=kw)
            if layer is None:
                failed.add("layers")
            else:
                layers.append(_resolve_init(layer))
        else:
            known = [k for k in keywords("model") if k not in LAYERS] + list(LAYERS)
            ctx.unknown("E203", "layer", kw, st.keyword.span, known,
                        label="not a layer or model statement")
            failed.add("layers")  # the shapes after it are unknown
    if not layers and "layers" not in failed:
        ctx.error("E309", f"model `{given.get('name', ('model',))[0]}` has no layers",
                  block.kind.span, label="empty model",
                  hints=["add a layer, e.g. `dense 1` for a linear model"])
        failed.add("layers")
    given["layers"] = (tuple(layers), block.span, None)

    def missing(key: str) -> None:
        ctx.error("E309", "the model block needs an `input` statement", block.kind.span,
                  label="no `input N` in this block",
                  hints=["add `input N`, N = the number of features per sample"])

    model = validate(ctx, ir.Model, given, block.span, title="model", failed=failed,
                     on_missing=missing, names={"init_from": "init from"})
    return model if not failed else None  # type: ignore[return-value]


def _init_from(ctx: Ctx, st, given: dict, failed: set[str]) -> None:
    args = all_args(st)
    if (len(args) == 2 and isinstance(args[0], Name) and args[0].value == "from"
            and isinstance(args[1], String)):
        given["init_from"] = (args[1].value, args[1].span, args[1])
        return
    failed.add("init_from")
    ctx.error("E301", "`init` expects `from` and a quoted path", st.span,
              label="expected `init from \"weights.npz\"`",
              hints=['write `init from "weights.npz"` (a file saved by `nnspec run`)'])


def _resolve_init(layer):
    if isinstance(layer, Dense) and layer.init is None:
        default = ACTIVATIONS[layer.activation.kind].default_init
        return layer.model_copy(update={"init": INITIALIZERS[default]()})
    return layer

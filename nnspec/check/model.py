"""check.model: the `model` block -> ir.Model (layers built from the op registry).

Defaults resolved here: a dense or conv2d layer without `init=` gets its activation's `default_init`
(he_normal after relu, lecun_normal after selu, glorot_uniform otherwise), so the IR says
exactly what will be drawn.

Shapes: `input` gives the shape of one sample; each layer's own shape rule (ops/layers.py)
gives the shape after it, and a layer that cannot take its input is an E305 at that layer's
statement, with the rule's hint (`dense` after a 1x28x28 input: "add `flatten`").
"""

from __future__ import annotations

from nnspec import ir
from nnspec.check import missing as missing_fix
from nnspec.check.context import Ctx, closest, replace
from nnspec.check.options import big_int, build, too_big, validate
from nnspec.check.statements import Seen, all_args, keywords
from nnspec.ops import ACTIVATIONS, INITIALIZERS, LAYERS
from nnspec.ops.layers import Branch, Head, ShapeError, show_shape
from nnspec.syntax import Block, Name, Number, Option, String


def check_model(ctx: Ctx, block: Block, data: ir.Data | None = None) -> ir.Model | None:
    """`data` (the checked data block, if any) only completes a missing `input` (its fix)."""
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
            _input(ctx, st, given, failed)
        elif kw == "init":
            if seen.once(st):
                _init_from(ctx, st, given, failed)
        elif kw in LAYERS:
            layer = _layer(ctx, st, top=True, data=data)
            if layer is None:
                failed.add("layers")
            else:
                layers.append(layer)
        elif kw in NOT_YET or kw == "branch":
            _unsupported(ctx, st, kw)
            failed.add("layers")
        else:
            known = [k for k in keywords("model") if k not in LAYERS] + list(LAYERS)
            # `iniut 64` is closest to `init`, but only `input` takes numbers: the
            # suggestion (and its fix) is a statement these values could belong to
            ctx.unknown("E203", "layer", kw, st.keyword.span, known,
                        among=[k for k in known if _could_be(k, st, block)],
                        label="not a layer or model statement")
            failed.add("layers")  # the shapes after it are unknown
    if not layers and "layers" not in failed:
        ctx.error("E309", f"model `{given.get('name', ('model',))[0]}` has no layers",
                  block.kind.span, label="empty model",
                  hints=["add a layer, e.g. `dense 1` for a linear model"])
        failed.add("layers")
    given["layers"] = (tuple(layers), block.span, None)

    def missing(key: str) -> None:
        fix = missing_fix.input_statement(block, data)
        ctx.error("E309", "the model block needs an `input` statement", block.kind.span,
                  label="no `input N` in this block",
                  hints=["add `input N`, N = the number of features per sample"],
                  fixes=[fix] if fix is not None else [])

    model = validate(ctx, ir.Model, given, block.span, title="model", failed=failed,
                     on_missing=missing, names={"init_from": "init from"})
    if model is None or failed:
        return None
    ok = _heads_fit(ctx, model) and _shapes_fit(ctx, model)  # type: ignore[arg-type]
    return model if ok else None  # type: ignore[return-value]


def _could_be(keyword: str, st, block: Block) -> bool:  # type: ignore[no-untyped-def]
    """Whether statement `st` could be `keyword` misspelt: `init` takes `from "path"`,
    `input` whole numbers (and is written once); a layer takes what a layer does."""
    args = all_args(st)
    if keyword == "init":
        return (len(args) == 2 and isinstance(args[0], Name) and args[0].value == "from"
                and isinstance(args[1], String))
    if keyword == "input":
        return (bool(args) and all(isinstance(a, Number) for a in args)
                and not any(s.keyword.value == "input" for s in block.statements))
    return True


def _body(st) -> tuple | None:  # type: ignore[no-untyped-def]
    return getattr(st, "body", None)


def _layers(ctx: Ctx, statements, where: str) -> list | None:  # type: ignore[no-untyped-def]
    """The layers of a `{ }` body (residual, head, branch); None after reporting."""
    out, ok = [], True
    for st in statements:
        kw = st.keyword.value
        if kw in LAYERS and kw != "head":
            layer = _layer(ctx, st, top=False)
            ok = ok and layer is not None
            out.append(layer)
        elif kw == "head":
            ctx.error("E305", f"a head can only be a statement of the model block, not of {where}",
                      st.keyword.span, label="head inside a body",
                      hints=["move the head out to the model block, where its input is"])
            ok = False
        elif kw in NOT_YET or kw == "branch":
            _unsupported(ctx, st, kw)
            ok = False
        else:
            ctx.unknown("E203", "layer", kw, st.keyword.span, [k for k in LAYERS if k != "head"],
                        label=f"not a layer of {where}")
            ok = False
    return out if ok else None


# Layers other tools have and nnspec does not yet: a plain "not supported yet" rather than
# a did-you-mean towards a layer that does something else (`lstm` -> `dense`?)
NOT_YET = ("lstm", "gru", "rnn", "attention", "multihead_attention",
           "transformer", "conv1d", "conv3d", "layernorm", "upsample", "conv2d_transpose")


def _unsupported(ctx: Ctx, st, kw: str) -> None:  # type: ignore[no-untyped-def]
    """E203 for a layer that is not supported yet, and for `branch` outside concat/add."""
    known = ", ".join(k for k in LAYERS)
    if kw == "branch":
        ctx.error("E203", "`branch { ... }` is written inside `concat { ... }` or "
                  "`add { ... }`, not on its own", st.keyword.span,
                  label="branch outside concat or add",
                  hints=["e.g. `concat { branch { dense 16 relu } branch { dense 16 tanh } }` "
                         "joins the branches' outputs; `add { ... }` sums them; "
                         "`residual { ... }` adds its body's output to its input"])
        return
    ctx.error("E203", f"`{kw}` layers are not supported yet", st.keyword.span,
              label="not supported yet", hints=[f"supported layers: {known}"])


def _branches(ctx: Ctx, st) -> list | None:  # type: ignore[no-untyped-def]
    """`branch { ... }` statements of a concat or add body."""
    kw = st.keyword.value
    out, ok = [], True
    for inner in _body(st) or ():
        if inner.keyword.value != "branch":
            ctx.error("E203", f"`{kw}` holds `branch {{ ... }}` statements, found "
                      f"`{inner.keyword.value}`", inner.keyword.span, label="not a branch",
                      hints=[f"wrap it: `branch {{ {inner.keyword.value} ... }}`"])
            ok = False
            continue
        if all_args(inner):
            ctx.error("E304", "`branch` takes no values, only a `{ }` body of layers",
                      all_args(inner)[0].span, label="unexpected value")
            ok = False
        layers = _layers(ctx, _body(inner) or (), "a branch")
        if layers is None:
            ok = False
        else:
            out.append(Branch(layers=tuple(layers), span=inner.span))
    if ok and len(out) < 2:
        ctx.error("E309", f"`{kw}` needs at least two branches, found {len(out)}",
                  st.keyword.span, label="one branch or none",
                  hints=[f"`{kw} {{ branch {{ dense 16 relu }}; branch {{ dense 16 tanh }} }}`"])
        ok = False
    return out if ok else None


def _vocab_units(ctx: Ctx, args: list, data: ir.Data | None) -> list | None:  # type: ignore[type-arg]
    """`dense vocab softmax`: the units are the vocabulary size its text() source declares
    (E313 without one); other arguments as they are. None after reporting."""
    first = args[0] if args else None
    if not (isinstance(first, Name) and first.value == "vocab"):
        return args
    size = data.source.declared_vocab() if data is not None else None
    if size is None:
        where = f"`{data.source.kind}` does not count one" if data is not None else \
            "the spec has no data source that counts one"
        ctx.error("E313", f"`dense vocab` takes the vocabulary size of the data, but {where}",
                  first.span, label="vocabulary size unknown",
                  hints=["read the data with `text(\"FILE\", vocab=K)`, or write the number of "
                         "units"])
        return None
    return [Number(value=size, text=str(size), span=first.span), *args[1:]]


def _layer(ctx: Ctx, st, *, top: bool, data: ir.Data | None = None):  # type: ignore[no-untyped-def]
    """One layer statement (a composite one with its body); None after reporting. `data`:
    the checked data block, for `dense vocab` (a top-level statement)."""
    kw = st.keyword.value
    cls = LAYERS[kw]
    nested = getattr(cls, "nested", ())
    body = _body(st)
    if not nested:
        if body is not None:
            ctx.error("E304", f"`{kw}` takes no `{{ }}` body", st.open_brace or st.span,
                      label="unexpected body",
                      hints=["only concat, add, residual and head hold layers"])
            return None
        args = list(all_args(st))
        if kw == "dense" and top:
            args = _vocab_units(ctx, args, data)  # type: ignore[assignment]
            if args is None:
                return None
        layer = build(ctx, cls, args, st.span, title=kw)
        return None if layer is None else _resolve_init(layer)
    if body is None:
        example = {"concat": "concat { branch { dense 16 relu }; branch { dense 8 } }",
                   "add": "add { branch { dense 16 relu }; branch { dense 16 } }",
                   "residual": "residual { dense 16 relu; dense 16 }",
                   "head": "head aux weight=0.3 { dense 10 softmax }"}[kw]
        ctx.error("E303", f"`{kw}` needs a `{{ }}` body of layers", st.span,
                  label="no body", hints=[f"e.g. `{example}`"])
        return None
    if nested == ("branches",):
        children = _branches(ctx, st)
    else:
        children = _layers(ctx, body, f"`{kw}`")
        if children is not None and kw == "head" and not children:
            ctx.error("E309", "a head needs at least one layer (its output)", st.span,
                      label="empty head", hints=["e.g. `head aux { dense 10 softmax }`"])
            children = None
    if children is None:
        return None
    return build(ctx, cls, all_args(st), st.span, title=kw,
                 extra={nested[0]: tuple(children)})


def _heads_fit(ctx: Ctx, model: ir.Model) -> bool:
    """Heads: unique names, not the model's last statement (the main output comes after)."""
    seen: dict[str, object] = {}
    ok = True
    for layer in model.layers:
        if isinstance(layer, Head):
            if layer.name in seen:
                ctx.error("E305", f"two heads are named `{layer.name}`", layer.span,
                          label="name used before", hints=["give each head its own name"])
                ok = False
            seen[layer.name] = layer
    if model.layers and isinstance(model.layers[-1], Head):
        ctx.error("E305", "a head cannot be the model's last statement: the main output "
                  "comes after it", model.layers[-1].span, label="the last statement",
                  hints=["end the model with its main output layer, e.g. `dense 10 softmax`"])
        ok = False
    return ok


def _input(ctx: Ctx, st, given: dict, failed: set[str]) -> None:
    """`input 2` (features), `input 1 28 28` (channels, height, width): positive integers;
    `input 3 tokens`: 3 token ids (one dimension, then the word)."""
    args = all_args(st)
    last = args[-1] if args else None
    if isinstance(last, Name) and last.value == "tokens" and len(args) > 1:
        args = args[:-1]
        if len(args) > 1 and all(isinstance(a, Number) for a in args):
            ctx.error("E301", "`input N tokens` takes one number, the token ids per sample; "
                      f"found {len(args)}", args[0].span.cover(args[-1].span),
                      label="one number before `tokens`",
                      hints=["write `input 3 tokens` for the 3 previous tokens' ids"])
            failed.add("input")
            return
        given["tokens"] = (True, last.span, last)
    if not args:
        ctx.error("E303", "`input` needs the shape of one sample", st.keyword.span,
                  label="expected e.g. `input 2` or `input 1 28 28`",
                  hints=["write `input N`, N = the number of features per sample"])
        failed.add("input")
        return
    dims: list[int] = []
    for a in args:
        if isinstance(a, Option):
            ctx.error("E211", f"`input` takes no options, found `{a.key.value}=`", a.key.span,
                      label="unexpected option", hints=["write `input N` or `input C H W`"])
        elif isinstance(a, Name) and a is last and len(args) > 1:
            near = closest(a.value, ["tokens"])
            ctx.error("E301", f"`input` takes whole numbers, and `tokens` after them for "
                      f"token ids; found `{a.value}`", a.span,
                      label="did you mean `tokens`?" if near else "expected `tokens`",
                      hints=["write `input N tokens` for N token ids, or leave the word out "
                             "for numeric features"],
                      fixes=[replace(a.span, a.value, "tokens")] if near else [])
        elif not isinstance(a, Number) or isinstance(a.value, float):
            found = f"`{a.value}`" if isinstance(a, (Name, Number)) else "this"
            ctx.error("E301", f"`input` expects whole numbers (the sample's dimensions), found "
                      f"{found}", a.span, label="expected a positive integer",
                      hints=["write `input 2` for 2 features, `input 1 28 28` for a 1x28x28 "
                             "image"])
        elif a.value <= 0:
            ctx.error("E302", f"input dimensions must be greater than 0, found {a.value}",
                      a.span, label="must be greater than 0")
        elif too_big(a):
            big_int(ctx, "input", a)
        else:
            dims.append(int(a.value))
            continue
        failed.add("input")
        return
    given["input"] = (tuple(dims), args[0].span.cover(args[-1].span), args[0])


def _shapes_fit(ctx: Ctx, model: ir.Model) -> bool:
    """Every layer takes the shape before it; an E305 at the first that does not."""
    try:
        found = model.shapes()
    except ShapeError as exc:
        layer = exc.at or model.layers[exc.index]  # type: ignore[attr-defined]
        ctx.error(exc.code, exc.message, layer.span, label=exc.label, hints=list(exc.hints))
        return False
    out = model.output_shape
    for layer, (x, _) in zip(model.layers, found, strict=True):
        if isinstance(layer, Head) and layer.head_shape(x) != out:
            ctx.error("E305", f"head `{layer.name}` outputs {show_shape(layer.head_shape(x))} "
                      f"but the model's main output is {show_shape(out)}; a head learns the "
                      "same target", layer.body[-1].span or layer.span,
                      label=f"gives {show_shape(layer.head_shape(x))}",
                      hints=[f"end the head with `dense {out[0]}` and the main output's "
                             "activation"] if len(out) == 1 else [])
            return False
    if len(out) != 1:
        last = model.layers[-1] if model.layers else model
        ctx.error("E305", f"the model's output has shape {show_shape(out)}, but a loss takes a "
                  "flat row of values per sample", last.span, label=f"output {show_shape(out)}",
                  hints=["end the model with `flatten` and a `dense` layer"])
        return False
    return True


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
    """A layer with an `init` option left unset (dense, conv2d) gets its activation's
    default initializer, so the IR says what will be drawn."""
    if "init" in type(layer).model_fields and "activation" in type(layer).model_fields \
            and layer.init is None:
        default = ACTIVATIONS[layer.activation.kind].default_init
        return layer.model_copy(update={"init": INITIALIZERS[default]()})
    return layer

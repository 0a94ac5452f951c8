"""check.options: syntax args -> validated op (the generic part of the checker).

Every op and IR node is a pydantic model, so checking `sgd(lr=-0.1, momentun=0.9)` is the
same for every op: match the arguments to the model's fields (unknown option E211 with a
did-you-mean, duplicate E214, too many positional values E304), turn each syntax value into
a plain Python value (an op-valued field such as `activation=` is built recursively), then
let the model validate in strict mode and translate pydantic's errors back to the span of
the offending value, in plain words (type E301, range E302, missing E303).

Positional arguments: an op's required options may be written positionally, in the order
they are declared (`dropout 0.1`, `exponential(0.95)`, `csv("a.csv", species)`), plus the
one main option of a few ops listed in `EXTRA_POSITIONAL` (`leaky_relu(0.2)`, `dense 16 relu`).
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import ValidationError
from pydantic.fields import FieldInfo

from nnspec.check.context import Ctx, did_you_mean, show
from nnspec.diagnostics import Span
from nnspec.ops import (
    ACTIVATIONS,
    INITIALIZERS,
    LAYERS,
    LOSSES,
    METRICS,
    OPTIMIZERS,
    SCHEDULES,
    SOURCES,
)
from nnspec.ops.base import Op
from nnspec.syntax import Call, ListValue, Name, Number, Option, String

# family -> (registry, code for an unknown name, the word used in messages)
FAMILIES: dict[str, tuple[dict[str, type[Op]], str, str]] = {
    "layer": (LAYERS, "E203", "layer"),
    "activation": (ACTIVATIONS, "E204", "activation"),
    "initializer": (INITIALIZERS, "E205", "initializer"),
    "loss": (LOSSES, "E206", "loss"),
    "optimizer": (OPTIMIZERS, "E207", "optimizer"),
    "schedule": (SCHEDULES, "E208", "schedule"),
    "metric": (METRICS, "E209", "metric"),
    "source": (SOURCES, "E210", "data source"),
}

# Ops without a required option that still take their main option positionally.
EXTRA_POSITIONAL: dict[tuple[str, str], tuple[str, ...]] = {
    ("layer", "dense"): ("activation",),
    ("layer", "conv2d"): ("activation",),
    ("layer", "activation"): (),
    ("activation", "leaky_relu"): ("alpha",),
    ("activation", "elu"): ("alpha",),
    ("initializer", "constant"): ("value",),
    ("loss", "huber"): ("delta",),
    ("source", "text"): ("path",),  # text("corpus.txt", ...) or text(corpus=python_help)
}

HIDDEN = ("span", "kind")
FAIL = object()  # a value that could not be converted (already reported)


def op_name(cls: type[Op]) -> str:
    field = cls.model_fields.get("kind")
    return str(field.default) if field is not None else cls.__name__.lower()


def options(cls: type[Op]) -> dict[str, FieldInfo]:
    """User-visible option names (the alias where there is one) -> field."""
    nested = getattr(cls, "nested", ())  # filled from a `{ }` body, not written as options
    return {(f.alias or name): f for name, f in cls.model_fields.items()
            if name not in HIDDEN and name not in nested}


def positional(cls: type[Op]) -> tuple[str, ...]:
    """The options that may be written without `key=`, in order."""
    required = tuple(k for k, f in options(cls).items() if f.is_required())
    return required + EXTRA_POSITIONAL.get((cls.family, op_name(cls)), ())


def op_family(annotation: Any) -> str | None:
    """The op family a field holds (`activation` for `AnyActivation | None`), if any."""
    for arg in _flatten(annotation):
        if isinstance(arg, type) and issubclass(arg, Op) and arg.family in FAMILIES:
            return arg.family
    return None


def _flatten(tp: Any) -> list[Any]:
    origin = get_origin(tp)
    if origin is Annotated:
        return _flatten(get_args(tp)[0])
    if origin is Union or origin is types.UnionType:
        return [x for a in get_args(tp) for x in _flatten(a)]
    return [tp]


def literals(annotation: Any) -> list[str]:
    return [str(v) for a in _flatten(annotation) if get_origin(a) is Literal for v in get_args(a)]


_SIMPLE = {bool: "`true` or `false`", int: "an integer", float: "a number",
           str: "a name or a string"}
_PLURAL = {bool: "booleans", int: "integers", float: "numbers", str: "names or strings"}


def describe(annotation: Any) -> str:
    """A type in words: `an integer or `full``, `a list of 2 numbers`..."""
    parts: list[str] = []
    for tp in _flatten(annotation):
        if tp is type(None):
            continue
        if isinstance(tp, type) and issubclass(tp, Op):
            word = FAMILIES[tp.family][2] if tp.family in FAMILIES else tp.family
            text = ("an " if word[0] in "aeiou" else "a ") + word
        elif get_origin(tp) is Literal:
            names = [f"`{v}`" for v in get_args(tp)]
            text = names[0] if len(names) == 1 else "one of " + ", ".join(names)
        elif get_origin(tp) is tuple:
            items = get_args(tp)
            if len(items) == 2 and items[1] is Ellipsis:
                text = "a list of " + " or ".join(
                    _PLURAL.get(t, "values") for t in _flatten(items[0]))
            else:
                text = f"a list of {len(items)} " + _PLURAL.get(items[0], "values")
        else:
            text = _SIMPLE.get(tp, getattr(tp, "__name__", str(tp)))
        if text not in parts:
            parts.append(text)
    return " or ".join(parts) if parts else "a value"


def plain(node: object) -> Any:
    """A syntax value as Python; Calls inside lists are rejected by the caller."""
    if isinstance(node, Number):
        return node.value
    if isinstance(node, String):
        return node.value
    if isinstance(node, Name):
        return {"true": True, "false": False}.get(node.value, node.value)
    if isinstance(node, ListValue):
        return tuple(plain(item) for item in node.items)
    return FAIL


def convert(ctx: Ctx, owner: str, key: str, field: FieldInfo, node: object) -> Any:
    """One option value -> Python (an op for op-valued fields); FAIL after reporting."""
    family = op_family(field.annotation)
    if family is not None:
        if isinstance(node, (Name, Call)):
            op = build_named(ctx, family, node)
            return FAIL if op is None else op
        ctx.error("E301", f"{key} must be {describe(field.annotation)}, found {show(node)}",
                  node.span, label=f"expected {describe(field.annotation)}")
        return FAIL
    numbers = node.items if isinstance(node, ListValue) else (node,)
    for num in numbers:
        if isinstance(num, Number) and not math.isfinite(num.value):
            ctx.error("E302", f"{key}: {num.text} is too large for a number", num.span,
                      label="not a finite number")
            return FAIL
        if isinstance(num, Number) and key not in UNBOUNDED_INTS and too_big(num):
            big_int(ctx, key, num)
            return FAIL
    bad = node if isinstance(node, Call) else None
    if isinstance(node, ListValue):
        bad = next((i for i in node.items if isinstance(i, (Call, ListValue))), None)
    if bad is not None:
        ctx.error("E301", f"{key} must be {describe(field.annotation)}, found {show(bad)}",
                  bad.span, label=f"expected {describe(field.annotation)}")
        return FAIL
    return plain(node)


# Counts (units, epochs, samples, batch, patience, ...) are at most 2^31 - 1: beyond that no
# machine holds the run, and NumPy's and Numba's index arithmetic would overflow or fail far
# from the spec. Seeds are not counts: any non-negative integer seeds a Generator.
MAX_INT = 2**31 - 1
UNBOUNDED_INTS = frozenset({"seed"})


def too_big(num: Number) -> bool:
    """An integer literal beyond MAX_INT (either sign)."""
    return isinstance(num.value, int) and abs(num.value) > MAX_INT


def big_int(ctx: Ctx, key: str, num: Number) -> None:
    ctx.error("E302", f"{key}: {num.text} is beyond the largest count nnspec accepts, "
              f"{MAX_INT:,} (2^31 - 1)", num.span, label="too large",
              hints=["no machine holds a run of this size; did you add digits by mistake?"])


Given = dict[str, tuple[Any, Span, object]]  # option -> (value, span of the value, syntax node)


def build(ctx: Ctx, cls: type[Op], args: Sequence[object], span: Span, *,
          title: str | None = None, extra: dict[str, Any] | None = None) -> Op | None:
    """`cls` from positional values and `key=value` options; None after reporting."""
    title = title or op_name(cls)
    fields = options(cls)
    pos = positional(cls)
    given: Given = {}
    failed: set[str] = set()
    n_pos = 0
    # What is written already (a fix must not write it twice).
    written = [a.key.value for a in args if isinstance(a, Option)]
    written += pos[:sum(not isinstance(a, Option) for a in args)]
    for arg in args:
        if isinstance(arg, Option):
            key, node = arg.key.value, arg.value
            if key not in fields:
                ctx.unknown("E211", "option", key, arg.key.span, fields, where=f" for `{title}`",
                            label=f"not an option of `{title}`", taken=written)
                continue
        else:
            node = arg
            if n_pos >= len(pos):
                _too_many(ctx, title, pos, fields, arg)
                continue
            key = pos[n_pos]
            n_pos += 1
        if key in given or key in failed:
            ctx.error("E214", f"option `{key}` of `{title}` is given twice", _span(arg),
                      label="given again here")
            continue
        value = convert(ctx, title, key, fields[key], node)
        if value is FAIL:
            failed.add(key)
        else:
            given[key] = (value, node.span, node)
    return validate(ctx, cls, given, span, title=title, failed=failed, extra=extra)


def _span(arg: object) -> Span:
    return arg.span  # type: ignore[attr-defined]


def _too_many(ctx: Ctx, title: str, pos: tuple[str, ...], fields: dict, arg: object) -> None:
    if pos:
        names = ", ".join(f"`{p}`" for p in pos)
        msg = f"too many values for `{title}`: it takes {len(pos)} without a name ({names})"
    else:
        msg = f"`{title}` takes its options as key=value, found {show(arg)}"
    hint = ("options: " + ", ".join(fields)) if fields else f"`{title}` has no options"
    ctx.error("E304", msg, _span(arg), label="unexpected value", hints=[hint])


def build_named(ctx: Ctx, family: str, node: Name | Call, args: Sequence[object] = (),
                taken: Sequence[str] = ()) -> Op | None:
    """`relu`, `leaky_relu(alpha=0.2)` -> the op from the family's registry."""
    registry, code, word = FAMILIES[family]
    name = node.name if isinstance(node, Call) else node
    cls = registry.get(name.value)
    if cls is None:
        hints = [f"`{name.value}` is {describe(other)}, not {describe(registry_cls(family))}"
                 for other in _other_families(name.value, family)]
        ctx.unknown(code, word, name.value, name.span, registry, label=f"not a known {word}",
                    extra_hints=hints, taken=taken)
        return None
    call_args = tuple(node.args) if isinstance(node, Call) else ()
    return build(ctx, cls, (*call_args, *args), node.span)


def registry_cls(family: str) -> type[Op]:
    return next(iter(FAMILIES[family][0].values())).__mro__[1]  # the family's base class


def _other_families(name: str, family: str) -> list[type[Op]]:
    return [registry_cls(f) for f, (reg, _, _) in FAMILIES.items()
            if f != family and name in reg][:1]


_RANGE = {"greater_than": ("gt", "greater than"), "greater_than_equal": ("ge", "at least"),
          "less_than": ("lt", "less than"), "less_than_equal": ("le", "at most")}


def validate(ctx: Ctx, cls: type[Op], given: Given, span: Span, *, title: str,
             failed: set[str] = frozenset(),  # type: ignore[assignment]
             extra: dict[str, Any] | None = None,
             on_missing: Callable[[str], None] | None = None,
             names: dict[str, str] | None = None) -> Op | None:
    """Construct `cls` strictly; report each failing option once, at its value."""
    data = {k: v for k, (v, _, _) in given.items()}
    data.update(extra or {})
    try:
        return cls.model_validate({**data, "span": span}, strict=True)
    except ValidationError as exc:
        errors = exc.errors()
    fields = options(cls)
    seen: set[object] = set()
    reported = False
    for err in errors:
        loc = err["loc"]
        key = str(loc[0]) if loc else None
        if key in failed or key in seen or (key is not None and key not in fields):
            continue
        seen.add(key)
        reported = True
        kind = err["type"]
        if kind == "missing" and len(loc) == 1:
            if on_missing is not None:
                on_missing(key)  # type: ignore[arg-type]
            else:
                ctx.error("E303", f"`{title}` needs `{key}`", span, label=f"`{key}` missing",
                          hints=[f"add `{key}=...` ({fields[key].description})"])
            continue
        if key is None or kind in ("value_error", "assertion_error"):
            _value_error(ctx, err, given, span, key)
            continue
        value, vspan, node = given.get(key, (None, span, None))
        ann = fields[key].annotation
        key = (names or {}).get(key, key)
        if kind in _RANGE:
            bound_key, words = _RANGE[kind]
            bound = _number((err.get("ctx") or {}).get(bound_key))
            ctx.error("E302", f"{key} must be {words} {bound}, found {show(node)}", vspan,
                      label=f"must be {words} {bound}")
        elif kind in ("too_short", "too_long", "string_too_short", "string_too_long"):
            ctx.error("E302", f"{key}: {_lower(err['msg'])}, found {show(node)}", vspan,
                      label="wrong length")
        else:
            hints, fixes = [], ()
            if isinstance(node, (Name, String)) and literals(ann):
                hint, fixes = did_you_mean(str(node.value), literals(ann),
                                           node.span if isinstance(node, Name) else None)
                hints.append(hint)
            ctx.error("E301", f"{key} must be {describe(ann)}, found {show(node)}", vspan,
                      label=f"expected {describe(ann)}", hints=hints, fixes=fixes)
    if not reported and not failed:
        # Errors only on things the user did not write: still say something.
        ctx.error("E302", f"invalid `{title}`: {errors[0]['msg']}", span)
    return None


def _number(x: object) -> object:
    """0.0 -> 0 in messages (`lr must be greater than 0`)."""
    return int(x) if isinstance(x, float) and x.is_integer() else x


def _lower(msg: str) -> str:
    return msg[:1].lower() + msg[1:]


def _value_error(ctx: Ctx, err: dict, given: Given, span: Span, key: str | None) -> None:
    """A validator's own message (`nesterov needs momentum > 0 and dampening = 0`)."""
    msg = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if key is None:
        # A model validator: point at the option its message starts with, if given.
        first = msg.split(" ", 1)[0].strip("`")
        key = first if first in given else None
    where = given[key][1] if key in given else span
    ctx.error("E302", msg, where, label="invalid value" if key in given else None)


def salvage(cls: type[Op], given: Given, span: Span) -> tuple[Op | None, set[str]]:
    """After `validate()` reported a block's mistakes: the block built from what is left once
    the options that fail are dropped (they fall back to their defaults), and their names;
    None when even that fails (a required option is missing or wrong). Nothing is reported:
    the caller runs the rules that span blocks on it, so that every independent mistake shows
    in one pass, and skips those that read a dropped option (they would be follow-on errors).
    The result must never become a Spec (the context has failed)."""
    data = {k: v for k, (v, _, _) in given.items()}
    dropped: set[str] = set()
    for _ in range(len(data) + 1):
        try:
            return cls.model_validate({**data, "span": span}, strict=True), dropped
        except ValidationError as exc:
            keys = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
            keys &= set(data)
            if not keys:
                return None, dropped
            for key in keys:
                data.pop(key)
            dropped |= keys
    return None, dropped  # pragma: no cover

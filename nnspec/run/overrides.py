"""run.overrides: ir.Spec + ["train.optimizer.lr=0.01", ...] -> ir.Spec (re-validated).

`nnspec run --set PATH=VALUE` changes one field of the checked IR. PATH is the dotted path of
IR field names (`train.optimizer.lr`, `train.early_stop.patience`, `data.split.validation`);
a tuple element is addressed by its index (`model.layers.0.units`). VALUE is read as a
boolean (true/false), none, an integer, a float, `a,b,c` (a list, for tuple fields) or else
a string. Where an op is expected the value is spec text, read by the spec's own parser and
checker: a name selects that op with its defaults (`train.optimizer=adam`,
`train.metrics=accuracy,f1`), a call sets its options (`train.optimizer=adagrad(lr=0.5)`),
and a mistake gets the diagnostic the spec would (`unknown optimizer `adamx`; did you mean
`adam`?`). Setting a field under an absent optional block creates the block with its defaults
(`train.early_stop.patience=3`).

The changed node and every node above it are re-validated by pydantic, so an override can
never produce an IR that check() would not: a bad path is an E211 diagnostic listing the valid
keys (the spec's own, not `path` or `span`), a bad value an E301/E302 diagnostic in the
words check() uses (`lr must be greater than 0, found -1`), never pydantic's.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from nnspec.diagnostics import Diagnostic, DiagnosticError, error

_RANGE_ERRORS = ("greater_than", "less_than", "too_short", "too_long", "literal_error",
                 "value_error")
WHERE = "--set"


def parse_value(text: str) -> Any:
    """The Python value a `--set` right-hand side stands for (see the module docstring)."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    if "," in text:
        return [parse_value(part) for part in text.split(",") if part.strip()]
    for conv in (int, float):
        try:
            return conv(text.strip())
        except ValueError:
            pass
    return text.strip().strip("\"'")


def _fields(node: BaseModel) -> list[str]:
    """The keys a user may set: not the source span, nor what is not part of the spec
    (`path`, the file it came from: excluded from the model's dump)."""
    return [name for name, f in type(node).model_fields.items()
            if name != "span" and not f.exclude]


def _attrs(node: BaseModel) -> dict[str, Any]:
    return {name: getattr(node, name) for name in type(node).model_fields}


def _model_type(annotation: Any) -> type[BaseModel] | None:
    """The BaseModel class of an `X | None` annotation (for creating an absent block)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        found = [_model_type(a) for a in typing.get_args(annotation) if a is not type(None)]
        found = [f for f in found if f is not None]
        return found[0] if len(found) == 1 else None
    return None


def _bad_key(assignment: str, key: str, where: str, valid: Sequence[str]) -> Diagnostic:
    close = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.6)
    return error("E211", f"unknown option `{key}` in `{assignment}`", path=WHERE,
                 notes=[f"valid keys of {where}: {', '.join(valid) or '(none)'}"],
                 hints=[f"did you mean `{close[0]}`?"] if close else [])


_RANGE = {"greater_than": ("gt", "greater than"), "greater_than_equal": ("ge", "at least"),
          "less_than": ("lt", "less than"), "less_than_equal": ("le", "at most")}


def _reason(e: Any, cls: type[BaseModel] | None) -> str:
    """One pydantic error in the words check() uses for the same mistake in a spec."""
    from nnspec.check.options import describe

    keys = [str(p) for p in e["loc"] if not str(p).isdigit()]
    key = keys[-1] if keys else "value"
    field = cls.model_fields.get(keys[0]) if cls is not None and keys else None
    kind, given = e["type"], e.get("input")
    found = f", found `{given}`" if isinstance(given, (str, int, float)) else ""
    if kind in _RANGE:
        bound_key, words = _RANGE[kind]
        bound = (e.get("ctx") or {}).get(bound_key)
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        return f"{key} must be {words} {bound}{found}"
    if kind in ("value_error", "assertion_error"):
        return str(e["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if field is not None and len(keys) == 1:
        return f"{key} must be {describe(field.annotation)}{found}"
    msg = str(e["msg"])
    return f"{key}: {msg[:1].lower() + msg[1:]}"


def _bad_value(assignment: str, exc: ValidationError,
               cls: type[BaseModel] | None = None) -> Diagnostic:
    errs = exc.errors()
    code = "E302" if any(e["type"] in _RANGE_ERRORS or e["type"].startswith(
        ("greater", "less")) for e in errs) else "E301"
    reasons = list(dict.fromkeys(_reason(e, cls) for e in errs[:4]))
    return error(code, f"invalid value in `{assignment}`: {reasons[0]}", path=WHERE,
                 notes=reasons[1:])


def _op_family(annotation: Any) -> tuple[str | None, bool]:
    """(the op family a field holds, whether it holds a tuple of them: `metrics`)."""
    from nnspec.check.options import op_family

    if typing.get_origin(annotation) is tuple:
        args = typing.get_args(annotation)
        return (op_family(args[0]), True) if args else (None, False)
    return op_family(annotation), False


def _ops_from_text(text: str, family: str, many: bool, assignment: str) -> Any:
    """An op (or a tuple of them) from spec text (`adagrad(lr=0.5)`, `accuracy, f1`), read
    and checked as the spec's own text is; its diagnostics say `--set` where they point."""
    from nnspec.check.context import Ctx
    from nnspec.check.options import FAMILIES, build_named
    from nnspec.check.statements import all_args
    from nnspec.parse import parse
    from nnspec.syntax import Call, Name

    word = FAMILIES[family][2]
    doc, problems = parse(f"train {{\n    set {text}\n}}\n")
    args = all_args(doc.blocks[0].statements[0]) if not problems and doc.blocks and \
        doc.blocks[0].statements else ()
    if problems or not args or (len(args) > 1 and not many) or not all(
            isinstance(a, (Name, Call)) for a in args):
        example = {"optimizer": "adam(lr=0.001)", "metric": "accuracy, f1",
                   "loss": "huber(delta=2)", "schedule": "exponential(0.95)",
                   "source": 'csv("data.csv", target=y)'}.get(family, "name(option=value)")
        raise DiagnosticError(error(
            "E301", f"`{assignment}` needs "
            f"{word + 's' if many else ('an ' if word[0] in 'aeiou' else 'a ') + word}, "
            f"written as in a spec, found `{text}`", path=WHERE,
            hints=[f"e.g. `{assignment.partition('=')[0]}={example}` (quote it in the "
                   "shell)"]))
    ctx = Ctx(WHERE)
    ops = [build_named(ctx, family, a) for a in args]
    if ctx.failed:
        raise DiagnosticError([d.model_copy(update={
            "span": None, "label": None, "fixes": (),
            "notes": (*d.notes, f"in `--set {assignment}`")}) for d in ctx.diagnostics
            if d.is_error])
    return tuple(ops) if many else ops[0]


def _validate(cls: type[BaseModel], attrs: dict[str, Any], key: str, value: Any) -> BaseModel:
    """cls with attrs[key] = value, validated; a bare op name retries as {"kind": name}."""
    try:
        return cls.model_validate({**attrs, key: value})
    except ValidationError as first:
        alt: Any = None
        if isinstance(value, str):
            alt = {"kind": value}
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            alt = [{"kind": v} for v in value]
        if alt is None:
            raise
        try:
            return cls.model_validate({**attrs, key: alt})
        except ValidationError:
            raise first from None


def _set(node: Any, path: list[str], value: Any, assignment: str, done: list[str]) -> Any:
    """node with the field at `path` set to `value`, re-validated bottom-up."""
    key, rest = path[0], path[1:]
    where = ".".join(done) or "the spec"
    if isinstance(node, tuple):
        if not key.isdigit() or int(key) >= len(node):
            raise DiagnosticError(_bad_key(assignment, key, where,
                                           [str(i) for i in range(len(node))]))
        i = int(key)
        if not rest:
            raise DiagnosticError(error(
                "E301", f"`{assignment}` replaces a whole element; set one of its fields",
                path=WHERE, hints=[f"e.g. `{'.'.join(done + [key])}.<field>=...`"]))
        child = _set(node[i], rest, value, assignment, done + [key])
        return node[:i] + (child,) + node[i + 1:]
    assert isinstance(node, BaseModel)
    names = _fields(node)
    aliases = {f.alias: n for n, f in type(node).model_fields.items() if f.alias}
    key = aliases.get(key, key)
    if key not in names:
        raise DiagnosticError(_bad_key(assignment, key, where, names))
    if rest:
        child = getattr(node, key)
        if child is None:
            cls = _model_type(type(node).model_fields[key].annotation)
            if cls is None:
                raise DiagnosticError(error(
                    "E301", f"`{'.'.join(done + [key])}` is not set, so `{assignment}` has "
                    "nothing to change", path=WHERE))
            try:
                child = cls.model_validate({})
            except ValidationError as exc:
                raise DiagnosticError(_bad_value(assignment, exc, cls)) from None
        value = _set(child, rest, value, assignment, done + [key])
    else:
        family, many = _op_family(type(node).model_fields[key].annotation)
        if family is not None and value is not None:
            value = _ops_from_text(assignment.partition("=")[2].strip(), family, many,
                                   assignment)
    try:
        return _validate(type(node), _attrs(node), key, value)
    except ValidationError as exc:
        raise DiagnosticError(_bad_value(assignment, exc, type(node))) from None


def apply_overrides(spec: Any, assignments: Sequence[str]) -> Any:
    """Apply every `PATH=VALUE`; all problems are reported together as one DiagnosticError."""
    problems: list[Diagnostic] = []
    for assignment in assignments:
        path, eq, raw = assignment.partition("=")
        if not eq or not path.strip():
            problems.append(error("E102", f"`{assignment}` is not PATH=VALUE", path=WHERE,
                                  hints=["e.g. `--set train.optimizer.lr=0.01`"]))
            continue
        try:
            spec = _set(spec, [p for p in path.strip().split(".")], parse_value(raw),
                        assignment, [])
        except DiagnosticError as exc:
            problems.extend(exc.diagnostics)
    if problems:
        raise DiagnosticError(problems)
    return spec

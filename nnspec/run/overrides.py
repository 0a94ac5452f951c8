"""run.overrides: ir.Spec + ["train.optimizer.lr=0.01", ...] -> ir.Spec (re-validated).

`nnspec run --set PATH=VALUE` changes one field of the checked IR. PATH is the dotted path of
IR field names (`train.optimizer.lr`, `train.early_stop.patience`, `data.split.validation`);
a tuple element is addressed by its index (`model.layers.0.units`). VALUE is read as a
boolean (true/false), none, an integer, a float, `a,b,c` (a list, for tuple fields) or else
a string; a bare name where an op is expected selects that op with its defaults
(`train.optimizer=adam`, `train.metrics=accuracy,f1`). Setting a field under an absent
optional block creates the block with its defaults (`train.early_stop.patience=3`).

The changed node and every node above it are re-validated by pydantic, so an override can
never produce an IR that check() would not: a bad path is an E211 diagnostic listing the valid
keys, a bad value an E301/E302 diagnostic with pydantic's reason.
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
    return [name for name in type(node).model_fields if name != "span"]


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


def _bad_value(assignment: str, exc: ValidationError) -> Diagnostic:
    errs = exc.errors()
    code = "E302" if any(e["type"] in _RANGE_ERRORS or e["type"].startswith(
        ("greater", "less")) for e in errs) else "E301"
    reasons = [f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in errs[:4]]
    return error(code, f"invalid value in `{assignment}`", path=WHERE, notes=reasons)


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
                raise DiagnosticError(_bad_value(assignment, exc)) from None
        value = _set(child, rest, value, assignment, done + [key])
    try:
        return _validate(type(node), _attrs(node), key, value)
    except ValidationError as exc:
        raise DiagnosticError(_bad_value(assignment, exc)) from None


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

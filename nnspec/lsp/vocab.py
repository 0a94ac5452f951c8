"""lsp.vocab: op registry + IR fields -> what may be written where, with its documentation.

Nothing here is stated twice: statement documentation comes from the `Field(description=...)`
of the IR (`nnspec/ir.py`), op and option documentation from the op registry
(`nnspec/ops/*.py`: docstrings, fields, defaults, ranges). This module only says which IR field
or registry family each statement keyword of a block stands for, so that completion and hover
can offer the right names in the right places.
"""

from __future__ import annotations

import inspect
import types as pytypes
import typing
from dataclasses import dataclass, field

import annotated_types as at
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from nnspec import ir
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
from nnspec.ops.optimizers import Clip

FAMILIES: dict[str, dict[str, type[Op]]] = {
    "activation": ACTIVATIONS,
    "initializer": INITIALIZERS,
    "layer": LAYERS,
    "loss": LOSSES,
    "metric": METRICS,
    "optimizer": OPTIMIZERS,
    "schedule": SCHEDULES,
    "source": SOURCES,
}

BLOCK_DOCS: dict[str, str] = {
    "model": ir.Model.__doc__ or "",
    "data": ir.Data.__doc__ or "",
    "train": ir.Train.__doc__ or "",
    "output": ir.Output.__doc__ or "",
}

# A value slot is either a registry family (a key of FAMILIES) or a tuple of literal words.
Slot = str | tuple[str, ...]
BOOLS = ("true", "false")
# Fields of an options class that are written positionally or are internal, never `key=`.
_NOT_OPTIONS = {"span", "kind"}


@dataclass(frozen=True)
class Statement:
    """One statement keyword of a block."""

    name: str
    doc: str
    default: str | None = None
    # Value slots of the positional arguments, in order; the last one repeats when `repeat`.
    positional: tuple[Slot, ...] = ()
    repeat: bool = False
    # The class whose fields are the statement's `key=value` options (or its call options).
    options: type[BaseModel] | None = None
    skip_options: frozenset[str] = field(default_factory=frozenset)
    # Options whose name in the language differs from the IR field (`checkpoint every=`).
    renamed: tuple[tuple[str, str], ...] = ()


def _fdoc(cls: type[BaseModel], name: str) -> tuple[str, str | None]:
    info = cls.model_fields[name]
    return info.description or "", default_text(info)


def _from_field(cls: type[BaseModel], name: str, keyword: str | None = None,
                **kw: typing.Any) -> Statement:
    doc, default = _fdoc(cls, name)
    return Statement(keyword or name, doc, default, **kw)


def _layer(kind: str, positional: tuple[Slot, ...], skip: set[str]) -> Statement:
    cls = LAYERS[kind]
    return Statement(kind, op_summary(cls), None, positional, options=cls,
                     skip_options=frozenset(skip))


def _artifacts() -> tuple[str, ...]:
    return typing.get_args(typing.get_args(ir.Output.model_fields["artifacts"].annotation)[0])


def _literals(cls: type[BaseModel], name: str) -> tuple[str, ...]:
    return tuple(str(a) for a in typing.get_args(cls.model_fields[name].annotation))


def statement(block: str | None, keyword: str | None) -> Statement | None:
    if block is None or keyword is None:
        return None
    return STATEMENTS.get(block, {}).get(keyword)


def positional_slot(stmt: Statement, index: int) -> Slot | None:
    if index < len(stmt.positional):
        return stmt.positional[index]
    if stmt.repeat and stmt.positional:
        return stmt.positional[-1]
    return None


# ---------------------------------------------------------------------------------------------
# Options of a class (an op or an IR node): names, slots, documentation.


def options(cls: type[BaseModel] | None, stmt: Statement | None = None) -> dict[str, str]:
    """The `key=` names a user may write for `cls`, mapped to the field name behind each."""
    if cls is None:
        return {}
    skip = set(_NOT_OPTIONS)
    renamed: dict[str, str] = {}
    if stmt is not None and stmt.options is cls:
        skip |= stmt.skip_options
        renamed = dict(stmt.renamed)
    out = {}
    for name, info in cls.model_fields.items():
        if name in skip:
            continue
        out[info.alias or name] = name
    for written, name in renamed.items():
        out.pop(name, None)
        out[written] = name
    return out


def families_of(annotation: typing.Any) -> list[str]:
    """Registry families named by a field's type (`AnyInitializer | None` -> ['initializer'])."""
    found: list[str] = []
    if inspect.isclass(annotation) and issubclass(annotation, Op):
        fam = getattr(annotation, "family", "op")
        return [fam] if fam in FAMILIES else []
    for arg in typing.get_args(annotation):
        for fam in families_of(arg):
            if fam not in found:
                found.append(fam)
    return found


def value_slot(cls: type[BaseModel] | None, key: str, stmt: Statement | None = None) -> Slot:
    """What may follow `key=` in an options list of `cls`."""
    name = options(cls, stmt).get(key)
    if cls is None or name is None:
        return ()
    info = cls.model_fields[name]
    fams = families_of(info.annotation)
    if fams:
        return fams[0]
    if cls is ir.EarlyStop and name == "monitor":
        return ("loss", "val_loss") + tuple(METRICS) + tuple(f"val_{m}" for m in METRICS)
    return _literal_words(info.annotation)


def _literal_words(annotation: typing.Any) -> tuple[str, ...]:
    origin = typing.get_origin(annotation)
    if annotation is bool:
        return BOOLS
    if origin is typing.Literal:
        return tuple(str(a) for a in typing.get_args(annotation))
    words: list[str] = []
    for arg in typing.get_args(annotation):
        if arg is type(None):
            continue
        words += [w for w in _literal_words(arg) if w not in words]
    return tuple(words)


def slot_names(slot: Slot | None) -> dict[str, str]:
    """The words a slot accepts, each with a one-line summary."""
    if slot is None or slot == "":
        return {}
    if isinstance(slot, tuple):
        return {w: "" for w in slot}
    return {name: first_line(cls.__doc__) for name, cls in FAMILIES[slot].items()}


def op_for(slot: Slot | None, name: str) -> type[Op] | None:
    if isinstance(slot, str) and slot in FAMILIES:
        return FAMILIES[slot].get(name)
    return None


# ---------------------------------------------------------------------------------------------
# Documentation text (Markdown).


def first_line(doc: str | None) -> str:
    return inspect.cleandoc(doc or "").split("\n\n")[0].replace("\n", " ")


def type_text(annotation: typing.Any) -> str:
    fams = families_of(annotation)
    if fams:
        text = " | ".join(fams)
        return text + " | none" if type(None) in typing.get_args(annotation) else text
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " | ".join(str(a) for a in typing.get_args(annotation))
    if origin in (typing.Union, pytypes.UnionType):
        return " | ".join(type_text(a) for a in typing.get_args(annotation))
    if origin is tuple:
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"list of {type_text(args[0])}"
        return "(" + ", ".join(type_text(a) for a in args) + ")"
    if annotation is type(None):
        return "none"
    return getattr(annotation, "__name__", str(annotation))


def default_text(info: FieldInfo) -> str | None:
    """The default as a user would write it; None when the field is required."""
    if info.default_factory is not None:
        value = info.default_factory()  # type: ignore[call-arg]
    elif info.default is PydanticUndefined:
        return None
    else:
        value = info.default
    return value_text(value)


def value_text(value: typing.Any) -> str:
    if isinstance(value, Op) and "kind" in type(value).model_fields:
        return str(value.kind)  # type: ignore[attr-defined]
    if isinstance(value, BaseModel):
        return "(defaults)"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ", ".join(value_text(v) for v in value) if value else "none"
    return str(value)


_BOUNDS = ((at.Gt, "gt", ">"), (at.Ge, "ge", ">="), (at.Lt, "lt", "<"), (at.Le, "le", "<="))


def range_text(info: FieldInfo) -> str:
    parts = []
    for meta in info.metadata:
        for kind, attr, sym in _BOUNDS:
            if isinstance(meta, kind):
                parts.append(f"{sym} {getattr(meta, attr)}")
    return ", ".join(parts)


def option_doc(cls: type[BaseModel], name: str, written: str | None = None) -> str:
    """`lr` (float, > 0.0, default 0.001): learning rate."""
    info = cls.model_fields[name]
    bits = [type_text(info.annotation)]
    if rng := range_text(info):
        bits.append(rng)
    default = default_text(info)
    bits.append("required" if default is None else f"default {default}")
    return f"`{written or info.alias or name}` ({', '.join(bits)}): {info.description or ''}"


def op_summary(cls: type[BaseModel]) -> str:
    return inspect.cleandoc(cls.__doc__ or "")


def op_doc(cls: type[Op]) -> str:
    """Markdown for an op: name and family, formula docstring, options."""
    kind = cls.model_fields["kind"].default
    out = [f"**{kind}** ({cls.family})", "", "```text", op_summary(cls), "```"]
    opts = options(cls)
    if opts:
        out += ["", "Options:"] + [f"- {option_doc(cls, f, w)}" for w, f in opts.items()]
    return "\n".join(out)


def statement_doc(block: str, stmt: Statement) -> str:
    if stmt.options is not None and stmt.name in LAYERS:
        return op_doc(LAYERS[stmt.name])
    out = [f"**{stmt.name}** (`{block}` statement)", "", stmt.doc]
    if stmt.default is not None:
        out += ["", f"Default: `{stmt.default}`"]
    if stmt.options is not None:
        opts = options(stmt.options, stmt)
        if opts:
            out += ["", "Options:"]
            out += [f"- {option_doc(stmt.options, f, w)}" for w, f in opts.items()]
    return "\n".join(out)


STATEMENTS: dict[str, dict[str, Statement]] = {
    "model": {
        "input": _from_field(ir.Model, "input", positional=("",)),
        "init": Statement("init", ir.Model.model_fields["init_from"].description or "",
                          None, (("from",), "")),
        "dense": _layer("dense", ("", "activation"), {"units", "activation"}),
        "dropout": _layer("dropout", ("",), {"rate"}),
        "batchnorm": _layer("batchnorm", (), set()),
        "activation": _layer("activation", ("activation",), {"activation"}),
    },
    "data": {
        "source": _from_field(ir.Data, "source", positional=("source",)),
        "split": Statement("split", (ir.Split.__doc__ or "").strip(), None, options=ir.Split),
        "standardize": Statement("standardize", ir.Data.model_fields["scale"].description or "",
                                 "none"),
        "normalize": Statement("normalize", ir.Data.model_fields["scale"].description or "",
                               "none"),
        "validation": _from_field(ir.Data, "validation", positional=("source",)),
        "test": _from_field(ir.Data, "test", positional=("source",)),
    },
    "train": {
        "loss": _from_field(ir.Train, "loss", positional=("loss",)),
        "optimizer": _from_field(ir.Train, "optimizer", positional=("optimizer",)),
        "schedule": Statement("schedule", (ir.Train.model_fields["schedule"].description or "")
                              + "; `warmup(epochs=W) then NAME(...)` puts a linear warmup "
                              "in front", "constant", ("schedule", ("then",), "schedule")),
        "clip": _from_field(ir.Train, "clip", options=Clip),
        "epochs": _from_field(ir.Train, "epochs", positional=("",)),
        "batch": _from_field(ir.Train, "batch", positional=(("full",),)),
        "shuffle": _from_field(ir.Train, "shuffle", positional=(BOOLS,)),
        "drop_last": _from_field(ir.Train, "drop_last", positional=(BOOLS,)),
        "dtype": _from_field(ir.Train, "dtype", positional=(_literals(ir.Train, "dtype"),)),
        "seed": _from_field(ir.Train, "seed", positional=("",)),
        "device": _from_field(ir.Train, "device", positional=(_literals(ir.Train, "device"),)),
        "early_stop": _from_field(ir.Train, "early_stop", options=ir.EarlyStop),
        "metrics": _from_field(ir.Train, "metrics", positional=("metric",), repeat=True),
    },
    "output": {
        "dir": _from_field(ir.Output, "dir", positional=("",)),
        "checkpoint": _from_field(ir.Output, "checkpoint_every", "checkpoint",
                                  options=ir.Output,
                                  skip_options=frozenset(set(ir.Output.model_fields)
                                                         - {"checkpoint_every"}),
                                  renamed=(("every", "checkpoint_every"),)),
        "artifacts": _from_field(ir.Output, "artifacts", positional=(_artifacts(),),
                                 repeat=True),
    },
}
